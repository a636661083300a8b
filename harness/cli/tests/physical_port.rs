//! `payhil run --port`: the path a physical terminal takes. Two PTY pairs joined back to back
//! stand in for a serial cable: the reference terminal serves one end as if it were a device on
//! `/dev/ttyUSB0`, and `payhil run` opens the other end through tokio-serial exactly as it opens
//! a real port. The terminal's host address is the proxy address given with `--proxy-listen`.

use std::path::Path;
use std::process::Stdio;
use tokio::process::Command;
use tokio_serial::{SerialPort, SerialStream};

const PAYHIL: &str = env!("CARGO_BIN_EXE_payhil");

#[tokio::test]
async fn payhil_run_drives_a_terminal_on_a_serial_port() {
    let (mut device_master, device_slave) = SerialStream::pair().unwrap();
    let (mut harness_master, harness_slave) = SerialStream::pair().unwrap();
    let device_path = device_slave.name().unwrap();
    let harness_path = harness_slave.name().unwrap();
    // The cable: bytes from either end arrive at the other.
    let cable = tokio::spawn(async move {
        let _ = tokio::io::copy_bidirectional(&mut device_master, &mut harness_master).await;
    });
    // A free loopback port for the proxy, which the "device" is configured to call.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let host = format!("127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let mut device = Command::new(PAYHIL)
        .args([
            "emulate",
            "--port",
            &device_path,
            "--host",
            &host,
            "--flash",
        ])
        .arg(dir.path().join("flash.bin"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios/online/online_purchase_approved.toml");
    let run = Command::new(PAYHIL)
        .args(["run", "--port", &harness_path, "--proxy-listen", &host])
        .arg(&scenario)
        .output();
    let out = tokio::time::timeout(std::time::Duration::from_secs(60), run)
        .await
        .expect("bounded")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("1 passed, 0 failed"), "{stdout}");
    assert!(
        stdout.contains(&format!("proxy listens on {host}")),
        "{stdout}"
    );
    let _ = device.start_kill();
    cable.abort();
    drop((device_slave, harness_slave));
}

/// The whole shipped suite in one `payhil run --port` against the reference terminal behind a
/// serial cable (two PTY pairs back to back), as a lab drives a terminal it did not start: the
/// terminal keeps running from one scenario to the next, and each scenario begins with the
/// test agent's Reset, so nothing carries over. Its power switch is a pair of shell commands
/// that kill the emulator and start it again on the same flash file and port (a relay would
/// cut and restore a real terminal's supply); the cuts only an emulated terminal offers (at a
/// flash write, between approval and result) are skipped with their reason.
#[tokio::test]
async fn the_shipped_suite_passes_on_one_terminal_behind_a_serial_port() {
    let (mut device_master, device_slave) = SerialStream::pair().unwrap();
    let (mut harness_master, harness_slave) = SerialStream::pair().unwrap();
    let device_path = device_slave.name().unwrap();
    let harness_path = harness_slave.name().unwrap();
    let cable = tokio::spawn(async move {
        let _ = tokio::io::copy_bidirectional(&mut device_master, &mut harness_master).await;
    });
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let host = format!("127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let pid = dir.path().join("pid");
    let start = format!(
        "'{PAYHIL}' emulate --port '{device_path}' --host '{host}' --flash '{}' >/dev/null 2>&1 & echo $! > '{}'",
        dir.path().join("flash.bin").display(),
        pid.display()
    );
    let stop = format!("kill -9 \"$(cat '{}')\"", pid.display());
    let status = std::process::Command::new("sh")
        .args(["-c", &start])
        .status()
        .unwrap();
    assert!(status.success());
    let scenarios = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
    let run = Command::new(PAYHIL)
        .args(["run", "--port", &harness_path, "--proxy-listen", &host])
        .args([
            "--power-off",
            &stop,
            "--power-on",
            &start,
            "--power-off-ms",
            "50",
        ])
        .arg("--evidence")
        .arg(dir.path().join("evidence"))
        .arg(&scenarios)
        .output();
    let out = tokio::time::timeout(std::time::Duration::from_secs(600), run)
        .await
        .expect("bounded")
        .unwrap();
    let _ = std::process::Command::new("sh")
        .args(["-c", &stop])
        .status();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary = stdout
        .lines()
        .rev()
        .find(|l| l.contains(" passed, "))
        .unwrap_or("");
    assert!(
        summary.contains(" 0 failed"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    println!("{summary}");
    // Skips only for what a terminal behind a port cannot offer, each with its reason.
    let lines: Vec<&str> = stdout.lines().collect();
    for (i, line) in lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.starts_with("SKIP"))
    {
        let why = lines.get(i + 1).unwrap_or(&"");
        assert!(
            why.contains("only an emulated terminal offers"),
            "{line}\n{why}"
        );
    }
    cable.abort();
    drop((device_slave, harness_slave));
}

/// A terminal whose test agent does not offer Reset (the reference terminal with
/// `--without-reset`): without a reset procedure what one scenario leaves decides the next (here
/// the clock a later-dated scenario moved on, which the terminal then distrusts); with the
/// lab's reset command (here: restart it on a freshly formatted flash, as a re-flash would) every
/// scenario starts clean and passes.
#[tokio::test]
async fn a_terminal_without_reset_is_reset_by_the_labs_command() {
    let (mut device_master, device_slave) = SerialStream::pair().unwrap();
    let (mut harness_master, harness_slave) = SerialStream::pair().unwrap();
    let device_path = device_slave.name().unwrap();
    let harness_path = harness_slave.name().unwrap();
    let cable = tokio::spawn(async move {
        let _ = tokio::io::copy_bidirectional(&mut device_master, &mut harness_master).await;
    });
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let host = format!("127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let pid = dir.path().join("pid");
    let start = |format: bool| {
        format!(
            "'{PAYHIL}' emulate --without-reset {} --port '{device_path}' --host '{host}' --flash '{}' >/dev/null 2>&1 & echo $! > '{}'",
            if format { "--format-flash" } else { "" },
            dir.path().join("flash.bin").display(),
            pid.display()
        )
    };
    let stop = format!("kill -9 \"$(cat '{}')\"", pid.display());
    let sh = |cmd: &str| {
        assert!(
            std::process::Command::new("sh")
                .args(["-c", cmd])
                .status()
                .unwrap()
                .success()
        )
    };
    sh(&start(false));
    let scenarios = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
    // A later-dated scenario, then an earlier-dated one.
    let later = scenarios.join("offline/offline_queue_survives_power_cycle.toml");
    let earlier = scenarios.join("online/online_purchase_approved.toml");
    let run = |reset: Option<String>, evidence: &str| {
        let mut c = Command::new(PAYHIL);
        c.args(["run", "--port", &harness_path, "--proxy-listen", &host])
            .args(["--power-off", &stop, "--power-on", &start(false)])
            .arg("--evidence")
            .arg(dir.path().join(evidence))
            .arg(&later)
            .arg(&earlier);
        if let Some(r) = reset {
            c.args(["--reset-command", &r]);
        }
        c.output()
    };
    let bound = std::time::Duration::from_secs(120);
    let out = tokio::time::timeout(bound, run(None, "ev1"))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "carried-over state fails a scenario: {text}"
    );
    let reset = format!("{stop}; sleep 0.1; {}", start(true));
    let out = tokio::time::timeout(bound, run(Some(reset), "ev2"))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    sh(&format!("{stop} 2>/dev/null || true"));
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("2 passed, 0 failed"), "{text}");
    cable.abort();
    drop((device_slave, harness_slave));
}
