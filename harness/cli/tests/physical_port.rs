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
