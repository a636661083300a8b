//! The scenario file format (TOML) and its parser.
//!
//! ```toml
//! name = "Dankort offline purchase forwarded once"
//! rules = ["NETS-01", "PBS-02"]           # IDs from rules/catalogue.toml
//! seed = 7                                # optional; otherwise the run's seed
//! end_with_pending = false                # true: no final drain (items are meant to stay queued)
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
//! [[card]]                                # optional: a test card of the scenario's own
//! name = "expired_visa"                   # not a catalogue card's name
//! pan = "4000 0000 0000 0002"             # Luhn-valid
//! expiry = "2026-02"                      # valid through the last day of that month
//! networks = ["visa"]                     # applications, in priority order
//! pin = "739216"
//! cvc = "047"                             # never presented; its absence is checked
//! issuer = "approve"                      # or insufficient_funds, blocked, issuer_unavailable
//! account = "12345678903"                 # BankAxept: the card's account number
//!
//! [[step]]
//! set_clock = 2026-03-02T10:15:00Z
//! [[step]]
//! network = "down"                        # or "up"
//! [[step]]
//! purchase = { amount = "125.50 DKK", card = "dankort", entry = "chip", pin = "739216" }
//! expect = { outcome = "approved_offline" }   # also: reason = "...", pin_prompted = true,
//!                                             # settles = 2026-03-03, settled_as = "visa",
//!                                             # receipt_has = ["PIN VERIFIED"], receipt_lacks = [...]
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
//! A bulk `purchases = { count = 200, amount = "10.00 DKK", cards = ["dankort", "visa"] }` may
//! carry `expect = { ... }` inside it, which every one of its purchases must meet.
//! `settles` and `settled_as` are checked against the host's settlement once the queue has been
//! drained at the end of the run (and the model's own settlement date must agree).
//! `card_fault = "bad_luhn"` presents the card's data (or the amount) corrupted by one class
//! (`payhil_cards::faults`; `payhil card-faults` lists them): the terminal must decline it with
//! the model's reason (a card class) or refuse the start (`zero_amount`, `negative_amount`,
//! `absurd_amount`, which take no `expect`); only on a plain purchase.
//! `ecr_result_lost = true` cuts the cash register's link when the terminal sends the result,
//! before it is acknowledged (a result the cash register never heard): the terminal must reverse
//! the payment and say so when asked to repeat its last result; the scenario is skipped on a
//! terminal driven without a cash-register interface the harness can cut (ZVT over TCP).
//! Other steps: `capture = { of = STEP, amount = "..." }` (CARD-06), `reverse = { of = STEP }`
//! (PBS-03), each with an optional `expect`; `forward = true`; `power_cycle = true` (power is
//! cut without warning between steps and restored). `power_cut = { at = "after_card" }` arms a
//! cut that fires during a later step: `at` is `after_card`, `after_pin`, `after_approval`
//! (before the result is answered), `mid_forward` or `advice_unacked` (with `advice = N`, the
//! Nth advice from now, default 1); or `power_cut = { flash_write = N, torn = true }` at the
//! Nth flash write from now (see `PowerCutSpec`). A capture
//! names an earlier `kind = "preauth"` step and is in its currency; a reversal names an earlier
//! purchase, capture or reversal step. Dankort takes only DKK and BankAxept only NOK.
//! Each `[[step]]` has exactly one action; `note = "..."` may describe it.
//!
//! `serial = { fault = "...", direction = "...", ... }` puts a fault on the serial line between
//! harness and terminal (bit flips, dropped bytes, truncation, duplicates, garbage, split writes,
//! floods, silence; by rate or at a chosen frame; see `format/serial.rs`). A step that is meant
//! to end the terminal's run says `link_error = "TEXT"`: the link must fail during it with an
//! error containing TEXT, within the link's bound; it must be the last step, and the harness then
//! clears the line, greets the terminal again and makes its end-of-run checks.
//! `[terminal] response_timeout = "1s"` sets how long the link waits for each answer (default
//! 4 s; more than `host_timeout`, the real time a terminal may spend waiting for its host when
//! nothing moves its clock: the harness moves the clock of a terminal that announces its host
//! waits while the link swallows requests, PROTOCOL.md 4.8).
//!
//! Every error names `file:line:column`.

use payhil_cards::Pin;
use payhil_cards::catalogue::{self, TestCard};
use payhil_cards::faults::CardFault;
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
    /// How long the link waits for each answer, in milliseconds (`None`: the link's default).
    pub response_timeout_ms: Option<u64>,
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
            response_timeout_ms: None,
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
    /// The cash register's link is cut when the terminal sends the result, before the cash
    /// register acknowledges it (`ecr_result_lost = true`): over ZVT the terminal must then
    /// reverse the payment itself, and the repeat receipt tells the cash register. Only over a
    /// cash-register interface the harness can cut (`payhil run --ecr zvt --ecr-tcp`).
    pub ecr_result_lost: bool,
    /// The card's data (or the amount) corrupted by this class (issue 10); `None`: as the
    /// card is.
    pub card_fault: Option<CardFault>,
}

/// The debit-note details of a BankAxept reserve payment: what the scenario has the merchant
/// write is exactly what the reference model checks, so it is the model's type.
pub type ReserveSpec = payhil_model::reserve::Note;

impl PurchaseSpec {
    /// One purchase of a `purchases` step: chip, the card's own PIN, on its first network,
    /// nothing else asked of it.
    pub fn bulk(card: TestCard, amount: Amount) -> Self {
        PurchaseSpec {
            amount,
            network: card.networks[0],
            entry: EntryMode::Chip,
            pin: Some(card.pin.clone()),
            card,
            forced_offline: false,
            tip_minor: 0,
            kind: TxnKind::Purchase,
            chip_unreadable: false,
            reserve: None,
            card_fault: None,
            ecr_result_lost: false,
        }
    }

    /// The oracle's check of this purchase approved offline as transaction `seq`: what the
    /// host already has (`delivered`) no longer counts towards a card's exposure, then the
    /// approval is judged against the offline invariants (NETS-04, NETS-08, ...).
    pub fn check_offline_approval(
        &self,
        invariants: &mut payhil_model::oracle::OfflineInvariants,
        delivered: impl IntoIterator<Item = u32>,
        seq: u32,
    ) -> Result<(), String> {
        for s in delivered {
            invariants.settled(s);
        }
        let pin_ok = self.pin.as_ref() == Some(&self.card.pin);
        let broken = invariants.approved(
            seq,
            &self.card.pan,
            self.total(),
            self.entry,
            self.network,
            pin_ok,
        );
        if broken.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "offline approval breaks the rules: {}",
                broken.join("; ")
            ))
        }
    }

    /// The request that starts it: a plain purchase without a tip is protocol 1's
    /// `StartPurchase`, anything else `StartTransaction`.
    pub fn start_request(&self) -> payhil_protocol::Request<'static> {
        if self.tip_minor > 0 || self.kind != TxnKind::Purchase {
            payhil_protocol::Request::StartTransaction {
                kind: self.kind,
                amount: self.amount,
                tip_minor: self.tip_minor,
                forced_offline: self.forced_offline,
                reference: 0,
            }
        } else {
            payhil_protocol::Request::StartPurchase {
                amount: self.amount,
                forced_offline: self.forced_offline,
            }
        }
    }

    /// What the reference model is told of it: the stimuli, never the terminal's answers.
    pub fn model_input(&self) -> payhil_model::PurchaseInput {
        payhil_model::PurchaseInput {
            amount: self.total(),
            card: self.card.clone(),
            network: self.network,
            entry_mode: self.entry,
            pin: self.pin.clone(),
            forced_offline: self.forced_offline,
            kind: self.kind,
            fallback: self.chip_unreadable,
            note: self.reserve.clone(),
        }
    }

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

/// What the scenario expects of a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectation {
    /// Outcome.
    pub outcome: Outcome,
    /// Reason, if given.
    pub reason: Option<Reason>,
    /// Whether the terminal must ask for the PIN, if given (CARD-02, NETS-08).
    pub pin_prompted: Option<bool>,
    /// The settlement date the host's settlement must give it (CARD-09, CARD-11), `YYYY-MM-DD`.
    pub settles: Option<String>,
    /// The network the settlement must book it under (CARD-01, CARD-09).
    pub settled_as: Option<Network>,
    /// Texts some line of the receipt or debit note must contain (runs of spaces count as
    /// one, so the receipt's column padding does not matter).
    pub receipt_has: Vec<String>,
    /// Texts no line of the receipt or debit note may contain.
    pub receipt_lacks: Vec<String>,
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
        /// What each of them must give, if the scenario says.
        expect: Option<Expectation>,
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
    /// A fault on the serial line (`None`: a clean line).
    Serial(Option<payhil_faults::SerialFault>),
    /// Arm a power cut that fires during a later step (see [`PowerCutSpec`]).
    PowerCut(PowerCutSpec),
}

/// Where an armed power cut fires. The terminal loses power there without warning (an emulated
/// terminal's process dies), is powered again on the same flash, and the run goes on with the
/// next step; the interrupted transaction's outcome is uncertain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerCutSpec {
    /// The next purchase, once the terminal has the card and asks for the PIN.
    AfterCard,
    /// The next purchase, once the PIN is entered and the terminal is deciding: offline when it
    /// asks the card to verify the PIN, online when its authorisation has reached the host
    /// (which books it; its answer never reaches the terminal).
    AfterPin,
    /// The next transaction, once the terminal has finished it (journaled its approval) and
    /// before it answers with the result and receipt (emulated terminals).
    AfterApproval,
    /// In the middle of forwarding: as the terminal sends its `advice`-th advice from now,
    /// before the host takes it in (the ones before it were acknowledged).
    MidForward {
        /// Which advice, from 1.
        advice: u32,
    },
    /// Between an advice and its acknowledgement: the host has booked the `advice`-th advice
    /// from now; its acknowledgement never reaches the terminal.
    AdviceUnacked {
        /// Which advice, from 1.
        advice: u32,
    },
    /// At the `n`th flash write (program or erase) from now, 1 being the next; `torn`: half of
    /// that write lands (emulated terminals).
    FlashWrite {
        /// Which write, from 1.
        n: u32,
        /// Torn rather than clean.
        torn: bool,
    },
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
    /// The link must fail during this step with an error containing this text, ending the
    /// terminal's run (the last step).
    pub link_error: Option<String>,
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
    /// The scenario ends with items deliberately still pending: the runner does not drain the
    /// queue before its final exactly-once check (which then cannot require every offline
    /// approval in the host's books).
    pub end_with_pending: bool,
    /// Terminal settings.
    pub terminal: TerminalSettings,
    /// Test cards the scenario defines (`[[card]]`); the host simulator's issuer knows them
    /// for the run.
    pub cards: Vec<TestCard>,
    /// Steps in order.
    pub steps: Vec<Step>,
}

mod cards;
mod location;
mod raw;
mod serial;
mod steps;
#[cfg(test)]
mod tests;
mod values;

use location::*;
use raw::*;
use steps::*;
use values::*;
pub use values::{normalise_line, outcome_name, reason_name};

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
    let mut cx = Ctx {
        path,
        lines: LineIndex::new(text),
        cards: Vec::new(),
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
    for c in &raw.card {
        let card = cards::card(&cx, c)?;
        cx.cards.push(card);
    }
    let cx = cx;
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
    if let Some(d) = raw
        .terminal
        .as_ref()
        .and_then(|t| t.response_timeout.as_ref())
    {
        let ms = millis(&cx, d)?;
        // The terminal may wait for its host before it answers: a link that gives up sooner
        // would repeat requests the terminal is still working on.
        if ms <= terminal.host_timeout_ms {
            return Err(cx.err(
                d.span(),
                format!(
                    "response_timeout must be more than host_timeout ({} ms)",
                    terminal.host_timeout_ms
                ),
            ));
        }
        terminal.response_timeout_ms = Some(ms);
    }
    if raw.step.is_empty() {
        return Err(cx.err(0..0, "a scenario needs at least one [[step]]"));
    }
    let mut steps = Vec::new();
    let mut charged = Charged::default();
    for (i, s) in raw.step.iter().enumerate() {
        let next = step(&cx, i + 1, s, &steps, &mut charged)?;
        if let Some(e) = &s.get_ref().link_error {
            if i + 1 != raw.step.len() {
                return Err(cx.err(
                    e.span(),
                    "`link_error` ends the terminal's run: it belongs to the last step",
                ));
            }
        }
        steps.push(next);
    }
    // A cut fires during a later step: armed last, it could never fire.
    if let (Some(last), Some(Action::PowerCut(_))) =
        (raw.step.last(), steps.last().map(|s| &s.action))
    {
        return Err(cx.err(
            last.span(),
            "a power cut fires during a later step, and none follows this one",
        ));
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
        end_with_pending: raw.end_with_pending,
        terminal,
        cards: cx.cards,
        steps,
    })
}
