//! Issue 13: a terminal's serial port exported over the network with RFC 2217, as ser2net or a
//! labgrid exporter serves it. The server here is an independent implementation (the
//! `rfc2217-rs` crate's), serving one end of a PTY cable whose other end the reference
//! terminal is on; `payhil run --port rfc2217://host:port` drives the terminal through it.
//! (Its own file: the crate's server polls without pause, and its thread ends with this test
//! binary.)

use std::path::Path;
use std::process::Stdio;
use tokio::process::Command;
use tokio_serial::{SerialPort, SerialStream};

const PAYHIL: &str = env!("CARGO_BIN_EXE_payhil");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn payhil_run_drives_a_terminal_on_a_port_served_over_rfc2217() {
    let (mut device_master, device_slave) = SerialStream::pair().unwrap();
    let (mut served_master, served_slave) = SerialStream::pair().unwrap();
    let device_path = device_slave.name().unwrap();
    let served_path = served_slave.name().unwrap();
    let cable = tokio::spawn(async move {
        let _ = tokio::io::copy_bidirectional(&mut device_master, &mut served_master).await;
    });
    let exported = format!("127.0.0.1:{}", free_port());
    let listen = exported.clone();
    let _server = std::thread::spawn(move || {
        let mut server = rfc2217_rs::Server::new(&served_path, listen.as_str())
            .expect("the RFC 2217 server starts");
        while server.run().is_ok() {
            std::thread::yield_now();
        }
    });
    let host = format!("127.0.0.1:{}", free_port());
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
        .join("../../scenarios/offline/offline_settles_when_forwarded.toml");
    // The server binds when its thread starts: wait (bounded) until it listens. It accepts one
    // connection only, so the test does not connect to find out: the address is taken.
    for _ in 0..500 {
        if std::net::TcpListener::bind(&exported).is_err() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let run = Command::new(PAYHIL)
        .args(["run", "--proxy-listen", &host, "--port"])
        .arg(format!("rfc2217://{exported}"))
        .arg("--evidence")
        .arg(dir.path().join("evidence"))
        .arg(&scenario)
        .output();
    let out = tokio::time::timeout(std::time::Duration::from_secs(120), run)
        .await
        .expect("bounded")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("1 passed, 0 failed"), "{stdout}");
    let _ = device.start_kill();
    cable.abort();
}
