//! Card-data faults: one class at a time, each breaking exactly one thing about an otherwise
//! well-formed presentation ([`crate::emv`]) or purchase amount, so that a terminal's answer
//! can be judged against the one rule it breaks (issue 10, item 1).
//!
//! Structural classes edit the encoded bytes where the crate would refuse to write them (a
//! length that lies, a template with garbage inside); the others change objects and let the
//! crate encode them.

use crate::catalogue::TestCard;
use crate::emv::{self, CardObjects, EncodeError};
use payhil_protocol::card_tlv as tags;
use payhil_protocol::{Amount, Currency, Network};

macro_rules! classes {
    ($($(#[$doc:meta])* $v:ident = $name:literal,)*) => {
        /// A class of card-data fault.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum CardFault { $($(#[$doc])* $v,)* }

        impl CardFault {
            /// Every class, in the order the `card-faults` table lists them.
            pub const ALL: &'static [CardFault] = &[$(CardFault::$v,)*];

            /// The name scenarios use (`card_fault = "bad_luhn"`).
            pub fn name(self) -> &'static str {
                match self { $(CardFault::$v => $name,)* }
            }
        }
    };
}

classes! {
    /// The card number's check digit is wrong (in 5A and track 2 alike).
    BadLuhn = "bad_luhn",
    /// The presentation ends three bytes early (inside the cryptogram).
    TruncatedTlv = "truncated_tlv",
    /// 5A holds eleven bytes: more than a card number's 19 digits fill.
    OverlongTlv = "overlong_tlv",
    /// 5F24's short-form length says 4 where its value has 3 bytes.
    WrongLengthShort = "wrong_length_short",
    /// Track 2's length in the long form (82 FF FF): more than the presentation holds.
    WrongLengthLong = "wrong_length_long",
    /// A template inside the record whose content is not TLV.
    NestedGarbage = "nested_garbage",
    /// 5A given twice.
    DuplicatedTags = "duplicated_tags",
    /// 5F24 (a mandatory object) left out.
    MissingMandatory = "missing_mandatory",
    /// Track 2 holds another (valid) card number than 5A.
    PanTrack2Mismatch = "pan_track2_mismatch",
    /// Track 2's expiry is a year later than 5F24's.
    Track2ExpiryMismatch = "track2_expiry_mismatch",
    /// A nibble of 5A's card number is not a digit (A).
    NonDigitNibbles = "non_digit_nibbles",
    /// A Luhn-valid card number from an issuer range no application takes (999999).
    UnknownBin = "unknown_bin",
    /// The card expired last month (5F24 and track 2 agree).
    Expired = "expired",
    /// The card's effective date (5F25) is the first of next month.
    NotYetValid = "not_yet_valid",
    /// The purchase's amount is 0.
    ZeroAmount = "zero_amount",
    /// The purchase's amount is negative, as an ECR's -amount sent unsigned (two's complement).
    NegativeAmount = "negative_amount",
    /// The purchase's amount has thirteen digits (10^12 minor units): more than DE 4 holds.
    AbsurdAmount = "absurd_amount",
    /// The application's currency (9F42) is not the purchase's.
    CurrencyMismatch = "currency_mismatch",
}

impl CardFault {
    /// The class of this name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|c| c.name() == name)
    }

    /// Whether the class changes the amount the operator enters, not the card.
    pub fn is_amount(self) -> bool {
        matches!(
            self,
            CardFault::ZeroAmount | CardFault::NegativeAmount | CardFault::AbsurdAmount
        )
    }

    /// The amount the operator enters, with this class applied to `a`.
    pub fn amount(self, a: Amount) -> Amount {
        let minor = match self {
            CardFault::ZeroAmount => 0,
            CardFault::NegativeAmount => 0u64.wrapping_sub(a.minor),
            CardFault::AbsurdAmount => 1_000_000_000_000,
            _ => a.minor,
        };
        Amount { minor, ..a }
    }

    /// What `card` presents on `network` with this class applied, for a purchase in
    /// `currency` at `now` (Unix seconds: expired and not-yet-valid are relative to it).
    pub fn presentation(
        self,
        card: &TestCard,
        network: Network,
        currency: Currency,
        now: i64,
    ) -> Result<Vec<u8>, EncodeError> {
        let mut o = CardObjects::of(card, network);
        let pan = card.pan.reveal();
        let (y, m) = year_month(now);
        match self {
            CardFault::BadLuhn => {
                let last = pan.bytes().last().unwrap_or(b'0');
                let bad = format!("{}{}", &pan[..pan.len() - 1], (last - b'0' + 1) % 10);
                with_pan(&mut o, &bad, card);
            }
            CardFault::OverlongTlv => {
                let mut v = emv::bcd_cn(pan);
                v.resize(11, 0x00);
                o.set(tags::PAN.0, v);
            }
            CardFault::DuplicatedTags => o.record.push((tags::PAN.0, emv::bcd_cn(pan))),
            CardFault::MissingMandatory => o.record.retain(|(t, _)| *t != tags::EXPIRY.0),
            CardFault::PanTrack2Mismatch => {
                let other = with_check_digit(&format!("{}9", &pan[..pan.len() - 2]));
                o.set(
                    tags::TRACK2.0,
                    emv::track2(&other, card.expiry.year, card.expiry.month),
                );
            }
            CardFault::Track2ExpiryMismatch => o.set(
                tags::TRACK2.0,
                emv::track2(pan, card.expiry.year + 1, card.expiry.month),
            ),
            CardFault::NonDigitNibbles => {
                let mut v = emv::bcd_cn(pan);
                if let Some(b) = v.get_mut(3) {
                    *b = (*b & 0xF0) | 0x0A;
                }
                o.set(tags::PAN.0, v);
            }
            CardFault::UnknownBin => {
                let other = with_check_digit(&format!("999999{}", &pan[6..pan.len() - 1]));
                with_pan(&mut o, &other, card);
            }
            CardFault::Expired => {
                let (py, pm) = if m == 1 { (y - 1, 12) } else { (y, m - 1) };
                o.set(tags::EXPIRY.0, emv::expiry_date(py, pm));
                o.set(tags::TRACK2.0, emv::track2(pan, py, pm));
            }
            CardFault::NotYetValid => {
                let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                let date = u64::from(ny % 100) * 10_000 + u64::from(nm) * 100 + 1;
                o.set(tags::EFFECTIVE.0, emv::bcd_n(date, 3));
            }
            CardFault::CurrencyMismatch => {
                let other = if currency == Currency::DKK {
                    Currency::NOK
                } else {
                    Currency::DKK
                };
                o.set(tags::CURRENCY.0, emv::bcd_n(u64::from(other.0), 2));
            }
            _ => {}
        }
        // Lengths that lie and garbage inside a template: the crate writes neither, so the
        // record is put together here from the crate's encoding of each object.
        let edit: Option<fn(u32, &mut Vec<u8>)> = match self {
            // 5F24's short-form length says 4 where 3 bytes follow.
            CardFault::WrongLengthShort => Some(|t, enc| {
                if t == tags::EXPIRY.0 {
                    enc[2] = 0x04;
                }
            }),
            // Track 2's length in the long form, 65,535: past the end of everything.
            CardFault::WrongLengthLong => Some(|t, enc| {
                if t == tags::TRACK2.0 {
                    enc.splice(1..2, [0x82, 0xFF, 0xFF]);
                }
            }),
            // A template (73) inside the record whose content claims an 8-byte 5A with one
            // byte left.
            CardFault::NestedGarbage => Some(|t, enc| {
                if t == tags::PAN_SEQ.0 {
                    enc.extend_from_slice(&[0x73, 0x03, 0x5A, 0x08, 0x50]);
                }
            }),
            _ => None,
        };
        let mut b = match edit {
            Some(edit) => {
                let mut record = Vec::new();
                for (t, mut enc) in o.encoded_record()? {
                    edit(t, &mut enc);
                    record.extend(enc);
                }
                let mut b = emv::wrap(tags::RECORD_TEMPLATE.0 as u8, &record);
                b.extend(emv::wrap(
                    tags::RESPONSE_TEMPLATE.0 as u8,
                    &o.encoded_response()?,
                ));
                b
            }
            None => o.encode()?,
        };
        if self == CardFault::TruncatedTlv {
            b.truncate(b.len().saturating_sub(3));
        }
        Ok(b)
    }
}

/// Puts `pan` in 5A and track 2.
fn with_pan(o: &mut CardObjects, pan: &str, card: &TestCard) {
    o.set(tags::PAN.0, emv::bcd_cn(pan));
    o.set(
        tags::TRACK2.0,
        emv::track2(pan, card.expiry.year, card.expiry.month),
    );
}

/// `body` with its Luhn check digit appended.
fn with_check_digit(body: &str) -> String {
    (0..10)
        .map(|d| format!("{body}{d}"))
        .find(|s| crate::luhn_valid(s))
        .unwrap_or_else(|| format!("{body}0"))
}

/// The UTC year and month of Unix time `now`.
fn year_month(now: i64) -> (u16, u8) {
    let (y, m, _) = payhil_protocol::civil::from_days(now.div_euclid(86_400));
    (u16::try_from(y).unwrap_or(2000), m)
}

#[cfg(test)]
mod tests;
