//! What a scenario's run reports: its steps, its failure, its artifacts and exposure, and
//! whether it lost its terminal or was skipped on it.

use payhil_bench::DeviceIdentity;
use std::path::PathBuf;
use std::time::Duration;

/// One card's unforwarded offline total after a step, as the harness's own ledger has it (the
/// approvals it saw, less what the host has received): the merchant's exposure on that card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExposurePoint {
    /// The step after which it was so; one past the last step: after the end-of-run drain.
    pub step: usize,
    /// The terminal's controlled clock then (Unix seconds).
    pub clock: i64,
    /// The card, masked.
    pub card: String,
    /// The total, in minor units of the terminal's currency.
    pub minor: u64,
}

/// A file the run produced: a receipt or the settlement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    /// Name, e.g. `step03_receipt` or `settlement`.
    pub name: String,
    /// Content.
    pub text: String,
}

/// What happened in one step.
#[derive(Debug, Clone)]
pub struct StepResult {
    /// 1-based index.
    pub index: usize,
    /// Line in the file.
    pub line: usize,
    /// One line on what was done and seen.
    pub summary: String,
}

/// Why a scenario failed.
#[derive(Debug, Clone)]
pub struct Failure {
    /// Step index (0 = setup or end-of-run checks).
    pub step: usize,
    /// Line in the file (0 if none).
    pub line: usize,
    /// What went wrong, with both sides shown.
    pub message: String,
}

/// The result of running one scenario.
#[derive(Debug, Clone)]
pub struct ScenarioReport {
    /// Scenario title.
    pub name: String,
    /// File stem.
    pub stem: String,
    /// File.
    pub path: PathBuf,
    /// Rules covered.
    pub rules: Vec<String>,
    /// Seed used.
    pub seed: u64,
    /// Steps completed.
    pub steps: Vec<StepResult>,
    /// First failure, if any (later steps are not run).
    pub failure: Option<Failure>,
    /// Invariant findings from the end-of-run checks (also failures).
    pub invariant_findings: Vec<String>,
    /// Receipts and settlement files, redacted: a card number, PIN or CVC the terminal leaked
    /// is reported in `invariant_findings` and kept only masked.
    pub artifacts: Vec<Artifact>,
    /// The rendered transcript, redacted like the artifacts.
    pub transcript: String,
    /// The transcript without wall-clock times and machine-local details: the same seed must
    /// give the same text on every run, under any load. Redacted like the artifacts.
    pub replayable_transcript: String,
    /// The transcript's entries, redacted like the artifacts (for the evidence bundle): all
    /// of them, or, when the transcript streamed to a file, the last ones.
    pub transcript_entries: Vec<payhil_transport::transcript::Entry>,
    /// The file the whole transcript streamed to as JSON Lines ([`run_to`]), redacted; then
    /// `transcript`, `replayable_transcript` and `transcript_entries` hold only its end.
    pub transcript_file: Option<PathBuf>,
    /// Each card's exposure over time: a point whenever it changed after a step.
    pub exposure: Vec<ExposurePoint>,
    /// The terminal's identity.
    pub device: Option<DeviceIdentity>,
    /// Wall time.
    pub elapsed: Duration,
    /// Why the scenario was not run on this terminal (a step it does not offer), if so.
    pub skipped: Option<String>,
    /// The terminal could not be reached (its port is gone, or it stopped answering): a
    /// lab's run does not try it again as if nothing happened (see [`TerminalLoss`]).
    pub lost: Option<TerminalLoss>,
}

/// How a scenario lost its terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TerminalLoss {
    /// The port could not be opened, or reached EOF or an I/O error (unplugged, powered off,
    /// its exporter gone): it may come back, and is opened again by its path if it does.
    Gone(String),
    /// The port is there and the terminal does not answer: it is hung.
    Silent(String),
    /// The terminal refused the session (another protocol version, or no Hello answer).
    Refused(String),
}

impl TerminalLoss {
    /// Classifies a link error; `None` for errors that do not mean the terminal is lost.
    pub fn of_link(e: &payhil_transport::LinkError) -> Option<Self> {
        use payhil_transport::LinkError;
        match e {
            LinkError::DeviceGone { .. } | LinkError::Write { .. } => {
                Some(Self::Gone(e.to_string()))
            }
            LinkError::Timeout { .. } => Some(Self::Silent(e.to_string())),
            _ => None,
        }
    }

    /// The error as the run reported it.
    pub fn message(&self) -> &str {
        match self {
            Self::Gone(m) | Self::Silent(m) | Self::Refused(m) => m,
        }
    }
}

impl ScenarioReport {
    /// True if every step and every invariant passed (a skipped scenario did not pass).
    pub fn passed(&self) -> bool {
        self.failure.is_none() && self.invariant_findings.is_empty() && self.skipped.is_none()
    }
}
