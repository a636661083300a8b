extern crate std;
use super::*;

/// An 0200 with DE 3, 4, 11, 41, derived by hand from the field table:
/// fields 3, 4, 11 are in byte 0 (bits 3, 4 -> 0x30) and byte 1 (bit 11 -> 0x20);
/// field 41 is in byte 5 (bit 41 -> 0x80).
#[test]
fn encodes_the_hand_derived_bytes() {
    let mut m = Message::new(200);
    m.set(3, b"000000")
        .set(4, b"000000012550")
        .set(11, b"000007")
        .set(41, b"TERM0001");
    let mut out = [0u8; 128];
    let wire = m.encode(&mut out).unwrap();
    let body: &[u8] = &[
        b'0', b'2', b'0', b'0', // MTI
        0x30, 0x20, 0x00, 0x00, 0x00, 0x80, 0x00, 0x00, // primary bitmap
    ];
    let mut expect = std::vec::Vec::from(body);
    expect.extend_from_slice(b"000000");
    expect.extend_from_slice(b"000000012550");
    expect.extend_from_slice(b"000007");
    expect.extend_from_slice(b"TERM0001");
    assert_eq!(&wire[..2], &(expect.len() as u16).to_be_bytes());
    assert_eq!(&wire[2..], expect.as_slice());
    let back = Message::decode(&wire[2..]).unwrap();
    assert_eq!(back, m);
    assert_eq!(back.number(4), Some(12550));
    assert_eq!(back.text(41), Some("TERM0001"));
}

#[test]
fn variable_fields_and_the_secondary_bitmap() {
    let mut m = Message::new(810);
    m.set(2, b"4111111111111111")
        .set(48, b"a,b")
        .set(70, b"301");
    let mut out = [0u8; 128];
    let wire = m.encode(&mut out).unwrap();
    // MTI, primary bitmap with bit 1 (secondary) and bit 2, secondary bitmap with bit 70.
    assert_eq!(&wire[2..6], b"0810");
    assert_eq!(wire[6], 0xC0);
    assert_eq!(wire[6 + 5], 0x01, "bit 48 is the last bit of byte 5");
    assert_eq!(
        &wire[14..22],
        &[0x04, 0, 0, 0, 0, 0, 0, 0],
        "bit 70 is bit 6 of the secondary bitmap"
    );
    assert_eq!(&wire[22..40], b"164111111111111111");
    assert_eq!(&wire[40..46], b"003a,b");
    assert_eq!(&wire[46..], b"301");
    assert_eq!(Message::decode(&wire[2..]).unwrap(), m);
}

#[test]
fn malformed_messages_are_errors() {
    assert_eq!(Message::decode(b"02"), Err(Iso8583Error::Truncated));
    assert_eq!(
        Message::decode(b"02x0\0\0\0\0\0\0\0\0"),
        Err(Iso8583Error::BadMti)
    );
    // Field 5 is outside the subset.
    assert_eq!(
        Message::decode(b"0200\x08\0\0\0\0\0\0\0"),
        Err(Iso8583Error::UnsupportedField(5))
    );
    // PAN length 99.
    let mut b = std::vec::Vec::from(&b"0200\x40\0\0\0\0\0\0\0"[..]);
    b.extend_from_slice(b"99123");
    assert_eq!(Message::decode(&b), Err(Iso8583Error::BadLength(2)));
    // Letters in the amount.
    let mut b = std::vec::Vec::from(&b"0200\x10\0\0\0\0\0\0\0"[..]);
    b.extend_from_slice(b"00000001255A");
    assert_eq!(Message::decode(&b), Err(Iso8583Error::NotNumeric(4)));
    let mut b = std::vec::Vec::from(&b"0200\x20\0\0\0\0\0\0\0"[..]);
    b.extend_from_slice(b"000000X");
    assert_eq!(Message::decode(&b), Err(Iso8583Error::TrailingBytes));
}
