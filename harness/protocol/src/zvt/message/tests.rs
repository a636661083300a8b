//! Round trips and layouts of the ZVT messages.
use super::*;

fn round_trip_command(c: Command) {
    let (mut scratch, mut out) = ([0u8; 64], [0u8; 80]);
    let bytes = c.encode(&mut scratch, &mut out).expect("encodes");
    let apdu = Apdu::decode(bytes).expect("an APDU");
    assert_eq!(Command::decode(&apdu), Ok(c), "{bytes:02X?}");
}

#[test]
fn every_command_round_trips() {
    let pw = Password(123_456);
    for c in [
        Command::Registration {
            password: pw,
            config: 0x8E,
            currency: Some(208),
        },
        Command::Registration {
            password: pw,
            config: 0x8E,
            currency: None,
        },
        Command::Authorisation {
            amount_minor: 1250,
            currency: Some(208),
            payment_type: Some(0x40),
        },
        Command::Authorisation {
            amount_minor: 999_999_999_999,
            currency: None,
            payment_type: None,
        },
        Command::PreAuthorisation {
            amount_minor: 5000,
            currency: Some(208),
            payment_type: Some(0x40),
        },
        Command::BookTotal {
            receipt: 17,
            amount_minor: Some(4200),
            currency: Some(208),
        },
        Command::BookTotal {
            receipt: 9999,
            amount_minor: None,
            currency: None,
        },
        Command::Reversal {
            password: pw,
            receipt: Some(42),
        },
        Command::Refund {
            password: pw,
            amount_minor: 500,
            currency: Some(578),
        },
        Command::EndOfDay { password: pw },
        Command::StatusEnquiry { password: pw },
        Command::RepeatReceipt {
            password: pw,
            status_information: true,
        },
        Command::RepeatReceipt {
            password: pw,
            status_information: false,
        },
        Command::Abort,
        Command::LogOff,
    ] {
        round_trip_command(c);
    }
}

#[test]
fn an_authorisation_is_laid_out_as_the_spec_shows() {
    // 06 01 07 04 000000001250: 12.50 in a 6-byte BCD amount.
    let (mut scratch, mut out) = ([0u8; 64], [0u8; 80]);
    let c = Command::Authorisation {
        amount_minor: 1250,
        currency: None,
        payment_type: None,
    };
    let bytes = c.encode(&mut scratch, &mut out).expect("encodes");
    assert_eq!(bytes, &[0x06, 0x01, 0x07, 0x04, 0, 0, 0, 0, 0x12, 0x50]);
}

#[test]
fn terminal_messages_round_trip() {
    let info = StatusInfo {
        result: Some(0),
        amount_minor: Some(1250),
        currency: Some(208),
        trace: Some(17),
        time: Some(101_502),
        date: Some(1207),
        receipt: Some(17),
        payment_type: Some(PAYMENT_ONLINE),
        terminal_id: Some(1),
        pan: Some(&[0x45, 0x71, 0x23, 0xEE, 0xEE, 0xEE, 0x12, 0x34]),
        card_name: Some(b"Dankort"),
        auth_attribute: Some(b"A1B2C3  "),
        text: Some(b"offline"),
    };
    for m in [
        PtMessage::IntermediateStatus {
            status: status::INSERT_CARD,
        },
        PtMessage::StatusInformation(info),
        PtMessage::PrintLine {
            attribute: 0,
            text: b"PAYHIL TEST SHOP",
        },
        PtMessage::PrintTextBlock {
            objects: &[0x1F, 0x07, 0x01, 0x02, 0x25, 0x04, 0x07, 0x02, b'O', b'K'],
        },
        PtMessage::Completion { data: &[] },
        PtMessage::Completion {
            data: &[0xF0, 0xF0, 0xF3, b'1', b'.', b'0', 0x00],
        },
        PtMessage::Abort {
            result: result::ABORTED,
        },
    ] {
        let (mut scratch, mut out) = ([0u8; 128], [0u8; 160]);
        let bytes = m.encode(&mut scratch, &mut out).expect("encodes");
        let apdu = Apdu::decode(bytes).expect("an APDU");
        assert_eq!(PtMessage::decode(&apdu), Ok(m));
    }
}

#[test]
fn acknowledgements_are_told_from_messages() {
    let pos = Ack::Positive.bytes();
    let neg = Ack::Negative(result::NOT_POSSIBLE).bytes();
    assert_eq!(
        Ack::from_apdu(&Apdu::decode(&pos).expect("apdu")),
        Some(Ack::Positive)
    );
    assert_eq!(
        Ack::from_apdu(&Apdu::decode(&neg).expect("apdu")),
        Some(Ack::Negative(result::NOT_POSSIBLE))
    );
    assert_eq!(Ack::from_apdu(&Apdu::new(0x06, 0x0F, &[])), None);
}

#[test]
fn a_missing_amount_and_an_unknown_command_are_named() {
    assert_eq!(
        Command::decode(&Apdu::new(0x06, 0x01, &[0x49, 0x02, 0x08])),
        Err(MessageError::Missing("amount (04)"))
    );
    assert_eq!(
        Command::decode(&Apdu::new(0x06, 0x99, &[])),
        Err(MessageError::Unexpected([0x06, 0x99]))
    );
}

#[test]
fn a_book_total_names_its_pre_authorisation_by_receipt_number() {
    let (mut scratch, mut out) = ([0u8; 64], [0u8; 80]);
    let c = Command::BookTotal {
        receipt: 17,
        amount_minor: Some(4200),
        currency: None,
    };
    let bytes = c.encode(&mut scratch, &mut out).expect("encodes");
    // 06 24, length 10: 87 <receipt 2 BCD> 04 <amount 6 BCD>.
    assert_eq!(
        bytes,
        [
            0x06, 0x24, 0x0A, 0x87, 0x00, 0x17, 0x04, 0x00, 0x00, 0x00, 0x00, 0x42, 0x00
        ]
    );
    let without = Apdu::decode(&[0x06, 0x24, 0x07, 0x04, 0, 0, 0, 0, 0x42, 0]).expect("an APDU");
    assert_eq!(
        Command::decode(&without),
        Err(MessageError::Missing("receipt number (87)"))
    );
}

#[test]
fn a_command_reads_only_its_own_fields_and_a_malformed_one_is_not_outvoted() {
    // 06 01 with a malformed amount (BCD nibble A) and then a good one: refused, as the first
    // malformed value of a field the command reads stands.
    let twice = [
        0x06, 0x01, 0x0E, 0x04, 0, 0, 0, 0, 0x0A, 0, 0x04, 0, 0, 0, 0, 0x12, 0x50,
    ];
    assert_eq!(
        Command::decode(&Apdu::decode(&twice).expect("an APDU")),
        Err(MessageError::Bmp(BmpError::BadBcd { tag: 0x04 }))
    );
    // 06 30 carries no amount it reads: a malformed one beside the receipt number is no error.
    let reversal = [
        0x06, 0x30, 0x0D, 0x00, 0x00, 0x00, 0x87, 0x00, 0x42, 0x04, 0, 0, 0, 0, 0x0A, 0,
    ];
    assert_eq!(
        Command::decode(&Apdu::decode(&reversal).expect("an APDU")),
        Ok(Command::Reversal {
            password: Password(0),
            receipt: Some(42)
        })
    );
}
