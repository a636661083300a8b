//! What happens when things go wrong: a changed expectation fails the run, a malformed file is
//! reported with file:line:column, and a vanished terminal is a clear error, not a hang.

use payhil_bench::{Bench, BenchConfig, BenchError, EmulatorSpec, Target, TerminalConfig};
use payhil_protocol::Request;
use payhil_transport::LinkError;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

const PAYHIL: &str = env!("CARGO_BIN_EXE_payhil");

fn scenario_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios")
        .join(name)
}

fn scenario(name: &str) -> String {
    std::fs::read_to_string(scenario_path(name)).unwrap()
}

/// Runs the payhil binary; its exit code and standard output.
fn payhil<A: AsRef<OsStr>>(args: impl IntoIterator<Item = A>) -> (Option<i32>, String) {
    let (code, stdout, _) = payhil_with_stderr(args);
    (code, stdout)
}

/// Runs the payhil binary; its exit code, standard output and standard error.
fn payhil_with_stderr<A: AsRef<OsStr>>(
    args: impl IntoIterator<Item = A>,
) -> (Option<i32>, String, String) {
    let out = Command::new(PAYHIL).args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
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
    let (code, stdout) = payhil([OsStr::new("run"), file.as_os_str()]);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("differs from the scenario"), "{stdout}");
    assert!(
        stdout.contains("terminal: approved_online/approved"),
        "{stdout}"
    );
    assert!(stdout.contains("0 passed, 1 failed"), "{stdout}");
}

#[test]
fn payhil_run_passes_a_shipped_scenario_and_prints_the_seed() {
    let file = scenario_path("online/online_purchase_approved.toml");
    let (code, stdout) = payhil([
        OsStr::new("run"),
        OsStr::new("--seed"),
        OsStr::new("42"),
        file.as_os_str(),
    ]);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("seed 42"), "{stdout}");
    assert!(stdout.contains("1 passed, 0 failed"), "{stdout}");
}

#[test]
fn a_malformed_scenario_names_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "name = \"bad\"\nrules = [\"NETS-01\"]\n[[step]]\npurchase = { amount = \"12,50 DKK\", card = \"dankort\" }\n").unwrap();
    for cmd in ["check", "run"] {
        let (code, stdout) = payhil([OsStr::new(cmd), file.as_os_str()]);
        assert_eq!(code, Some(1), "{cmd}: {stdout}");
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

#[test]
fn payhil_rules_fails_while_a_rule_has_no_scenario_and_prints_json() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("one.toml"),
        "name = \"one\"\nrules = [\"NETS-01\"]\n[[step]]\nnetwork = \"up\"\n",
    )
    .unwrap();
    let results = dir.path().join("none.json");
    let (code, stdout) = payhil([
        OsStr::new("rules"),
        dir.path().as_os_str(),
        OsStr::new("--results"),
        results.as_os_str(),
    ]);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("NETS-01     not run"), "{stdout}");
    assert!(stdout.contains("NETS-02     NONE"), "{stdout}");
    assert!(
        stdout.contains("41 rules, 1 covered, 40 without a scenario"),
        "{stdout}"
    );
    let (_, stdout) = payhil([
        OsStr::new("rules"),
        OsStr::new("--json"),
        dir.path().as_os_str(),
        OsStr::new("--results"),
        results.as_os_str(),
    ]);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json.as_array().map(Vec::len), Some(41));
    assert_eq!(json[0]["id"], "NETS-01");
    assert_eq!(json[0]["scenarios"][0]["last_result"], "not run");
}

#[test]
fn impossible_steps_are_reported_with_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("reverse = { of = 3 }", "`of` must name an earlier step"),
        (
            "purchase = { amount = \"1.00 DKK\", card = \"dankort\", reserve = { id_type = \"passport\", id_reference = \"12345678\", account = \"12345678903\" } }",
            "only for BankAxept",
        ),
        (
            "purchase = { amount = \"1.00 DKK\", card = \"dankort\", chip_unreadable = true }",
            "the fallback read",
        ),
        (
            "purchase = { amount = \"1.00 DKK\", card = \"dankort\", kind = \"capture\" }",
            "captures and reversals are steps of their own",
        ),
    ];
    for (i, (step, want)) in cases.iter().enumerate() {
        let file = dir.path().join(format!("bad{i}.toml"));
        std::fs::write(
            &file,
            format!(
                "name = \"x\"\nrules = [\"PBS-03\"]\n[[step]]\nnetwork = \"up\"\n[[step]]\n{step}\n"
            ),
        )
        .unwrap();
        let (code, stdout) = payhil([OsStr::new("check"), file.as_os_str()]);
        assert_eq!(code, Some(1), "{stdout}");
        let at = format!("{}:6:", file.display());
        assert!(
            stdout.contains(&at) && stdout.contains(want),
            "expected {at}..{want} in {stdout}"
        );
    }
}

#[test]
fn payhil_check_rejects_what_cannot_run_at_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let head = "name = \"x\"\nrules = [\"CARD-06\"]\n[[step]]\nnetwork = \"up\"\n[[step]]\n";
    let cases: [(&[u8], &str, &str); 5] = [
        (
            b"purchase = { amount = \"10.00 NOK\", card = \"dankort\" }\n",
            "6:23:",
            "currency",
        ),
        (
            b"purchase = { amount = \"184467440737095516.15 DKK\", card = \"dankort\", tip = \"0.01 DKK\" }\n",
            "6:76:",
            "overflow",
        ),
        (
            b"purchase = { amount = \"10.00 DKK\", card = \"dankort\" }\n[[step]]\ncapture = { of = 2, amount = \"1.00 DKK\" }\n",
            "8:18:",
            "not a pre-authorisation",
        ),
        (
            b"reverse = { of = 1 }\n",
            "6:18:",
            "made no transaction",
        ),
        (b"note = \"k\xf8\"\nforward = true\n", "6:10:", "UTF-8"),
    ];
    for (i, (step, at, want)) in cases.iter().enumerate() {
        let file = dir.path().join(format!("bad{i}.toml"));
        let mut text = head.as_bytes().to_vec();
        text.extend_from_slice(step);
        std::fs::write(&file, text).unwrap();
        let (code, stdout) = payhil([OsStr::new("check"), file.as_os_str()]);
        assert_eq!(code, Some(1), "{stdout}");
        let at = format!("{}:{at}", file.display());
        assert!(
            stdout.contains(&at) && stdout.contains(want),
            "expected {at} .. {want} in {stdout}"
        );
    }
    let file = dir.path().join("zero_timeout.toml");
    std::fs::write(
        &file,
        "name = \"x\"\nrules = [\"NETS-01\"]\n[terminal]\nhost_timeout = \"0ms\"\n[[step]]\nnetwork = \"up\"\n",
    )
    .unwrap();
    let (code, stdout) = payhil([OsStr::new("check"), file.as_os_str()]);
    assert_eq!(code, Some(1), "{stdout}");
    let at = format!("{}:4:16: host_timeout", file.display());
    assert!(stdout.contains(&at), "expected {at} in {stdout}");
}

#[test]
fn payhil_check_fails_on_a_directory_without_scenarios() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.md"), "not a scenario").unwrap();
    let (code, stdout, stderr) = payhil_with_stderr([OsStr::new("check"), dir.path().as_os_str()]);
    assert!(
        matches!(code, Some(c) if c != 0),
        "{code:?}: {stdout}{stderr}"
    );
    assert!(
        stderr.contains("no scenario files") && stderr.contains(&dir.path().display().to_string()),
        "{stderr}"
    );
}

/// Command-line numbers that cannot work are clear errors, never a panic.
#[test]
fn out_of_range_command_line_numbers_are_errors_not_panics() {
    let file = scenario_path("online/online_purchase_approved.toml");
    let cases: [(&[&str], &str); 6] = [
        (
            &["run", "--boot-timeout", "18446744073709551615"],
            "--boot-timeout",
        ),
        (&["run", "--boot-timeout", "0"], "--boot-timeout"),
        (
            &["run", "--port", "/nonexistent/tty", "--baud", "0"],
            "--baud",
        ),
        (&["bench", "--pings", "0", "--purchases", "1"], "--pings"),
        (
            &["bench", "--pings", "4294967295", "--purchases", "1"],
            "--pings",
        ),
        (&["bench", "--purchases", "0"], "--purchases"),
    ];
    for (args, want) in cases {
        let mut all: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
        if args[0] == "run" {
            all.push(file.as_os_str());
        }
        let (code, stdout, stderr) = payhil_with_stderr(all);
        assert!(
            matches!(code, Some(c) if c != 0 && c != 101),
            "{args:?}: exit {code:?}\n{stdout}{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(
            stderr.contains(want),
            "{args:?}: expected {want} in {stderr}"
        );
    }
}

/// An emulated terminal on a bench (real PTY, proxy and host on loopback TCP).
async fn emulated_bench() -> Bench {
    let spec = EmulatorSpec {
        program: PAYHIL.into(),
        args: vec!["emulate".into()],
        config: TerminalConfig::default(),
    };
    Bench::start(BenchConfig::new(Target::Emulated(spec)))
        .await
        .unwrap()
}

/// Issue 9 item 3: DE 39 is an2, so "N7" is an answer. Before the fix the terminal could not
/// read it, took it for no answer and approved offline, with no reversal and nothing logged.
#[tokio::test]
async fn an_alphanumeric_host_answer_is_a_decline_showing_the_code_never_offline() {
    use payhil_protocol::host_link::ResponseCode;
    use payhil_protocol::{
        Amount, Awaiting, Currency, EntryMode, Network, Outcome, PinText, Reason, Response,
    };
    let mut bench = emulated_bench().await;
    let card = payhil_cards::catalogue::by_name("dankort").unwrap();
    bench.host.answer_card_with(&card.pan, ResponseCode(*b"N7"));
    let clock = Request::SetClock {
        unix_s: 1_800_000_000,
    };
    bench.link.request(&clock).await.unwrap();
    let start = Request::StartPurchase {
        amount: Amount {
            minor: 100_00,
            currency: Currency::DKK,
        },
        forced_offline: false,
    };
    let r = bench.link.request(&start).await.unwrap();
    assert!(
        matches!(
            r.get(),
            Response::Accepted {
                awaiting: Awaiting::Card
            }
        ),
        "{:?}",
        r.get()
    );
    let present = Request::PresentCard(card.presented(Network::Dankort, EntryMode::Chip));
    let r = bench.link.request(&present).await.unwrap();
    assert!(
        matches!(
            r.get(),
            Response::Accepted {
                awaiting: Awaiting::Pin
            }
        ),
        "{:?}",
        r.get()
    );
    let r = bench
        .link
        .request(&Request::EnterPin(PinText(card.pin.reveal())))
        .await
        .unwrap();
    let Response::Done(done) = r.get() else {
        panic!("{:?}", r.get())
    };
    assert_eq!(
        (done.outcome, done.reason),
        (
            Outcome::Declined,
            Reason::HostDeclined(ResponseCode(*b"N7"))
        ),
        "{}",
        done.receipt
    );
    assert!(done.receipt.contains("N7"), "{}", done.receipt);
    // Nothing was stored to forward: no offline approval, and nothing to reverse.
    let r = bench.link.request(&Request::ForwardQueue).await.unwrap();
    let Response::Queue(q) = r.get() else {
        panic!("{:?}", r.get())
    };
    assert_eq!((q.pending, q.forwarded), (0, 0), "{q:?}");
    let books = bench.host.books();
    assert!(books.advice_deliveries.is_empty(), "{books:?}");
    assert_eq!(books.auth_requests.len(), 1);
    assert_eq!(books.settled().count(), 0);
    bench.shutdown().await;
}

/// Issue 9 item 6: no arithmetic on a number from the wire may wrap or panic. Before the fix
/// the terminal stored `SetClock(i64::MAX)` and the next `AdvanceClock` overflowed (a panic in
/// this debug build: the emulator died); in release it would wrap to a time the journal stores
/// as 1970. A time outside what the journal can store is refused with its own error.
#[tokio::test]
async fn a_clock_outside_the_journals_range_is_refused_and_nothing_wraps() {
    use payhil_protocol::{RequestError, Response};
    let mut bench = emulated_bench().await;
    let r = bench
        .link
        .request(&Request::SetClock { unix_s: i64::MAX })
        .await
        .unwrap();
    assert!(
        matches!(
            r.get(),
            Response::Rejected(RequestError::ClockOutOfRange { .. })
        ),
        "{:?}",
        r.get()
    );
    let r = bench
        .link
        .request(&Request::AdvanceClock { secs: u32::MAX })
        .await
        .unwrap();
    assert!(
        matches!(r.get(), Response::Clock { unix_s } if (0..=i64::from(u32::MAX)).contains(&unix_s)),
        "{:?}",
        r.get()
    );
    // Just inside the range, then an advance that would leave it: refused, clock kept.
    let top = i64::from(u32::MAX) - 10;
    let r = bench
        .link
        .request(&Request::SetClock { unix_s: top })
        .await
        .unwrap();
    assert!(
        matches!(r.get(), Response::Clock { unix_s } if unix_s == top),
        "{:?}",
        r.get()
    );
    let r = bench
        .link
        .request(&Request::AdvanceClock { secs: 11 })
        .await
        .unwrap();
    assert!(
        matches!(
            r.get(),
            Response::Rejected(RequestError::ClockOutOfRange { .. })
        ),
        "{:?}",
        r.get()
    );
    for unix_s in [-1, i64::MIN] {
        let r = bench
            .link
            .request(&Request::SetClock { unix_s })
            .await
            .unwrap();
        assert!(
            matches!(
                r.get(),
                Response::Rejected(RequestError::ClockOutOfRange { .. })
            ),
            "{unix_s}: {:?}",
            r.get()
        );
    }
    let r = bench
        .link
        .request(&Request::AdvanceClock { secs: 10 })
        .await
        .unwrap();
    assert!(
        matches!(r.get(), Response::Clock { unix_s } if unix_s == top + 10),
        "{:?}",
        r.get()
    );
    bench.shutdown().await;
}

/// Runs `payhil emulate` on one end of a PTY pair with `flash` and `extra` arguments until it
/// exits or has booted (its log says so); returns the exit code (None: still running, then
/// killed) and its log.
async fn emulate_on_flash(flash: &Path, extra: &[&str]) -> (Option<i32>, String) {
    use tokio::io::{AsyncBufReadExt, BufReader};
    use tokio_serial::{SerialPort, SerialStream};
    let (_master, slave) = SerialStream::pair().unwrap();
    let port = slave.name().unwrap();
    let mut child = tokio::process::Command::new(PAYHIL)
        .args([
            "emulate",
            "--port",
            &port,
            "--host",
            "127.0.0.1:9",
            "--flash",
        ])
        .arg(flash)
        .args(extra)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut log = String::new();
    let booted = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        while let Ok(Some(line)) = lines.next_line().await {
            log.push_str(&line);
            log.push('\n');
            if line.contains("booted") {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    if booted {
        let _ = child.start_kill();
        let _ = child.wait().await;
        return (None, log);
    }
    let status = tokio::time::timeout(std::time::Duration::from_secs(10), child.wait())
        .await
        .expect("the emulator exits when it does not boot")
        .unwrap();
    (status.code(), log)
}

/// Issue 9 item 5: a flash file of the wrong size was silently re-created erased, dropping the
/// offline queue and reusing sequence numbers. Now the emulator refuses to boot, with its own
/// exit status and a message naming the way out, until told to format the flash.
#[tokio::test]
async fn a_truncated_flash_file_is_refused_until_formatted() {
    let dir = tempfile::tempdir().unwrap();
    let flash = dir.path().join("flash.bin");
    std::fs::write(&flash, vec![0xFFu8; 1000]).unwrap();
    let (code, log) = emulate_on_flash(&flash, &[]).await;
    assert_eq!(code, Some(fut_emulator::EXIT_FLASH_DAMAGED), "{log}");
    assert!(
        log.contains("1000 bytes") && log.contains("--format-flash"),
        "{log}"
    );
    assert_eq!(
        std::fs::metadata(&flash).unwrap().len(),
        1000,
        "the damaged file is left as it was"
    );
    let (code, log) = emulate_on_flash(&flash, &["--format-flash"]).await;
    assert_eq!(code, None, "boots once formatting is asked for: {log}");
    assert!(log.contains("formatted"), "{log}");
    assert_eq!(std::fs::metadata(&flash).unwrap().len(), 256 * 1024);
    // And boots from the formatted flash without being told again.
    let (code, log) = emulate_on_flash(&flash, &[]).await;
    assert_eq!(code, None, "{log}");
}

/// A flash of the right size whose journal cannot be mounted (here: a record of an older layout,
/// which kept card numbers in clear) is refused the same way, and left as it was.
#[tokio::test]
async fn a_flash_with_a_journal_that_cannot_be_mounted_is_refused_not_wiped() {
    let dir = tempfile::tempdir().unwrap();
    let flash = dir.path().join("flash.bin");
    let mut image = vec![0xFFu8; 256 * 1024];
    // Slot 0: magic "PH", kind 2 (boot), layout 4, lsn 1, boot count 1, burned 41, CRC.
    image[..4].copy_from_slice(&[b'P', b'H', 2, 4]);
    image[4..8].copy_from_slice(&1u32.to_le_bytes());
    image[8..12].copy_from_slice(&1u32.to_le_bytes());
    image[12..16].copy_from_slice(&41u32.to_le_bytes());
    let crc = payhil_protocol::frame::CRC.checksum(&image[..52]);
    image[52..56].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&flash, &image).unwrap();
    let (code, log) = emulate_on_flash(&flash, &[]).await;
    assert_eq!(code, Some(fut_emulator::EXIT_FLASH_DAMAGED), "{log}");
    assert!(
        log.contains("UnsupportedLayout(4)") && log.contains("--format-flash"),
        "{log}"
    );
    assert_eq!(std::fs::read(&flash).unwrap(), image, "left as it was");
    let (code, log) = emulate_on_flash(&flash, &["--format-flash"]).await;
    assert_eq!(code, None, "{log}");
    assert!(log.contains("continue above 41"), "{log}");
}
