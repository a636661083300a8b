//! What a correct terminal does with card data that breaks a rule (issue 10, item 1), written
//! from the rules, never from a terminal's code: it never approves, and it says which rule the
//! data broke (SUPPORT-01: a specific reason, never a bare error).
//!
//! * The data is not BER-TLV, or an object is longer or shorter than its format: the chip's
//!   data cannot be read (SUPPORT-03, "kortet ikke kan aflæses"): `CardDataMalformed`.
//! * An object given twice: the card contradicts itself about which value counts
//!   (`CardDataDuplicated`); a mandatory object missing (`CardDataMissing`); track 2 naming
//!   another card number or expiry than 5A / 5F24 (`CardDataInconsistent`).
//! * A card number with a non-digit or a failing check digit is no card number
//!   (`CardNumberInvalid`; a non-digit nibble also breaks 5A's format, so `CardDataMalformed`
//!   is right too: the rules name no order).
//! * An issuer range the application does not take: `CardNotSupported`.
//! * Expired (CARD-03: valid through its expiry month, never after): `CardExpired`; not yet
//!   effective (the same rule's other end: `rules/catalogue.toml`, CARD-03/effective-date):
//!   `CardNotYetValid`.
//! * The application's currency not the purchase's (PBS-04, and Dankort takes DKK, BankAxept
//!   NOK): `CurrencyMismatch`.
//! * Zero, negative (sent unsigned) and absurd amounts are refused at the start, before any
//!   card: `Rejected(BadAmount)` (PROTOCOL.md 4.2).

use crate::purchase::Prediction;
use payhil_cards::faults::CardFault;
use payhil_protocol::Reason;

/// What the model expects of a purchase with a card-data fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultPrediction {
    /// The purchase is started and the card declined, for any of these reasons.
    Declined(Prediction),
    /// The start itself is refused (`Rejected(BadAmount)`): no card is asked for.
    BadAmount,
}

/// The model's prediction for `fault`.
pub fn predict(fault: CardFault) -> FaultPrediction {
    use CardFault as F;
    let reasons: &[Reason] = match fault {
        F::ZeroAmount | F::NegativeAmount | F::AbsurdAmount => return FaultPrediction::BadAmount,
        F::TruncatedTlv
        | F::OverlongTlv
        | F::WrongLengthShort
        | F::WrongLengthLong
        | F::NestedGarbage => &[Reason::CardDataMalformed],
        F::DuplicatedTags => &[Reason::CardDataDuplicated],
        F::MissingMandatory => &[Reason::CardDataMissing],
        F::PanTrack2Mismatch | F::Track2ExpiryMismatch => &[Reason::CardDataInconsistent],
        F::BadLuhn => &[Reason::CardNumberInvalid],
        F::NonDigitNibbles => &[Reason::CardNumberInvalid, Reason::CardDataMalformed],
        F::UnknownBin => &[Reason::CardNotSupported],
        F::Expired => &[Reason::CardExpired],
        F::NotYetValid => &[Reason::CardNotYetValid],
        F::CurrencyMismatch => &[Reason::CurrencyMismatch],
    };
    FaultPrediction::Declined(Prediction::declined_for_any(reasons))
}

#[cfg(test)]
mod tests {
    use super::*;
    use payhil_protocol::Outcome;

    /// No class is ever predicted approved, and every card class has a specific reason (never
    /// the generic CardDataInvalid).
    #[test]
    fn no_fault_is_ever_approved() {
        for f in CardFault::ALL {
            match predict(*f) {
                FaultPrediction::BadAmount => assert!(f.is_amount(), "{f:?}"),
                FaultPrediction::Declined(p) => {
                    assert!(!f.is_amount());
                    for (o, r) in p.outcomes() {
                        assert_eq!(*o, Outcome::Declined, "{f:?}");
                        assert_ne!(*r, Reason::CardDataInvalid, "{f:?}");
                    }
                }
            }
        }
    }
}
