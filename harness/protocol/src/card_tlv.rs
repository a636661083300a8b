//! The card's data as the card simulator presents it: EMV BER-TLV (EMV Book 3 annex A and B),
//! carried by [`crate::Request::PresentCardTlv`] (PROTOCOL.md 4.7).
//!
//! This module names the data objects and their formats; it does not judge them. A terminal
//! reads them with its own code (the reference terminal with [`crate::tlv`], strictly) and the
//! harness builds them with a BER-TLV crate of its own, so that neither side's reading is the
//! other's.
//!
//! The bytes hold a full card number (5A, 57): [`CardTlv`]'s `Debug` shows each object's tag
//! and length and never a value, so that a transcript built from `{:?}` holds no card number
//! (PCI-01).

use crate::tlv::{self, Tag};
use core::fmt;
use serde::{Deserialize, Serialize};

/// READ RECORD response template: the card's records (5A, 5F24, 5F25, 57, 5F34, 9F42, DF01).
pub const RECORD_TEMPLATE: Tag = Tag(0x70);
/// Response message template format 2: the card's answer to GENERATE AC (82, 9F36, 9F27, 9F26).
pub const RESPONSE_TEMPLATE: Tag = Tag(0x77);
/// Application PAN, cn up to 19 digits (packed BCD, `F` padded): 6 to 10 bytes.
pub const PAN: Tag = Tag(0x5A);
/// Application expiration date, n6 YYMMDD: 3 bytes.
pub const EXPIRY: Tag = Tag(0x5F24);
/// Application effective date, n6 YYMMDD: 3 bytes. Optional.
pub const EFFECTIVE: Tag = Tag(0x5F25);
/// Track 2 equivalent data: PAN, separator `D`, expiry YYMM, service code n3, discretionary
/// data, `F` padded to a whole byte; at most 19 bytes.
pub const TRACK2: Tag = Tag(0x57);
/// PAN sequence number, n2: 1 byte.
pub const PAN_SEQ: Tag = Tag(0x5F34);
/// Application currency code, n3 (ISO 4217 numeric): 2 bytes. Optional.
pub const CURRENCY: Tag = Tag(0x9F42);
/// Application interchange profile: 2 bytes.
pub const AIP: Tag = Tag(0x82);
/// Application transaction counter: 2 bytes.
pub const ATC: Tag = Tag(0x9F36);
/// Cryptogram information data: 1 byte. Optional.
pub const CID: Tag = Tag(0x9F27);
/// Application cryptogram: 8 bytes.
pub const CRYPTOGRAM: Tag = Tag(0x9F26);
/// payhil's private tag (private class, primitive, number 1): the bank account number a
/// BankAxept card carries, 11 ASCII digits. Optional (BAX-06 compares it with the note).
pub const ACCOUNT: Tag = Tag(0xDF01);

/// The objects a terminal must find, in the order PROTOCOL.md 4.7 lists them.
pub const MANDATORY: [Tag; 7] = [PAN, EXPIRY, TRACK2, PAN_SEQ, AIP, ATC, CRYPTOGRAM];

/// A card presentation's BER-TLV bytes. `Debug` shows tags and lengths only.
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq)]
pub struct CardTlv<'a>(#[serde(borrow)] pub &'a [u8]);

impl fmt::Debug for CardTlv<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CardTlv[{} bytes:", self.0.len())?;
        outline(f, self.0, 0)?;
        f.write_str("]")
    }
}

/// Writes ` 70{ 5A/8 ... }`: each object's tag and value length, templates opened; where the
/// bytes stop parsing, `<malformed>`. Values are never written.
fn outline(f: &mut fmt::Formatter<'_>, b: &[u8], depth: u8) -> fmt::Result {
    for item in tlv::iter(b) {
        match item {
            Ok((tag, value)) if tag.constructed() && depth < 2 => {
                write!(f, " {:X}{{", tag.0)?;
                outline(f, value, depth + 1)?;
                f.write_str(" }")?;
            }
            Ok((tag, value)) => write!(f, " {:X}/{}", tag.0, value.len())?,
            Err(_) => return f.write_str(" <malformed>"),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::{EntryMode, Network, Request};
    use std::format;

    const DANKORT: &[u8] = &[
        0x70, 0x0E, // record template, 14 bytes
        0x5A, 0x08, 0x50, 0x19, 0x10, 0x00, 0x00, 0x00, 0x00, 0x06, // PAN
        0x5F, 0x34, 0x01, 0x01, // PAN sequence number
        0x77, 0x04, // response template
        0x9F, 0x36, 0x01, 0x07, // ATC (short, for the example)
    ];

    #[test]
    fn debug_shows_tags_and_lengths_never_values() {
        let s = format!("{:?}", CardTlv(DANKORT));
        assert_eq!(
            s, "CardTlv[22 bytes: 70{ 5A/8 5F34/1 } 77{ 9F36/1 }]",
            "{s}"
        );
        assert!(!s.contains("5019") && !s.contains("50, 25"));
        let s = format!("{:?}", CardTlv(&[0x5A, 0x08, 0x50]));
        assert_eq!(s, "CardTlv[3 bytes: <malformed>]");
    }

    /// Request 16: entry mode, network, then the bytes with a varint length (postcard writes
    /// a byte slice that way, PROTOCOL.md 4.7).
    #[test]
    fn present_card_tlv_bytes_match_protocol_md() {
        let req = Request::PresentCardTlv {
            entry_mode: EntryMode::Chip,
            network: Network::Dankort,
            tlv: CardTlv(&[0x5F, 0x34, 0x01, 0x01]),
        };
        let mut buf = [0u8; 16];
        let bytes = postcard::to_slice(&req, &mut buf).unwrap();
        assert_eq!(bytes, &[0x10, 0x00, 0x00, 0x04, 0x5F, 0x34, 0x01, 0x01]);
        assert_eq!(crate::from_payload::<Request>(bytes), Ok(req));
        let at = std::vec![0u8; crate::limits::CARD_TLV];
        let over = std::vec![0u8; crate::limits::CARD_TLV + 1];
        let card = |b| Request::PresentCardTlv {
            entry_mode: EntryMode::Chip,
            network: Network::Dankort,
            tlv: CardTlv(b),
        };
        assert_eq!(card(&at).over_limit(), None);
        assert_eq!(card(&over).over_limit(), Some("tlv"));
    }

    #[test]
    fn new_reasons_are_appended() {
        let mut buf = [0u8; 4];
        let one = |r: crate::Reason, buf: &mut [u8; 4]| postcard::to_slice(&r, buf).unwrap()[0];
        // 34 is ClockNotTrusted (CARD-03/clock-set-back), appended before these.
        assert_eq!(one(crate::Reason::ClockNotTrusted, &mut buf), 34);
        assert_eq!(one(crate::Reason::CardDataMalformed, &mut buf), 35);
        assert_eq!(one(crate::Reason::CurrencyMismatch, &mut buf), 42);
    }
}
