//! The offline decision: may this purchase be approved by the terminal without the host?
//!
//! Pure functions over configuration, card, amount and queue state, each refusal with its own
//! reason (NETS-09, SUPPORT-01). The skeleton covers NETS-03..08; the full limit engine (BAX,
//! gambling, splitting) is the firmware issue.

use payhil_protocol::{Amount, Currency, EntryMode, Network, Reason};

/// Offline limits from the merchant agreement; configuration, never constants in the logic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OfflineLimits {
    /// Currency the limits are in.
    pub currency: Currency,
    /// Largest single offline purchase (NETS-03), minor units.
    pub per_transaction_minor: u64,
    /// Largest sum of one card's unforwarded offline purchases (NETS-04), minor units.
    pub per_card_minor: u64,
}

impl Default for OfflineLimits {
    /// 1,500.00 DKK per transaction (a typical Nets merchant agreement; configurable) and the
    /// seed's 20,000.00 DKK per Dankort.
    fn default() -> Self {
        Self {
            currency: Currency::DKK,
            per_transaction_minor: 1_500_00,
            per_card_minor: 20_000_00,
        }
    }
}

/// Facts about the attempted purchase the decision depends on.
#[derive(Debug, Clone, Copy)]
pub struct OfflineAttempt {
    /// Amount to approve.
    pub amount: Amount,
    /// Card network.
    pub network: Network,
    /// How the card was presented.
    pub entry_mode: EntryMode,
    /// Whether the cardholder's PIN was verified.
    pub pin_verified: bool,
    /// Sum of this card's offline purchases not yet forwarded, minor units.
    pub card_exposure_minor: u64,
}

/// Approves offline (`Ok`) or names the rule that forbids it.
pub fn offline_decision(limits: &OfflineLimits, a: &OfflineAttempt) -> Result<(), Reason> {
    match a.entry_mode {
        EntryMode::Wallet => return Err(Reason::OfflineWalletNotAllowed), // NETS-06
        EntryMode::Contactless => return Err(Reason::OfflineContactlessNotAllowed), // NETS-07
        EntryMode::Magstripe => return Err(Reason::OfflineCardTypeNotAllowed), // NETS-07, SUPPORT-03
        EntryMode::Chip => {}
    }
    match a.network {
        Network::VisaDebit => return Err(Reason::OfflineCardTypeNotAllowed), // NETS-05
        // BankAxept has its own reserve solution (BAX-*), not Nets offline: firmware issue.
        Network::BankAxept => return Err(Reason::OfflineCardTypeNotAllowed),
        Network::Dankort | Network::Visa | Network::Mastercard => {}
    }
    if !a.pin_verified {
        return Err(Reason::OfflinePinRequired); // NETS-08
    }
    if a.amount.currency != limits.currency || a.amount.minor > limits.per_transaction_minor {
        return Err(Reason::OfflineAmountLimit); // NETS-03
    }
    if a.card_exposure_minor.saturating_add(a.amount.minor) > limits.per_card_minor {
        return Err(Reason::OfflineCardLimit); // NETS-04
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(minor: u64, exposure: u64) -> OfflineAttempt {
        OfflineAttempt {
            amount: Amount {
                minor,
                currency: Currency::DKK,
            },
            network: Network::Dankort,
            entry_mode: EntryMode::Chip,
            pin_verified: true,
            card_exposure_minor: exposure,
        }
    }

    #[test]
    fn nets_03_per_transaction_limit_is_inclusive() {
        let l = OfflineLimits::default();
        assert_eq!(offline_decision(&l, &attempt(1_500_00, 0)), Ok(()));
        assert_eq!(
            offline_decision(&l, &attempt(1_500_01, 0)),
            Err(Reason::OfflineAmountLimit)
        );
    }

    #[test]
    fn nets_04_per_card_limit_is_cumulative() {
        let l = OfflineLimits::default();
        assert_eq!(offline_decision(&l, &attempt(1_000_00, 19_000_00)), Ok(()));
        assert_eq!(
            offline_decision(&l, &attempt(1_000_00, 19_000_01)),
            Err(Reason::OfflineCardLimit)
        );
    }

    #[test]
    fn nets_05_to_08_entry_and_card_rules() {
        let l = OfflineLimits::default();
        let mut a = attempt(100, 0);
        a.network = Network::VisaDebit;
        assert_eq!(
            offline_decision(&l, &a),
            Err(Reason::OfflineCardTypeNotAllowed)
        );
        let mut a = attempt(100, 0);
        a.entry_mode = EntryMode::Wallet;
        assert_eq!(
            offline_decision(&l, &a),
            Err(Reason::OfflineWalletNotAllowed)
        );
        a.entry_mode = EntryMode::Contactless;
        assert_eq!(
            offline_decision(&l, &a),
            Err(Reason::OfflineContactlessNotAllowed)
        );
        let mut a = attempt(100, 0);
        a.pin_verified = false;
        assert_eq!(offline_decision(&l, &a), Err(Reason::OfflinePinRequired));
    }
}
