//! One test per way a card's data can be wrong, on bytes written here by hand (the harness's
//! faults are built by another crate; these pin the reader's own reading).

extern crate std;
use super::*;
use payhil_protocol::tlv::Writer;
use std::vec::Vec;

/// Dankort 5019100000000006, expiry 2030-12, in a record template and a GENERATE AC response
/// template; `edit` may change the record's objects (tag, value) before they are written.
fn card(edit: impl FnOnce(&mut Vec<(Tag, Vec<u8>)>)) -> Vec<u8> {
    let mut record: Vec<(Tag, Vec<u8>)> = std::vec![
        (
            tag::PAN,
            std::vec![0x50, 0x19, 0x10, 0x00, 0x00, 0x00, 0x00, 0x06]
        ),
        (tag::EXPIRY, std::vec![0x30, 0x12, 0x31]),
        (
            tag::TRACK2,
            std::vec![
                0x50, 0x19, 0x10, 0x00, 0x00, 0x00, 0x00, 0x06, 0xD3, 0x01, 0x22, 0x01, 0x00, 0x0F
            ],
        ),
        (tag::PAN_SEQ, std::vec![0x01]),
        (tag::CURRENCY, std::vec![0x02, 0x08]),
    ];
    edit(&mut record);
    let write = |objs: &[(Tag, Vec<u8>)]| {
        let mut buf = std::vec![0u8; 512];
        let mut w = Writer::new(&mut buf);
        for (t, v) in objs {
            w.push(*t, v).unwrap();
        }
        w.written().to_vec()
    };
    let response = write(&[
        (tag::AIP, std::vec![0x19, 0x80]),
        (tag::ATC, std::vec![0x00, 0x07]),
        (tag::CRYPTOGRAM, std::vec![0xA5; 8]),
    ]);
    write(&[
        (tag::RECORD_TEMPLATE, write(&record)),
        (tag::RESPONSE_TEMPLATE, response),
    ])
}

fn set(objs: &mut [(Tag, Vec<u8>)], t: Tag, v: Vec<u8>) {
    for o in objs.iter_mut().filter(|o| o.0 == t) {
        o.1 = v.clone();
    }
}

#[test]
fn a_well_formed_card_is_read() {
    let c = read(&card(|_| {})).unwrap();
    assert_eq!(c.pan(), "5019100000000006");
    assert_eq!(
        c.expiry,
        Expiry {
            year: 2030,
            month: 12
        }
    );
    assert_eq!(
        (c.pan_seq, c.currency, c.account, c.effective),
        (1, Some(Currency::DKK), None, None)
    );
    assert!(bin_accepted(Network::Dankort, c.pan()));
    assert!(!bin_accepted(Network::Dankort, "9999990000000006"));
    assert!(!bin_accepted(Network::Visa, "5019100000000006"));
}

#[test]
fn structure_faults_are_malformed() {
    let good = card(|_| {});
    // Truncated: the last three bytes are gone.
    assert_eq!(
        read(&good[..good.len() - 3]),
        Err(Reason::CardDataMalformed)
    );
    // Overlong: an 11-byte card number.
    let overlong = card(|r| set(r, tag::PAN, std::vec![0x50; 11]));
    assert_eq!(read(&overlong), Err(Reason::CardDataMalformed));
    // A short-form length one too long (5F24 says 4), and a long form past the end.
    let mut short = good.clone();
    let at = short
        .windows(3)
        .position(|w| w == [0x5F, 0x24, 0x03])
        .unwrap();
    short[at + 2] = 0x04;
    assert_eq!(read(&short), Err(Reason::CardDataMalformed));
    let mut long = good.clone();
    let at = long.iter().position(|b| *b == 0x57).unwrap();
    long.splice(at + 1..at + 2, [0x82, 0x01, 0x00]);
    long[1] += 2;
    assert_eq!(read(&long), Err(Reason::CardDataMalformed));
    // Garbage nested in the record template, and a template inside a template.
    // (9F7F says 5 bytes where the template has none left.)
    let mut g = card(|r| r.push((Tag(0x9F7F), Vec::new())));
    let at = g.windows(3).position(|w| w == [0x9F, 0x7F, 0x00]).unwrap();
    g[at + 2] = 0x05;
    assert_eq!(read(&g), Err(Reason::CardDataMalformed));
    let nested = card(|r| r.push((Tag(0x73), std::vec![0x5A, 0x00])));
    assert_eq!(read(&nested), Err(Reason::CardDataMalformed));
    // No input at all is missing data, not a panic.
    assert_eq!(read(&[]), Err(Reason::CardDataMissing));
}

#[test]
fn duplicated_and_missing_objects() {
    let dup = card(|r| r.push((tag::PAN, std::vec![0x50, 0x19, 0x10, 0, 0, 0, 0, 0x06])));
    assert_eq!(read(&dup), Err(Reason::CardDataDuplicated));
    let missing = card(|r| r.retain(|o| o.0 != tag::EXPIRY));
    assert_eq!(read(&missing), Err(Reason::CardDataMissing));
}

#[test]
fn number_and_consistency_faults() {
    let luhn = card(|r| {
        set(r, tag::PAN, std::vec![0x50, 0x19, 0x10, 0, 0, 0, 0, 0x07]);
        set(
            r,
            tag::TRACK2,
            std::vec![
                0x50, 0x19, 0x10, 0, 0, 0, 0, 0x07, 0xD3, 0x01, 0x22, 0x01, 0x00, 0x0F
            ],
        );
    });
    assert_eq!(read(&luhn), Err(Reason::CardNumberInvalid));
    let nibble = card(|r| set(r, tag::PAN, std::vec![0x50, 0x19, 0x1A, 0, 0, 0, 0, 0x06]));
    assert_eq!(read(&nibble), Err(Reason::CardNumberInvalid));
    let other_pan = card(|r| {
        set(
            r,
            tag::TRACK2,
            std::vec![
                0x50, 0x19, 0x10, 0, 0, 0, 0, 0x14, 0xD3, 0x01, 0x22, 0x01, 0x00, 0x0F
            ],
        )
    });
    assert_eq!(read(&other_pan), Err(Reason::CardDataInconsistent));
    let other_expiry = card(|r| {
        set(
            r,
            tag::TRACK2,
            std::vec![
                0x50, 0x19, 0x10, 0, 0, 0, 0, 0x06, 0xD3, 0x01, 0x12, 0x01, 0x00, 0x0F
            ],
        )
    });
    assert_eq!(read(&other_expiry), Err(Reason::CardDataInconsistent));
    let bad_month = card(|r| set(r, tag::EXPIRY, std::vec![0x30, 0x13, 0x01]));
    assert_eq!(read(&bad_month), Err(Reason::CardDataMalformed));
}

/// Every prefix of a good card and every single-byte change is refused or read, never a
/// panic (the reader is total).
#[test]
fn every_prefix_and_byte_flip_is_answered() {
    let good = card(|_| {});
    for n in 0..good.len() {
        assert!(read(&good[..n]).is_err(), "prefix {n}");
    }
    for i in 0..good.len() {
        for bit in 0..8 {
            let mut b = good.clone();
            b[i] ^= 1 << bit;
            let _ = read(&b);
        }
    }
}
