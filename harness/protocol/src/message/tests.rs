extern crate std;
use super::*;
use std::format;

#[test]
fn pan_debug_is_masked_to_first_six_last_four() {
    let s = format!("{:?}", PanText("5019123456789012"));
    assert_eq!(s, "PanText(501912******9012)");
    assert_eq!(format!("{:?}", PinText("1234")), "PinText(<redacted>)");
}

#[test]
fn amounts_display_in_major_units() {
    let a = Amount {
        minor: 12550,
        currency: Currency::DKK,
    };
    assert_eq!(format!("{a}"), "125.50 DKK");
}

#[test]
fn hello_response_bytes_match_protocol_md() {
    // Response::Hello (variant 0), protocol_version 2, six one-letter strings, boot_count 2,
    // queue_capacity 300 (varint ac 02), flash_bytes 65536 (varint 80 80 04): the nested
    // Identity adds no bytes of its own.
    let hello = Response::Hello(DeviceInfo {
        protocol_version: 2,
        identity: Identity {
            model: "M",
            serial: "S",
            firmware_version: "F",
            build_hash: "B",
            terminal_id: "T",
            merchant_id: "I",
        },
        boot_count: 2,
        queue_capacity: 300,
        flash_bytes: 65_536,
    });
    let mut buf = [0u8; 32];
    let bytes = postcard::to_slice(&hello, &mut buf).unwrap();
    assert_eq!(
        bytes,
        b"\x00\x02\x01M\x01S\x01F\x01B\x01T\x01I\x02\xac\x02\x80\x80\x04"
    );
}

#[test]
fn host_declined_carries_the_two_characters() {
    // Appended as variant 29 (0x1d), then the code's two bytes: protocol 1 decoders that
    // never see it are unaffected, and variant 5 keeps its numeric form.
    let mut buf = [0u8; 8];
    let r = Reason::HostDeclined(crate::host_link::ResponseCode(*b"N7"));
    let bytes = postcard::to_slice(&r, &mut buf).unwrap();
    assert_eq!(bytes, &[0x1d, b'N', b'7']);
    assert_eq!(postcard::from_bytes::<Reason>(bytes).unwrap(), r);
    let old = postcard::to_slice(&Reason::HostDeclinedNumeric(5), &mut buf).unwrap();
    assert_eq!(old, &[0x05, 0x05]);
}

#[test]
fn offline_pin_messages_match_protocol_md() {
    let mut buf = [0u8; 16];
    // Response 9, then the 8 bytes of the block as they are (no length).
    let block = PinBlock::format2("1234").unwrap();
    assert_eq!(block.0, [0x24, 0x12, 0x34, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
    // ISO 9564-1's format 0 example: PIN 1234, card 4111111111111111 -> PAN field
    // 0000 1111 1111 1111, block 04 12 25 EE EE EE EE EE (as the PCI scan expects).
    let clear = block.iso0("4111111111111111").unwrap();
    assert_eq!(clear, [0x04, 0x12, 0x25, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE]);
    assert_eq!(PinBlock::from_iso0(&clear, "4111111111111111"), Some(block));
    assert_eq!(PinBlock::from_iso0(&clear, "5019100000000006"), None);
    let bytes = postcard::to_slice(&Response::VerifyPin(block), &mut buf).unwrap();
    assert_eq!(
        bytes,
        &[0x09, 0x24, 0x12, 0x34, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
    );
    assert_eq!(
        PinBlock::format2("739216123456").unwrap().0,
        [0x2C, 0x73, 0x92, 0x16, 0x12, 0x34, 0x56, 0xFF]
    );
    assert!(PinBlock::format2("123").is_none() && PinBlock::format2("12a4").is_none());
    assert!(block.is_well_formed() && block.is_of("1234") && !block.is_of("1235"));
    assert!(!PinBlock([0x24, 0x12, 0x34, 0xF0, 0xFF, 0xFF, 0xFF, 0xFF]).is_well_formed());
    assert_eq!(format!("{block:?}"), "PinBlock(<redacted>)");
    assert_eq!(
        format!("{:?}", Response::VerifyPin(block)),
        "VerifyPin(PinBlock(<redacted>))"
    );
    // Request 15 (0x0f), then the verdict: 0 verified, 1 wrong + tries left, 2 blocked.
    let v = |p| postcard::to_slice(&Request::CardVerdict(p), &mut [0u8; 4]).map(|b| b.to_vec());
    assert_eq!(v(PinVerdict::Verified).unwrap(), [0x0f, 0x00]);
    assert_eq!(
        v(PinVerdict::Wrong { tries_left: 2 }).unwrap(),
        [0x0f, 0x01, 0x02]
    );
    assert_eq!(v(PinVerdict::Blocked).unwrap(), [0x0f, 0x02]);
    // Awaiting 4, Reasons 31 and 32: appended, earlier indices unchanged.
    let one = |b: &[u8]| b.to_vec();
    assert_eq!(
        one(postcard::to_slice(&Awaiting::CardVerdict, &mut buf).unwrap()),
        [0x04]
    );
    assert_eq!(
        one(postcard::to_slice(&Reason::PinIncorrect, &mut buf).unwrap()),
        [0x1f]
    );
    assert_eq!(
        one(postcard::to_slice(&Reason::PinTriesExceeded, &mut buf).unwrap()),
        [0x20]
    );
    assert_eq!(
        one(postcard::to_slice(&Reason::PinRequired, &mut buf).unwrap()),
        [0x21]
    );
}

#[test]
fn purchase_request_bytes_are_stable() {
    // StartPurchase (variant 4) { amount { minor: 12550 varint = 86 62, currency 208 varint
    // = d0 01 }, forced_offline false = 00 }. PROTOCOL.md documents this example.
    let mut buf = [0u8; 32];
    let req = Request::StartPurchase {
        amount: Amount {
            minor: 12550,
            currency: Currency::DKK,
        },
        forced_offline: false,
    };
    let bytes = postcard::to_slice(&req, &mut buf).unwrap();
    assert_eq!(bytes, &[0x04, 0x86, 0x62, 0xd0, 0x01, 0x00]);
    let back: Request = postcard::from_bytes(bytes).unwrap();
    assert_eq!(back, req);
}

/// A payload is one message and nothing else: a Ping with a byte after it is malformed,
/// not a Ping (a terminal answers it Rejected(Malformed); the harness retries nothing and
/// reports a bad response).
#[test]
fn trailing_bytes_after_a_payload_are_malformed() {
    assert_eq!(
        from_payload::<Request>(&[0x01, 0x05]),
        Ok(Request::Ping { nonce: 5 })
    );
    assert!(from_payload::<Request>(&[0x01, 0x05, 0x00]).is_err());
    assert!(from_payload::<Response>(&[0x01, 0x05, 0xFF]).is_err());
    assert!(from_payload::<Event>(&[0x00, 0x01, 0x00]).is_err());
    assert!(from_payload::<Request>(&[0x01]).is_err(), "truncated");
}

/// No string the harness sends is longer than its documented limit, so a terminal
/// without an allocator can size its buffers: a request with a longer one is refused.
#[test]
fn strings_over_their_limit_are_named() {
    let note = |id: &'static str, account: &'static str, code: &'static str| {
        Request::EnterReserveDetails(ReserveDetails {
            attendant_present: true,
            id_type: IdType::Passport,
            id_reference: id,
            note_account: account,
            phone_auth_code: code,
        })
    };
    let at = "x".repeat(32).leak();
    let over = "x".repeat(33).leak();
    assert_eq!(note(at, "12345678903", "AB1234").over_limit(), None);
    assert_eq!(note(over, "1", "").over_limit(), Some("id_reference"));
    assert_eq!(note("1", over, "").over_limit(), Some("note_account"));
    assert_eq!(
        note("1", "1", &over[..17]).over_limit(),
        Some("phone_auth_code")
    );
    assert_eq!(
        Request::EnterPin(PinText(&over[..13])).over_limit(),
        Some("pin")
    );
    assert_eq!(Request::EnterPin(PinText(&over[..12])).over_limit(), None);
    let card = |pan: &'static str, account: &'static str| {
        Request::PresentCard(CardData {
            entry_mode: EntryMode::Chip,
            network: Network::Dankort,
            pan: PanText(pan),
            expiry: Expiry {
                year: 2030,
                month: 1,
            },
            pan_seq: 1,
            account,
        })
    };
    assert_eq!(card("5019100000000006", "").over_limit(), None);
    assert_eq!(card("50191000000000060000", "").over_limit(), Some("pan"));
    assert_eq!(
        card("5019100000000006", &over[..21]).over_limit(),
        Some("account")
    );
}

/// Protocol 2: settlement totals keep each currency of a network apart (protocol 1 added a NOK
/// purchase to a DKK one), and a full set of batches or a count past `u32` is an error, never a
/// wrap.
#[test]
fn settlement_totals_keep_currencies_apart() {
    let mut t = SettlementTotals::default();
    let dkk = Amount {
        minor: 100_00,
        currency: Currency::DKK,
    };
    let nok = Amount {
        minor: 50_00,
        currency: Currency(578),
    };
    t.add(Network::Visa, dkk, false).unwrap();
    t.add(Network::Visa, nok, false).unwrap();
    t.add(Network::Visa, dkk, true).unwrap();
    let visa_dkk = t.batch(Network::Visa, Currency::DKK).unwrap();
    assert_eq!(
        (visa_dkk.count, visa_dkk.minor, visa_dkk.refund_count),
        (1, 100_00, 1)
    );
    assert_eq!(t.batch(Network::Visa, Currency(578)).unwrap().minor, 50_00);
    for c in 1..=6 {
        t.add(
            Network::Mastercard,
            Amount {
                minor: 1,
                currency: Currency(c),
            },
            false,
        )
        .unwrap();
    }
    assert_eq!(
        t.add(
            Network::Mastercard,
            Amount {
                minor: 1,
                currency: Currency(7)
            },
            false
        ),
        Err(BatchesFull),
        "a ninth batch"
    );
    let mut big = SettlementTotals::default();
    big.add(
        Network::Dankort,
        Amount {
            minor: u64::MAX,
            currency: Currency::DKK,
        },
        false,
    )
    .unwrap();
    assert_eq!(
        big.add(
            Network::Dankort,
            Amount {
                minor: 1,
                currency: Currency::DKK
            },
            false
        ),
        Err(BatchesFull)
    );
    assert_eq!(
        big.batch(Network::Dankort, Currency::DKK).unwrap().count,
        1,
        "unchanged"
    );
}
