//! Prediction of transaction outcomes and of the offline queue, written from RULES.md.
//!
//! The model keeps its own view of the terminal: the clock, the network, which offline items
//! are certainly or possibly still unforwarded, what each card spent today, which
//! pre-authorisations are captured and which purchases reversed. Where the rules leave the
//! terminal a choice (forwarding earlier than it must), the model predicts a range.

use crate::readings::Readings;
use crate::reserve::{self, Note};
use payhil_cards::catalogue::{IssuerBehaviour, TestCard};
use payhil_cards::{Pan, Pin};
use payhil_protocol::{Amount, Currency, EntryMode, Network, Outcome, Reason, TxnKind};
use std::collections::{BTreeMap, HashMap};

/// The terminal configuration the model assumes (must match the terminal under test).
#[derive(Debug, Clone, Copy)]
pub struct ModelConfig {
    /// Merchant's per-transaction offline limit (NETS-03).
    pub offline_limit: Amount,
    /// Per-card cumulative offline limit (NETS-04), same currency.
    pub card_limit_minor: u64,
    /// The terminal retries forwarding at least this often (seconds of the controlled clock).
    pub forward_retry_s: u32,
    /// Contactless purchases above this need the PIN (CARD-02).
    pub cvm_limit_minor: u64,
    /// Gambling merchant: most one card may spend per day (CARD-04).
    pub gambling_daily_max_minor: Option<u64>,
    /// Self-service terminal (BAX-03).
    pub self_service: bool,
    /// BankAxept reserve: a phone authorisation code above this, NOK minor units (BAX-08).
    pub reserve_phone_auth_above_minor: u64,
    /// BankAxept reserve: aggregate cap, NOK minor units, 0 for none (BAX-09).
    pub reserve_cap_minor: u64,
    /// The readings of the rules the seeds leave open (split window, formats, deadlines, the
    /// daily total), from the rule catalogue.
    pub readings: Readings,
    /// How many items the terminal's offline queue holds (a device property, from the
    /// terminal's own report; `None` until known). A full queue refuses offline payments.
    pub queue_capacity: Option<u32>,
    /// A bench's reading of how long its terminal keeps a transaction for a capture or
    /// reversal: once this many later events (card transactions, follow-ups, power-ups) have
    /// followed it, the terminal may no longer hold it and may refuse as NoSuchTransaction.
    /// `None`: it must always hold it. The rules set no minimum (rules/catalogue.toml
    /// PBS-03/finite-journal).
    pub follow_up_window: Option<u32>,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            offline_limit: Amount {
                minor: 1_500_00,
                currency: Currency::DKK,
            },
            card_limit_minor: 20_000_00,
            forward_retry_s: 60,
            cvm_limit_minor: 350_00,
            gambling_daily_max_minor: None,
            self_service: false,
            reserve_phone_auth_above_minor: 2_500_00,
            reserve_cap_minor: 20_000_00,
            readings: Readings::builtin(),
            queue_capacity: None,
            follow_up_window: None,
        }
    }
}

/// One card transaction as the harness drives it.
#[derive(Debug, Clone)]
pub struct PurchaseInput {
    /// Full amount (tip included).
    pub amount: Amount,
    /// The card.
    pub card: TestCard,
    /// The application used (one of the card's networks).
    pub network: Network,
    /// Entry mode (the fallback read when `fallback`).
    pub entry_mode: EntryMode,
    /// The PIN the cardholder enters; `None` bypasses PIN entry.
    pub pin: Option<Pin>,
    /// Operator chose forced offline (NETS-02).
    pub forced_offline: bool,
    /// Purchase, refund or pre-authorisation.
    pub kind: TxnKind,
    /// The chip could not be read; this is a fallback read (SUPPORT-03).
    pub fallback: bool,
    /// Debit-note details, if the merchant has them (BAX-02..08).
    pub note: Option<Note>,
}

/// A capture or reversal of the transaction `of`, answered as `seq`.
#[derive(Debug, Clone, Copy)]
pub struct FollowUp<'a> {
    /// Capture or reversal.
    pub kind: TxnKind,
    /// Sequence number of the transaction referred to.
    pub of: u32,
    /// The follow-up's own sequence number.
    pub seq: u32,
    /// Its amount.
    pub amount: Amount,
    /// The card of the original.
    pub pan: &'a Pan,
    /// The network of the original.
    pub network: Network,
}

/// Whether a correct terminal asks for the PIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinPrompt {
    /// It must ask.
    Required,
    /// The rules leave it the choice.
    Optional,
}

impl PinPrompt {
    /// Whether asking (`true`) or not asking is allowed.
    pub fn allows(self, asked: bool) -> bool {
        asked || self == PinPrompt::Optional
    }
}

/// What the model expects: the set of outcomes a correct terminal may give. The rules name no
/// order among themselves, so when a payment breaks several, the reason of any one of them is
/// right; and where the rules leave the terminal a choice (forwarding earlier than it must, an
/// answer lost on a faulty link), every choice is in the set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prediction(Vec<(Outcome, Reason)>);

impl Prediction {
    /// Exactly this outcome and reason.
    pub fn exact(o: Outcome, r: Reason) -> Self {
        Self(vec![(o, r)])
    }

    /// Declined, for any of these reasons (at least one).
    pub fn declined_for_any(reasons: &[Reason]) -> Self {
        Self(reasons.iter().map(|r| (Outcome::Declined, *r)).collect())
    }

    /// Whether an observed outcome is allowed.
    pub fn allows(&self, outcome: Outcome, reason: Reason) -> bool {
        self.0.contains(&(outcome, reason))
    }

    /// The outcomes allowed.
    pub fn outcomes(&self) -> &[(Outcome, Reason)] {
        &self.0
    }

    /// This prediction, or `other`: what a choice the rules leave open allows.
    pub fn or(mut self, other: Prediction) -> Prediction {
        for o in other.0 {
            if !self.0.contains(&o) {
                self.0.push(o);
            }
        }
        self
    }
}

#[derive(Debug, Clone)]
struct Pending {
    seq: u32,
    pan: Pan,
    amount: Amount,
    at: i64,
    network: Network,
    /// Only offline purchases are exposure; stored captures and reversals are not.
    purchase: bool,
}

/// A transaction the terminal approved, as captures and reversals need to know it.
#[derive(Debug, Clone)]
struct Done {
    kind: TxnKind,
    amount: Amount,
    captured: bool,
    reversed: bool,
    /// The model's event count when it was made (see `ModelConfig::follow_up_window`).
    event: u64,
}

/// An offline decision from the refusals that apply: approved if none, else any of them.
fn offline_outcome(refusals: &[Reason]) -> Prediction {
    if refusals.is_empty() {
        Prediction::exact(Outcome::ApprovedOffline, Reason::Approved)
    } else {
        Prediction::declined_for_any(refusals)
    }
}

/// The refusals among `p`'s outcomes (what remains of it when it cannot be approved).
fn refusals_of(p: Prediction) -> Prediction {
    Prediction(
        p.0.into_iter()
            .filter(|(o, _)| !matches!(o, Outcome::ApprovedOnline | Outcome::ApprovedOffline))
            .collect(),
    )
}

fn declined(r: Reason) -> Prediction {
    Prediction::exact(Outcome::Declined, r)
}

/// The model's state.
#[derive(Debug, Clone)]
pub struct Model {
    cfg: ModelConfig,
    now: i64,
    network_up: bool,
    /// The link accepts but never answers: every request goes unanswered.
    blackhole: bool,
    /// The link was just cut under a connection the terminal may keep open: its next request
    /// may be written before it learns of the cut, and then it cannot know the host did not
    /// get it (the proxy had closed the connection; the terminal only saw its write go out).
    just_cut: bool,
    /// Faults on the link: any exchange may fail at any byte.
    flaky: bool,
    /// Offline items certainly not yet forwarded.
    certain: Vec<Pending>,
    /// Offline items the terminal may or may not have forwarded yet.
    uncertain: Vec<Pending>,
    last_attempt: i64,
    /// The terminal has fetched the host's blocked-card list (CARD-10).
    block_list_known: bool,
    /// What each card was charged, by day (CARD-04/daily-total): sequence number, card, day,
    /// amount.
    charged: Vec<(u32, Pan, i64, u64)>,
    /// Approved transactions by sequence number.
    done: BTreeMap<u32, Done>,
    /// Each card's PIN-try counter as the rules have it (EMV: a wrong PIN uses a try, the
    /// right one resets the counter, none left blocks the PIN); absent: untouched, full.
    pin_tries: HashMap<Pan, pin_tries::Tries>,
    /// The issuer's PIN-try counter per card for online PINs (ISO 8583 DE 52), kept by the
    /// issuer apart from the card's own.
    issuer_pin_tries: HashMap<Pan, pin_tries::Tries>,
    /// The latest clock at which the terminal certainly journaled a transaction (an approval)
    /// and at which it may have (any decision): CARD-03/clock-set-back.
    journaled_by: (i64, i64),
    /// Card transactions, follow-ups and power-ups so far (see
    /// `ModelConfig::follow_up_window`).
    events: u64,
}

/// A test card's PIN-try limit (EMV; the card instrument's [`payhil_cards::instrument`]).
const PIN_TRY_LIMIT: u8 = payhil_cards::instrument::PIN_TRY_LIMIT;

fn issuer(card: &TestCard) -> Prediction {
    match card.issuer {
        IssuerBehaviour::Approve => Prediction::exact(Outcome::ApprovedOnline, Reason::Approved),
        IssuerBehaviour::InsufficientFunds => declined(Reason::InsufficientFunds),
        IssuerBehaviour::Blocked => declined(Reason::CardBlocked),
        IssuerBehaviour::IssuerUnavailable => declined(Reason::IssuerUnavailable),
    }
}

impl Model {
    /// A model of a freshly booted terminal with an empty queue and the network up.
    pub fn new(cfg: ModelConfig) -> Self {
        Self {
            cfg,
            now: 0,
            network_up: true,
            blackhole: false,
            just_cut: false,
            flaky: false,
            certain: Vec::new(),
            uncertain: Vec::new(),
            last_attempt: i64::MIN / 2,
            block_list_known: false,
            charged: Vec::new(),
            done: BTreeMap::new(),
            pin_tries: HashMap::new(),
            issuer_pin_tries: HashMap::new(),
            journaled_by: (i64::MIN, i64::MIN),
            events: 0,
        }
    }

    /// Whether an online request carries the PIN (DE 52): the cardholder entered one at a
    /// prompt. A refund asks none; where the prompt is the terminal's choice, so is this.
    fn pin_sent_online(&self, p: &PurchaseInput) -> PinPrompt {
        if p.pin.is_none() || p.kind == TxnKind::Refund {
            PinPrompt::Optional
        } else {
            self.pin_prompt(p)
        }
    }

    /// An offline prediction once the card has verified the PIN entered: an approval becomes
    /// the card's refusal if it refuses (issue 9: the card verifies the PIN offline). Without a
    /// PIN the card is not asked (the bypass is refused before, NETS-08).
    fn after_card(&self, p: &PurchaseInput, offline: Prediction) -> Prediction {
        let mut out = Vec::new();
        for verdict in self.card_verdicts(p) {
            for &(o, r) in &offline.0 {
                let x = match verdict {
                    Some(why) if o == Outcome::ApprovedOffline => (Outcome::Declined, why),
                    _ => (o, r),
                };
                if !out.contains(&x) {
                    out.push(x);
                }
            }
        }
        Prediction(out)
    }

    fn expired(&self, card: &TestCard) -> bool {
        // CARD-03: valid through the last day of the expiry month.
        time::OffsetDateTime::from_unix_timestamp(self.now).is_ok_and(|t| {
            (t.year(), u8::from(t.month())) > (i32::from(card.expiry.year), card.expiry.month)
        })
    }

    /// Whether the clock is behind what the terminal has journaled (CARD-03/clock-set-back):
    /// `(certainly, possibly)`.
    fn clock_behind(&self) -> (bool, bool) {
        let tolerance = self.cfg.readings.clock_tolerance_s;
        let behind = |t: i64| self.now.saturating_add(tolerance) < t;
        (behind(self.journaled_by.0), behind(self.journaled_by.1))
    }

    /// The time deadlines are judged by: the later of the clock and what the terminal has
    /// journaled, `(at least, at most)` (CARD-03/clock-set-back).
    fn rule_time(&self) -> (i64, i64) {
        (
            self.now.max(self.journaled_by.0),
            self.now.max(self.journaled_by.1),
        )
    }

    /// Predicts a purchase, refund or pre-authorisation.
    pub fn predict(&self, p: &PurchaseInput) -> Prediction {
        let by_the_clock = self.predict_on_a_trusted_clock(p);
        match self.clock_behind() {
            // Never approved; any other refusal that applies is right too.
            (true, _) => declined(Reason::ClockNotTrusted).or(refusals_of(by_the_clock)),
            (false, true) => by_the_clock.or(declined(Reason::ClockNotTrusted)),
            (false, false) => by_the_clock,
        }
    }

    fn predict_on_a_trusted_clock(&self, p: &PurchaseInput) -> Prediction {
        let by_the_other_rules = self.predict_rules(p);
        if !self.pin_skipped_above_cvm_limit(p) {
            return by_the_other_rules;
        }
        // CARD-02: the PIN is required and was skipped, so it is never approved; the rules name
        // no order, so any other refusal that applies is right too.
        declined(Reason::PinRequired).or(refusals_of(by_the_other_rules))
    }

    fn predict_rules(&self, p: &PurchaseInput) -> Prediction {
        if self.expired(&p.card) {
            return declined(Reason::CardExpired);
        }
        let blocked_known = p.card.issuer == IssuerBehaviour::Blocked && self.block_list_known;
        let reachable = self.network_up && !p.forced_offline;
        match p.kind {
            // A refund credits the cardholder; it needs the host (CARD-07).
            TxnKind::Refund => {
                return if reachable {
                    issuer(&p.card)
                } else {
                    declined(Reason::OnlineOnly)
                };
            }
            TxnKind::PreAuthorisation => {
                if blocked_known {
                    return declined(Reason::CardBlocked);
                }
                return if reachable {
                    self.online(p)
                } else {
                    declined(Reason::OnlineOnly)
                };
            }
            _ => {}
        }
        // CARD-10: a blocked card is declined once the terminal knows of the block.
        if blocked_known {
            return declined(Reason::CardBlocked);
        }
        // CARD-04: a gambling merchant's daily maximum per card, online and offline alike.
        if let Some(max) = self.cfg.gambling_daily_max_minor {
            if self.spent_today(&p.card.pan).saturating_add(p.amount.minor) > max {
                return declined(Reason::GamblingDailyLimit);
            }
        }
        if reachable && !self.flaky {
            return self.online(p);
        }
        let offline = if p.network == Network::BankAxept {
            self.reserve(p)
        } else {
            // What the terminal may already have forwarded is uncertain: both views are allowed.
            let low =
                self.offline_refusals(p, self.exposure(&p.card.pan, false), self.certain.len());
            let high = self.offline_refusals(
                p,
                self.exposure(&p.card.pan, true),
                self.certain.len() + self.uncertain.len(),
            );
            self.after_card(p, offline_outcome(&low).or(offline_outcome(&high)))
        };
        // A faulty link: the answer may come, or be lost and the terminal decide offline.
        if reachable {
            self.online(p).or(offline)
        } else {
            offline
        }
    }

    /// The terminal's day (CARD-04/daily-total: the calendar day of its clock).
    fn day(&self) -> i64 {
        self.now
            .saturating_add(self.cfg.readings.day_offset_s)
            .div_euclid(86_400)
    }

    /// What a card was charged today, for CARD-04.
    fn spent_today(&self, pan: &Pan) -> u64 {
        let day = self.day();
        self.charged
            .iter()
            .filter(|(_, p, d, _)| p == pan && *d == day)
            .map(|(_, _, _, m)| *m)
            .fold(0, u64::saturating_add)
    }

    /// CARD-02: a contactless payment above the CVM limit must be asked for the PIN, and the
    /// cardholder skipped it (a bypass, `pin = ""`). A refund asks none.
    fn pin_skipped_above_cvm_limit(&self, p: &PurchaseInput) -> bool {
        p.pin.is_none()
            && p.kind != TxnKind::Refund
            && p.entry_mode == EntryMode::Contactless
            && p.amount.minor > self.cfg.cvm_limit_minor
            && !self.expired(&p.card)
    }

    /// Whether a transaction goes to the host at all (it may still get no answer): not when it
    /// is refused before (expired, known blocked, over the gambling maximum, no PIN where
    /// CARD-02 requires it) or forced offline.
    fn reaches_for_host(&self, p: &PurchaseInput) -> bool {
        if p.forced_offline || self.expired(&p.card) || self.pin_skipped_above_cvm_limit(p) {
            return false;
        }
        let blocked_known = p.card.issuer == IssuerBehaviour::Blocked && self.block_list_known;
        if blocked_known && p.kind != TxnKind::Refund {
            return false;
        }
        if p.kind == TxnKind::Purchase {
            if let Some(max) = self.cfg.gambling_daily_max_minor {
                if self.spent_today(&p.card.pan).saturating_add(p.amount.minor) > max {
                    return false;
                }
            }
        }
        true
    }

    /// The Nets offline rules (NETS-03..08, SUPPORT-03, PBS-05, NETS-01's queue): every rule the
    /// payment breaks, each a reason a correct terminal may give. Empty: approved offline.
    fn offline_refusals(
        &self,
        p: &PurchaseInput,
        (exposure, recent): (u64, u64),
        queued: usize,
    ) -> Vec<Reason> {
        let mut why = Vec::new();
        // SUPPORT-03: a fallback read never turns an offline-only situation into an approval.
        if p.fallback {
            why.push(Reason::FallbackOnlineOnly);
        }
        match p.entry_mode {
            EntryMode::Wallet => why.push(Reason::OfflineWalletNotAllowed), // NETS-06
            EntryMode::Contactless => why.push(Reason::OfflineContactlessNotAllowed), // NETS-07
            // NETS-07 asks for the physical card inserted: a magnetic stripe is not the chip.
            EntryMode::Magstripe => why.push(Reason::OfflineCardTypeNotAllowed),
            EntryMode::Chip => {}
        }
        if p.network == Network::VisaDebit {
            why.push(Reason::OfflineCardTypeNotAllowed); // NETS-05
        }
        // NETS-08: no PIN at all (bypass). A wrong one is the card's to refuse (after_card).
        if p.pin.is_none() {
            why.push(Reason::OfflinePinRequired);
        }
        let limit = self.cfg.offline_limit;
        let total = exposure.saturating_add(p.amount.minor);
        if p.amount.currency != limit.currency || p.amount.minor > limit.minor {
            why.push(Reason::OfflineAmountLimit); // NETS-03
        } else if recent.saturating_add(p.amount.minor) > limit.minor {
            // PBS-05: together with this card's recent offline payments it passes the
            // per-transaction limit (window: rules/catalogue.toml, PBS-05/split-window).
            why.push(Reason::SplitSuspected);
        }
        if total > self.cfg.card_limit_minor {
            why.push(Reason::OfflineCardLimit); // NETS-04
        }
        // NETS-01: an offline payment must be recorded; a full queue cannot, and must refuse
        // rather than overwrite. Only a payment the rules would allow needs the place.
        if why.is_empty()
            && self
                .cfg
                .queue_capacity
                .is_some_and(|cap| queued >= cap as usize)
        {
            why.push(Reason::OfflineQueueFull);
        }
        why
    }

    /// BankAxept reserve solution (BAX-01..09): only when the host cannot be reached. The
    /// terminal asks for the debit note only when the reserve solution can be used at all, so
    /// the refusals come in two rounds: before the note (any of them may be given), then the
    /// checks on the note (any of them).
    fn reserve(&self, p: &PurchaseInput) -> Prediction {
        let mut before = Vec::new();
        if p.forced_offline && self.network_up {
            before.push(Reason::ReserveNotAllowed); // BAX-01
        }
        if p.fallback || p.entry_mode != EntryMode::Chip {
            // The reserve solution takes the card in the terminal, as NETS-07 does offline.
            before.push(Reason::OfflineCardTypeNotAllowed);
        }
        if p.amount.currency != Currency::NOK {
            // BankAxept's limits (BAX-08, BAX-09) are in NOK.
            before.push(Reason::OfflineAmountLimit);
        }
        let reserved: u64 = self
            .pending(true)
            .filter(|i| i.network == Network::BankAxept && i.purchase)
            .map(|i| i.amount.minor)
            .fold(0, u64::saturating_add);
        let cap = self.cfg.reserve_cap_minor;
        if cap > 0 && reserved.saturating_add(p.amount.minor) > cap {
            before.push(Reason::ReserveAggregateLimit); // BAX-09
        }
        let (_, recent) = self.exposure(&p.card.pan, true);
        if recent > 0
            && recent.saturating_add(p.amount.minor) > self.cfg.reserve_phone_auth_above_minor
        {
            before.push(Reason::SplitSuspected); // BAX-09: split to avoid the phone call
        }
        if !before.is_empty() {
            return Prediction::declined_for_any(&before);
        }
        // The card verifies the PIN entered before the note is asked for.
        self.card_verdicts(p)
            .into_iter()
            .map(|v| match v {
                Some(why) => declined(why),
                None => self.reserve_note(p),
            })
            .reduce(Prediction::or)
            .unwrap_or_else(|| self.reserve_note(p))
    }

    /// The checks on a reserve payment's debit note, once the card verified the PIN.
    fn reserve_note(&self, p: &PurchaseInput) -> Prediction {
        // The checks on the note (BAX-03..08); without a note they cannot be done (BAX-07).
        let Some(n) = &p.note else {
            return declined(Reason::Cancelled);
        };
        let r = &self.cfg.readings;
        let mut on_note = Vec::new();
        if self.cfg.self_service && !n.attendant {
            on_note.push(Reason::ReserveAttendantRequired); // BAX-03
        }
        if !reserve::id_ok(n.id_type, &n.id_reference, r.id_reference_len) {
            on_note.push(Reason::ReserveIdInvalid); // BAX-04
        }
        if !reserve::account_ok(&n.account) || n.account != p.card.account {
            on_note.push(Reason::ReserveAccountInvalid); // BAX-06
        }
        if p.amount.minor > self.cfg.reserve_phone_auth_above_minor
            && !reserve::phone_code_ok(&n.phone_code, r.phone_code_len)
        {
            on_note.push(Reason::ReserveAuthCodeRequired); // BAX-08
        }
        if on_note.is_empty() {
            Prediction::exact(Outcome::ApprovedOffline, Reason::Approved)
        } else {
            Prediction::declined_for_any(&on_note)
        }
    }

    /// Whether the terminal must ask for the PIN. Required: a contactless payment above the CVM
    /// limit (CARD-02), and a card read from the chip or stripe (chip and PIN; an offline payment
    /// needs it, NETS-08, and the terminal asks before it knows whether the host will answer).
    /// Everything else leaves the terminal the choice: CARD-02 lets it ask below the limit, a
    /// wallet verifies the cardholder on the phone, a refund credits the cardholder, and an
    /// expired card may be refused before or after the PIN.
    pub fn pin_prompt(&self, p: &PurchaseInput) -> PinPrompt {
        if self.expired(&p.card) || p.kind == TxnKind::Refund {
            return PinPrompt::Optional;
        }
        match p.entry_mode {
            EntryMode::Chip | EntryMode::Magstripe => PinPrompt::Required,
            EntryMode::Contactless if p.amount.minor > self.cfg.cvm_limit_minor => {
                PinPrompt::Required
            }
            EntryMode::Contactless | EntryMode::Wallet => PinPrompt::Optional,
        }
    }

    /// An item the terminal keeps for forwarding: certainly still queued while the link is
    /// down, possibly forwarded at any moment while it is up.
    fn queue(&mut self, item: Pending) {
        let certain = !self.network_up;
        self.enqueue(item, certain);
    }

    /// Every item enters the model's queue here. The first item of an empty queue starts the
    /// terminal's retry interval; only items certainly still queued make a new one not the
    /// first (the uncertain ones may have been forwarded already), so the interval's start is
    /// the latest the terminal may have: the model never wants a forwarding round sooner than
    /// a correct terminal owes one. Latest by the clock, not by the order of events: with the
    /// clock set back, an item queued now may start an interval that ends before the one the
    /// items still queued started (found by the terminal_vs_model fuzzer).
    fn enqueue(&mut self, item: Pending, certain: bool) {
        if self.certain.is_empty() {
            self.last_attempt = self.last_attempt.max(self.now);
        }
        if certain {
            self.certain.push(item)
        } else {
            self.uncertain.push(item)
        }
    }

    /// A transaction was decided now: an approval is certainly journaled, anything else may be
    /// (CARD-03/clock-set-back).
    fn journaled(&mut self, approved: bool) {
        if approved {
            self.journaled_by.0 = self.journaled_by.0.max(self.now);
        }
        self.journaled_by.1 = self.journaled_by.1.max(self.now);
    }

    /// Records what the terminal did with a card transaction.
    pub fn observe(&mut self, p: &PurchaseInput, outcome: Outcome, reason: Reason, seq: u32) {
        self.events += 1;
        let approved = matches!(outcome, Outcome::ApprovedOnline | Outcome::ApprovedOffline);
        self.journaled(approved);
        if reason == Reason::ClockNotTrusted {
            // Refused before the card or the host was asked anything.
            return;
        }
        self.observe_pin(p, outcome, reason);
        let reached = self.reaches_for_host(p);
        // The first request after a cut may have been written to the cut connection.
        let maybe_written = self.just_cut && reached && !self.network_up;
        if reached {
            self.just_cut = false;
        }
        if !matches!(outcome, Outcome::ApprovedOnline | Outcome::ApprovedOffline) {
            // Sent but never answered, then declined: the terminal stores a reversal, since
            // the host may have approved (PBS-03). On a faulty link it may or may not have;
            // right after a cut it may think it did.
            let unanswered = self.blackhole || (self.flaky && self.network_up) || maybe_written;
            if unanswered && reached {
                let item = Pending {
                    seq: 0,
                    pan: p.card.pan.clone(),
                    amount: p.amount,
                    at: self.now,
                    network: p.network,
                    purchase: false,
                };
                let certain = self.blackhole;
                self.enqueue(item, certain);
            }
            return;
        }
        if p.kind == TxnKind::Purchase {
            self.charged
                .push((seq, p.card.pan.clone(), self.day(), p.amount.minor));
        }
        self.done.insert(
            seq,
            Done {
                kind: p.kind,
                amount: p.amount,
                captured: false,
                reversed: false,
                event: self.events,
            },
        );
        if outcome == Outcome::ApprovedOffline {
            let item = Pending {
                seq,
                pan: p.card.pan.clone(),
                amount: p.amount,
                at: self.now,
                network: p.network,
                purchase: true,
            };
            if self.flaky {
                self.enqueue(item, false)
            } else {
                self.queue(item)
            }
        }
    }
}

mod follow_up;
mod pin_tries;
mod queue;

#[cfg(test)]
mod tests;
