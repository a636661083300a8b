//! A test card's data as the card simulator presents it: EMV BER-TLV (PROTOCOL.md 4.7), built
//! with the `iso7816-tlv` crate.
//!
//! Why that crate: it is the maintained BER-TLV implementation for smart-card data (ISO/IEC
//! 7816-4, the encoding EMV uses: multi-byte tags, long-form lengths, constructed templates);
//! `der` and the ASN.1 crates encode typed ASN.1 modules, not EMV's flat tag space, and refuse
//! the private-class tags a card carries. Its `alloc` use is no concern on the harness side;
//! the terminal reads with the protocol crate's own `no_std` reader, so the two sides never
//! share a reading of the bytes.

use crate::catalogue::TestCard;
use iso7816_tlv::ber::{Tag, Tlv, Value};
use payhil_protocol::card_tlv as tags;
use payhil_protocol::{Currency, Network};

/// One primitive object: tag and value.
pub type Object = (u32, Vec<u8>);

/// A card's objects before encoding: its record (READ RECORD, template 70) and its answer to
/// GENERATE AC (template 77). The fault classes ([`crate::faults`]) change these, or the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardObjects {
    /// 5A, 5F24, 57, 5F34, then 9F42 and DF01 where the card has them.
    pub record: Vec<Object>,
    /// 82, 9F36, 9F27, 9F26.
    pub response: Vec<Object>,
}

/// Why objects could not be encoded (a tag the crate refuses: a bug in this harness).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("tag {tag:X} cannot be encoded as BER-TLV: {why}")]
pub struct EncodeError {
    /// The tag.
    pub tag: u32,
    /// The crate's complaint.
    pub why: String,
}

/// ASCII digits as packed BCD, `F` padded to a whole byte (EMV format cn).
pub fn bcd_cn(digits: &str) -> Vec<u8> {
    let mut nib: Vec<u8> = digits
        .bytes()
        .map(|d| d.wrapping_sub(b'0') & 0x0F)
        .collect();
    if nib.len() % 2 == 1 {
        nib.push(0xF);
    }
    nib.chunks(2).map(|p| (p[0] << 4) | p[1]).collect()
}

/// A number as `n` bytes of right-aligned BCD (EMV format n).
pub fn bcd_n(mut v: u64, n: usize) -> Vec<u8> {
    let mut out = vec![0u8; n];
    for b in out.iter_mut().rev() {
        let lo = (v % 10) as u8;
        let hi = ((v / 10) % 10) as u8;
        *b = (hi << 4) | lo;
        v /= 100;
    }
    out
}

/// Track 2 equivalent data: card number, `D`, expiry YYMM, service code 201 (chip card,
/// international, normal authorisation), discretionary data, `F` padded.
pub fn track2(pan: &str, year: u16, month: u8) -> Vec<u8> {
    let mut s = String::from(pan);
    s.push_str(&format!("D{:02}{:02}2010000", year % 100, month));
    let mut nib: Vec<u8> = s
        .bytes()
        .map(|c| {
            if c == b'D' {
                0xD
            } else {
                c.wrapping_sub(b'0') & 0x0F
            }
        })
        .collect();
    if nib.len() % 2 == 1 {
        nib.push(0xF);
    }
    nib.chunks(2).map(|p| (p[0] << 4) | p[1]).collect()
}

/// An expiry month as 5F24's YYMMDD: the month's last day (CARD-03: valid through it).
pub fn expiry_date(year: u16, month: u8) -> Vec<u8> {
    let last_day = match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    bcd_n(
        u64::from(year % 100) * 10_000 + u64::from(month) * 100 + last_day,
        3,
    )
}

/// The currency a domestic application is held in (9F42); international applications give
/// none (they take the merchant's currency).
pub fn application_currency(network: Network) -> Option<Currency> {
    match network {
        Network::Dankort => Some(Currency::DKK),
        Network::BankAxept => Some(Currency::NOK),
        _ => None,
    }
}

impl CardObjects {
    /// What `card` presents on application `network`.
    pub fn of(card: &TestCard, network: Network) -> Self {
        let pan = card.pan.reveal();
        let mut record = vec![
            (tags::PAN.0, bcd_cn(pan)),
            (
                tags::EXPIRY.0,
                expiry_date(card.expiry.year, card.expiry.month),
            ),
            (
                tags::TRACK2.0,
                track2(pan, card.expiry.year, card.expiry.month),
            ),
            (tags::PAN_SEQ.0, bcd_n(u64::from(card.pan_seq), 1)),
        ];
        if let Some(c) = application_currency(network) {
            record.push((tags::CURRENCY.0, bcd_n(u64::from(c.0), 2)));
        }
        if !card.account.is_empty() {
            record.push((tags::ACCOUNT.0, card.account.as_bytes().to_vec()));
        }
        // Not a real cryptogram (no key): a test card's constant, like the reference
        // terminal's stand-in (iso8583.rs), chosen so that no run of digits reads as a number.
        let response = vec![
            (tags::AIP.0, vec![0x19, 0x80]),
            (tags::ATC.0, vec![0x00, 0x01]),
            (tags::CID.0, vec![0x80]),
            (
                tags::CRYPTOGRAM.0,
                vec![0xA5, 0xC3, 0xE1, 0xB7, 0xA5, 0xC3, 0xE1, 0xB7],
            ),
        ];
        Self { record, response }
    }

    /// The value of the first object with `tag` in the record.
    pub fn get(&self, tag: u32) -> Option<&[u8]> {
        self.record
            .iter()
            .find(|(t, _)| *t == tag)
            .map(|(_, v)| v.as_slice())
    }

    /// Sets (or adds) the record's object `tag`.
    pub fn set(&mut self, tag: u32, value: Vec<u8>) {
        match self.record.iter_mut().find(|(t, _)| *t == tag) {
            Some(o) => o.1 = value,
            None => self.record.push((tag, value)),
        }
    }

    /// Each record object as the crate encodes it, with its tag.
    pub fn encoded_record(&self) -> Result<Vec<(u32, Vec<u8>)>, EncodeError> {
        self.record
            .iter()
            .map(|(t, v)| Ok((*t, primitive(*t, v)?.to_vec())))
            .collect()
    }

    /// The response template's content as the crate encodes it.
    pub fn encoded_response(&self) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::new();
        for (t, v) in &self.response {
            out.extend(primitive(*t, v)?.to_vec());
        }
        Ok(out)
    }

    /// The two templates, encoded one after the other.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        let mut out = template(tags::RECORD_TEMPLATE.0, &self.record)?.to_vec();
        out.extend(template(tags::RESPONSE_TEMPLATE.0, &self.response)?.to_vec());
        Ok(out)
    }
}

fn tag(t: u32) -> Result<Tag, EncodeError> {
    Tag::try_from(t).map_err(|e| EncodeError {
        tag: t,
        why: format!("{e:?}"),
    })
}

fn primitive(t: u32, v: &[u8]) -> Result<Tlv, EncodeError> {
    Tlv::new(tag(t)?, Value::Primitive(v.to_vec())).map_err(|e| EncodeError {
        tag: t,
        why: format!("{e:?}"),
    })
}

/// A one-byte-tag template around `content` with the shortest BER length, written by hand for
/// the fault classes whose content the crate will not encode (a lying length, garbage).
pub fn wrap(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    match u16::try_from(content.len()) {
        Ok(n @ 0..=0x7F) => out.push(n as u8),
        Ok(n @ 0x80..=0xFF) => out.extend([0x81, n as u8]),
        Ok(n) => {
            out.push(0x82);
            out.extend(n.to_be_bytes());
        }
        // Never for a card's few dozen bytes; 65,535 is what the length can say.
        Err(_) => out.extend([0x82, 0xFF, 0xFF]),
    }
    out.extend_from_slice(content);
    out
}

fn template(t: u32, objects: &[Object]) -> Result<Tlv, EncodeError> {
    let children = objects
        .iter()
        .map(|(ot, v)| primitive(*ot, v))
        .collect::<Result<Vec<_>, _>>()?;
    Tlv::new(tag(t)?, Value::Constructed(children)).map_err(|e| EncodeError {
        tag: t,
        why: format!("{e:?}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dankort_card_as_bytes() {
        let card = crate::catalogue::by_name("dankort").unwrap();
        let b = CardObjects::of(card, Network::Dankort).encode().unwrap();
        // 70 29 | 5A 08 50 19 10 00 00 00 00 06 | 5F24 03 30 12 31 | 57 0E 5019100000000006
        // D 3012 201 0000 | 5F34 01 01 | 9F42 02 02 08 || 77 ...
        assert_eq!(&b[..2], &[0x70, 0x29]);
        assert_eq!(&b[2..12], &[0x5A, 0x08, 0x50, 0x19, 0x10, 0, 0, 0, 0, 0x06]);
        assert_eq!(&b[12..18], &[0x5F, 0x24, 0x03, 0x30, 0x12, 0x31]);
        assert_eq!(
            &b[18..33],
            &[
                0x57, 0x0E, 0x50, 0x19, 0x10, 0, 0, 0, 0, 0x06, 0xD3, 0x01, 0x22, 0x01, 0x00
            ]
        );
        let parsed = Tlv::parse_all(&b);
        assert_eq!(parsed.len(), 2, "two templates");
        assert_eq!(
            parsed.iter().map(|t| t.to_vec().len()).sum::<usize>(),
            b.len()
        );
    }

    #[test]
    fn bankaxept_carries_its_account_and_nok() {
        let card = crate::catalogue::by_name("bankaxept").unwrap();
        let o = CardObjects::of(card, Network::BankAxept);
        assert_eq!(o.get(tags::ACCOUNT.0), Some(&b"12345678903"[..]));
        assert_eq!(o.get(tags::CURRENCY.0), Some(&[0x05, 0x78][..]));
        let visa = crate::catalogue::by_name("visa").unwrap();
        assert_eq!(
            CardObjects::of(visa, Network::Visa).get(tags::CURRENCY.0),
            None
        );
        assert_eq!(expiry_date(2028, 2), vec![0x28, 0x02, 0x29]);
        assert_eq!(expiry_date(2030, 4), vec![0x30, 0x04, 0x30]);
    }
}
