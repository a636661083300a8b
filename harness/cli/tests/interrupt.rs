//! An interrupted `payhil run` leaves no card data at rest (issue 8): SIGTERM in the middle of a
//! scenario stops the emulator, removes its temporary directory with the flash image in it, and
//! ends the run with a summary and a non-zero exit status. Before the fix the process died on
//! the spot and `payhil-bench*/flash.bin` stayed behind in the temporary directory.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PAYHIL: &str = env!("CARGO_BIN_EXE_payhil");

/// The bench directories (`payhil-bench*`) under `tmp`.
fn bench_dirs(tmp: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(tmp)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("payhil-bench"))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Kills the child if the test fails before it ends.
struct Reaper(Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn sigterm_during_a_run_removes_the_emulator_flash_and_fails_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let scenarios = tempfile::tempdir().unwrap();
    // Long enough that it is still running whenever the signal comes: 30,000 online purchases.
    let mut text = String::from("name = \"long\"\nrules = [\"PBS-02\"]\n");
    for _ in 0..3 {
        text.push_str(
            "[[step]]\npurchases = { count = 10000, amount = \"1.00 DKK\", cards = [\"dankort\"] }\n",
        );
    }
    let file = scenarios.path().join("long.toml");
    std::fs::write(&file, text).unwrap();

    // The bench's temporary directory goes where TMPDIR says (tempfile honours it): a fresh
    // one, so that exactly this run's directories are seen.
    let child = Command::new(PAYHIL)
        .arg("run")
        .arg("--seed")
        .arg("1")
        .arg(&file)
        .env("TMPDIR", tmp.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = Reaper(child);
    let mut stdout = BufReader::new(child.0.stdout.take().unwrap()).lines();
    let first = stdout.next().unwrap().unwrap();
    assert!(first.contains("seed 1"), "{first}");

    // The run has started; wait until the emulator's flash exists (the condition the signal
    // must find), checking often, bounded in case it never comes.
    let deadline = Instant::now() + Duration::from_secs(60);
    let flash = loop {
        let found = bench_dirs(tmp.path())
            .into_iter()
            .map(|d| d.join("flash.bin"))
            .find(|f| f.exists());
        if let Some(f) = found {
            break f;
        }
        assert!(Instant::now() < deadline, "no emulator flash appeared");
        std::thread::sleep(Duration::from_millis(10));
    };

    let pid = child.0.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let rest: Vec<String> = stdout.map_while(Result::ok).collect();
    let status = child.0.wait().unwrap();

    assert!(!flash.exists(), "{} is still there", flash.display());
    assert_eq!(bench_dirs(tmp.path()), Vec::<std::path::PathBuf>::new());
    assert!(!status.success(), "exit status {status:?}; stdout {rest:?}");
    assert_eq!(status.code(), Some(143), "128 + SIGTERM; stdout {rest:?}");
    let summary = rest.join("\n");
    assert!(
        summary.contains("interrupted by SIGTERM") && summary.contains("1 not run"),
        "{summary}"
    );
}
