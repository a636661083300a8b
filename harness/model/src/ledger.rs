//! The harness's own ledger of what the terminal answered, and the exactly-once check of that
//! ledger against the host's books, item by item (Jepsen's total-queue checker in spirit).
//!
//! Nothing the terminal says about itself excuses a difference: a queue report, a pending count
//! or a reconciliation verdict is checked against the ledger and the books, never used to explain
//! a missing item. An item is identified by the terminal's sequence number; each booked item's
//! kind, network, card (first six and last four), amount and date are compared with what the
//! terminal answered at the time.

use payhil_cards::MaskedPan;
use payhil_protocol::{Amount, Currency, EntryMode, Network, TxnKind};
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

    /// Per network and currency: (debit count, debit sum, credit count, credit sum) of what
    /// must settle.
    pub fn totals(&self) -> BTreeMap<(Network, Currency), NetworkTotals> {
        totals(self.expected().map(|a| (a.network, a.kind, a.amount)))
    }
}

/// One network's settlement totals in one currency: debits are purchases and captures,
/// credits refunds.
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

/// Sums items into totals per network and currency (saturating: a sum past `u64` is a finding
/// elsewhere, never a panic here). Amounts in two currencies are never added together.
pub fn totals(
    items: impl Iterator<Item = (Network, TxnKind, Amount)>,
) -> BTreeMap<(Network, Currency), NetworkTotals> {
    let mut out: BTreeMap<(Network, Currency), NetworkTotals> = BTreeMap::new();
    for (network, kind, amount) in items {
        let minor = amount.minor;
        let t = out.entry((network, amount.currency)).or_default();
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
mod tests;
