//! The scenario file format (TOML) and its parser.
//!
//! ```toml
//! name = "Dankort offline purchase forwarded once"
//! rules = ["NETS-01", "PBS-02"]           # IDs from rules/catalogue.toml
//! seed = 7                                # optional; otherwise the run's seed
//!
//! [terminal]                              # optional; these are the defaults
//! offline_limit = "1500.00 DKK"           # NETS-03
//! card_limit = "20000.00 DKK"             # NETS-04
//! forward_retry = "60s"
//! cvm_limit = "350.00 DKK"                # CARD-02
//! gambling_daily_max = "1000.00 DKK"      # CARD-04 (absent: not a gambling merchant)
//! self_service = false                    # BAX-03
//! reserve_phone_auth_above = "2500.00 NOK"  # BAX-08
//! reserve_cap = "20000.00 NOK"            # BAX-09
//!
//! [[step]]
//! set_clock = 2026-03-02T10:15:00Z
//! [[step]]
//! network = "down"                        # or "up"
//! [[step]]
//! purchase = { amount = "125.50 DKK", card = "dankort", entry = "chip", pin = "739216" }
//! expect = { outcome = "approved_offline" }   # also: reason = "...", pin_prompted = true
//! [[step]]
//! advance_clock = "2m"                    # s, m, h, d
//! [[step]]
//! expect_queue = { pending = 0 }          # also: overdue = N (BAX-10)
//! [[step]]
//! settle = true                           # settlement file + exactly-once check
//! [[step]]
//! reconcile = true                        # ISO 8583 0500: terminal and host totals agree
//! ```
//! A `purchase` may also have `tip = "25.00 DKK"` (CARD-05), `kind = "refund"` or `"preauth"`
//! (CARD-07, CARD-06), `network = "visa"` for a co-badged card (CARD-01), `forced_offline = true`
//! (NETS-02), `chip_unreadable = true` with `entry` the fallback read (SUPPORT-03), `pin = ""`
//! for a PIN bypass, and for BankAxept a debit note: `reserve = { id_type = "passport",
//! id_reference = "12345678", account = "12345678903", phone_code = "AB1234", attendant = true }`.
//! Other steps: `capture = { of = STEP, amount = "..." }` (CARD-06), `reverse = { of = STEP }`
//! (PBS-03), each with an optional `expect`; `forward = true`; `power_cycle = true`. A capture
//! names an earlier `kind = "preauth"` step and is in its currency; a reversal names an earlier
//! purchase, capture or reversal step. Dankort takes only DKK and BankAxept only NOK.
//! Each `[[step]]` has exactly one action; `note = "..."` may describe it.
//!
//! Every error names `file:line:column`.

use payhil_cards::Pin;
use payhil_cards::catalogue::{self, TestCard};
use payhil_protocol::{Amount, Currency, EntryMode, IdType, Network, Outcome, Reason, TxnKind};
use serde::Deserialize;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// A scenario error with its location.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ScenarioError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )
    }
}

/// Terminal settings a scenario assumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TerminalSettings {
    /// Per-transaction offline limit (NETS-03).
    pub offline_limit: Amount,
    /// Per-card cumulative offline limit (NETS-04).
    pub card_limit: Amount,
    /// Forward retry interval in seconds.
    pub forward_retry_s: u32,
    /// Contactless purchases above this need the PIN (CARD-02).
    pub cvm_limit: Amount,
    /// Gambling merchant's daily maximum per card (CARD-04).
    pub gambling_daily_max: Option<Amount>,
    /// Self-service terminal (BAX-03).
    pub self_service: bool,
    /// BankAxept reserve: phone authorisation above this (BAX-08).
    pub reserve_phone_auth_above: Amount,
    /// BankAxept reserve: aggregate cap (BAX-09).
    pub reserve_cap: Amount,
    /// How long the terminal waits for the host, in milliseconds (real time).
    pub host_timeout_ms: u64,
}

impl Default for TerminalSettings {
    fn default() -> Self {
        Self {
            offline_limit: Amount {
                minor: 1_500_00,
                currency: Currency::DKK,
            },
            card_limit: Amount {
                minor: 20_000_00,
                currency: Currency::DKK,
            },
            forward_retry_s: 60,
            cvm_limit: Amount {
                minor: 350_00,
                currency: Currency::DKK,
            },
            gambling_daily_max: None,
            self_service: false,
            reserve_phone_auth_above: Amount {
                minor: 2_500_00,
                currency: Currency::NOK,
            },
            reserve_cap: Amount {
                minor: 20_000_00,
                currency: Currency::NOK,
            },
            host_timeout_ms: 2_000,
        }
    }
}

/// A purchase as the scenario describes it.
#[derive(Debug, Clone)]
pub struct PurchaseSpec {
    /// Amount.
    pub amount: Amount,
    /// The test card.
    pub card: TestCard,
    /// The application used (CARD-01); defaults to the card's first.
    pub network: Network,
    /// Entry mode; defaults to chip.
    pub entry: EntryMode,
    /// PIN entered; `None` = PIN bypass. Defaults to the card's PIN.
    pub pin: Option<Pin>,
    /// Forced offline (NETS-02).
    pub forced_offline: bool,
    /// Tip added by the cardholder (CARD-05), minor units of the amount's currency.
    pub tip_minor: u64,
    /// Purchase, refund (CARD-07) or pre-authorisation (CARD-06).
    pub kind: TxnKind,
    /// The chip is unreadable; `entry` is the fallback read (SUPPORT-03).
    pub chip_unreadable: bool,
    /// What the merchant enters if the terminal asks for a BankAxept debit note (BAX-02..08).
    pub reserve: Option<ReserveSpec>,
}

/// The debit-note details of a BankAxept reserve payment: what the scenario has the merchant
/// write is exactly what the reference model checks, so it is the model's type.
pub type ReserveSpec = payhil_model::reserve::Note;

impl PurchaseSpec {
    /// The full amount charged, tip included (CARD-05).
    pub fn total(&self) -> Amount {
        Amount {
            // The parser rejects a tip that overflows; saturating keeps a spec built by hand
            // from wrapping or panicking.
            minor: self.amount.minor.saturating_add(self.tip_minor),
            currency: self.amount.currency,
        }
    }
}

/// What the scenario expects of a purchase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expectation {
    /// Outcome.
    pub outcome: Outcome,
    /// Reason, if given.
    pub reason: Option<Reason>,
    /// Whether the terminal must ask for the PIN, if given (CARD-02, NETS-08).
    pub pin_prompted: Option<bool>,
}

/// One step's action.
#[derive(Debug, Clone)]
pub enum Action {
    /// Set the terminal's clock (Unix seconds).
    SetClock(i64),
    /// Advance the clock by seconds.
    AdvanceClock(u32),
    /// Set the terminal-host link.
    Network(LinkSpec),
    /// Faults on the link for the next connections (`None`: clear them).
    Faults(Option<payhil_faults::Faults>),
    /// Many purchases at once, rotating over cards (for long offline queues).
    Purchases {
        /// How many.
        count: u32,
        /// Each one's amount.
        amount: Amount,
        /// Cards used in turn.
        cards: Vec<TestCard>,
    },
    /// Ask the terminal to forward until nothing is pending, at most this many rounds.
    ForwardUntilEmpty(u32),
    /// A purchase.
    Purchase(Box<PurchaseSpec>, Option<Expectation>),
    /// The operator forwards the offline queue.
    Forward,
    /// The terminal must report this many pending offline items (and, if given, overdue ones
    /// and ones the host declined after forwarding).
    ExpectQueue(u32, Option<u32>, Option<u32>),
    /// Capture the pre-authorisation made in step `of` (CARD-06).
    Capture {
        /// The step that made the pre-authorisation.
        of: usize,
        /// Amount to capture.
        amount: Amount,
        /// Expected outcome.
        expect: Option<Expectation>,
    },
    /// Reverse the purchase made in step `of` (PBS-03).
    Reverse {
        /// The step that made the purchase.
        of: usize,
        /// Expected outcome.
        expect: Option<Expectation>,
    },
    /// Write the settlement file and check exactly-once.
    Settle,
    /// The terminal reconciles with the host (0500); they must be in balance.
    Reconcile,
    /// Cut power and boot again.
    PowerCycle,
}

/// The state of the terminal-host link a step sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkSpec {
    /// Up.
    Up,
    /// Down: connections refused.
    Down,
    /// Accepts, never answers.
    Blackhole,
}

/// A step with its place in the file.
#[derive(Debug, Clone)]
pub struct Step {
    /// 1-based index.
    pub index: usize,
    /// Line of the step's first key.
    pub line: usize,
    /// What it does.
    pub action: Action,
    /// Optional description.
    pub note: Option<String>,
}

/// A parsed, validated scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Title.
    pub name: String,
    /// File it came from.
    pub path: PathBuf,
    /// File stem, used to name snapshots.
    pub stem: String,
    /// Rule IDs it covers.
    pub rules: Vec<String>,
    /// Seed pinned by the file.
    pub seed: Option<u64>,
    /// Terminal settings.
    pub terminal: TerminalSettings,
    /// Steps in order.
    pub steps: Vec<Step>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: Spanned<String>,
    rules: Spanned<Vec<Spanned<String>>>,
    seed: Option<u64>,
    terminal: Option<RawTerminal>,
    #[serde(default)]
    step: Vec<Spanned<RawStep>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTerminal {
    offline_limit: Option<Spanned<String>>,
    card_limit: Option<Spanned<String>>,
    forward_retry: Option<Spanned<String>>,
    cvm_limit: Option<Spanned<String>>,
    gambling_daily_max: Option<Spanned<String>>,
    #[serde(default)]
    self_service: bool,
    reserve_phone_auth_above: Option<Spanned<String>>,
    reserve_cap: Option<Spanned<String>>,
    host_timeout: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    set_clock: Option<Spanned<toml::value::Datetime>>,
    advance_clock: Option<Spanned<String>>,
    network: Option<Spanned<String>>,
    purchase: Option<Spanned<RawPurchase>>,
    expect: Option<Spanned<RawExpect>>,
    forward: Option<Spanned<bool>>,
    expect_queue: Option<Spanned<RawQueue>>,
    faults: Option<Spanned<RawFaults>>,
    purchases: Option<Spanned<RawBulk>>,
    forward_until_empty: Option<Spanned<u32>>,
    capture: Option<Spanned<RawCapture>>,
    reverse: Option<Spanned<RawReverse>>,
    settle: Option<Spanned<bool>>,
    reconcile: Option<Spanned<bool>>,
    power_cycle: Option<Spanned<bool>>,
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPurchase {
    amount: Spanned<String>,
    tip: Option<Spanned<String>>,
    kind: Option<Spanned<String>>,
    #[serde(default)]
    chip_unreadable: bool,
    reserve: Option<RawReserve>,
    card: Spanned<String>,
    network: Option<Spanned<String>>,
    entry: Option<Spanned<String>>,
    pin: Option<Spanned<String>>,
    #[serde(default)]
    forced_offline: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpect {
    outcome: Spanned<String>,
    reason: Option<Spanned<String>>,
    pin_prompted: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQueue {
    pending: u32,
    overdue: Option<u32>,
    declined_by_host: Option<u32>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDirection {
    latency: Option<Spanned<String>>,
    jitter: Option<Spanned<String>>,
    bytes_per_s: Option<u32>,
    cut_after_bytes: Option<u64>,
    slice: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFaults {
    #[serde(default)]
    upstream: RawDirection,
    #[serde(default)]
    downstream: RawDirection,
    random_cut_max_bytes: Option<u64>,
    slow_close: Option<Spanned<String>>,
    connections: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBulk {
    count: Spanned<u32>,
    amount: Spanned<String>,
    cards: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCapture {
    of: Spanned<usize>,
    amount: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReverse {
    of: Spanned<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReserve {
    #[serde(default = "yes")]
    attendant: bool,
    id_type: Spanned<String>,
    id_reference: String,
    account: String,
    #[serde(default)]
    phone_code: String,
}

fn yes() -> bool {
    true
}

struct Ctx<'a> {
    path: &'a Path,
    lines: LineIndex,
}

impl Ctx<'_> {
    fn line_col(&self, offset: usize) -> (usize, usize) {
        self.lines.line_col(offset)
    }

    fn err(&self, span: Range<usize>, message: impl Into<String>) -> ScenarioError {
        let (line, column) = self.line_col(span.start);
        ScenarioError {
            file: self.path.to_owned(),
            line,
            column,
            message: message.into(),
        }
    }
}

/// Byte offset to 1-based line and column (in characters), in O(log n) per lookup.
///
/// Every step asks for its line, so scanning the text from its start for each one made a
/// 100,000-step file take minutes. The index is built in one pass instead.
struct LineIndex {
    /// Byte offset where each line starts; the first is 0.
    line_starts: Vec<usize>,
    /// For each character of more than one byte: its byte offset, and the extra bytes (bytes
    /// beyond one) of it and all such characters before it. Columns count characters, and
    /// this turns a byte distance into a character distance without rescanning the line.
    wide: Vec<(usize, usize)>,
    /// Length of the text in bytes.
    len: usize,
}

impl LineIndex {
    fn new(text: &str) -> Self {
        let mut line_starts = vec![0];
        let mut wide = Vec::new();
        let mut extra = 0;
        for (at, c) in text.char_indices() {
            if c == '\n' {
                line_starts.push(at + 1);
            }
            if c.len_utf8() > 1 {
                extra += c.len_utf8() - 1;
                wide.push((at, extra));
            }
        }
        Self {
            line_starts,
            wide,
            len: text.len(),
        }
    }

    /// Extra bytes of the multi-byte characters that start before `offset`.
    fn extra_before(&self, offset: usize) -> usize {
        match self.wide.partition_point(|(at, _)| *at < offset) {
            0 => 0,
            n => self.wide[n - 1].1,
        }
    }

    fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.len);
        // The number of lines starting at or before `offset` is its 1-based line; there is
        // always one, the first line at 0.
        let line = self.line_starts.partition_point(|start| *start <= offset);
        let start = self.line_starts[line.saturating_sub(1)];
        let chars =
            (offset - start).saturating_sub(self.extra_before(offset) - self.extra_before(start));
        (line, chars + 1)
    }
}

/// Reads and parses a scenario file.
pub fn parse_file(path: &Path) -> Result<Scenario, ScenarioError> {
    let bytes = std::fs::read(path).map_err(|e| ScenarioError {
        file: path.to_owned(),
        line: 1,
        column: 1,
        message: format!("cannot read: {e}"),
    })?;
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        // Reported where the first bad byte is, counted in the valid text before it, so an
        // editor can jump there (`read_to_string` only said the file was not UTF-8, at 1:1).
        let at = e.valid_up_to();
        let valid = std::str::from_utf8(&bytes[..at]).unwrap_or_default();
        let (line, column) = LineIndex::new(valid).line_col(at);
        ScenarioError {
            file: path.to_owned(),
            line,
            column,
            message: format!(
                "not valid UTF-8 (byte 0x{:02X}); scenario files are UTF-8 text",
                bytes.get(at).copied().unwrap_or_default()
            ),
        }
    })?;
    parse_str(path, text)
}

/// Parses scenario text; `path` names it in errors and gives the snapshot stem.
pub fn parse_str(path: &Path, text: &str) -> Result<Scenario, ScenarioError> {
    let cx = Ctx {
        path,
        lines: LineIndex::new(text),
    };
    let raw: RawScenario = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        cx.err(span, e.message().trim().to_string())
    })?;
    if raw.name.get_ref().trim().is_empty() {
        return Err(cx.err(raw.name.span(), "name must not be empty"));
    }
    if raw.rules.get_ref().is_empty() {
        return Err(cx.err(
            raw.rules.span(),
            "a scenario must name the rule IDs it covers",
        ));
    }
    for r in raw.rules.get_ref() {
        if !crate::rules::known(r.get_ref()) {
            return Err(cx.err(
                r.span(),
                format!(
                    "unknown rule ID `{}` (see rules/catalogue.toml)",
                    r.get_ref()
                ),
            ));
        }
    }
    let mut terminal = TerminalSettings::default();
    if let Some(t) = &raw.terminal {
        if let Some(a) = &t.offline_limit {
            terminal.offline_limit = amount(&cx, a)?;
        }
        if let Some(a) = &t.card_limit {
            terminal.card_limit = amount(&cx, a)?;
        }
        if let Some(d) = &t.forward_retry {
            terminal.forward_retry_s = duration(&cx, d)?;
        }
        if let Some(a) = &t.cvm_limit {
            terminal.cvm_limit = amount(&cx, a)?;
        }
        if let Some(a) = &t.gambling_daily_max {
            terminal.gambling_daily_max = Some(amount(&cx, a)?);
        }
        terminal.self_service = t.self_service;
        if let Some(a) = &t.reserve_phone_auth_above {
            terminal.reserve_phone_auth_above = amount(&cx, a)?;
        }
        if let Some(a) = &t.reserve_cap {
            terminal.reserve_cap = amount(&cx, a)?;
        }
        if let Some(d) = &t.host_timeout {
            terminal.host_timeout_ms = millis(&cx, d)?;
            // A zero timeout is no wait at all: the terminal could never reach the host (and
            // the emulator's socket timeouts refuse zero).
            if terminal.host_timeout_ms == 0 {
                return Err(cx.err(
                    d.span(),
                    "host_timeout must be more than zero (e.g. \"2s\")",
                ));
            }
        }
    }
    if raw.step.is_empty() {
        return Err(cx.err(0..0, "a scenario needs at least one [[step]]"));
    }
    let mut steps = Vec::new();
    let mut charged = Charged::default();
    for (i, s) in raw.step.iter().enumerate() {
        let next = step(&cx, i + 1, s, &steps, &mut charged)?;
        steps.push(next);
    }
    Ok(Scenario {
        name: raw.name.into_inner(),
        stem: path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        path: path.to_owned(),
        rules: raw
            .rules
            .into_inner()
            .into_iter()
            .map(Spanned::into_inner)
            .collect(),
        seed: raw.seed,
        terminal,
        steps,
    })
}

/// The sum of every amount a scenario charges: purchases with their tips, bulk purchases and
/// captures. The reference model, the host's books and the settlement totals add these up; if
/// the whole sum fits in a `u64`, so does every partial sum they make, so nothing downstream
/// can overflow.
#[derive(Default)]
struct Charged(u64);

impl Charged {
    /// Adds `minor`, or an error at `span` (where the amount that does not fit is written).
    fn add(&mut self, cx: &Ctx<'_>, span: Range<usize>, minor: u64) -> Result<(), ScenarioError> {
        self.0 = self.0.checked_add(minor).ok_or_else(|| {
            cx.err(
                span,
                format!(
                    "this amount makes the scenario's total overflow: all amounts together must stay within {} minor units",
                    u64::MAX
                ),
            )
        })?;
        Ok(())
    }
}

fn step(
    cx: &Ctx<'_>,
    index: usize,
    s: &Spanned<RawStep>,
    before: &[Step],
    charged: &mut Charged,
) -> Result<Step, ScenarioError> {
    let r = s.get_ref();
    let mut actions: Vec<(Range<usize>, Action)> = Vec::new();
    if let Some(t) = &r.set_clock {
        actions.push((t.span(), Action::SetClock(datetime(cx, t)?)));
    }
    if let Some(d) = &r.advance_clock {
        actions.push((d.span(), Action::AdvanceClock(duration(cx, d)?)));
    }
    if let Some(n) = &r.network {
        let link = match n.get_ref().as_str() {
            "up" => LinkSpec::Up,
            "down" => LinkSpec::Down,
            "blackhole" => LinkSpec::Blackhole,
            other => {
                return Err(cx.err(
                    n.span(),
                    format!("network is \"up\", \"down\" or \"blackhole\", not \"{other}\""),
                ));
            }
        };
        actions.push((n.span(), Action::Network(link)));
    }
    if let Some(p) = &r.purchase {
        let expect = r.expect.as_ref().map(|e| expectation(cx, e)).transpose()?;
        let spec = purchase(cx, p)?;
        charged.add(cx, p.get_ref().amount.span(), spec.amount.minor)?;
        if let Some(t) = &p.get_ref().tip {
            charged.add(cx, t.span(), spec.tip_minor)?;
        }
        actions.push((p.span(), Action::Purchase(Box::new(spec), expect)));
    } else if let (Some(e), None, None) = (&r.expect, &r.capture, &r.reverse) {
        return Err(cx.err(
            e.span(),
            "`expect` belongs to a `purchase`, `capture` or `reverse` step",
        ));
    }
    for (flag, action) in [
        (&r.forward, Action::Forward),
        (&r.settle, Action::Settle),
        (&r.reconcile, Action::Reconcile),
        (&r.power_cycle, Action::PowerCycle),
    ] {
        if let Some(f) = flag {
            if !*f.get_ref() {
                return Err(cx.err(f.span(), "write the step only when it is wanted (`= true`)"));
            }
            actions.push((f.span(), action));
        }
    }
    if let Some(q) = &r.expect_queue {
        let q2 = q.get_ref();
        actions.push((
            q.span(),
            Action::ExpectQueue(q2.pending, q2.overdue, q2.declined_by_host),
        ));
    }
    if let Some(f) = &r.faults {
        actions.push((f.span(), Action::Faults(faults(cx, f.get_ref())?)));
    }
    if let Some(b) = &r.purchases {
        let raw = b.get_ref();
        if *raw.count.get_ref() == 0 || *raw.count.get_ref() > 10_000 {
            return Err(cx.err(raw.count.span(), "count is 1 to 10000"));
        }
        let mut cards = Vec::new();
        for c in &raw.cards {
            cards.push(
                catalogue::by_name(c.get_ref())
                    .cloned()
                    .ok_or_else(|| cx.err(c.span(), format!("unknown card `{}`", c.get_ref())))?,
            );
        }
        if cards.is_empty() {
            return Err(cx.err(b.span(), "`cards` names at least one test card"));
        }
        let a = amount(cx, &raw.amount)?;
        let total = u64::from(*raw.count.get_ref())
            .checked_mul(a.minor)
            .ok_or_else(|| {
                cx.err(
                    raw.count.span(),
                    format!(
                        "count × amount overflows: more than {} minor units",
                        u64::MAX
                    ),
                )
            })?;
        charged.add(cx, raw.amount.span(), total)?;
        for (name, card) in raw.cards.iter().zip(&cards) {
            // The runner pays with each card's first application, as a plain purchase does.
            currency_fits(cx, name.span(), card, card.networks[0], a)?;
        }
        actions.push((
            b.span(),
            Action::Purchases {
                count: *raw.count.get_ref(),
                amount: a,
                cards,
            },
        ));
    }
    if let Some(n) = &r.forward_until_empty {
        if *n.get_ref() == 0 {
            return Err(cx.err(n.span(), "at least one round"));
        }
        actions.push((n.span(), Action::ForwardUntilEmpty(*n.get_ref())));
    }
    // The step a capture or reversal names, which must come before it: the runner looks up
    // the transaction that step made, and a later step has made none yet.
    let earlier = |of: &Spanned<usize>| {
        let n = *of.get_ref();
        n.checked_sub(1)
            .and_then(|i| before.get(i))
            .map(|s| (n, &s.action))
            .ok_or_else(|| {
                cx.err(
                    of.span(),
                    format!("`of` must name an earlier step (1..{})", index - 1),
                )
            })
    };
    let no_transaction = |of: &Spanned<usize>, action: &Action, wanted: &str| {
        let made = match action {
            Action::Purchases { .. } => "many purchases, none of which a step can name",
            other => action_name(other),
        };
        cx.err(
            of.span(),
            format!(
                "step {} made no transaction to refer to ({made}); `of` names {wanted}",
                of.get_ref()
            ),
        )
    };
    let expect = || r.expect.as_ref().map(|e| expectation(cx, e)).transpose();
    if let Some(c) = &r.capture {
        let raw = c.get_ref();
        let a = amount(cx, &raw.amount)?;
        charged.add(cx, raw.amount.span(), a.minor)?;
        let (of, action) = earlier(&raw.of)?;
        let preauth = match action {
            Action::Purchase(p, _) if p.kind == TxnKind::PreAuthorisation => p,
            Action::Purchase(p, _) => {
                return Err(cx.err(
                    raw.of.span(),
                    format!(
                        "step {of} is a {}, not a pre-authorisation (kind = \"preauth\"); only a pre-authorisation can be captured",
                        kind_name(p.kind)
                    ),
                ));
            }
            other => {
                return Err(no_transaction(&raw.of, other, "a pre-authorisation step"));
            }
        };
        if a.currency != preauth.amount.currency {
            return Err(cx.err(
                raw.amount.span(),
                format!(
                    "a capture is in the currency of its pre-authorisation ({}), not {}",
                    preauth.amount.currency.alpha(),
                    a.currency.alpha()
                ),
            ));
        }
        actions.push((
            c.span(),
            Action::Capture {
                of,
                amount: a,
                expect: expect()?,
            },
        ));
    }
    if let Some(v) = &r.reverse {
        let raw = v.get_ref();
        let (of, action) = earlier(&raw.of)?;
        // A purchase of any kind, a capture or a reversal makes a transaction the terminal
        // can be asked to reverse; whether it was approved is for the run to find out.
        if !matches!(
            action,
            Action::Purchase(..) | Action::Capture { .. } | Action::Reverse { .. }
        ) {
            return Err(no_transaction(
                &raw.of,
                action,
                "a purchase, capture or reversal step",
            ));
        }
        actions.push((
            v.span(),
            Action::Reverse {
                of,
                expect: expect()?,
            },
        ));
    }
    match actions.len() {
                0 => Err(cx.err(s.span(), format!("step {index} has no action (set_clock, advance_clock, network, purchase, capture, reverse, forward, expect_queue, settle, power_cycle)"))),
        1 => {
            let (span, action) = actions.remove(0);
            Ok(Step { index, line: cx.line_col(span.start).0, action, note: r.note.clone() })
        }
        _ => Err(cx.err(actions[1].0.clone(), format!("step {index} has more than one action; split it into two [[step]]s"))),
    }
}

/// Parses "125.50 DKK" exactly into minor units; never through a float.
fn amount(cx: &Ctx<'_>, s: &Spanned<String>) -> Result<Amount, ScenarioError> {
    let bad = |m: &str| {
        cx.err(
            s.span(),
            format!("amount `{}`: {m} (write e.g. \"125.50 DKK\")", s.get_ref()),
        )
    };
    let mut parts = s.get_ref().split_whitespace();
    let (Some(number), Some(code), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad("expected a number and a currency code"));
    };
    let currency = Currency::from_alpha(code).ok_or_else(|| bad("unknown currency"))?;
    let exp = currency.exponent() as usize;
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad("not a decimal number"));
    }
    if frac.len() > exp {
        return Err(bad("more decimals than the currency has"));
    }
    let digits = format!("{whole}{frac:0<exp$}");
    let minor = digits.parse::<u64>().map_err(|_| bad("too large"))?;
    if minor == 0 {
        return Err(bad("must be more than zero"));
    }
    Ok(Amount { minor, currency })
}

fn duration(cx: &Ctx<'_>, s: &Spanned<String>) -> Result<u32, ScenarioError> {
    let t = s.get_ref().trim();
    let bad = || {
        cx.err(
            s.span(),
            format!(
                "duration `{t}`: write a whole number and s, m, h or d (e.g. \"90s\", \"14d\")"
            ),
        )
    };
    let unit = t.chars().last().ok_or_else(bad)?;
    let n: u32 = t[..t.len() - unit.len_utf8()].parse().map_err(|_| bad())?;
    let mult = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(mult).ok_or_else(bad)
}

/// "250ms", "2s" as milliseconds (real time, for the link and the terminal's host timeout).
fn millis(cx: &Ctx<'_>, s: &Spanned<String>) -> Result<u64, ScenarioError> {
    let t = s.get_ref().trim();
    let bad = || {
        cx.err(
            s.span(),
            format!("`{t}`: write a whole number of ms or s (e.g. \"250ms\")"),
        )
    };
    if let Some(n) = t.strip_suffix("ms") {
        n.parse().map_err(|_| bad())
    } else if let Some(n) = t.strip_suffix('s') {
        n.parse::<u64>()
            .ok()
            .and_then(|v| v.checked_mul(1000))
            .ok_or_else(bad)
    } else {
        Err(bad())
    }
}

/// An optional [`millis`] value as a duration; absent is zero.
fn optional_millis(
    cx: &Ctx<'_>,
    s: &Option<Spanned<String>>,
) -> Result<std::time::Duration, ScenarioError> {
    Ok(std::time::Duration::from_millis(
        s.as_ref().map(|v| millis(cx, v)).transpose()?.unwrap_or(0),
    ))
}

fn direction(
    cx: &Ctx<'_>,
    d: &RawDirection,
) -> Result<payhil_faults::DirectionFaults, ScenarioError> {
    Ok(payhil_faults::DirectionFaults {
        latency: optional_millis(cx, &d.latency)?,
        jitter: optional_millis(cx, &d.jitter)?,
        bytes_per_s: d.bytes_per_s,
        cut_after_bytes: d.cut_after_bytes,
        slice: d.slice,
    })
}

fn faults(cx: &Ctx<'_>, f: &RawFaults) -> Result<Option<payhil_faults::Faults>, ScenarioError> {
    let faults = payhil_faults::Faults {
        upstream: direction(cx, &f.upstream)?,
        downstream: direction(cx, &f.downstream)?,
        random_cut_max_bytes: f.random_cut_max_bytes,
        slow_close: optional_millis(cx, &f.slow_close)?,
        connections: f.connections,
    };
    Ok((faults != payhil_faults::Faults::none()).then_some(faults))
}

fn datetime(cx: &Ctx<'_>, s: &Spanned<toml::value::Datetime>) -> Result<i64, ScenarioError> {
    let dt = s.get_ref();
    let bad = |m: &str| {
        cx.err(
            s.span(),
            format!("set_clock: {m} (write e.g. 2026-03-02T10:15:00Z)"),
        )
    };
    let (Some(d), Some(t)) = (dt.date, dt.time) else {
        return Err(bad("needs a date and a time"));
    };
    if !matches!(dt.offset, Some(toml::value::Offset::Z)) {
        return Err(bad("the terminal clock is UTC: end the time with Z"));
    }
    let month = time::Month::try_from(d.month).map_err(|_| bad("invalid month"))?;
    let date = time::Date::from_calendar_date(i32::from(d.year), month, d.day)
        .map_err(|_| bad("invalid date"))?;
    let tod = time::Time::from_hms(t.hour, t.minute, t.second.unwrap_or(0))
        .map_err(|_| bad("invalid time"))?;
    Ok(time::PrimitiveDateTime::new(date, tod)
        .assume_utc()
        .unix_timestamp())
}

/// The one currency a domestic scheme's cards pay in; `None` for the international networks,
/// which take any currency the harness knows.
///
/// Dankort is Danish debit (the NETS and PBS rules, offline limits in DKK) and BankAxept
/// Norwegian debit (the BAX rules, reserve limits in NOK; the model declines a BankAxept
/// reserve in any other currency). Neither the protocol crate nor the card catalogue records
/// this, so it is written down here, where the check needs it.
fn domestic_currency(network: Network) -> Option<Currency> {
    match network {
        Network::Dankort => Some(Currency::DKK),
        Network::BankAxept => Some(Currency::NOK),
        Network::Visa | Network::VisaDebit | Network::Mastercard => None,
    }
}

/// An error at `span` unless `card` can pay `amount` on `network`.
fn currency_fits(
    cx: &Ctx<'_>,
    span: Range<usize>,
    card: &TestCard,
    network: Network,
    amount: Amount,
) -> Result<(), ScenarioError> {
    match domestic_currency(network) {
        Some(only) if only != amount.currency => Err(cx.err(
            span,
            format!(
                "card `{}` pays with {network:?}, which takes only the currency {}, not {}",
                card.name,
                only.alpha(),
                amount.currency.alpha()
            ),
        )),
        _ => Ok(()),
    }
}

fn purchase(cx: &Ctx<'_>, p: &Spanned<RawPurchase>) -> Result<PurchaseSpec, ScenarioError> {
    let r = p.get_ref();
    let card = catalogue::by_name(r.card.get_ref()).ok_or_else(|| {
        cx.err(
            r.card.span(),
            format!(
                "unknown card `{}`; test cards: {}",
                r.card.get_ref(),
                catalogue::names().join(", ")
            ),
        )
    })?;
    let network = match &r.network {
        None => card.networks[0],
        Some(n) => {
            let net = match n.get_ref().as_str() {
                "dankort" => Network::Dankort,
                "visa" => Network::Visa,
                "visa_debit" => Network::VisaDebit,
                "mastercard" => Network::Mastercard,
                "bankaxept" => Network::BankAxept,
                other => return Err(cx.err(n.span(), format!("unknown network `{other}`"))),
            };
            if !card.networks.contains(&net) {
                return Err(cx.err(
                    n.span(),
                    format!("card `{}` has no {} application", card.name, net.label()),
                ));
            }
            net
        }
    };
    let entry = match r.entry.as_ref().map(|e| (e.get_ref().as_str(), e.span())) {
        None | Some(("chip", _)) => EntryMode::Chip,
        Some(("contactless", _)) => EntryMode::Contactless,
        Some(("wallet", _)) => EntryMode::Wallet,
        Some(("magstripe", _)) => EntryMode::Magstripe,
        Some((other, span)) => {
            return Err(cx.err(
                span,
                format!("entry is chip, contactless, wallet or magstripe, not `{other}`"),
            ));
        }
    };
    let pin = match &r.pin {
        None => Some(card.pin.clone()),
        Some(p) if p.get_ref().is_empty() => None,
        Some(p) => match Pin::parse(p.get_ref()) {
            Some(pin) => Some(pin),
            None => return Err(cx.err(p.span(), "a PIN is 4 to 12 digits, or \"\" for no PIN")),
        },
    };
    let amount = amount(cx, &r.amount)?;
    currency_fits(cx, r.amount.span(), card, network, amount)?;
    let tip_minor = match &r.tip {
        None => 0,
        Some(t) => {
            let tip = self::amount(cx, t)?;
            if tip.currency != amount.currency {
                return Err(cx.err(t.span(), "the tip must be in the purchase's currency"));
            }
            // The terminal charges amount + tip as one amount, which must be countable.
            if amount.minor.checked_add(tip.minor).is_none() {
                return Err(cx.err(
                    t.span(),
                    format!(
                        "amount plus tip overflows: more than {} minor units",
                        u64::MAX
                    ),
                ));
            }
            tip.minor
        }
    };
    let kind = match r.kind.as_ref().map(|k| (k.get_ref().as_str(), k.span())) {
        None | Some(("purchase", _)) => TxnKind::Purchase,
        Some(("refund", _)) => TxnKind::Refund,
        Some(("preauth", _)) => TxnKind::PreAuthorisation,
        Some((other, span)) => return Err(cx.err(span, format!("kind is purchase, refund or preauth, not `{other}` (captures and reversals are steps of their own)"))),
    };
    if r.chip_unreadable && entry == EntryMode::Chip {
        return Err(cx.err(
            p.span(),
            "with chip_unreadable, `entry` is the fallback read: magstripe or contactless",
        ));
    }
    let reserve = match &r.reserve {
        None => None,
        Some(rv) => {
            if network != Network::BankAxept {
                return Err(cx.err(
                    p.span(),
                    "a debit note (`reserve`) is only for BankAxept cards",
                ));
            }
            let id_type = match rv.id_type.get_ref().as_str() {
                "bank_card_with_photo" => IdType::BankCardWithPhoto,
                "drivers_licence" => IdType::DriversLicence,
                "national_id_card" => IdType::NationalIdCard,
                "passport" => IdType::Passport,
                other => {
                    return Err(cx.err(
                        rv.id_type.span(),
                        format!("id_type is bank_card_with_photo, drivers_licence, national_id_card or passport, not `{other}`"),
                    ));
                }
            };
            Some(ReserveSpec {
                attendant: rv.attendant,
                id_type,
                id_reference: rv.id_reference.clone(),
                account: rv.account.clone(),
                phone_code: rv.phone_code.clone(),
            })
        }
    };
    Ok(PurchaseSpec {
        amount,
        card: card.clone(),
        network,
        entry,
        pin,
        forced_offline: r.forced_offline,
        tip_minor,
        kind,
        chip_unreadable: r.chip_unreadable,
        reserve,
    })
}

/// The key a step's action is written with, for error messages.
fn action_name(a: &Action) -> &'static str {
    match a {
        Action::SetClock(_) => "set_clock",
        Action::AdvanceClock(_) => "advance_clock",
        Action::Network(_) => "network",
        Action::Faults(_) => "faults",
        Action::Purchases { .. } => "purchases",
        Action::ForwardUntilEmpty(_) => "forward_until_empty",
        Action::Purchase(..) => "purchase",
        Action::Forward => "forward",
        Action::ExpectQueue(..) => "expect_queue",
        Action::Capture { .. } => "capture",
        Action::Reverse { .. } => "reverse",
        Action::Settle => "settle",
        Action::Reconcile => "reconcile",
        Action::PowerCycle => "power_cycle",
    }
}

/// The `kind` a purchase step is written with, for error messages.
fn kind_name(k: TxnKind) -> &'static str {
    match k {
        TxnKind::Purchase => "purchase",
        TxnKind::Refund => "refund",
        TxnKind::PreAuthorisation => "pre-authorisation",
        TxnKind::Capture => "capture",
        TxnKind::Reversal => "reversal",
    }
}

/// Snake-case names of reasons, as scenarios write them.
pub fn reason_name(r: Reason) -> String {
    let dbg = format!("{r:?}");
    let base = dbg.split('(').next().unwrap_or(&dbg);
    let mut out = String::new();
    for (i, c) in base.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Snake-case names of outcomes.
pub fn outcome_name(o: Outcome) -> &'static str {
    match o {
        Outcome::ApprovedOnline => "approved_online",
        Outcome::ApprovedOffline => "approved_offline",
        Outcome::Declined => "declined",
        Outcome::Aborted => "aborted",
    }
}

const REASONS: &[Reason] = &[
    Reason::Approved,
    Reason::InsufficientFunds,
    Reason::CardBlocked,
    Reason::CardExpired,
    Reason::IssuerUnavailable,
    Reason::OfflineAmountLimit,
    Reason::OfflineCardLimit,
    Reason::OfflineCardTypeNotAllowed,
    Reason::OfflineContactlessNotAllowed,
    Reason::OfflineWalletNotAllowed,
    Reason::OfflinePinRequired,
    Reason::OfflineQueueFull,
    Reason::CommunicationFailure,
    Reason::CardDataInvalid,
    Reason::Cancelled,
    Reason::ChipUnreadable,
    Reason::FallbackOnlineOnly,
    Reason::GamblingDailyLimit,
    Reason::SplitSuspected,
    Reason::ReserveNotAllowed,
    Reason::ReserveAttendantRequired,
    Reason::ReserveIdInvalid,
    Reason::ReserveAccountInvalid,
    Reason::ReserveAuthCodeRequired,
    Reason::ReserveAggregateLimit,
    Reason::OnlineOnly,
    Reason::CaptureExceedsAuthorised,
    Reason::NoSuchTransaction,
];

fn expectation(cx: &Ctx<'_>, e: &Spanned<RawExpect>) -> Result<Expectation, ScenarioError> {
    let r = e.get_ref();
    let outcome = [
        Outcome::ApprovedOnline,
        Outcome::ApprovedOffline,
        Outcome::Declined,
        Outcome::Aborted,
    ]
    .into_iter()
    .find(|o| outcome_name(*o) == r.outcome.get_ref())
    .ok_or_else(|| {
        cx.err(
            r.outcome.span(),
            "outcome is approved_online, approved_offline, declined or aborted",
        )
    })?;
    let reason = match &r.reason {
        None => None,
        Some(s) => Some(
            REASONS
                .iter()
                .copied()
                .find(|x| reason_name(*x) == *s.get_ref())
                .ok_or_else(|| {
                    let names: Vec<String> = REASONS.iter().map(|r| reason_name(*r)).collect();
                    cx.err(
                        s.span(),
                        format!(
                            "unknown reason `{}`; reasons: {}",
                            s.get_ref(),
                            names.join(", ")
                        ),
                    )
                })?,
        ),
    };
    Ok(Expectation {
        outcome,
        reason,
        pin_prompted: r.pin_prompted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        parse_str(Path::new("t.toml"), text)
    }

    const OK: &str = r#"
name = "x"
rules = ["NETS-01"]
[[step]]
set_clock = 2026-03-02T10:15:00Z
[[step]]
purchase = { amount = "125.5 DKK", card = "dankort" }
expect = { outcome = "approved_offline", reason = "approved" }
"#;

    #[test]
    fn a_valid_scenario_parses_with_exact_amounts() {
        let s = parse(OK).unwrap();
        assert_eq!(s.steps.len(), 2);
        let Action::SetClock(t) = s.steps[0].action else {
            panic!()
        };
        assert_eq!(t, 1_772_446_500);
        let Action::Purchase(p, Some(e)) = &s.steps[1].action else {
            panic!()
        };
        assert_eq!(p.amount.minor, 12_550);
        assert_eq!(p.pin.as_ref().map(Pin::reveal), Some("739216"));
        assert_eq!(e.outcome, Outcome::ApprovedOffline);
        assert_eq!(s.steps[1].line, 7);
    }

    #[test]
    fn errors_name_line_and_column() {
        let e = parse(&OK.replace("\"dankort\"", "\"dankort_x\"")).unwrap_err();
        assert_eq!((e.line, e.column), (7, 43), "{e}");
        assert!(
            e.to_string()
                .starts_with("t.toml:7:43: unknown card `dankort_x`"),
            "{e}"
        );

        let e = parse(&OK.replace("NETS-01", "NETS-99")).unwrap_err();
        assert_eq!((e.line, e.column), (3, 10), "{e}");

        let e = parse(&OK.replace("125.5 DKK", "125.505 DKK")).unwrap_err();
        assert!(e.message.contains("more decimals"), "{e}");

        let e = parse(&OK.replace("set_clock =", "set_clok =")).unwrap_err();
        assert_eq!(e.line, 5, "{e}");

        let e = parse("name = \"x\"\nrules = [\"NETS-01\"\n").unwrap_err();
        assert_eq!(e.line, 2, "{e}");

        let e = parse(&format!("{OK}network = \"sideways\"\n")).unwrap_err();
        assert_eq!(e.line, 9, "{e}");

        // Too many seconds to count in milliseconds: an error, not an overflow.
        let e = parse(&OK.replace(
            "rules = [\"NETS-01\"]",
            "rules = [\"NETS-01\"]\nterminal = { host_timeout = \"18446744073709552s\" }",
        ))
        .unwrap_err();
        assert!(e.message.contains("whole number of ms or s"), "{e}");
    }

    /// A scenario of `n` steps after the clock is set: `advance_clock` and a purchase in turn.
    fn long_scenario(n: usize) -> String {
        let mut text = String::from(
            "name = \"long\"\nrules = [\"NETS-01\"]\n[[step]]\nset_clock = 2026-03-02T10:15:00Z\n",
        );
        for i in 0..n {
            if i % 2 == 0 {
                text.push_str("[[step]]\nadvance_clock = \"1m\"\n");
            } else {
                text.push_str("[[step]]\npurchase = { amount = \"12.50 DKK\", card = \"dankort\" }\nexpect = { outcome = \"approved_offline\" }\n");
            }
        }
        text
    }

    #[test]
    fn a_100_000_step_scenario_parses_with_the_right_lines() {
        // Each step's line used to be found by scanning the file from its start, so this took
        // minutes; it must stay linear. Only correctness is asserted: timing is measured by hand.
        let text = long_scenario(99_999);
        let s = parse(&text).unwrap();
        assert_eq!(s.steps.len(), 100_000);
        // Lines: 4 for the header and the clock step, then 2 per advance and 3 per purchase;
        // a step's line is its action's, the second of its block.
        let last = &s.steps[99_999];
        assert!(matches!(last.action, Action::AdvanceClock(60)));
        assert_eq!(last.index, 100_000);
        assert_eq!(last.line, 4 + 49_999 * 2 + 49_999 * 3 + 2);
        let Action::Purchase(p, Some(_)) = &s.steps[99_998].action else {
            panic!("step 99,999 is a purchase")
        };
        assert_eq!(p.amount.minor, 12_50);
        assert_eq!(s.steps[99_998].line, 4 + 49_999 * 2 + 49_998 * 3 + 2);

        // An error at the very end is still reported at its line and column.
        let bad = format!("{text}[[step]]\nadvance_clock = \"1 fortnight\"\n");
        let e = parse(&bad).unwrap_err();
        assert_eq!((e.line, e.column), (last.line + 2, 17), "{e}");
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        // Non-ASCII text before the bad value on the same line (the BankAxept note is checked
        // after the amount, so the amount is what is reported).
        let line = "purchase = { reserve = { id_type = \"passport\", id_reference = \"ÆØÅ-kø\", account = \"1\" }, card = \"dankort\", amount = \"12,50 DKK\" }";
        let text = OK.replace(
            "purchase = { amount = \"125.5 DKK\", card = \"dankort\" }",
            line,
        );
        let at = line.find("\"12,50 DKK\"").unwrap();
        let e = parse(&text).unwrap_err();
        assert!(e.message.contains("amount `12,50 DKK`"), "{e}");
        assert_eq!(
            (e.line, e.column),
            (7, line[..at].chars().count() + 1),
            "{e}"
        );
        assert_ne!(e.column, at + 1, "the column must not count bytes");
    }

    #[test]
    fn invalid_utf8_is_reported_at_its_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("latin1.toml");
        // "kø" in Latin-1: the ø is the single byte 0xF8, which is not UTF-8.
        let mut bytes = OK
            .replace("set_clock", "note = \"k@\"\nset_clock")
            .into_bytes();
        let at = bytes.iter().position(|b| *b == b'@').unwrap();
        bytes[at] = 0xF8;
        std::fs::write(&file, &bytes).unwrap();
        let e = parse_file(&file).unwrap_err();
        assert_eq!((e.line, e.column), (5, 10), "{e}");
        assert!(e.message.contains("UTF-8"), "{e}");
    }

    /// A scenario whose clock is set in step 1 and whose step 2 onwards are `steps`.
    fn with_steps(steps: &str) -> String {
        format!(
            "name = \"x\"\nrules = [\"NETS-01\"]\n[[step]]\nset_clock = 2026-03-02T10:15:00Z\n[[step]]\n{steps}\n"
        )
    }

    /// The 1-based line and column where `needle` starts in `text`.
    fn position(text: &str, needle: &str) -> (usize, usize) {
        let at = text.find(needle).unwrap();
        let line_start = text[..at].rfind('\n').map_or(0, |n| n + 1);
        (
            text[..at].matches('\n').count() + 1,
            text[line_start..at].chars().count() + 1,
        )
    }

    #[test]
    fn a_zero_host_timeout_is_rejected() {
        for zero in ["0ms", "0s"] {
            let text = OK.replace(
                "rules = [\"NETS-01\"]",
                &format!("rules = [\"NETS-01\"]\nterminal = {{ host_timeout = \"{zero}\" }}"),
            );
            let e = parse(&text).unwrap_err();
            assert_eq!((e.line, e.column), position(&text, "\"0"), "{e}");
            assert!(e.message.contains("more than zero"), "{e}");
        }
    }

    #[test]
    fn a_currency_the_cards_network_cannot_take_is_rejected_where_it_is_written() {
        for (step, needle, want) in [
            (
                "purchase = { amount = \"125.50 NOK\", card = \"dankort\" }",
                "\"125.50 NOK\"",
                "Dankort",
            ),
            (
                "purchase = { amount = \"125.50 DKK\", card = \"bankaxept\" }",
                "\"125.50 DKK\"",
                "BankAxept",
            ),
            (
                "purchase = { amount = \"125.50 NOK\", card = \"visa_dankort\", network = \"dankort\" }",
                "\"125.50 NOK\"",
                "Dankort",
            ),
            (
                "purchases = { count = 3, amount = \"10.00 NOK\", cards = [\"bankaxept\", \"dankort\"] }",
                "\"dankort\"",
                "Dankort",
            ),
        ] {
            let text = with_steps(step);
            let e = parse(&text).unwrap_err();
            assert_eq!((e.line, e.column), position(&text, needle), "{e}");
            assert!(
                e.message.contains(want) && e.message.contains("currency"),
                "{e}"
            );
        }
        // International networks take any currency the harness knows.
        for ok in [
            "purchase = { amount = \"125.50 NOK\", card = \"visa\" }",
            "purchase = { amount = \"125.50 EUR\", card = \"visa_dankort\", network = \"visa\" }",
            "purchase = { amount = \"125.50 NOK\", card = \"bankaxept\" }",
        ] {
            parse(&with_steps(ok)).unwrap();
        }
    }

    #[test]
    fn sums_that_overflow_are_errors_not_wraps() {
        let max = "184467440737095516.15 DKK"; // u64::MAX minor units
        for (steps, needle) in [
            (
                format!(
                    "purchase = {{ amount = \"{max}\", card = \"dankort\", tip = \"0.01 DKK\" }}"
                ),
                "\"0.01 DKK\"",
            ),
            (
                format!("purchases = {{ count = 2, amount = \"{max}\", cards = [\"dankort\"] }}"),
                "2,",
            ),
            (
                format!(
                    "purchase = {{ amount = \"{max}\", card = \"dankort\" }}\n[[step]]\npurchase = {{ amount = \"0.01 DKK\", card = \"dankort\" }}"
                ),
                "\"0.01 DKK\"",
            ),
            (
                format!(
                    "purchase = {{ amount = \"{max}\", card = \"dankort\", kind = \"preauth\" }}\n[[step]]\ncapture = {{ of = 2, amount = \"0.01 DKK\" }}"
                ),
                "\"0.01 DKK\"",
            ),
        ] {
            let text = with_steps(&steps);
            let e = parse(&text).unwrap_err();
            assert_eq!((e.line, e.column), position(&text, needle), "{e}");
            assert!(e.message.contains("overflow"), "{e}");
        }
        // Up to the limit is fine.
        parse(&with_steps(&format!(
            "purchase = {{ amount = \"{max}\", card = \"dankort\" }}"
        )))
        .unwrap();
    }

    #[test]
    fn captures_and_reversals_must_refer_to_a_step_that_made_a_fitting_transaction() {
        // Step 2 a purchase, step 3 no transaction, step 4 the follow-up.
        let before = "purchase = { amount = \"125.50 DKK\", card = \"dankort\" }\n[[step]]\nnetwork = \"up\"\n[[step]]\n";
        for (follow_up, want) in [
            (
                "capture = { of = 2, amount = \"1.00 DKK\" }",
                "not a pre-authorisation",
            ),
            ("reverse = { of = 1 }", "made no transaction"),
            (
                "capture = { of = 3, amount = \"1.00 DKK\" }",
                "made no transaction",
            ),
            ("reverse = { of = 4 }", "earlier step"),
            ("reverse = { of = 5 }", "earlier step"),
            ("reverse = { of = 0 }", "earlier step"),
        ] {
            let text = with_steps(&format!("{before}{follow_up}"));
            let e = parse(&text).unwrap_err();
            let (line, column) = position(&text, "of = ");
            assert_eq!((e.line, e.column), (line, column + 5), "{follow_up}: {e}");
            assert!(e.message.contains(want), "{follow_up}: {e}");
        }
        let preauth = "purchase = { amount = \"125.50 DKK\", card = \"dankort\", kind = \"preauth\" }\n[[step]]\nnetwork = \"up\"\n[[step]]\n";
        parse(&with_steps(&format!(
            "{preauth}capture = {{ of = 2, amount = \"1.00 DKK\" }}\n[[step]]\nreverse = {{ of = 4 }}\n[[step]]\nreverse = {{ of = 2 }}"
        )))
        .unwrap();
        let e = parse(&with_steps(&format!(
            "{preauth}capture = {{ of = 2, amount = \"1.00 NOK\" }}"
        )))
        .unwrap_err();
        assert!(e.message.contains("currency"), "{e}");
    }

    #[test]
    fn a_step_needs_exactly_one_action() {
        let e = parse(&OK.replace(
            "set_clock = 2026-03-02T10:15:00Z",
            "set_clock = 2026-03-02T10:15:00Z\nnetwork = \"up\"",
        ))
        .unwrap_err();
        assert!(e.message.contains("more than one action"), "{e}");
        assert_eq!(e.line, 6);
    }
}
