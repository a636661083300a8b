//! `report.json`: the run's machine-readable report, schema version [`SCHEMA_VERSION`]
//! (documented in `harness/evidence/report.schema.json`, checked by a test).

use serde::{Deserialize, Serialize};

/// The report's schema identifier.
pub const SCHEMA_URL: &str = "https://payhil.dev/schemas/evidence-report/v1";
/// The report's schema version: bumped on any change a reader must know of.
pub const SCHEMA_VERSION: u32 = 1;

/// The whole run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// [`SCHEMA_URL`].
    pub schema: String,
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// What produced the bundle.
    pub harness: Harness,
    /// Seed, times, host, target.
    pub run: RunInfo,
    /// Counts.
    pub totals: Totals,
    /// Every rule of the catalogue and the scenarios that give evidence for it.
    pub rules: Vec<RuleEvidence>,
    /// Every scenario, in run order.
    pub scenarios: Vec<ScenarioEvidence>,
    /// The public key (minisign, base64) the bundle is signed with, if it is: says who signed;
    /// `payhil verify --pubkey` checks it is the key the lab trusts.
    pub signer_public_key: Option<String>,
    /// Problems with the evidence itself (an artifact that held card data and was stored
    /// redacted, a file that could not be written); each fails the run.
    pub evidence_findings: Vec<String>,
}

/// The harness build.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Harness {
    /// `payhil`.
    pub name: String,
    /// Crate version.
    pub version: String,
    /// Git commit of the build (`-dirty` if the tree had changes), or `unknown`.
    pub git_commit: String,
}

/// The run's provenance.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunInfo {
    /// The seed every random choice came from, as a decimal string (a JSON number would lose
    /// precision above 2^53 in many readers).
    pub seed: String,
    /// Start, RFC 3339 UTC.
    pub started: String,
    /// End, RFC 3339 UTC.
    pub finished: String,
    /// The machine the harness ran on.
    pub host: String,
    /// `emulated` or `physical:<port>`.
    pub target: String,
    /// The command line.
    pub command: Vec<String>,
}

/// Scenario counts.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Totals {
    /// Scenarios run (or refused at parsing).
    pub scenarios: usize,
    /// Passed.
    pub passed: usize,
    /// Failed.
    pub failed: usize,
    /// Not run on this terminal, each with its reason (e.g. a power cut at a flash write,
    /// which only an emulated terminal offers). Neither passed nor failed.
    #[serde(default)]
    pub skipped: usize,
}

/// A rule and its evidence.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RuleEvidence {
    /// Rule ID, e.g. `NETS-04`.
    pub id: String,
    /// The rule's source document.
    pub source: String,
    /// Scenario files (bundle-relative names) naming the rule, and their verdicts.
    pub scenarios: Vec<RuleScenario>,
    /// True when at least one scenario naming it passed.
    pub evidenced: bool,
}

/// A scenario's verdict as evidence for a rule.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RuleScenario {
    /// The scenario's bundle-relative name.
    pub scenario: String,
    /// Its verdict.
    pub verdict: Verdict,
}

/// Pass or fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every step and every invariant held.
    Pass,
    /// Something did not.
    Fail,
    /// Not run on this terminal, for the reason given in its failures list (source `run`):
    /// the step it needs is one the terminal does not offer. No evidence either way.
    Skipped,
}

/// Where a failure came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureSource {
    /// A step: the terminal did not do what the scenario file expects.
    Expectation,
    /// A step: the terminal did what the reference model does not allow.
    Model,
    /// A step failed otherwise (the link, a protocol answer, a rule check of a receipt).
    Step,
    /// An end-of-run invariant (exactly-once, reconciliation with the host's books, card data).
    Invariant,
    /// The run itself: the scenario file, the terminal's start, the link.
    Run,
    /// A receipt or settlement file differs from its reviewed snapshot.
    Snapshot,
}

/// One scenario's evidence.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScenarioEvidence {
    /// Bundle-relative name: the scenario's path under its root without `.toml`
    /// (e.g. `network/authorisation_link_failures`); its files are under `scenarios/<name>/`.
    pub id: String,
    /// The scenario file as given.
    pub file: String,
    /// SHA-256 of the scenario file (hex).
    pub sha256: String,
    /// Title.
    pub title: String,
    /// Rule IDs it covers.
    pub rules: Vec<String>,
    /// Verdict.
    pub verdict: Verdict,
    /// Wall time, milliseconds.
    pub elapsed_ms: u64,
    /// The terminal's identity from its Hello.
    pub device: Option<Device>,
    /// Steps carried out.
    pub steps: Vec<StepEvidence>,
    /// Every reason it failed, with its source.
    pub failures: Vec<FailureEvidence>,
    /// Files of this scenario in the bundle (bundle-relative paths).
    pub artifacts: Vec<ArtifactRef>,
    /// The transcript, JSON Lines (bundle-relative path).
    pub transcript: String,
    /// Faults injected (network, serial line, power), in order.
    pub faults: Vec<TimelineEvent>,
    /// The offline queue as the terminal reported it, over time.
    pub queue: Vec<QueuePoint>,
    /// Each card's exposure as the harness's own ledger has it, whenever it changed.
    pub exposure: Vec<ExposurePoint>,
}

/// A terminal's identity.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Device {
    /// Test-agent protocol version.
    pub protocol_version: u16,
    /// Model.
    pub model: String,
    /// Serial number.
    pub serial: String,
    /// Firmware version.
    pub firmware_version: String,
    /// Firmware build hash.
    pub build_hash: String,
    /// Terminal ID.
    pub terminal_id: String,
    /// Merchant ID.
    pub merchant_id: String,
    /// Offline items it can hold.
    pub queue_capacity: u32,
}

/// A step carried out.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepEvidence {
    /// 1-based index.
    pub index: usize,
    /// Line in the scenario file.
    pub line: usize,
    /// What was done and seen.
    pub summary: String,
}

/// A reason a scenario failed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FailureEvidence {
    /// Where it came from.
    pub source: FailureSource,
    /// Step index (0: not a step).
    pub step: usize,
    /// Line in the scenario file (0: none).
    pub line: usize,
    /// What went wrong, both sides shown.
    pub message: String,
}

/// A file of the bundle.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ArtifactRef {
    /// e.g. `step03_receipt`, `settlement`.
    pub name: String,
    /// Bundle-relative path.
    pub path: String,
}

/// One event of the fault timeline.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TimelineEvent {
    /// Microseconds since the scenario started.
    pub micros: u64,
    /// The terminal's controlled clock (Unix seconds).
    pub clock: i64,
    /// `net` (proxy), `line` (serial relay) or `step` (power).
    pub source: String,
    /// What happened.
    pub text: String,
}

/// The offline queue at one moment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueuePoint {
    /// Microseconds since the scenario started.
    pub micros: u64,
    /// The terminal's controlled clock.
    pub clock: i64,
    /// Items pending.
    pub pending: u64,
    /// Their amount, minor units (exposure).
    pub pending_minor: u64,
}

/// One card's exposure after a step: the offline approvals the harness saw on it that the host
/// has not received yet (the harness's own figure, not the terminal's).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExposurePoint {
    /// The step after which it was so; one past the last step: after the end-of-run drain.
    pub step: usize,
    /// The terminal's controlled clock.
    pub clock: i64,
    /// The card, masked (first six, last four).
    pub card: String,
    /// The unforwarded offline total, minor units of the terminal's currency.
    pub minor: u64,
}
