//! Scan first, then redact (issue 8): a test card's full number that reaches the transcript is
//! reported as a PCI-01 finding, and the report and the files `payhil run --out` writes carry
//! it only masked. Before the fix the finding was reported but the transcript was kept and
//! written with the full number in it.
//!
//! The number gets there the way a careless merchant would put it: typed as the ID reference
//! of a BankAxept debit note, which the harness sends to the terminal and records.

use payhil_scenario::runner::{RunOptions, TerminalTarget};
use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const PAYHIL: &str = env!("CARGO_BIN_EXE_payhil");
const FULL: &str = "5019100000000006";
const MASKED: &str = "501910******0006";

fn leaking_scenario(dir: &Path) -> std::path::PathBuf {
    let file = dir.join("id_reference_is_a_card_number.toml");
    std::fs::write(
        &file,
        format!(
            "name = \"A card number typed as the ID reference\"\nrules = [\"PCI-01\"]\n\
             [[step]]\nnetwork = \"down\"\n\
             [[step]]\npurchase = {{ amount = \"300.00 NOK\", card = \"bankaxept\", reserve = \
             {{ id_type = \"national_id_card\", id_reference = \"{FULL}\", account = \"12345678903\" }} }}\n\
             expect = {{ outcome = \"declined\" }}\n"
        ),
    )
    .unwrap();
    file
}

#[test]
fn pci_01_a_leak_in_the_transcript_is_reported_and_kept_masked_only() {
    let dir = tempfile::tempdir().unwrap();
    let scn = payhil_scenario::parse_file(&leaking_scenario(dir.path())).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let opts = RunOptions {
        target: TerminalTarget::Emulated {
            program: PAYHIL.into(),
            args: vec!["emulate".into()],
        },
        seed: 1,
        boot_timeout: Duration::from_secs(20),
        proxy_listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        progress: None,
    };
    let report = rt.block_on(payhil_scenario::run(&scn, &opts));
    assert!(report.failure.is_none(), "{:?}", report.failure);
    assert!(
        report
            .invariant_findings
            .iter()
            .any(|f| f.starts_with("PCI-01: transcript:") && f.ends_with(MASKED)),
        "{:?}",
        report.invariant_findings
    );
    assert!(!report.passed());
    assert!(report.transcript.contains(MASKED), "{}", report.transcript);
    let kept = [&report.transcript, &report.replayable_transcript]
        .into_iter()
        .chain(report.artifacts.iter().map(|a| &a.text))
        .chain(report.steps.iter().map(|s| &s.summary))
        .chain(&report.invariant_findings);
    for text in kept {
        assert!(!text.contains(FULL), "kept in full: {text}");
    }
}

#[test]
fn pci_01_payhil_run_out_writes_only_masked_copies() {
    let dir = tempfile::tempdir().unwrap();
    let file = leaking_scenario(dir.path());
    let out = dir.path().join("out");
    let run = Command::new(PAYHIL)
        .args([
            OsStr::new("run"),
            OsStr::new("--seed"),
            OsStr::new("1"),
            OsStr::new("--out"),
            out.as_os_str(),
            file.as_os_str(),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(&format!("full card number {MASKED}")),
        "{stdout}"
    );
    assert!(!stdout.contains(FULL), "{stdout}");
    let written = out.join("id_reference_is_a_card_number");
    let mut files = 0;
    for entry in std::fs::read_dir(&written).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(FULL), "{}: {text}", path.display());
        files += 1;
    }
    assert!(files >= 2, "transcript and result at least");
    let transcript = std::fs::read_to_string(written.join("transcript.txt")).unwrap();
    assert!(transcript.contains(MASKED), "{transcript}");
    let result = std::fs::read_to_string(written.join("result.txt")).unwrap();
    assert!(result.contains("finding: PCI-01: transcript:"), "{result}");
}
