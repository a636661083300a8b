//! The harness's own ledger of what the terminal answered, and the exactly-once check of that
//! ledger against the host's books, item by item (Jepsen's total-queue checker in spirit).
//!
//! Nothing the terminal says about itself excuses a difference: a queue report, a pending count
//! or a reconciliation verdict is checked against the ledger and the books, never used to explain
//! a missing item. An item is identified by the terminal's sequence number; each booked item's
//! kind, network, card (first six and last four), amount and date are compared with what the
//! terminal answered at the time.

use payhil_cards::MaskedPan;
use payhil_protocol::{Amount, EntryMode, Network, TxnKind};
use std::collections::{BTreeMap, BTreeSet};

/// A transaction the terminal answered as approved, as the harness recorded it when it asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answered {
    /// The terminal's sequence number.
    pub seq: u32,
    /// Purchase, refund, pre-authorisation, capture or reversal.
    pub kind: TxnKind,
    /// Approved offline (stored for forwarding) rather than online.
    pub offline: bool,
    /// Amount with currency.
    pub amount: Amount,
    /// The card, first six and last four.
    pub pan: MaskedPan,
    /// The network the cardholder paid with.
    pub network: Network,
    /// How the card was read (a capture or reversal: as its original was).
    pub entry: EntryMode,
    /// The controlled clock when the terminal answered (Unix seconds).
    pub at: i64,
}

/// A transaction a power cut interrupted before the terminal answered it: the harness never
/// saw its outcome, so the host's books may hold it once, approved, or not at all; never
/// twice. Told apart by what the harness asked (its sequence number is unknown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interrupted {
    /// Purchase, refund or pre-authorisation.
    pub kind: TxnKind,
    /// Amount with currency.
    pub amount: Amount,
    /// The card, first six and last four.
    pub pan: MaskedPan,
    /// The network the cardholder chose.
    pub network: Network,
    /// How the card was read.
    pub entry: EntryMode,
    /// The controlled clock when it was interrupted (Unix seconds).
    pub at: i64,
    /// Its authorisation reached the host, whose answer never reached the terminal: the
    /// terminal cannot know whether the host approved, so it must reverse it (PBS-03, reading
    /// PBS-03/maybe-sent); an approval the host keeps is the cardholder charged for a purchase
    /// the terminal has no record of.
    pub answer_lost: bool,
}

/// What the harness asked and what the terminal answered: the oracle's side of the comparison.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    answered: BTreeMap<u32, Answered>,
    /// Transactions a power cut interrupted (see [`Interrupted`]).
    interrupted: Vec<Interrupted>,
    /// Approved transactions a later approved reversal cancelled: the cardholder is not charged.
    reversed: BTreeSet<u32>,
    /// Findings made while recording (a sequence number answered twice).
    findings: Vec<String>,
}

impl Ledger {
    /// Records an approval. A sequence number the terminal already used for another approval is
    /// a finding: the host would take the second for a repeat of the first.
    pub fn approved(&mut self, a: Answered) {
        if let Some(prev) = self.answered.get(&a.seq) {
            self.findings.push(format!(
                "sequence number #{} answered twice: {} and then {}",
                a.seq,
                describe(prev),
                describe(&a)
            ));
            return;
        }
        self.answered.insert(a.seq, a);
    }

    /// A transaction interrupted by a power cut before its answer (see [`Interrupted`]).
    pub fn interrupted(&mut self, i: Interrupted) {
        self.interrupted.push(i);
    }

    /// An approved reversal of `of`: the original must not be settled (PBS-03).
    pub fn reversed(&mut self, of: u32) {
        self.reversed.insert(of);
    }

    /// Items that must be in the settlement once the queue is drained: approved purchases,
    /// captures and refunds that were not reversed (a pre-authorisation settles through its
    /// capture; a reversal is not itself settled).
    pub fn expected(&self) -> impl Iterator<Item = &Answered> {
        self.answered.values().filter(|a| {
            matches!(
                a.kind,
                TxnKind::Purchase | TxnKind::Capture | TxnKind::Refund
            ) && !self.reversed.contains(&a.seq)
        })
    }

    /// Everything recorded as approved, by sequence number.
    pub fn get(&self, seq: u32) -> Option<&Answered> {
        self.answered.get(&seq)
    }

    /// Per network: (debit count, debit sum, credit count, credit sum) of what must settle.
    pub fn totals(&self) -> BTreeMap<Network, NetworkTotals> {
        totals(self.expected().map(|a| (a.network, a.kind, a.amount.minor)))
    }
}

/// One network's settlement totals: debits are purchases and captures, credits refunds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetworkTotals {
    /// Number of debits.
    pub debits: u32,
    /// Their sum, minor units.
    pub debits_minor: u64,
    /// Number of credits (refunds).
    pub credits: u32,
    /// Their sum, minor units.
    pub credits_minor: u64,
}

/// Sums items into per-network totals (saturating: a sum past `u64` is a finding elsewhere,
/// never a panic here).
pub fn totals(
    items: impl Iterator<Item = (Network, TxnKind, u64)>,
) -> BTreeMap<Network, NetworkTotals> {
    let mut out: BTreeMap<Network, NetworkTotals> = BTreeMap::new();
    for (network, kind, minor) in items {
        let t = out.entry(network).or_default();
        if kind == TxnKind::Refund {
            t.credits = t.credits.saturating_add(1);
            t.credits_minor = t.credits_minor.saturating_add(minor);
        } else {
            t.debits = t.debits.saturating_add(1);
            t.debits_minor = t.debits_minor.saturating_add(minor);
        }
    }
    out
}

fn describe(a: &Answered) -> String {
    format!(
        "{} {:?} {} {} on {} at {}",
        if a.offline { "offline" } else { "online" },
        a.kind,
        a.amount,
        a.network.label(),
        a.pan,
        a.at
    )
}

/// One item in the host's books, as the oracle compares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Booked {
    /// The terminal's sequence number.
    pub seq: u32,
    /// Transaction kind.
    pub kind: TxnKind,
    /// Arrived as an advice (forwarded) rather than an authorisation.
    pub offline: bool,
    /// Amount with currency.
    pub amount: Amount,
    /// The card, first six and last four.
    pub pan: MaskedPan,
    /// Network.
    pub network: Network,
    /// Entry mode as the terminal sent it.
    pub entry: EntryMode,
    /// The transaction's date and time as the terminal sent it (Unix seconds).
    pub local_time: i64,
    /// The host approved it (response code 00).
    pub approved: bool,
    /// A later reversal cancelled it.
    pub reversed: bool,
}

/// One delivery of a request to the host, in arrival order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// The terminal's sequence number.
    pub seq: u32,
    /// An advice (forwarded item) rather than an authorisation.
    pub advice: bool,
    /// The fault epoch it arrived in: the harness starts a new one at every network change,
    /// fault change and power cut.
    pub epoch: u64,
    /// Faults were active on the link when it arrived (any exchange may have been cut).
    pub faulty: bool,
}

/// The exactly-once verdict.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExactlyOnce {
    /// Approved, and not in the host's books.
    pub lost: u32,
    /// Delivered again after the host had answered, with nothing in between that could have
    /// kept the answer from the terminal.
    pub duplicated: u32,
    /// In the settlement without an approval the ledger holds (or after its reversal).
    pub unexpected: u32,
    /// Approved offline and in the books.
    pub recovered: u32,
    /// Approved offline, forwarded, and declined by the host: the merchant's loss (NETS-10).
    pub host_declined: u32,
    /// Interrupted by a power cut and in the books (once): an outcome the rules allow.
    pub interrupted_booked: u32,
    /// One line per problem, both sides shown.
    pub findings: Vec<String>,
}

impl ExactlyOnce {
    /// True if nothing was lost, duplicated or unexpected and no field differed.
    pub fn ok(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Whether the books must already hold every approval: after the queue was drained, an item
/// missing from the books is lost; before, an offline item may still be on its way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Mid-run: offline approvals may still be queued at the terminal.
    Running,
    /// The queue was drained: everything approved must be in the books.
    Drained,
}

/// Compares the ledger with the host's books and delivery log.
pub fn exactly_once(
    ledger: &Ledger,
    books: &[Booked],
    deliveries: &[Delivery],
    phase: Phase,
) -> ExactlyOnce {
    let mut r = ExactlyOnce {
        findings: ledger.findings.clone(),
        ..ExactlyOnce::default()
    };
    let by_seq: BTreeMap<u32, &Booked> = books.iter().map(|b| (b.seq, b)).collect();
    let mut expected = BTreeSet::new();
    // Each interrupted transaction may account for one booked item, no more.
    let mut unclaimed: Vec<&Interrupted> = ledger.interrupted.iter().collect();
    for a in ledger.expected() {
        expected.insert(a.seq);
        let Some(b) = by_seq.get(&a.seq) else {
            if !a.offline || phase == Phase::Drained {
                r.lost += 1;
                r.findings.push(format!(
                    "#{} ({}) was approved and is not in the host's books",
                    a.seq,
                    describe(a)
                ));
            }
            continue;
        };
        if !b.approved {
            if a.offline {
                // Forwarded and refused by the issuer: the merchant's risk, not a loss.
                r.host_declined += 1;
            } else {
                r.findings.push(format!(
                    "#{} was approved online by the terminal but declined by the host",
                    a.seq
                ));
            }
            continue;
        }
        if b.reversed {
            r.findings.push(format!(
                "#{} ({}) was approved and never reversed at the terminal, but the host has it reversed",
                a.seq,
                describe(a)
            ));
            continue;
        }
        if a.offline && b.offline {
            r.recovered += 1;
        }
        // Online or offline may differ legitimately (an answer lost on the way back makes the
        // terminal approve offline what the host already approved): not compared.
        let mut differs = Vec::new();
        if b.kind != a.kind {
            differs.push(format!("kind {:?} (approved as {:?})", b.kind, a.kind));
        }
        if b.amount != a.amount {
            differs.push(format!("amount {} (approved {})", b.amount, a.amount));
        }
        if b.network != a.network {
            differs.push(format!(
                "network {} (approved as {})",
                b.network.label(),
                a.network.label()
            ));
        }
        if b.pan != a.pan {
            differs.push(format!("card {} (approved with {})", b.pan, a.pan));
        }
        if b.entry != a.entry {
            differs.push(format!(
                "entry mode {:?} (the card was read by {:?})",
                b.entry, a.entry
            ));
        }
        if b.local_time != a.at {
            differs.push(format!("dated {} (approved at {})", b.local_time, a.at));
        }
        if !differs.is_empty() {
            r.findings
                .push(format!("#{} booked with {}", a.seq, differs.join(", ")));
        }
    }
    for b in books {
        let settles = b.approved
            && !b.reversed
            && matches!(
                b.kind,
                TxnKind::Purchase | TxnKind::Capture | TxnKind::Refund
            );
        if settles && !expected.contains(&b.seq) && ledger.get(b.seq).is_none() {
            let same = |i: &&Interrupted| {
                i.kind == b.kind
                    && i.amount == b.amount
                    && i.pan == b.pan
                    && i.network == b.network
                    && i.entry == b.entry
                    && i.at == b.local_time
            };
            if let Some(k) = unclaimed.iter().position(same) {
                let i = unclaimed.remove(k);
                r.interrupted_booked += 1;
                // Mid-run its reversal may still be queued at the terminal.
                if i.answer_lost && !b.offline && phase == Phase::Drained {
                    r.findings.push(format!(
                        "PBS-03: #{} {:?} {} on {} was authorised by the host while the terminal lost power before its answer, and is settled without a reversal (the terminal could not know the outcome and must reverse it)",
                        b.seq, b.kind, b.amount, b.pan
                    ));
                }
                continue;
            }
        }
        // Mid-run a reversal the terminal made may still be queued at the terminal, so the host
        // still settles the original: only a drained run shows it was never delivered.
        if settles
            && !expected.contains(&b.seq)
            && phase == Phase::Running
            && ledger.reversed.contains(&b.seq)
        {
            continue;
        }
        if settles && !expected.contains(&b.seq) {
            r.unexpected += 1;
            let why = if ledger.reversed.contains(&b.seq) {
                "after the terminal reversed it (the cardholder is charged)"
            } else if ledger.get(b.seq).is_some() {
                "as a kind that does not settle"
            } else {
                "but the terminal never approved it"
            };
            r.findings.push(format!(
                "#{} {:?} {} on {} is in the settlement {why}",
                b.seq, b.kind, b.amount, b.pan
            ));
        }
    }
    // A repeat is legitimate only when the host's answer to the previous delivery may not have
    // reached the terminal: faults on the link, or a network change or power cut in between.
    let mut last: BTreeMap<(u32, bool), Delivery> = BTreeMap::new();
    for d in deliveries {
        if let Some(prev) = last.insert((d.seq, d.advice), *d) {
            if prev.epoch == d.epoch && !prev.faulty && !d.faulty {
                r.duplicated += 1;
                r.findings.push(format!(
                    "#{} was sent to the host again as {} after the host had answered it, with no fault in between",
                    d.seq,
                    if d.advice {
                        "an advice"
                    } else {
                        "an authorisation"
                    }
                ));
            }
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use payhil_cards::Pan;
    use payhil_protocol::Currency;

    fn pan() -> MaskedPan {
        Pan::parse("5019100000000006").unwrap().masked()
    }

    fn answered(seq: u32, offline: bool) -> Answered {
        Answered {
            seq,
            kind: TxnKind::Purchase,
            offline,
            amount: Amount {
                minor: 100,
                currency: Currency::DKK,
            },
            pan: pan(),
            network: Network::Dankort,
            entry: EntryMode::Chip,
            at: 1_800_000_000,
        }
    }

    fn booked(a: &Answered) -> Booked {
        Booked {
            seq: a.seq,
            kind: a.kind,
            offline: a.offline,
            amount: a.amount,
            pan: a.pan.clone(),
            network: a.network,
            entry: a.entry,
            local_time: a.at,
            approved: true,
            reversed: false,
        }
    }

    fn ledger(items: &[Answered]) -> Ledger {
        let mut l = Ledger::default();
        for a in items {
            l.approved(a.clone());
        }
        l
    }

    #[test]
    fn pbs_02_every_approval_once_in_the_books() {
        let items = [answered(1, false), answered(2, true), answered(3, true)];
        let l = ledger(&items);
        let all: Vec<Booked> = items.iter().map(booked).collect();
        let r = exactly_once(&l, &all, &[], Phase::Drained);
        assert!(r.ok(), "{r:?}");
        assert_eq!(r.recovered, 2);
        let r = exactly_once(&l, &all[..2], &[], Phase::Drained);
        assert_eq!(r.lost, 1, "{r:?}");
        let r = exactly_once(&l, &all[..2], &[], Phase::Running);
        assert!(r.ok(), "an offline item may still be queued mid-run: {r:?}");
        let r = exactly_once(&l, &all[1..], &[], Phase::Running);
        assert_eq!(r.lost, 1, "an online approval is in the books at once");
    }

    /// Issue 8: a terminal that loses one approval while holding one stored reversal passed,
    /// because the terminal's pending count excused the missing item. The ledger takes no
    /// count from the terminal at all.
    #[test]
    fn pbs_02_a_lost_approval_is_lost_whatever_the_terminal_reports() {
        let items = [answered(1, true), answered(2, true)];
        let l = ledger(&items);
        let r = exactly_once(&l, &[booked(&items[0])], &[], Phase::Drained);
        assert_eq!((r.lost, r.findings.len()), (1, 1), "{r:?}");
    }

    #[test]
    fn each_booked_field_is_compared() {
        let a = answered(1, true);
        let l = ledger(std::slice::from_ref(&a));
        let mut visa = booked(&a);
        visa.network = Network::Visa;
        let mut later = booked(&a);
        later.local_time += 86_400;
        let mut other_card = booked(&a);
        other_card.pan = Pan::parse("4571000000000001").unwrap().masked();
        let mut nok = booked(&a);
        nok.amount.currency = Currency::NOK;
        let mut swiped = booked(&a);
        swiped.entry = EntryMode::Magstripe;
        for (b, what) in [
            (visa, "network"),
            (later, "dated"),
            (other_card, "card"),
            (nok, "amount"),
            (swiped, "entry mode"),
        ] {
            let r = exactly_once(&l, &[b], &[], Phase::Drained);
            assert!(r.findings.iter().any(|f| f.contains(what)), "{what}: {r:?}");
        }
    }

    #[test]
    fn unexpected_and_reversed_items_are_findings() {
        let a = answered(1, false);
        let mut l = ledger(std::slice::from_ref(&a));
        let stranger = booked(&answered(9, true));
        let r = exactly_once(&l, &[booked(&a), stranger.clone()], &[], Phase::Drained);
        assert_eq!(r.unexpected, 1);
        l.reversed(1);
        let r = exactly_once(&l, &[booked(&a)], &[], Phase::Drained);
        assert!(
            r.findings[0].contains("after the terminal reversed it"),
            "{r:?}"
        );
        // Mid-run (after a power cycle, say) the reversal may still be queued at the terminal.
        assert!(exactly_once(&l, &[booked(&a)], &[], Phase::Running).ok());
        let mut gone = booked(&a);
        gone.reversed = true;
        assert!(exactly_once(&l, &[gone], &[], Phase::Drained).ok());
    }

    #[test]
    fn host_declined_offline_items_are_not_lost_but_online_ones_are_findings() {
        let off = answered(1, true);
        let on = answered(2, false);
        let l = ledger(&[off.clone(), on.clone()]);
        let mut b1 = booked(&off);
        b1.approved = false;
        let mut b2 = booked(&on);
        b2.approved = false;
        let r = exactly_once(&l, &[b1, b2], &[], Phase::Drained);
        assert_eq!(r.host_declined, 1);
        assert_eq!(r.findings.len(), 1, "{r:?}");
    }

    #[test]
    fn an_advice_sent_again_on_a_clean_link_is_a_duplicate() {
        let a = answered(1, true);
        let l = ledger(std::slice::from_ref(&a));
        let d = |epoch, faulty| Delivery {
            seq: 1,
            advice: true,
            epoch,
            faulty,
        };
        let books = [booked(&a)];
        let r = exactly_once(&l, &books, &[d(1, false), d(1, false)], Phase::Drained);
        assert_eq!(r.duplicated, 1, "{r:?}");
        assert!(exactly_once(&l, &books, &[d(1, false), d(2, false)], Phase::Drained).ok());
        assert!(exactly_once(&l, &books, &[d(1, true), d(1, true)], Phase::Drained).ok());
    }

    /// Issue 10: a purchase interrupted by a power cut may be in the books once or not at all;
    /// a second item like it is unexpected (never twice).
    #[test]
    fn pbs_02_an_interrupted_purchase_is_booked_at_most_once() {
        let mut l = Ledger::default();
        let a = answered(7, true);
        l.interrupted(Interrupted {
            kind: a.kind,
            amount: a.amount,
            pan: a.pan.clone(),
            network: a.network,
            entry: a.entry,
            at: a.at,
            answer_lost: false,
        });
        assert!(exactly_once(&l, &[], &[], Phase::Drained).ok());
        let r = exactly_once(&l, &[booked(&a)], &[], Phase::Drained);
        assert!(r.ok(), "{r:?}");
        assert_eq!(r.interrupted_booked, 1);
        let twice = [booked(&a), booked(&answered(8, true))];
        let r = exactly_once(&l, &twice, &[], Phase::Drained);
        assert_eq!(r.unexpected, 1, "{r:?}");
        let mut other = booked(&a);
        other.amount.minor += 1;
        let r = exactly_once(&l, &[other], &[], Phase::Drained);
        assert_eq!(
            r.unexpected, 1,
            "another amount is not the interrupted one: {r:?}"
        );
    }

    /// PBS-03/maybe-sent: an online authorisation whose answer a power cut kept from the
    /// terminal must be reversed; settled, it is a finding. Reversed, or never approved, it is
    /// not.
    #[test]
    fn pbs_03_an_authorisation_the_terminal_never_heard_back_on_must_not_settle() {
        let a = answered(3, false);
        let mut l = Ledger::default();
        l.interrupted(Interrupted {
            kind: a.kind,
            amount: a.amount,
            pan: a.pan.clone(),
            network: a.network,
            entry: a.entry,
            at: a.at,
            answer_lost: true,
        });
        let r = exactly_once(&l, &[booked(&a)], &[], Phase::Drained);
        assert!(r.findings.iter().any(|f| f.starts_with("PBS-03")), "{r:?}");
        let r = exactly_once(&l, &[booked(&a)], &[], Phase::Running);
        assert!(r.ok(), "mid-run the reversal may still be queued: {r:?}");
        let mut reversed = booked(&a);
        reversed.reversed = true;
        assert!(exactly_once(&l, &[reversed], &[], Phase::Drained).ok());
        assert!(exactly_once(&l, &[], &[], Phase::Drained).ok());
    }

    #[test]
    fn a_sequence_number_used_twice_is_a_finding() {
        let mut l = Ledger::default();
        l.approved(answered(1, true));
        l.approved(answered(1, false));
        let r = exactly_once(&l, &[], &[], Phase::Running);
        assert!(r.findings[0].contains("answered twice"), "{r:?}");
    }
}
