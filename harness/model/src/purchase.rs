//! Prediction of purchase outcomes and of the offline queue.

use payhil_cards::catalogue::{IssuerBehaviour, TestCard};
use payhil_cards::{Pan, Pin};
use payhil_protocol::{Amount, Currency, EntryMode, Network, Outcome, Reason};

/// The terminal configuration the model assumes (must match the terminal under test).
#[derive(Debug, Clone, Copy)]
pub struct ModelConfig {
    /// Merchant's per-transaction offline limit (NETS-03).
    pub offline_limit: Amount,
    /// Per-card cumulative offline limit (NETS-04), same currency.
    pub card_limit_minor: u64,
    /// The terminal retries forwarding at least this often (seconds of the controlled clock).
    pub forward_retry_s: u32,
    /// Offline purchases on one card within this window count together against the
    /// per-transaction limit (PBS-05).
    pub split_window_s: u32,
    /// Contactless purchases above this need the PIN (CARD-02).
    pub cvm_limit_minor: u64,
    /// Gambling merchant: most one card may spend per day (CARD-04).
    pub gambling_daily_max_minor: Option<u64>,
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
        }
    }
}

/// One purchase attempt as the harness drives it.
#[derive(Debug, Clone)]
pub struct PurchaseInput {
    /// Amount.
    pub amount: Amount,
    /// The card.
    pub card: TestCard,
    /// The application used (one of the card's networks).
    pub network: Network,
    /// Entry mode.
    pub entry_mode: EntryMode,
    /// The PIN the cardholder enters; `None` bypasses PIN entry.
    pub pin: Option<Pin>,
    /// Operator chose forced offline (NETS-02).
    pub forced_offline: bool,
}

/// What the model expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prediction {
    /// Exactly this outcome and reason.
    Exact(Outcome, Reason),
    /// The rules allow either (e.g. the queue may or may not have been forwarded yet).
    Either((Outcome, Reason), (Outcome, Reason)),
}

impl Prediction {
    /// Whether an observed outcome is allowed.
    pub fn allows(&self, outcome: Outcome, reason: Reason) -> bool {
        match *self {
            Prediction::Exact(o, r) => (o, r) == (outcome, reason),
            Prediction::Either(a, b) => a == (outcome, reason) || b == (outcome, reason),
        }
    }
}

#[derive(Debug, Clone)]
struct Pending {
    pan: Pan,
    amount: Amount,
    at: i64,
}

/// The model's state: clock, network, and the offline items it believes are unforwarded.
#[derive(Debug, Clone)]
pub struct Model {
    cfg: ModelConfig,
    now: i64,
    network_up: bool,
    /// Offline approvals certainly not yet forwarded.
    certain: Vec<Pending>,
    /// Offline approvals the terminal may or may not have forwarded yet.
    uncertain: Vec<Pending>,
    last_attempt: i64,
    /// The terminal has fetched the host's blocked-card list (CARD-10).
    block_list_known: bool,
    /// Approved purchases: card, UTC day, amount (CARD-04).
    approved: Vec<(Pan, i64, u64)>,
}

impl Model {
    /// A model of a freshly booted terminal with an empty queue and the network up.
    pub fn new(cfg: ModelConfig) -> Self {
        Self {
            cfg,
            now: 0,
            network_up: true,
            certain: Vec::new(),
            uncertain: Vec::new(),
            last_attempt: i64::MIN / 2,
            block_list_known: false,
            approved: Vec::new(),
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
        if up {
            // From now on the terminal may forward whenever it likes.
            self.uncertain.append(&mut self.certain);
        }
    }

    /// The operator asked the terminal to forward (or another moment it must try).
    pub fn forwarding_opportunity(&mut self) {
        self.last_attempt = self.now;
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

    /// This card's unforwarded offline total, and the part of it within the split window.
    fn exposure(&self, pan: &Pan, include_uncertain: bool) -> (u64, u64) {
        let mut items: Vec<&Pending> = self.certain.iter().collect();
        if include_uncertain {
            items.extend(self.uncertain.iter());
        }
        let mine = items.iter().filter(|p| p.pan == *pan);
        let since = self.now - i64::from(self.cfg.split_window_s);
        let recent = mine
            .clone()
            .filter(|p| p.at >= since)
            .map(|p| p.amount.minor)
            .sum();
        (mine.map(|p| p.amount.minor).sum(), recent)
    }

    /// Predicts a purchase.
    pub fn predict(&self, p: &PurchaseInput) -> Prediction {
        // CARD-03: valid through the last day of the expiry month, checked at the terminal.
        if let Ok(t) = time::OffsetDateTime::from_unix_timestamp(self.now) {
            if (t.year(), u8::from(t.month()))
                > (i32::from(p.card.expiry.year), p.card.expiry.month)
            {
                return Prediction::Exact(Outcome::Declined, Reason::CardExpired);
            }
        }
        // CARD-04: a gambling merchant's daily maximum per card, online and offline alike.
        if let Some(max) = self.cfg.gambling_daily_max_minor {
            let day = self.now.div_euclid(86_400);
            let today: u64 = self
                .approved
                .iter()
                .filter(|(pan, d, _)| *pan == p.card.pan && *d == day)
                .map(|(_, _, m)| m)
                .sum();
            let blocked_known = p.card.issuer == IssuerBehaviour::Blocked && self.block_list_known;
            if !blocked_known && today + p.amount.minor > max {
                return Prediction::Exact(Outcome::Declined, Reason::GamblingDailyLimit);
            }
        }
        // CARD-10: a blocked card is declined once the terminal knows of the block.
        if p.card.issuer == IssuerBehaviour::Blocked
            && (self.block_list_known || self.network_up && !p.forced_offline)
        {
            return Prediction::Exact(Outcome::Declined, Reason::CardBlocked);
        }
        if p.forced_offline || !self.network_up {
            let low = self.offline(p, self.exposure(&p.card.pan, false));
            let high = self.offline(p, self.exposure(&p.card.pan, true));
            return if low == high {
                Prediction::Exact(low.0, low.1)
            } else {
                Prediction::Either(low, high)
            };
        }
        Prediction::Exact(
            match p.card.issuer {
                IssuerBehaviour::Approve => Outcome::ApprovedOnline,
                _ => Outcome::Declined,
            },
            match p.card.issuer {
                IssuerBehaviour::Approve => Reason::Approved,
                IssuerBehaviour::InsufficientFunds => Reason::InsufficientFunds,
                IssuerBehaviour::Blocked => Reason::CardBlocked,
                IssuerBehaviour::IssuerUnavailable => Reason::IssuerUnavailable,
            },
        )
    }

    /// The offline rules (NETS-03..08), in the order a cardholder would meet them.
    fn offline(&self, p: &PurchaseInput, (exposure, recent): (u64, u64)) -> (Outcome, Reason) {
        let declined = |r| (Outcome::Declined, r);
        match p.entry_mode {
            EntryMode::Wallet => return declined(Reason::OfflineWalletNotAllowed),
            EntryMode::Contactless => return declined(Reason::OfflineContactlessNotAllowed),
            EntryMode::Magstripe => return declined(Reason::OfflineCardTypeNotAllowed),
            EntryMode::Chip => {}
        }
        if matches!(p.network, Network::VisaDebit | Network::BankAxept) {
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
        (Outcome::ApprovedOffline, Reason::Approved)
    }

    /// Whether the terminal must ask for the PIN: always for chip and magstripe (NETS-08), for
    /// contactless above the CVM limit (CARD-02), never for a wallet (verified on the phone).
    pub fn pin_prompted(&self, p: &PurchaseInput) -> bool {
        if let Ok(t) = time::OffsetDateTime::from_unix_timestamp(self.now) {
            if (t.year(), u8::from(t.month()))
                > (i32::from(p.card.expiry.year), p.card.expiry.month)
            {
                return false; // declined before any PIN
            }
        }
        match p.entry_mode {
            EntryMode::Chip | EntryMode::Magstripe => true,
            EntryMode::Contactless => p.amount.minor > self.cfg.cvm_limit_minor,
            EntryMode::Wallet => false,
        }
    }

    /// Records what the terminal did, so later predictions see the same queue.
    pub fn observe(&mut self, p: &PurchaseInput, outcome: Outcome) {
        if matches!(outcome, Outcome::ApprovedOnline | Outcome::ApprovedOffline) {
            self.approved.push((
                p.card.pan.clone(),
                self.now.div_euclid(86_400),
                p.amount.minor,
            ));
        }
        if outcome == Outcome::ApprovedOffline {
            let item = Pending {
                pan: p.card.pan.clone(),
                amount: p.amount,
                at: self.now,
            };
            if self.network_up {
                self.uncertain.push(item)
            } else {
                self.certain.push(item)
            }
            if self.certain.len() + self.uncertain.len() == 1 {
                // The first queued item starts the retry timer.
                self.last_attempt = self.now;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use payhil_cards::catalogue::by_name;

    fn input(card: &str, minor: u64, entry: EntryMode) -> PurchaseInput {
        let card = by_name(card).unwrap();
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
            m.observe(&p, Outcome::ApprovedOffline);
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
