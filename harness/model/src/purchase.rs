//! Prediction of transaction outcomes and of the offline queue, written from RULES.md.
//!
//! The model keeps its own view of the terminal: the clock, the network, which offline items
//! are certainly or possibly still unforwarded, what each card spent today, which
//! pre-authorisations are captured and which purchases reversed. Where the rules leave the
//! terminal a choice (forwarding earlier than it must), the model predicts a range.

use crate::reserve::{self, Note};
use payhil_cards::catalogue::{IssuerBehaviour, TestCard};
use payhil_cards::{Pan, Pin};
use payhil_protocol::{Amount, Currency, EntryMode, Network, Outcome, Reason, TxnKind};
use std::collections::BTreeMap;

/// The terminal configuration the model assumes (must match the terminal under test).
#[derive(Debug, Clone, Copy)]
pub struct ModelConfig {
    /// Merchant's per-transaction offline limit (NETS-03).
    pub offline_limit: Amount,
    /// Per-card cumulative offline limit (NETS-04), same currency.
    pub card_limit_minor: u64,
    /// The terminal retries forwarding at least this often (seconds of the controlled clock).
    pub forward_retry_s: u32,
    /// Offline purchases on one card within this window count together (PBS-05, BAX-09).
    pub split_window_s: u32,
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
    /// Offline items are overdue after this many seconds (BAX-10: two weeks).
    pub forward_deadline_s: u32,
    /// How many items the terminal's offline queue holds (a device property, from the
    /// terminal's own report; `None` until known). A full queue refuses offline payments.
    pub queue_capacity: Option<u32>,
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
            split_window_s: 600,
            cvm_limit_minor: 350_00,
            gambling_daily_max_minor: None,
            self_service: false,
            reserve_phone_auth_above_minor: 2_500_00,
            reserve_cap_minor: 20_000_00,
            forward_deadline_s: 14 * 86_400,
            queue_capacity: None,
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

/// What the model expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prediction {
    /// Exactly this outcome and reason.
    Exact(Outcome, Reason),
    /// The rules allow either (e.g. the queue may or may not have been forwarded yet).
    Either((Outcome, Reason), (Outcome, Reason)),
    /// Any of these (a faulty link: online, or offline after a lost answer).
    OneOf([Option<(Outcome, Reason)>; 3]),
}

impl Prediction {
    /// Whether an observed outcome is allowed.
    pub fn allows(&self, outcome: Outcome, reason: Reason) -> bool {
        self.outcomes().contains(&(outcome, reason))
    }

    /// The outcomes allowed.
    pub fn outcomes(&self) -> Vec<(Outcome, Reason)> {
        match *self {
            Prediction::Exact(o, r) => vec![(o, r)],
            Prediction::Either(a, b) => vec![a, b],
            Prediction::OneOf(v) => v.into_iter().flatten().collect(),
        }
    }

    /// This prediction, or `other`: what a link that may or may not answer allows.
    fn or(self, other: Prediction) -> Prediction {
        let mut all = self.outcomes();
        for o in other.outcomes() {
            if !all.contains(&o) {
                all.push(o);
            }
        }
        match all.as_slice() {
            [a] => Prediction::Exact(a.0, a.1),
            [a, b] => Prediction::Either(*a, *b),
            _ => Prediction::OneOf([
                all.first().copied(),
                all.get(1).copied(),
                all.get(2).copied(),
            ]),
        }
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
}

const DECLINED: fn(Reason) -> Prediction = |r| Prediction::Exact(Outcome::Declined, r);

/// The model's state.
#[derive(Debug, Clone)]
pub struct Model {
    cfg: ModelConfig,
    now: i64,
    network_up: bool,
    /// The link accepts but never answers: every request goes unanswered.
    blackhole: bool,
    /// Faults on the link: any exchange may fail at any byte.
    flaky: bool,
    /// Offline items certainly not yet forwarded.
    certain: Vec<Pending>,
    /// Offline items the terminal may or may not have forwarded yet.
    uncertain: Vec<Pending>,
    last_attempt: i64,
    /// The terminal has fetched the host's blocked-card list (CARD-10).
    block_list_known: bool,
    /// Approved purchases: card, UTC day, amount (CARD-04).
    approved: Vec<(Pan, i64, u64)>,
    /// Approved transactions by sequence number.
    done: BTreeMap<u32, Done>,
}

fn issuer(card: &TestCard) -> Prediction {
    match card.issuer {
        IssuerBehaviour::Approve => Prediction::Exact(Outcome::ApprovedOnline, Reason::Approved),
        IssuerBehaviour::InsufficientFunds => DECLINED(Reason::InsufficientFunds),
        IssuerBehaviour::Blocked => DECLINED(Reason::CardBlocked),
        IssuerBehaviour::IssuerUnavailable => DECLINED(Reason::IssuerUnavailable),
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
            flaky: false,
            certain: Vec::new(),
            uncertain: Vec::new(),
            last_attempt: i64::MIN / 2,
            block_list_known: false,
            approved: Vec::new(),
            done: BTreeMap::new(),
        }
    }

    /// The clock was set.
    pub fn set_clock(&mut self, unix_s: i64) {
        self.now = unix_s;
    }

    /// The clock advanced. A terminal with the network up must forward once its retry interval
    /// has passed since the last attempt.
    pub fn advance_clock(&mut self, secs: u32) {
        self.now += i64::from(secs);
        let pending = !self.certain.is_empty() || !self.uncertain.is_empty();
        if pending && self.now - self.last_attempt >= i64::from(self.cfg.forward_retry_s) {
            self.forwarding_opportunity();
        }
    }

    /// The network between terminal and host changed.
    pub fn set_network(&mut self, up: bool) {
        self.network_up = up;
        self.blackhole = false;
        if up {
            // From now on the terminal may forward whenever it likes.
            self.uncertain.append(&mut self.certain);
        }
    }

    /// The link swallows everything (accepts, never answers).
    pub fn set_blackhole(&mut self) {
        self.network_up = false;
        self.blackhole = true;
    }

    /// Faults are (or are no longer) active on the link.
    pub fn set_flaky(&mut self, flaky: bool) {
        self.flaky = flaky;
    }

    /// The terminal reported an empty queue after forwarding: what the host's books hold
    /// (`host_has`) has left the queue. An item the model knows by its sequence number and the
    /// host does not have stays certain, so the terminal's word alone never empties the model's
    /// queue; stored reversals of unanswered authorisations, whose numbers the model cannot
    /// know, are judged by the books at the end of the run instead.
    pub fn queue_reported_empty(&mut self, host_has: impl Fn(u32) -> bool) {
        let keep = |p: &Pending| p.seq != 0 && !host_has(p.seq);
        let mut kept: Vec<Pending> = self.certain.drain(..).filter(|p| keep(p)).collect();
        kept.extend(self.uncertain.drain(..).filter(|p| keep(p)));
        self.certain = kept;
    }

    /// Sets the terminal's offline queue capacity once it is known.
    pub fn set_queue_capacity(&mut self, capacity: u32) {
        self.cfg.queue_capacity = Some(capacity);
    }

    /// The operator asked the terminal to forward (or another moment it must try).
    pub fn forwarding_opportunity(&mut self) {
        self.last_attempt = self.now;
        if self.network_up && self.flaky {
            // Some may get through, some not.
            self.uncertain.append(&mut self.certain);
            return;
        }
        if self.network_up {
            // Each forwarding round starts by fetching the blocked-card list.
            self.block_list_known = true;
            self.certain.clear();
            self.uncertain.clear();
        }
    }

    /// The terminal restarted: nothing acknowledged is lost, and it may retry at once.
    pub fn restarted(&mut self) {
        self.last_attempt = i64::MIN / 2;
    }

    /// Expected number of pending offline items: `(min, max)`.
    pub fn queue_bounds(&self) -> (u32, u32) {
        (
            self.certain.len() as u32,
            (self.certain.len() + self.uncertain.len()) as u32,
        )
    }

    /// Expected number of overdue pending items (BAX-10): `(min, max)`.
    pub fn overdue_bounds(&self) -> (u32, u32) {
        let late = |v: &Vec<Pending>| {
            v.iter()
                .filter(|p| self.now - p.at > i64::from(self.cfg.forward_deadline_s))
                .count() as u32
        };
        (
            late(&self.certain),
            late(&self.certain) + late(&self.uncertain),
        )
    }

    fn pending(&self, include_uncertain: bool) -> impl Iterator<Item = &Pending> {
        self.certain
            .iter()
            .chain(self.uncertain.iter().filter(move |_| include_uncertain))
    }

    /// This card's unforwarded offline purchases, and the part within the split window.
    fn exposure(&self, pan: &Pan, include_uncertain: bool) -> (u64, u64) {
        let since = self.now - i64::from(self.cfg.split_window_s);
        let mine: Vec<&Pending> = self
            .pending(include_uncertain)
            .filter(|p| p.pan == *pan && p.purchase)
            .collect();
        (
            mine.iter().map(|p| p.amount.minor).sum(),
            mine.iter()
                .filter(|p| p.at >= since)
                .map(|p| p.amount.minor)
                .sum(),
        )
    }

    fn expired(&self, card: &TestCard) -> bool {
        // CARD-03: valid through the last day of the expiry month.
        time::OffsetDateTime::from_unix_timestamp(self.now).is_ok_and(|t| {
            (t.year(), u8::from(t.month())) > (i32::from(card.expiry.year), card.expiry.month)
        })
    }

    /// Predicts a purchase, refund or pre-authorisation.
    pub fn predict(&self, p: &PurchaseInput) -> Prediction {
        if self.expired(&p.card) {
            return DECLINED(Reason::CardExpired);
        }
        let blocked_known = p.card.issuer == IssuerBehaviour::Blocked && self.block_list_known;
        let reachable = self.network_up && !p.forced_offline;
        match p.kind {
            // A refund credits the cardholder; it needs the host (CARD-07).
            TxnKind::Refund => {
                return if reachable {
                    issuer(&p.card)
                } else {
                    DECLINED(Reason::OnlineOnly)
                };
            }
            TxnKind::PreAuthorisation => {
                if blocked_known {
                    return DECLINED(Reason::CardBlocked);
                }
                return if reachable {
                    issuer(&p.card)
                } else {
                    DECLINED(Reason::OnlineOnly)
                };
            }
            _ => {}
        }
        // CARD-10: a blocked card is declined once the terminal knows of the block.
        if blocked_known {
            return DECLINED(Reason::CardBlocked);
        }
        // CARD-04: a gambling merchant's daily maximum per card, online and offline alike.
        if let Some(max) = self.cfg.gambling_daily_max_minor {
            if self.spent_today(&p.card.pan) + p.amount.minor > max {
                return DECLINED(Reason::GamblingDailyLimit);
            }
        }
        if reachable && !self.flaky {
            return issuer(&p.card);
        }
        let offline = if p.network == Network::BankAxept {
            self.reserve(p)
        } else {
            let low = self.offline(p, self.exposure(&p.card.pan, false), self.certain.len());
            let high = self.offline(
                p,
                self.exposure(&p.card.pan, true),
                self.certain.len() + self.uncertain.len(),
            );
            if low == high {
                Prediction::Exact(low.0, low.1)
            } else {
                Prediction::Either(low, high)
            }
        };
        // A faulty link: the answer may come, or be lost and the terminal decide offline.
        if reachable {
            issuer(&p.card).or(offline)
        } else {
            offline
        }
    }

    /// What a card spent in approved purchases today (UTC), for CARD-04.
    fn spent_today(&self, pan: &Pan) -> u64 {
        let day = self.now.div_euclid(86_400);
        self.approved
            .iter()
            .filter(|(p, d, _)| p == pan && *d == day)
            .map(|(_, _, m)| m)
            .sum()
    }

    /// Whether a transaction goes to the host at all (it may still get no answer): not when it
    /// is refused before (expired, known blocked, over the gambling maximum) or forced offline.
    fn reaches_for_host(&self, p: &PurchaseInput) -> bool {
        if p.forced_offline || self.expired(&p.card) {
            return false;
        }
        let blocked_known = p.card.issuer == IssuerBehaviour::Blocked && self.block_list_known;
        if blocked_known && p.kind != TxnKind::Refund {
            return false;
        }
        if p.kind == TxnKind::Purchase {
            if let Some(max) = self.cfg.gambling_daily_max_minor {
                if self.spent_today(&p.card.pan) + p.amount.minor > max {
                    return false;
                }
            }
        }
        true
    }

    /// The Nets offline rules (NETS-03..08, SUPPORT-03, PBS-05), in the order a cardholder
    /// meets them.
    fn offline(
        &self,
        p: &PurchaseInput,
        (exposure, recent): (u64, u64),
        queued: usize,
    ) -> (Outcome, Reason) {
        let declined = |r| (Outcome::Declined, r);
        if p.fallback {
            return declined(Reason::FallbackOnlineOnly);
        }
        match p.entry_mode {
            EntryMode::Wallet => return declined(Reason::OfflineWalletNotAllowed),
            EntryMode::Contactless => return declined(Reason::OfflineContactlessNotAllowed),
            EntryMode::Magstripe => return declined(Reason::OfflineCardTypeNotAllowed),
            EntryMode::Chip => {}
        }
        if p.network == Network::VisaDebit {
            return declined(Reason::OfflineCardTypeNotAllowed);
        }
        let pin_ok = p.pin.as_ref() == Some(&p.card.pin);
        if !pin_ok {
            return declined(Reason::OfflinePinRequired);
        }
        let limit = self.cfg.offline_limit;
        if p.amount.currency != limit.currency || p.amount.minor > limit.minor {
            return declined(Reason::OfflineAmountLimit);
        }
        if recent + p.amount.minor > limit.minor {
            return declined(Reason::SplitSuspected); // PBS-05
        }
        if exposure + p.amount.minor > self.cfg.card_limit_minor {
            return declined(Reason::OfflineCardLimit);
        }
        // An offline payment the rules allow still needs a place in the queue (NETS-01: it is
        // recorded now and forwarded later); a full queue must refuse, never overwrite.
        if self
            .cfg
            .queue_capacity
            .is_some_and(|cap| queued >= cap as usize)
        {
            return declined(Reason::OfflineQueueFull);
        }
        (Outcome::ApprovedOffline, Reason::Approved)
    }

    /// BankAxept reserve solution (BAX-01..09): only when the host cannot be reached.
    fn reserve(&self, p: &PurchaseInput) -> Prediction {
        if p.forced_offline && self.network_up {
            return DECLINED(Reason::ReserveNotAllowed); // BAX-01
        }
        if p.fallback || p.entry_mode != EntryMode::Chip {
            return DECLINED(Reason::OfflineCardTypeNotAllowed);
        }
        if p.amount.currency != Currency::NOK {
            return DECLINED(Reason::OfflineAmountLimit);
        }
        let reserved: u64 = self
            .pending(true)
            .filter(|i| i.network == Network::BankAxept)
            .map(|i| i.amount.minor)
            .sum();
        if self.cfg.reserve_cap_minor > 0 && reserved + p.amount.minor > self.cfg.reserve_cap_minor
        {
            return DECLINED(Reason::ReserveAggregateLimit); // BAX-09
        }
        let (_, recent) = self.exposure(&p.card.pan, true);
        if recent > 0 && recent + p.amount.minor > self.cfg.reserve_phone_auth_above_minor {
            return DECLINED(Reason::SplitSuspected); // BAX-09: split to avoid the phone call
        }
        // The checks on the note (BAX-03..08); without a note they cannot be done (BAX-07).
        let Some(n) = &p.note else {
            return DECLINED(Reason::Cancelled);
        };
        if self.cfg.self_service && !n.attendant {
            return DECLINED(Reason::ReserveAttendantRequired);
        }
        if !reserve::id_ok(n.id_type, &n.id_reference) {
            return DECLINED(Reason::ReserveIdInvalid);
        }
        if !reserve::account_ok(&n.account) || n.account != p.card.account {
            return DECLINED(Reason::ReserveAccountInvalid);
        }
        let code_ok = (4..=8).contains(&n.phone_code.len())
            && n.phone_code.chars().all(|c| c.is_ascii_alphanumeric());
        if p.amount.minor > self.cfg.reserve_phone_auth_above_minor && !code_ok {
            return DECLINED(Reason::ReserveAuthCodeRequired);
        }
        Prediction::Exact(Outcome::ApprovedOffline, Reason::Approved)
    }

    /// Whether the terminal must ask for the PIN: always for chip and magstripe (NETS-08), for
    /// contactless above the CVM limit (CARD-02), never for a wallet or a refund.
    pub fn pin_prompted(&self, p: &PurchaseInput) -> bool {
        if self.expired(&p.card) || p.kind == TxnKind::Refund {
            return false;
        }
        match p.entry_mode {
            EntryMode::Chip | EntryMode::Magstripe => true,
            EntryMode::Contactless => p.amount.minor > self.cfg.cvm_limit_minor,
            EntryMode::Wallet => false,
        }
    }

    fn queue(&mut self, item: Pending) {
        let first = self.certain.is_empty() && self.uncertain.is_empty();
        if self.network_up {
            self.uncertain.push(item)
        } else {
            self.certain.push(item)
        }
        if first {
            // The first queued item starts the retry timer.
            self.last_attempt = self.now;
        }
    }

    /// Records what the terminal did with a card transaction.
    pub fn observe(&mut self, p: &PurchaseInput, outcome: Outcome, seq: u32) {
        if !matches!(outcome, Outcome::ApprovedOnline | Outcome::ApprovedOffline) {
            // Sent but never answered, then declined: the terminal stores a reversal, since
            // the host may have approved (PBS-03). On a faulty link it may or may not have.
            let unanswered = self.blackhole || (self.flaky && self.network_up);
            if unanswered && self.reaches_for_host(p) {
                let item = Pending {
                    seq: 0,
                    pan: p.card.pan.clone(),
                    amount: p.amount,
                    at: self.now,
                    network: p.network,
                    purchase: false,
                };
                if self.blackhole {
                    self.certain.push(item)
                } else {
                    self.uncertain.push(item)
                }
            }
            return;
        }
        if p.kind == TxnKind::Purchase {
            self.approved.push((
                p.card.pan.clone(),
                self.now.div_euclid(86_400),
                p.amount.minor,
            ));
        }
        self.done.insert(
            seq,
            Done {
                kind: p.kind,
                amount: p.amount,
                captured: false,
                reversed: false,
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
                self.uncertain.push(item)
            } else {
                self.queue(item)
            }
        }
    }

    /// Predicts the capture of pre-authorisation `of` (CARD-06).
    pub fn predict_capture(&self, of: Option<u32>, amount: Amount) -> Prediction {
        let pre = of
            .and_then(|s| self.done.get(&s))
            .filter(|d| d.kind == TxnKind::PreAuthorisation && !d.captured);
        let Some(pre) = pre else {
            return Prediction::Exact(Outcome::Aborted, Reason::NoSuchTransaction);
        };
        if amount.minor > pre.amount.minor {
            return DECLINED(Reason::CaptureExceedsAuthorised);
        }
        // Already authorised: online if the host answers, stored for forwarding if not.
        let o = if self.network_up {
            Outcome::ApprovedOnline
        } else {
            Outcome::ApprovedOffline
        };
        Prediction::Exact(o, Reason::Approved)
    }

    /// Predicts the reversal of purchase `of` (PBS-03).
    pub fn predict_reversal(&self, of: Option<u32>) -> Prediction {
        let orig = of
            .and_then(|s| self.done.get(&s).map(|d| (s, d)))
            .filter(|(_, d)| d.kind == TxnKind::Purchase && !d.reversed);
        let Some((seq, _)) = orig else {
            return Prediction::Exact(Outcome::Aborted, Reason::NoSuchTransaction);
        };
        let approved = |o| (o, Reason::Approved);
        if self.certain.iter().any(|p| p.seq == seq) || !self.network_up {
            // Voided in the queue, or stored until the host can be told: both offline.
            return Prediction::Exact(Outcome::ApprovedOffline, Reason::Approved);
        }
        if self.uncertain.iter().any(|p| p.seq == seq) {
            return Prediction::Either(
                approved(Outcome::ApprovedOffline),
                approved(Outcome::ApprovedOnline),
            );
        }
        Prediction::Exact(Outcome::ApprovedOnline, Reason::Approved)
    }

    /// Records a capture or reversal the terminal answered with `outcome`.
    pub fn observe_follow_up(&mut self, f: &FollowUp<'_>, outcome: Outcome) {
        let FollowUp {
            kind,
            of,
            seq,
            amount,
            pan,
            network,
        } = *f;
        if !matches!(outcome, Outcome::ApprovedOnline | Outcome::ApprovedOffline) {
            return;
        }
        if let Some(d) = self.done.get_mut(&of) {
            if kind == TxnKind::Capture {
                d.captured = true
            } else {
                d.reversed = true
            }
        }
        let was_certain = self.certain.iter().any(|p| p.seq == of);
        let was_uncertain = self.uncertain.iter().any(|p| p.seq == of);
        if kind == TxnKind::Reversal {
            self.certain.retain(|p| p.seq != of);
            self.uncertain.retain(|p| p.seq != of);
        }
        self.done.insert(
            seq,
            Done {
                kind,
                amount,
                captured: false,
                reversed: false,
            },
        );
        if outcome != Outcome::ApprovedOffline {
            return;
        }
        let item = Pending {
            seq,
            pan: pan.clone(),
            amount,
            at: self.now,
            network,
            purchase: false,
        };
        match kind {
            // A reversal of an item never sent voids it: nothing to forward.
            TxnKind::Reversal if was_certain => {}
            // Voided or stored, depending on whether the original had been forwarded.
            TxnKind::Reversal if was_uncertain => self.uncertain.push(item),
            // A stored capture or reversal waits in the queue for the host.
            _ => self.queue(item),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use payhil_cards::catalogue::by_name;

    fn input(card: &str, minor: u64, entry: EntryMode) -> PurchaseInput {
        let card = by_name(card).unwrap().clone();
        PurchaseInput {
            amount: Amount {
                minor,
                currency: Currency::DKK,
            },
            network: card.networks[0],
            pin: Some(card.pin.clone()),
            card,
            entry_mode: entry,
            forced_offline: false,
            kind: TxnKind::Purchase,
            fallback: false,
            note: None,
        }
    }

    #[test]
    fn nets_04_cumulative_card_limit_counts_only_unforwarded_items() {
        let mut m = Model::new(ModelConfig::default());
        m.set_clock(1_800_000_000);
        m.set_network(false);
        let p = input("dankort", 1_500_00, EntryMode::Chip);
        for _ in 0..13 {
            assert_eq!(
                m.predict(&p),
                Prediction::Exact(Outcome::ApprovedOffline, Reason::Approved)
            );
            m.observe(&p, Outcome::ApprovedOffline, 0);
            // Beyond the split window, so each purchase stands alone (PBS-05).
            m.advance_clock(11 * 60);
        }
        // 13 x 1,500 = 19,500; another 1,500 would pass 20,000.
        assert_eq!(
            m.predict(&p),
            Prediction::Exact(Outcome::Declined, Reason::OfflineCardLimit)
        );
        m.set_network(true);
        m.forwarding_opportunity();
        m.set_network(false);
        assert_eq!(
            m.predict(&p),
            Prediction::Exact(Outcome::ApprovedOffline, Reason::Approved)
        );
    }

    /// Issue 8: the model had no queue capacity, so a terminal that correctly refused the
    /// payment after its queue was full failed the run.
    #[test]
    fn nets_01_a_full_queue_refuses_offline_payments() {
        let mut m = Model::new(ModelConfig::default());
        m.set_queue_capacity(2);
        m.set_clock(1_800_000_000);
        m.set_network(false);
        for card in ["dankort", "visa_dankort", "dankort"] {
            let mut p = input(card, 100_00, EntryMode::Chip);
            p.network = Network::Dankort;
            m.advance_clock(11 * 60);
            if m.queue_bounds().0 < 2 {
                assert_eq!(
                    m.predict(&p),
                    Prediction::Exact(Outcome::ApprovedOffline, Reason::Approved)
                );
                m.observe(&p, Outcome::ApprovedOffline, m.queue_bounds().0 + 1);
            } else {
                assert_eq!(
                    m.predict(&p),
                    Prediction::Exact(Outcome::Declined, Reason::OfflineQueueFull)
                );
            }
        }
    }

    /// Issue 8: the runner emptied the model's queue whenever the terminal said it was empty.
    #[test]
    fn a_queue_reported_empty_keeps_what_the_host_does_not_have() {
        let mut m = Model::new(ModelConfig::default());
        m.set_clock(1_800_000_000);
        m.set_network(false);
        let p = input("dankort", 100_00, EntryMode::Chip);
        m.observe(&p, Outcome::ApprovedOffline, 7);
        m.advance_clock(11 * 60);
        m.observe(&p, Outcome::ApprovedOffline, 8);
        m.set_network(true);
        m.queue_reported_empty(|seq| seq == 7);
        assert_eq!(m.queue_bounds(), (1, 1), "#8 never reached the host");
    }

    #[test]
    fn nets_07_contactless_is_never_offline() {
        let mut m = Model::new(ModelConfig::default());
        m.set_network(false);
        let p = input("dankort", 100, EntryMode::Contactless);
        assert_eq!(
            m.predict(&p),
            Prediction::Exact(Outcome::Declined, Reason::OfflineContactlessNotAllowed)
        );
    }
}
