//! Each class breaks what it says, and only that, read back with the crate's own parser.

use super::*;
use iso7816_tlv::ber::{Tag, Tlv, Value};

/// 2026-03-02 10:00 UTC.
const NOW: i64 = 1_772_445_600;

fn dankort() -> &'static TestCard {
    crate::catalogue::by_name("dankort").unwrap()
}

fn bytes(c: CardFault) -> Vec<u8> {
    c.presentation(dankort(), Network::Dankort, Currency::DKK, NOW)
        .unwrap()
}

/// The two templates, if the bytes are well-formed BER-TLV to their end.
fn parse(b: &[u8]) -> Option<(Tlv, Tlv)> {
    let (first, rest) = Tlv::parse(b);
    let (second, rest) = Tlv::parse(rest);
    rest.is_empty().then_some(())?;
    Some((first.ok()?, second.ok()?))
}

/// The record's objects, tag and value.
fn record(b: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let (rec, _) = parse(b).expect("well-formed");
    let Value::Constructed(children) = rec.value() else {
        panic!("a template")
    };
    children
        .iter()
        .map(|t| {
            let Value::Primitive(v) = t.value() else {
                panic!("primitive")
            };
            (t.tag().to_bytes().to_vec(), v.clone())
        })
        .collect()
}

fn value(b: &[u8], tag: u16) -> Vec<Vec<u8>> {
    let want = Tag::try_from(tag).unwrap().to_bytes().to_vec();
    record(b)
        .into_iter()
        .filter(|(t, _)| *t == want)
        .map(|(_, v)| v)
        .collect()
}

#[test]
fn names_round_trip_and_are_unique() {
    for c in CardFault::ALL {
        assert_eq!(CardFault::from_name(c.name()), Some(*c));
    }
    assert_eq!(CardFault::ALL.len(), 18);
    assert_eq!(CardFault::from_name("bad_lun"), None);
}

#[test]
fn structural_classes_are_not_ber_tlv_and_the_others_are() {
    let good = CardObjects::of(dankort(), Network::Dankort)
        .encode()
        .unwrap();
    assert!(parse(&good).is_some());
    for c in CardFault::ALL {
        let b = bytes(*c);
        let structural = matches!(
            c,
            CardFault::TruncatedTlv | CardFault::WrongLengthShort | CardFault::WrongLengthLong
        );
        if structural {
            assert!(parse(&b).is_none(), "{c:?} parses");
        } else if *c != CardFault::NestedGarbage {
            assert!(parse(&b).is_some(), "{c:?} does not parse");
        }
        if c.is_amount() {
            assert_eq!(b, good, "{c:?} leaves the card alone");
        }
    }
    // Nested garbage: the record parses, its inner template does not.
    let b = bytes(CardFault::NestedGarbage);
    let nested = b.windows(2).position(|w| w == [0x73, 0x03]).unwrap();
    assert!(Tlv::from_bytes(&b[nested..nested + 5]).is_err());
}

#[test]
fn each_class_breaks_its_one_thing() {
    let pan = |b: &[u8]| value(b, 0x5A);
    let t2 = |b: &[u8]| value(b, 0x57);
    let good = CardObjects::of(dankort(), Network::Dankort)
        .encode()
        .unwrap();
    assert_eq!(pan(&bytes(CardFault::DuplicatedTags)).len(), 2);
    assert!(value(&bytes(CardFault::MissingMandatory), 0x5F24).is_empty());
    assert_eq!(pan(&bytes(CardFault::OverlongTlv))[0].len(), 11);
    // Bad Luhn: 5A and track 2 still agree.
    let b = bytes(CardFault::BadLuhn);
    assert_eq!(pan(&b)[0], vec![0x50, 0x19, 0x10, 0, 0, 0, 0, 0x07]);
    assert_eq!(t2(&b)[0][..8], pan(&b)[0][..]);
    // Mismatch: track 2's number is another, Luhn-valid one.
    let b = bytes(CardFault::PanTrack2Mismatch);
    assert_eq!(pan(&b), pan(&good));
    assert_ne!(t2(&b)[0][..8], pan(&b)[0][..]);
    // Track 2's expiry a year on; 5F24 as it was.
    let b = bytes(CardFault::Track2ExpiryMismatch);
    assert_eq!(t2(&b)[0][8..10], [0xD3, 0x11]);
    assert_eq!(value(&b, 0x5F24), value(&good, 0x5F24));
    assert_eq!(pan(&bytes(CardFault::NonDigitNibbles))[0][3], 0x0A);
    assert_eq!(
        pan(&bytes(CardFault::UnknownBin))[0][..3],
        [0x99, 0x99, 0x99]
    );
    // Expired: February 2026 (the clock is in March), in 5F24 and track 2.
    let b = bytes(CardFault::Expired);
    assert_eq!(value(&b, 0x5F24)[0], vec![0x26, 0x02, 0x28]);
    assert_eq!(t2(&b)[0][8..10], [0xD2, 0x60]);
    assert_eq!(
        value(&bytes(CardFault::NotYetValid), 0x5F25)[0],
        vec![0x26, 0x04, 0x01]
    );
    assert_eq!(
        value(&bytes(CardFault::CurrencyMismatch), 0x9F42)[0],
        vec![0x05, 0x78]
    );
    let b = bytes(CardFault::TruncatedTlv);
    assert_eq!(b[..], good[..good.len() - 3]);
}

#[test]
fn amount_classes() {
    let a = Amount {
        minor: 100_00,
        currency: Currency::DKK,
    };
    assert_eq!(CardFault::ZeroAmount.amount(a).minor, 0);
    assert_eq!(CardFault::NegativeAmount.amount(a).minor as i64, -100_00);
    assert_eq!(CardFault::AbsurdAmount.amount(a).minor, 1_000_000_000_000);
    assert_eq!(CardFault::BadLuhn.amount(a), a);
}
