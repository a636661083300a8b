//! Invariants checked on every run, whatever the scenario says.
//!
//! Exactly-once, in the spirit of Jepsen's total-queue checker: every purchase the terminal
//! approved must be in the host's books exactly once with the same amount and card, nothing may
//! be in the books that the terminal did not approve, and offline items may be missing only
//! while the terminal still reports them pending.

use std::collections::BTreeMap;

/// A purchase the terminal reported as approved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    /// Stable id (terminal sequence number).
    pub seq: u32,
    /// Approved offline (true) or online.
    pub offline: bool,
    /// Amount in minor units.
    pub minor: u64,
    /// Last four digits of the card.
    pub last4: String,
}

/// A transaction in the host's settlement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Booked {
    /// Stable id.
    pub seq: u32,
    /// Arrived as an advice.
    pub offline: bool,
    /// Amount in minor units.
    pub minor: u64,
    /// Last four digits of the card.
    pub last4: String,
}

/// The exactly-once verdict.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExactlyOnce {
    /// Approved, not booked, and not accounted for by the terminal's pending count.
    pub lost: u32,
    /// Booked more than once.
    pub duplicated: u32,
    /// Booked without an approval.
    pub unexpected: u32,
    /// Approved offline and booked (forwarded and settled).
    pub recovered: u32,
    /// Offline approvals still pending at the terminal.
    pub pending: u32,
    /// Human-readable findings, one per problem.
    pub findings: Vec<String>,
}

impl ExactlyOnce {
    /// True if nothing was lost, duplicated or unexpected and no field mismatched.
    pub fn ok(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Compares the terminal's approvals with the host's books. `terminal_pending` is the queue
/// length the terminal reports.
pub fn exactly_once(
    approvals: &[Approval],
    booked: &[Booked],
    terminal_pending: u32,
) -> ExactlyOnce {
    let mut r = ExactlyOnce::default();
    let mut by_seq: BTreeMap<u32, Vec<&Booked>> = BTreeMap::new();
    for b in booked {
        by_seq.entry(b.seq).or_default().push(b);
    }
    let mut missing_offline = 0u32;
    for a in approvals {
        match by_seq.get(&a.seq).map(Vec::as_slice) {
            None | Some([]) => {
                if a.offline {
                    missing_offline += 1;
                } else {
                    r.lost += 1;
                    r.findings.push(format!(
                        "online approval #{} is not in the settlement",
                        a.seq
                    ));
                }
            }
            Some([b]) => {
                if a.offline {
                    r.recovered += 1;
                }
                // Online or offline may differ legitimately (an answer lost on the way back makes
                // the terminal approve offline what the host already approved): not compared.
                if (b.minor, &b.last4) != (a.minor, &a.last4) {
                    r.findings.push(format!(
                        "#{} booked as {} minor, card ..{}, offline={} but approved as {} minor, card ..{}, offline={}",
                        a.seq, b.minor, b.last4, b.offline, a.minor, a.last4, a.offline
                    ));
                }
            }
            Some(many) => {
                r.duplicated += 1;
                r.findings
                    .push(format!("#{} is booked {} times", a.seq, many.len()));
            }
        }
    }
    r.pending = terminal_pending;
    if missing_offline > terminal_pending {
        r.lost += missing_offline - terminal_pending;
        r.findings.push(format!(
            "{} offline approvals are neither settled nor pending ({missing_offline} missing, terminal reports {terminal_pending} pending)",
            missing_offline - terminal_pending
        ));
    }
    for (seq, items) in &by_seq {
        if !approvals.iter().any(|a| a.seq == *seq) {
            r.unexpected += items.len() as u32;
            r.findings.push(format!(
                "#{seq} is in the settlement but the terminal never approved it"
            ));
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(seq: u32, offline: bool) -> Approval {
        Approval {
            seq,
            offline,
            minor: 100,
            last4: "0006".into(),
        }
    }
    fn b(seq: u32, offline: bool) -> Booked {
        Booked {
            seq,
            offline,
            minor: 100,
            last4: "0006".into(),
        }
    }

    #[test]
    fn pbs_02_counts_lost_duplicated_unexpected() {
        let approvals = [a(1, false), a(2, true), a(3, true)];
        assert!(exactly_once(&approvals, &[b(1, false), b(2, true), b(3, true)], 0).ok());
        let r = exactly_once(&approvals, &[b(1, false), b(2, true)], 0);
        assert_eq!(r.lost, 1);
        assert!(
            exactly_once(&approvals, &[b(1, false), b(2, true)], 1).ok(),
            "pending is not lost"
        );
        let r = exactly_once(
            &approvals,
            &[b(1, false), b(2, true), b(2, true), b(3, true), b(9, true)],
            0,
        );
        assert_eq!((r.duplicated, r.unexpected), (1, 1));
    }
}

/// Limit invariants over what the terminal actually approved offline, whatever the model or
/// the scenario said: no offline approval above the per-transaction limit (NETS-03), no card's
/// unforwarded offline total above its limit (NETS-04), none by a forbidden entry mode or card
/// type (NETS-05..07), none without the PIN (NETS-08).
#[derive(Debug, Clone)]
pub struct OfflineInvariants {
    per_transaction: payhil_protocol::Amount,
    per_card_minor: u64,
    outstanding: BTreeMap<u32, (payhil_cards::Pan, u64)>,
}

impl OfflineInvariants {
    /// With the terminal's configured limits.
    pub fn new(per_transaction: payhil_protocol::Amount, per_card_minor: u64) -> Self {
        Self {
            per_transaction,
            per_card_minor,
            outstanding: BTreeMap::new(),
        }
    }

    /// An offline purchase the terminal approved; returns the invariants it breaks.
    #[allow(clippy::too_many_arguments)]
    pub fn approved(
        &mut self,
        seq: u32,
        pan: &payhil_cards::Pan,
        amount: payhil_protocol::Amount,
        entry: payhil_protocol::EntryMode,
        network: payhil_protocol::Network,
        pin_verified: bool,
    ) -> Vec<String> {
        use payhil_protocol::{EntryMode, Network};
        let mut v = Vec::new();
        if network != Network::BankAxept {
            if amount.currency != self.per_transaction.currency
                || amount.minor > self.per_transaction.minor
            {
                v.push(format!(
                    "NETS-03: offline approval of {amount} above the limit {}",
                    self.per_transaction
                ));
            }
            if entry != EntryMode::Chip {
                v.push(format!(
                    "NETS-06/07: offline approval with entry mode {entry:?}"
                ));
            }
            if network == Network::VisaDebit {
                v.push("NETS-05: offline approval of a balance-controlled debit card".into());
            }
            if !pin_verified {
                v.push("NETS-08: offline approval without the PIN".into());
            }
        }
        self.outstanding.insert(seq, (pan.clone(), amount.minor));
        let exposure: u64 = self
            .outstanding
            .values()
            .filter(|(p, _)| p == pan)
            .map(|(_, m)| m)
            .sum();
        if network != Network::BankAxept && exposure > self.per_card_minor {
            v.push(format!(
                "NETS-04: card {pan}'s unforwarded offline total is {}.{:02}, above {}.{:02}",
                exposure / 100,
                exposure % 100,
                self.per_card_minor / 100,
                self.per_card_minor % 100
            ));
        }
        v
    }

    /// The host has the item (forwarded), or it was voided: it no longer counts.
    pub fn settled(&mut self, seq: u32) {
        self.outstanding.remove(&seq);
    }
}
