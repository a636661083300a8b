//! Invariants checked on every run, whatever the scenario says. Exactly-once settlement is
//! checked from the harness's own ledger in [`crate::ledger`]; the offline limits here, on
//! every offline approval as it happens.

use std::collections::BTreeMap;

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

    /// Each card's unforwarded offline total (minor units), of the approvals this oracle saw
    /// and for which `settled` does not hold yet: the merchant's exposure, card by card
    /// (NETS-04), keyed by the masked card number.
    pub fn exposure(&self, settled: impl Fn(u32) -> bool) -> BTreeMap<String, u64> {
        let mut per_card = BTreeMap::new();
        for (seq, (pan, minor)) in &self.outstanding {
            if !settled(*seq) {
                let total: &mut u64 = per_card.entry(pan.masked().to_string()).or_default();
                *total = total.saturating_add(*minor);
            }
        }
        per_card
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use payhil_protocol::{Amount, Currency, EntryMode, Network};

    #[test]
    fn exposure_sums_each_cards_unforwarded_approvals() {
        let dkk = |minor| Amount {
            minor,
            currency: Currency::DKK,
        };
        let mut o = OfflineInvariants::new(dkk(150_000), 300_000);
        let a = payhil_cards::catalogue::by_name("dankort")
            .expect("a test card")
            .pan
            .clone();
        let b = payhil_cards::catalogue::by_name("visa")
            .expect("a test card")
            .pan
            .clone();
        for (seq, pan, minor) in [(1, &a, 10_000), (2, &b, 2_500), (3, &a, 5_000)] {
            let broken = o.approved(
                seq,
                pan,
                dkk(minor),
                EntryMode::Chip,
                Network::Dankort,
                true,
            );
            assert!(broken.is_empty(), "{broken:?}");
        }
        let all = o.exposure(|_| false);
        assert_eq!(all.get(&a.masked().to_string()), Some(&15_000));
        assert_eq!(all.get(&b.masked().to_string()), Some(&2_500));
        let after_forwarding_1 = o.exposure(|seq| seq == 1);
        assert_eq!(
            after_forwarding_1.get(&a.masked().to_string()),
            Some(&5_000)
        );
        assert!(o.exposure(|_| true).is_empty());
    }
}
