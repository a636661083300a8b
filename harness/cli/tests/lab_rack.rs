//! Issue 13: a rack of terminals at once from an inventory, and clean, fast failure when a
//! device misbehaves. Every terminal here is on a real PTY: reference terminals behind a PTY
//! cable, and ports whose far end the test plays (silent, flooding zero bytes, flooding noise,
//! echoing), run at once with one that is absent. Output is `--json`, one object per event.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_serial::{SerialPort, SerialStream};

const PAYHIL: &str = env!("CARGO_BIN_EXE_payhil");

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `payhil` with its generated output (evidence, last run) under `target`, bounded.
async fn payhil(args: &[&str], target: &Path, bound: Duration) -> (Option<i32>, String, Duration) {
    let began = Instant::now();
    let run = tokio::process::Command::new(PAYHIL)
        .args(args)
        .current_dir(repo())
        .env("CARGO_TARGET_DIR", target)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(bound, run)
        .await
        .expect("payhil run ends within its bound")
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text, began.elapsed())
}

/// What a finished `payhil` process used: wall time, CPU (user + system) and peak memory.
struct Usage {
    wall: Duration,
    cpu: Duration,
    max_rss_mib: f64,
}

/// Runs `payhil` like [`payhil`], measuring what the process used (itself and the processes it
/// waited for), from the kernel's account of it (wait4).
// The child is reaped by wait4 (which std does not know of), for its resource usage.
#[allow(clippy::zombie_processes)]
async fn payhil_measured(args: &[&str], target: &Path) -> (Option<i32>, String, Usage) {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("out");
    let began = Instant::now();
    let child = std::process::Command::new(PAYHIL)
        .args(args)
        .current_dir(repo())
        .env("CARGO_TARGET_DIR", target)
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let (status, ru) = tokio::task::spawn_blocking(move || {
        let mut status = 0;
        // SAFETY: plain out-parameters for wait4 on our own child.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
        assert_eq!(r, pid, "wait4");
        (status, ru)
    })
    .await
    .unwrap();
    let wall = began.elapsed();
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    let usage = Usage {
        wall,
        cpu: tv(ru.ru_utime) + tv(ru.ru_stime),
        max_rss_mib: ru.ru_maxrss as f64 / 1024.0,
    };
    (code, std::fs::read_to_string(&out_path).unwrap(), usage)
}

/// The JSON events of a run.
fn events(out: &str) -> Vec<serde_json::Value> {
    out.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .collect()
}

fn scenario_events<'a>(ev: &'a [serde_json::Value], terminal: &str) -> Vec<&'a serde_json::Value> {
    ev.iter()
        .filter(|e| e["event"] == "scenario" && e["terminal"] == terminal)
        .collect()
}

#[tokio::test]
async fn the_example_inventory_runs_the_whole_suite_on_four_terminals_at_once() {
    let target = tempfile::tempdir().unwrap();
    let (code, out, _) = payhil(
        &["run", "--inventory", "inventory.example.toml", "--json"],
        target.path(),
        Duration::from_secs(900),
    )
    .await;
    assert_eq!(code, Some(0), "{out}");
    let ev = events(&out);
    let files = payhil_scenario::discovery::scenario_files(&[repo().join("scenarios")])
        .unwrap()
        .len();
    for name in ["ref-1", "ref-2", "ref-3", "ref-4"] {
        let done = ev
            .iter()
            .find(|e| e["event"] == "terminal" && e["terminal"] == name)
            .unwrap_or_else(|| panic!("{name} reported: {out}"));
        assert_eq!(done["failed"], 0, "{done}");
        assert_eq!(done["evidence_ok"], true, "{done}");
        let ran = scenario_events(&ev, name);
        assert_eq!(ran.len(), files, "{name} ran every scenario");
        // Skipped only for what a terminal behind a port cannot offer, with the reason.
        for s in ran.iter().filter(|s| s["result"] == "skip") {
            assert!(
                s["problems"][0]
                    .as_str()
                    .is_some_and(|p| p.contains("only an emulated terminal offers")),
                "{s}"
            );
        }
        // Its own bundle, which verifies.
        let runs = target.path().join("payhil/runs");
        let run = std::fs::read_dir(&runs)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let (code, verified, _) = payhil(
            &["verify", run.join(name).to_str().unwrap()],
            target.path(),
            Duration::from_secs(60),
        )
        .await;
        assert_eq!(code, Some(0), "{verified}");
    }
    let end = ev.iter().find(|e| e["event"] == "end").unwrap();
    assert_eq!(end["terminals"], 4);
}

/// The far end of a PTY, played by the test.
enum FarEnd {
    /// Reads and never answers.
    Silent,
    /// Sends 0x00 without pause (frame delimiters: never a frame).
    Zeros,
    /// Sends bytes that are no frame, without pause.
    Noise,
    /// Sends back what it reads.
    Echo,
}

/// A PTY whose far end behaves as `far`; the path the harness opens.
fn far_end(far: FarEnd) -> (PathBuf, SerialStream, tokio::task::JoinHandle<()>) {
    let (mut master, slave) = SerialStream::pair().unwrap();
    let path = PathBuf::from(slave.name().unwrap());
    let task = tokio::spawn(async move {
        let mut buf = [0u8; 4096];
        loop {
            let r = match far {
                FarEnd::Silent => master.read(&mut buf).await.map(|_| ()),
                FarEnd::Zeros => master.write_all(&[0u8; 4096]).await,
                FarEnd::Noise => master.write_all(&[0x5Au8; 4096]).await,
                FarEnd::Echo => match master.read(&mut buf).await {
                    Ok(n) => master.write_all(&buf[..n]).await,
                    Err(e) => Err(e),
                },
            };
            if r.is_err() {
                // The harness closed the port: wait for it to open it again.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    });
    (path, slave, task)
}

#[tokio::test]
async fn a_rack_with_misbehaving_terminals_fails_each_alone_within_its_bound() {
    let dir = tempfile::tempdir().unwrap();
    let (silent, _s1, t1) = far_end(FarEnd::Silent);
    let (zeros, _s2, t2) = far_end(FarEnd::Zeros);
    let (noise, _s3, t3) = far_end(FarEnd::Noise);
    let (echo, _s4, t4) = far_end(FarEnd::Echo);
    let absent = dir.path().join("by-id/usb-unplugged-if00-port0");
    let port = |name: &str, p: &Path| {
        format!(
            "[[terminal]]\nname = \"{name}\"\nport = \"{}\"\n",
            p.display()
        )
    };
    let inventory = dir.path().join("rack.toml");
    std::fs::write(
        &inventory,
        format!(
            "[[terminal]]\nname = \"good\"\nemulator = true\n{}{}{}{}{}",
            port("silent", &silent),
            port("zeros", &zeros),
            port("noise", &noise),
            port("echo", &echo),
            port("unplugged", &absent),
        ),
    )
    .unwrap();
    let scenarios = repo().join("scenarios/online");
    let n = payhil_scenario::discovery::scenario_files(std::slice::from_ref(&scenarios))
        .unwrap()
        .len();
    assert!(
        n >= 3,
        "a few scenarios, so that the rest of a lost run shows"
    );
    // Each misbehaving terminal costs one Hello's bound (3 tries of 4 s), all at once.
    let args = [
        "run",
        "--inventory",
        inventory.to_str().unwrap(),
        "--json",
        scenarios.to_str().unwrap(),
    ];
    let run = payhil_measured(&args, dir.path());
    let (code, out, used) = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("bounded");
    assert_eq!(code, Some(1), "{out}");
    let ev = events(&out);
    // The healthy terminal is not held up by the others.
    let good = scenario_events(&ev, "good");
    assert_eq!(good.len(), n);
    assert!(good.iter().all(|s| s["result"] == "pass"), "{out}");
    // Each bad one fails its first scenario saying what arrived, and the rest at once.
    let expect = [
        ("silent", "last received: nothing"),
        ("zeros", "(all 0x00), 0 valid frames"),
        ("noise", "first bytes 5a 5a"),
        ("echo", "an echo of what the harness sent"),
        ("unplugged", "usb-unplugged-if00-port0"),
    ];
    for (name, said) in expect {
        let ran = scenario_events(&ev, name);
        assert_eq!(ran.len(), n, "{name}: {out}");
        assert!(ran.iter().all(|s| s["result"] == "fail"), "{name}: {out}");
        let first = ran[0]["problems"][0].as_str().unwrap_or_default();
        assert!(first.contains(said), "{name} says what arrived: {first}");
        for s in &ran[1..] {
            let why = s["problems"][0].as_str().unwrap_or_default();
            assert!(why.starts_with("not run: "), "{name}: {why}");
            assert_eq!(s["elapsed_s"], 0.0, "{name} fails the rest at once");
        }
    }
    eprintln!(
        "rack of six, five misbehaving (three flooding): {:?} wall, {:?} CPU, {:.1} MiB peak",
        used.wall, used.cpu, used.max_rss_mib
    );
    // Memory stays bounded under three floods (transcripts stream to disk, buffers are capped).
    assert!(used.max_rss_mib < 200.0, "{:.1} MiB", used.max_rss_mib);
    for t in [t1, t2, t3, t4] {
        t.abort();
    }
}

/// A dead port fails the rest of its run at once: the whole shipped suite against a port that
/// is not there ends in well under a second per scenario, each failure naming the port.
#[tokio::test]
async fn a_dead_port_fails_the_whole_suite_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let absent = dir.path().join("ttyUSB-gone");
    let (code, out, took) = payhil(
        &["run", "--port", absent.to_str().unwrap(), "--json"],
        dir.path(),
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(code, Some(1), "{out}");
    let ev = events(&out);
    let failed: Vec<_> = ev
        .iter()
        .filter(|e| e["event"] == "scenario" && e["result"] == "fail")
        .collect();
    assert!(failed.len() > 50, "{out}");
    for s in &failed {
        let why = s["problems"][0].as_str().unwrap_or_default();
        assert!(why.contains("ttyUSB-gone"), "{why}");
    }
    eprintln!("{} scenarios against a dead port: {took:?}", failed.len());
}

/// A terminal that stays silent costs no CPU while the harness waits out its bound.
#[tokio::test]
async fn waiting_on_a_silent_terminal_is_idle() {
    let dir = tempfile::tempdir().unwrap();
    let (silent, _slave, task) = far_end(FarEnd::Silent);
    let one = repo().join("scenarios/online/online_purchase_approved.toml");
    let args = [
        "run",
        "--port",
        silent.to_str().unwrap(),
        "--json",
        one.to_str().unwrap(),
    ];
    let run = payhil_measured(&args, dir.path());
    let (code, out, used) = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("bounded");
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("last received: nothing"), "{out}");
    eprintln!(
        "silent terminal: {:?} wall, {:?} CPU, {:.1} MiB peak",
        used.wall, used.cpu, used.max_rss_mib
    );
    // The wait is the response bound (12 s); a spinning reader would use it all.
    assert!(
        used.cpu < used.wall / 10,
        "{:?} CPU in {:?}",
        used.cpu,
        used.wall
    );
    task.abort();
}
