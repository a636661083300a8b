//! The card presented as EMV BER-TLV (request 16): what the terminal does with data it reads
//! and with data it refuses (the reader's own cases are in `card_read::tests`).

extern crate std;
use super::super::test_support::*;
use payhil_protocol::card_tlv::{self as tag, CardTlv};
use payhil_protocol::tlv::{Tag, Writer};
use std::vec::Vec;

/// Dankort 5019100000000006 as the card simulator presents it, with `extra` objects appended
/// to its record (e.g. an effective date or the application currency).
fn tlv(pan_bcd: [u8; 8], extra: &[(Tag, &[u8])]) -> Vec<u8> {
    let write = |objs: &[(Tag, &[u8])]| {
        let mut buf = std::vec![0u8; 256];
        let mut w = Writer::new(&mut buf);
        for (t, v) in objs {
            w.push(*t, v).unwrap();
        }
        w.written().to_vec()
    };
    let mut t2 = pan_bcd.to_vec();
    t2.extend_from_slice(&[0xD3, 0x01, 0x22, 0x01, 0x00, 0x0F]);
    let mut record: Vec<(Tag, &[u8])> = std::vec![
        (tag::PAN, &pan_bcd[..]),
        (tag::EXPIRY, &[0x30, 0x12, 0x31]),
        (tag::TRACK2, &t2),
        (tag::PAN_SEQ, &[0x01]),
    ];
    record.extend_from_slice(extra);
    let record = write(&record);
    let response = write(&[
        (tag::AIP, &[0x19, 0x80]),
        (tag::ATC, &[0x00, 0x07]),
        (tag::CRYPTOGRAM, &[0xA5; 8]),
    ]);
    write(&[
        (tag::RECORD_TEMPLATE, &record),
        (tag::RESPONSE_TEMPLATE, &response),
    ])
}

const DANKORT_BCD: [u8; 8] = [0x50, 0x19, 0x10, 0x00, 0x00, 0x00, 0x00, 0x06];

fn present(t: &mut T<'_>, amount: Amount, network: Network, b: &[u8]) -> Response<'static> {
    assert!(matches!(
        t.handle(&Request::StartPurchase {
            amount,
            forced_offline: false
        }),
        Step::Reply(Response::Accepted { .. })
    ));
    match t.handle(&Request::PresentCardTlv {
        entry_mode: EntryMode::Chip,
        network,
        tlv: CardTlv(b),
    }) {
        Step::Reply(r) => strip(r),
        other => panic!("{other:?}"),
    }
}

fn declined(r: Response<'_>) -> (Outcome, Reason, u32) {
    match r {
        Response::Done(d) => (d.outcome, d.reason, d.txn_seq),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_well_formed_card_asks_for_the_pin_as_a_read_card_does() {
    let mut mem = std::vec![0xFFu8; 16 * 4096];
    let mut t = boot(&mut mem);
    let b = tlv(DANKORT_BCD, &[(tag::CURRENCY, &[0x02, 0x08])]);
    assert_eq!(
        present(&mut t, dkk(100_00), Network::Dankort, &b),
        Response::Accepted {
            awaiting: Awaiting::Pin
        }
    );
}

/// Refused card data is declined with its reason, takes no sequence number and leaves the
/// journal as it was (the number is not kept).
#[test]
fn refused_card_data_is_declined_and_not_journaled() {
    let mut mem = std::vec![0xFFu8; 16 * 4096];
    let mut t = boot(&mut mem);
    let unknown_bin = [0x99, 0x99, 0x99, 0x00, 0x00, 0x00, 0x00, 0x06];
    let cases: [(Vec<u8>, Network, Reason); 5] = [
        (
            tlv(unknown_bin, &[]),
            Network::Dankort,
            Reason::CardNotSupported,
        ),
        (
            tlv(DANKORT_BCD, &[]),
            Network::Visa,
            Reason::CardNotSupported,
        ),
        (
            tlv(DANKORT_BCD, &[(tag::CURRENCY, &[0x05, 0x78])]),
            Network::Dankort,
            Reason::CurrencyMismatch,
        ),
        // The clock is 2027-01-15; effective from 2027-02-01.
        (
            tlv(DANKORT_BCD, &[(tag::EFFECTIVE, &[0x27, 0x02, 0x01])]),
            Network::Dankort,
            Reason::CardNotYetValid,
        ),
        (
            std::vec![0x70, 0x05, 0x5A],
            Network::Dankort,
            Reason::CardDataMalformed,
        ),
    ];
    for (b, network, why) in cases {
        let before = t.journal.next_seq();
        assert_eq!(
            declined(present(&mut t, dkk(100_00), network, &b)),
            (Outcome::Declined, why, 0),
            "{why:?}"
        );
        assert_eq!(t.journal.next_seq(), before, "{why:?}: nothing journaled");
    }
    // The day it becomes effective, the card is read.
    t.handle(&Request::SetClock {
        unix_s: 1_801_440_000,
    });
    let b = tlv(DANKORT_BCD, &[(tag::EFFECTIVE, &[0x27, 0x02, 0x01])]);
    assert!(matches!(
        present(&mut t, dkk(100_00), Network::Dankort, &b),
        Response::Accepted { .. }
    ));
}

/// An amount DE 4 (n12) cannot carry is refused at the start: before, 10^12 øre went on to the
/// card and the host (whose encoder could not write it) and a negative amount sent as an
/// unsigned one did too.
#[test]
fn an_amount_above_twelve_digits_is_refused() {
    let mut mem = std::vec![0xFFu8; 16 * 4096];
    let mut t = boot(&mut mem);
    for minor in [1_000_000_000_000, u64::MAX - 99] {
        assert!(
            matches!(
                t.handle(&Request::StartPurchase {
                    amount: dkk(minor),
                    forced_offline: false
                }),
                Step::Reply(Response::Rejected(RequestError::BadAmount))
            ),
            "{minor}"
        );
    }
    assert!(matches!(
        t.handle(&Request::StartPurchase {
            amount: dkk(999_999_999_999),
            forced_offline: false
        }),
        Step::Reply(Response::Accepted { .. })
    ));
}
