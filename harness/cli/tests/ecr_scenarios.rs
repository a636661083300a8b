//! The scenario suite over the reference terminal's ZVT interface (`payhil run --ecr zvt`):
//! every scenario whose steps a cash register can express passes, over a serial PTY and over
//! TCP, as it does on the test agent's path; the others are skipped with their reason; and a
//! terminal whose ZVT interface misreports is caught by the same model and books.

use payhil_scenario::runner::{RunOptions, ScenarioReport, TerminalTarget};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const PAYHIL: &str = env!("CARGO_BIN_EXE_payhil");

fn suite_over_zvt(extra: &[&str]) {
    let out = Command::new(PAYHIL)
        .args(["run", "--ecr", "zvt", "--seed", "1", "--quiet"])
        .args(extra)
        .output()
        .expect("payhil runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default().to_string();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // "N passed, 0 failed, M skipped (...)"
    let passed: usize = last
        .split(" passed")
        .next()
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("{last}"));
    assert!(last.contains(", 0 failed"), "{last}");
    // 32 before card data faults and power cuts ran over ZVT (session 8), 68 since.
    assert!(passed >= 65, "only {passed} scenarios ran over ZVT: {last}");
}

#[test]
fn the_suite_passes_over_zvt_on_a_serial_line() {
    suite_over_zvt(&[]);
}

#[test]
fn the_suite_passes_over_zvt_on_tcp() {
    suite_over_zvt(&["--ecr-tcp"]);
}

fn run(file: &str, bug: Option<&str>) -> ScenarioReport {
    run_over(file, bug, false)
}

fn run_over(file: &str, bug: Option<&str>, tcp: bool) -> ScenarioReport {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios")
        .join(file);
    let scn = payhil_scenario::parse_file(&path).unwrap_or_else(|e| panic!("{e}"));
    let mut args: Vec<std::ffi::OsString> = vec!["emulate".into()];
    if let Some(b) = bug {
        args.extend(["--inject-bug".into(), b.into()]);
    }
    let opts = RunOptions {
        target: TerminalTarget::EmulatedZvt {
            program: PAYHIL.into(),
            args,
            tcp,
        },
        seed: 1,
        boot_timeout: Duration::from_secs(20),
        proxy_listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        progress: None,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(payhil_scenario::run(&scn, &opts))
}

/// Over ZVT the verdict rests on what the cash register is told, judged by the model: a
/// terminal that tells it a decline was a success, or an offline approval was authorised
/// online (or approved a card whose data the card instrument corrupted), fails the scenario
/// that passes against the correct terminal.
#[test]
fn a_zvt_interface_that_misreports_is_caught() {
    for (file, bug) in [
        (
            "online/online_purchase_declined_insufficient_funds.toml",
            "zvt-decline-as-approved",
        ),
        (
            "offline/dankort_offline_forwarded_once.toml",
            "zvt-offline-as-online",
        ),
        // The card instrument presents an expired card while the cash register waits.
        ("card_data/expired.toml", "zvt-decline-as-approved"),
        // The terminal charges one amount and tells the cash register another.
        ("online/online_purchase_approved.toml", "zvt-wrong-amount"),
        // The cash register sends 0.00, which the terminal must refuse.
        ("card_data/zero_amount.toml", "zvt-zero-amount-completed"),
    ] {
        let clean = run(file, None);
        assert!(
            clean.passed(),
            "{file}: {:?}\n{}",
            clean.failure,
            clean.transcript
        );
        let buggy = run(file, Some(bug));
        let found = buggy
            .failure
            .as_ref()
            .map(|f| f.message.clone())
            .unwrap_or_default();
        assert!(!buggy.passed(), "{bug} went unnoticed");
        assert!(found.contains("over ZVT"), "{bug}: {found}");
    }
}

/// A result the cash register never heard (the harness cuts the TCP link at the terminal's
/// status information): the reference terminal reverses the payment and the scenario passes;
/// a terminal that keeps it is caught by the host's books. Over a serial PTY, and on the test
/// agent's path, the scenario is skipped with its reason.
#[test]
fn a_result_the_cash_register_never_heard_must_be_reversed() {
    let file = "pbs/ecr_result_lost_is_reversed.toml";
    let clean = run_over(file, None, true);
    assert!(clean.passed(), "{:?}\n{}", clean.failure, clean.transcript);
    assert!(clean.skipped.is_none());
    let buggy = run_over(file, Some("zvt-no-auto-reversal"), true);
    let found = buggy
        .failure
        .as_ref()
        .map(|f| f.message.clone())
        .unwrap_or_default();
    assert!(!buggy.passed(), "a kept payment went unnoticed");
    assert!(found.contains("stands at the host"), "{found}");
    let serial = run_over(file, None, false);
    assert!(
        serial
            .skipped
            .as_deref()
            .is_some_and(|w| w.contains("--ecr-tcp")),
        "{:?}",
        serial.skipped
    );
}

/// Power cuts over ZVT: the cash register's payment ends with the terminal's power, the
/// terminal comes back with its ZVT interface (the same PTY, cleared of what the dead terminal
/// half-sent and was sent as it died; on TCP a new listener and connection), and the run goes
/// on. A terminal that approves before its journal write is durable loses the approval at
/// the cut, as on the test agent's path.
#[test]
fn power_cuts_over_zvt_restart_its_interface_and_catch_a_lost_approval() {
    for tcp in [false, true] {
        for file in [
            "power/power_cut_after_card.toml",
            "power/power_cut_after_pin_online_reversed.toml",
            "power/power_cut_at_flash_write_1_torn.toml",
        ] {
            let r = run_over(file, None, tcp);
            assert!(
                r.passed(),
                "{file} (tcp {tcp}): {:?}\n{}",
                r.failure,
                r.transcript
            );
        }
        let buggy = run_over(
            "power/power_cycle_right_after_offline_approval.toml",
            Some("approve-before-write"),
            tcp,
        );
        let found = buggy
            .failure
            .as_ref()
            .map(|f| f.message.clone())
            .unwrap_or_default();
        assert!(
            !buggy.passed(),
            "a lost approval went unnoticed (tcp {tcp})"
        );
        assert!(found.contains("offline queue"), "tcp {tcp}: {found}");
    }
}
