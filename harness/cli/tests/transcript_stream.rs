//! Issue 11: a scenario's transcript streams to its file as the run goes (JSON Lines, redacted
//! entry by entry), memory keeps only its end, and a file that cannot be written is a clear
//! finding, not a lost run. Over the real PTY + TCP path, with the emulator.

use payhil_scenario::runner::{RunOptions, ScenarioReport, TerminalTarget};
use payhil_transport::transcript;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn opts() -> RunOptions {
    RunOptions {
        target: TerminalTarget::Emulated {
            program: env!("CARGO_BIN_EXE_payhil").into(),
            args: vec!["emulate".into()],
        },
        seed: 7,
        boot_timeout: Duration::from_secs(20),
        proxy_listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        progress: None,
    }
}

fn shipped(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios")
        .join(rel)
}

fn run(file: &Path, transcript: Option<&Path>) -> ScenarioReport {
    let scn = payhil_scenario::parse_file(file).unwrap_or_else(|e| panic!("{e}"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(payhil_scenario::run_to(&scn, &opts(), transcript))
}

/// 200 offline purchases and their forwarding make thousands of entries: the file holds every
/// one (the same, entry for entry, as a run that keeps its transcript in memory), while the
/// report holds only the last ones and says where the rest are.
#[test]
fn a_streamed_transcript_is_whole_on_disk_and_bounded_in_memory() {
    let file = shipped("network/link_drop_mid_forward_200.toml");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let jsonl = dir.path().join("deep/er/transcript.jsonl");
    let streamed = run(&file, Some(&jsonl));
    assert!(streamed.passed(), "{:?}", streamed.failure);
    assert_eq!(streamed.transcript_file.as_deref(), Some(jsonl.as_path()));

    let mut on_disk = Vec::new();
    payhil_scenario::transcript_file::for_each(&jsonl, |e| on_disk.push(e))
        .expect("every line is an entry");
    let kept = streamed.transcript_entries.len();
    assert!(
        on_disk.len() > kept && (1..=2_000).contains(&kept),
        "{} entries on disk, {kept} in memory",
        on_disk.len()
    );
    assert!(
        streamed
            .transcript
            .starts_with(&format!("[{} earlier entries are in", on_disk.len() - kept)),
        "{}",
        &streamed.transcript[..200]
    );
    // The memory's end is the file's end.
    assert_eq!(
        transcript::render_replayable(&on_disk[on_disk.len() - kept..]),
        streamed.replayable_transcript
    );

    // Nothing is lost or reordered by streaming: the same seed kept in memory gives the same
    // transcript, entry for entry (wall-clock times aside).
    let in_memory = run(&file, None);
    assert!(in_memory.transcript_file.is_none());
    assert_eq!(in_memory.transcript_entries.len(), on_disk.len());
    assert_eq!(
        transcript::render_replayable(&on_disk),
        in_memory.replayable_transcript
    );

    // `--out`'s text rendering of the file is the in-memory rendering's shape, line for line.
    let mut text = Vec::new();
    payhil_scenario::transcript_file::render_to(&jsonl, &mut text).expect("renders");
    let text = String::from_utf8(text).expect("UTF-8");
    assert_eq!(text.lines().count(), in_memory.transcript.lines().count());
}

/// A transcript that cannot be written to the end (a full disk: `/dev/full` takes the open
/// and fails every write with ENOSPC) fails the scenario with a finding that says so; the
/// scenario itself still runs to its end and is judged.
#[test]
fn a_full_disk_under_the_transcript_is_a_finding_and_the_run_still_ends() {
    let full = Path::new("/dev/full");
    if !full.exists() {
        eprintln!("SKIPPED: this machine has no /dev/full to stand in for a full disk");
        return;
    }
    let r = run(
        &shipped("power/power_cut_between_advice_and_ack.toml"),
        Some(full),
    );
    assert!(r.failure.is_none(), "the steps ran: {:?}", r.failure);
    assert!(
        r.invariant_findings
            .iter()
            .any(|f| f
                .contains("transcript /dev/full: could not be written: No space left on device")),
        "{:?}",
        r.invariant_findings
    );
    assert!(!r.passed());
}

/// A transcript file that cannot even be created ends the scenario before the terminal starts,
/// with the reason.
#[test]
fn an_uncreatable_transcript_file_ends_the_scenario_before_it_starts() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, "").expect("a file");
    let r = run(
        &shipped("power/power_cut_between_advice_and_ack.toml"),
        Some(&blocker.join("transcript.jsonl")),
    );
    let f = r.failure.expect("a failure");
    assert_eq!(f.step, 0);
    assert!(f.message.contains("cannot be written"), "{}", f.message);
    assert!(r.steps.is_empty());
}
