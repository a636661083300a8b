//! What happens when things go wrong: a changed expectation fails the run, a malformed file is
//! reported with file:line:column, and a vanished terminal is a clear error, not a hang.

use payhil_bench::{Bench, BenchConfig, BenchError, EmulatorSpec, Target, TerminalConfig};
use payhil_protocol::Request;
use payhil_transport::LinkError;
use std::path::Path;
use std::process::Command;

const PAYHIL: &str = env!("CARGO_BIN_EXE_payhil");

fn scenario(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios")
        .join(name);
    std::fs::read_to_string(p).unwrap()
}

#[test]
fn payhil_run_fails_when_an_expected_outcome_is_changed() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("changed.toml");
    let text = scenario("online/online_purchase_approved.toml");
    assert!(text.contains("approved_online"));
    std::fs::write(
        &file,
        text.replace("\"approved_online\"", "\"approved_offline\""),
    )
    .unwrap();
    let out = Command::new(PAYHIL).arg("run").arg(&file).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("differs from the scenario"), "{stdout}");
    assert!(
        stdout.contains("terminal: approved_online/approved"),
        "{stdout}"
    );
    assert!(stdout.contains("0 passed, 1 failed"), "{stdout}");
}

#[test]
fn payhil_run_passes_a_shipped_scenario_and_prints_the_seed() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios/online/online_purchase_approved.toml");
    let out = Command::new(PAYHIL)
        .args(["run", "--seed", "42"])
        .arg(&file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("seed 42"), "{stdout}");
    assert!(stdout.contains("1 passed, 0 failed"), "{stdout}");
}

#[test]
fn a_malformed_scenario_names_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "name = \"bad\"\nrules = [\"NETS-01\"]\n[[step]]\npurchase = { amount = \"12,50 DKK\", card = \"dankort\" }\n").unwrap();
    for cmd in ["check", "run"] {
        let out = Command::new(PAYHIL).arg(cmd).arg(&file).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{cmd}: {stdout}");
        let want = format!("{}:4:23: amount `12,50 DKK`", file.display());
        assert!(stdout.contains(&want), "{cmd}: expected {want} in {stdout}");
    }
}

#[tokio::test]
async fn killing_the_emulator_is_a_device_gone_error_not_a_hang() {
    let spec = EmulatorSpec {
        program: PAYHIL.into(),
        args: vec!["emulate".into()],
        config: TerminalConfig::default(),
    };
    let mut bench = Bench::start(BenchConfig::new(Target::Emulated(spec)))
        .await
        .unwrap();
    bench
        .link
        .request(&Request::Ping { nonce: 1 })
        .await
        .unwrap();
    bench.kill_terminal().unwrap();
    let err = bench.link.request(&Request::QueueStatus).await.unwrap_err();
    assert!(matches!(err, LinkError::DeviceGone { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("device gone") && text.contains("QueueStatus"),
        "{text}"
    );
}

#[tokio::test]
async fn an_emulator_that_cannot_start_is_reported_with_its_last_words() {
    let spec = EmulatorSpec {
        program: PAYHIL.into(),
        args: vec!["emulate".into(), "--flash-kib".into(), "0".into()],
        config: TerminalConfig::default(),
    };
    match Bench::start(BenchConfig::new(Target::Emulated(spec))).await {
        Err(BenchError::EmulatorDied { log, .. }) => assert!(log.contains("flash"), "{log}"),
        Err(other) => panic!("expected EmulatorDied, got {other}"),
        Ok(_) => panic!("an emulator without flash must not start"),
    }
}
