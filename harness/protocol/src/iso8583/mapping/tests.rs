extern crate std;
use super::*;

/// The value of primitive tag `tag` in BER-TLV `icc` (short lengths are all this
/// mapping wrote before issue 9; the helper reads long ones too).
fn tlv_value<'b>(icc: &'b [u8], tag: &[u8]) -> Option<&'b [u8]> {
    let mut i = 0;
    while i < icc.len() {
        let mut t = i + 1;
        if icc[i] & 0x1F == 0x1F {
            while icc.get(t)? & 0x80 != 0 {
                t += 1;
            }
            t += 1;
        }
        let (len, v) = match *icc.get(t)? {
            n if n < 0x80 => (usize::from(n), t + 1),
            0x81 => (usize::from(*icc.get(t + 1)?), t + 2),
            0x82 => (
                usize::from(u16::from_be_bytes([*icc.get(t + 1)?, *icc.get(t + 2)?])),
                t + 3,
            ),
            _ => return None,
        };
        if &icc[i..t] == tag {
            return icc.get(v..v + len);
        }
        i = v + len;
    }
    None
}

fn data() -> TxnData<'static> {
    TxnData {
        terminal_id: "TERM0001",
        merchant_id: "100200300",
        txn_seq: 1234567,
        pan: PanText("5019100000000006"),
        expiry: Expiry {
            year: 2030,
            month: 12,
        },
        pan_seq: 1,
        network: Network::Dankort,
        entry_mode: EntryMode::Chip,
        amount: Amount {
            minor: 12550,
            currency: Currency::DKK,
        },
        local_time: 1_772_446_500, // 2026-03-02T10:15:00Z
        pin_verified: true,
        auth_code: "",
        kind: TxnKind::Purchase,
        related_seq: 0,
        repeat: false,
        pin_block: None,
    }
}

/// DE 52 carries the online PIN block as its 8 bytes, only when there is one.
#[test]
fn de52_carries_the_encrypted_pin_block_when_a_pin_was_entered() {
    let mut f = Fields::new();
    let mut out = [0u8; MAX_WIRE];
    let mut d = data();
    let wire = encode_request(&HostRequest::Authorise(d), &env(), &mut f, &mut out)
        .unwrap()
        .to_vec();
    assert_eq!(Message::decode(&wire[2..]).unwrap().get(52), None);
    d.pin_block = Some(EncryptedPinBlock([0xA5, 0, 1, 2, 3, 4, 5, 0xFF]));
    let req = HostRequest::Authorise(d);
    let wire = encode_request(&req, &env(), &mut f, &mut out)
        .unwrap()
        .to_vec();
    let m = Message::decode(&wire[2..]).unwrap();
    assert_eq!(m.get(52), Some(&[0xA5, 0, 1, 2, 3, 4, 5, 0xFF][..]));
    // Bit 52 of the primary bitmap: byte 6, mask 0x10.
    assert_eq!(wire[2 + 4 + 6] & 0x10, 0x10);
    assert_eq!(decode_request(&wire[2..]).unwrap(), req);
    assert_eq!(
        std::format!("{:?}", d.pin_block),
        "Some(EncryptedPinBlock(<redacted>))"
    );
}

#[test]
fn an_authorisation_has_the_documented_fields() {
    let mut f = Fields::new();
    let mut out = [0u8; MAX_WIRE];
    let wire = encode_request(&HostRequest::Authorise(data()), &env(), &mut f, &mut out)
        .unwrap()
        .to_vec();
    let m = Message::decode(&wire[2..]).unwrap();
    assert_eq!(m.mti, 200);
    assert_eq!(m.get(12), Some(&b"260302101500"[..]), "DE 12 YYMMDDhhmmss");
    assert_eq!(m.get(22), Some(&b"051"[..]), "chip, PIN capable");
    assert_eq!(m.get(37), Some(&b"000001234567"[..]));
    assert_eq!(m.get(11), Some(&b"234567"[..]));
    assert_eq!(m.get(14), Some(&b"3012"[..]));
    assert_eq!(m.get(49), Some(&b"208"[..]));
    // DE 55 starts with 4F 07 and the Dankort AID, then 9F02 06 000000012550.
    let icc = m.get(55).unwrap();
    assert_eq!(
        &icc[..9],
        &[0x4F, 0x07, 0xA0, 0x00, 0x00, 0x01, 0x21, 0x10, 0x10]
    );
    assert_eq!(
        &icc[9..18],
        &[0x9F, 0x02, 0x06, 0x00, 0x00, 0x00, 0x01, 0x25, 0x50]
    );
    assert_eq!(
        decode_request(&wire[2..]).unwrap(),
        HostRequest::Authorise(data())
    );
}

/// DE 22 position 3 is the terminal's PIN entry capability (ISO 8583:1987: 1 can accept
/// PINs, 2 cannot), the same whether or not this cardholder's PIN was verified; the
/// verification result is EMV tag 9F34 (CVM Results) in DE 55.
#[test]
fn de22_is_pin_capability_and_the_cvm_result_is_in_9f34() {
    let mut f = Fields::new();
    let mut out = [0u8; MAX_WIRE];
    for (verified, online_pin) in [(true, false), (false, false), (false, true)] {
        let mut d = data();
        d.pin_verified = verified;
        if online_pin {
            d.pin_block = Some(crate::host_link::EncryptedPinBlock([0x5A; 8]));
        }
        let req = HostRequest::Authorise(d);
        let wire = encode_request(&req, &env(), &mut f, &mut out)
            .unwrap()
            .to_vec();
        let m = Message::decode(&wire[2..]).unwrap();
        assert_eq!(m.get(22), Some(&b"051"[..]), "PIN verified: {verified}");
        let cvm = tlv_value(m.get(55).unwrap(), &[0x9F, 0x34]).expect("9F34 in DE 55");
        let want: &[u8] = match (verified, online_pin) {
            (true, _) => &[0x01, 0x00, 0x02],
            // Enciphered PIN for the issuer (DE 52): result unknown to the terminal.
            (false, true) => &[0x02, 0x00, 0x00],
            (false, false) => &[0x3F, 0x00, 0x01],
        };
        assert_eq!(cvm, want, "PIN verified: {verified}");
        assert_eq!(decode_request(&wire[2..]).unwrap(), req);
    }
}

fn env() -> Envelope {
    Envelope {
        transmitted_at: 1_772_446_507, // 2026-03-02T10:15:07Z
        stan: 1_000_042,
        cryptogram: None,
    }
}

/// Network management (0800) carries DE 7 (transmission date and time, UTC) and DE 11
/// (its own trace number), as every ISO 8583 host expects of it; so does every request.
#[test]
fn network_management_carries_de7_and_de11() {
    let mut f = Fields::new();
    let mut out = [0u8; MAX_WIRE];
    let req = HostRequest::FetchBlockList {
        terminal_id: "TERM0001",
    };
    let wire = encode_request(&req, &env(), &mut f, &mut out)
        .unwrap()
        .to_vec();
    let m = Message::decode(&wire[2..]).unwrap();
    assert_eq!(m.mti, 800);
    assert_eq!(m.get(7), Some(&b"0302101507"[..]), "DE 7 MMDDhhmmss");
    assert_eq!(m.get(11), Some(&b"000042"[..]), "DE 11 n6");
    assert_eq!(decode_request(&wire[2..]).unwrap(), req);
    let wire = encode_request(&HostRequest::Authorise(data()), &env(), &mut f, &mut out)
        .unwrap()
        .to_vec();
    let m = Message::decode(&wire[2..]).unwrap();
    assert_eq!(m.get(7), Some(&b"0302101507"[..]), "DE 7 on an 0200");
    assert_eq!(
        m.get(11),
        Some(&b"234567"[..]),
        "an 0200's DE 11 is its sequence number"
    );
}

/// Answers echo DE 3, 4, 11 and 41 of their request, and the terminal takes only an
/// answer that does: one whose DE 11 or DE 41 differs answers another request.
#[test]
fn answers_echo_their_request_and_the_terminal_checks_it() {
    let mut f = Fields::new();
    let mut out = [0u8; MAX_WIRE];
    let auth = HostResponse::AuthResult {
        txn_seq: 1234567,
        response_code: response_code::APPROVED,
        auth_code: "123456",
    };
    let block = HostResponse::BlockList {
        pans: PanList("5019100000000030"),
    };
    for (req, resp, echoed) in [
        (
            HostRequest::Authorise(data()),
            auth,
            &[3usize, 4, 11, 41][..],
        ),
        (
            HostRequest::FetchBlockList {
                terminal_id: "TERM0001",
            },
            block,
            &[11, 41][..],
        ),
    ] {
        let wire = encode_request(&req, &env(), &mut f, &mut out)
            .unwrap()
            .to_vec();
        let request = Message::decode(&wire[2..]).unwrap();
        let mut hf = Fields::new();
        let mut hout = [0u8; MAX_WIRE];
        let answer = encode_response(&resp, &request, &mut hf, &mut hout)
            .unwrap()
            .to_vec();
        let m = Message::decode(&answer[2..]).unwrap();
        for de in echoed {
            assert_eq!(m.get(*de), request.get(*de), "DE {de} of {:04}", m.mti);
        }
        assert_eq!(decode_answer(&f, &answer[2..]), Ok(resp));
        // The same answer with another DE 11, then another DE 41: not this request's.
        for (de, other) in [(11usize, &b"999999"[..]), (41, &b"TERM0002"[..])] {
            let mut wrong = m;
            wrong.set(de, other);
            let mut wout = [0u8; MAX_WIRE];
            let w = wrong.encode(&mut wout).unwrap().to_vec();
            assert_eq!(
                decode_answer(&f, &w[2..]),
                Err(Iso8583Error::NotItsAnswer(de as u8)),
                "DE {de} of {:04}",
                m.mti
            );
        }
    }
}

/// DE 38 carries authorisation codes only. An offline approval's marker is where EMV
/// puts it, tag 8A (authorisation response code, "Y1"/"Y3") in DE 55; the reserve
/// marker is DE 60; a code (a phone authorisation, say) stays in DE 38.
#[test]
fn de38_carries_only_authorisation_codes() {
    let mut f = Fields::new();
    let mut out = [0u8; MAX_WIRE];
    for (auth, de38, tag_8a, de60) in [
        ("Y3", None, Some(&b"Y3"[..]), None),
        ("Y1", None, Some(&b"Y1"[..]), None),
        ("R", None, None, Some(&b"R"[..])),
        ("UNRES", None, None, Some(&b"UNRES"[..])),
        ("STORED", None, None, Some(&b"STORED"[..])),
        ("AB1234", Some(&b"AB1234"[..]), None, None),
    ] {
        let mut d = data();
        d.expiry = Expiry { year: 0, month: 0 };
        d.auth_code = auth;
        let req = HostRequest::Advice(d);
        let wire = encode_request(&req, &env(), &mut f, &mut out)
            .unwrap()
            .to_vec();
        let m = Message::decode(&wire[2..]).unwrap();
        assert_eq!(m.get(38), de38, "{auth}: DE 38");
        assert_eq!(tlv_value(m.get(55).unwrap(), &[0x8A]), tag_8a, "{auth}: 8A");
        assert_eq!(m.get(60), de60, "{auth}: DE 60");
        assert_eq!(decode_request(&wire[2..]).unwrap(), req, "{auth}");
    }
}

/// DE 55 carries a cryptogram (9F26, eight bytes), and a message missing a required
/// field or a required DE 55 tag is rejected, not read with a default.
#[test]
fn required_fields_and_the_cryptogram() {
    let mut f = Fields::new();
    let mut out = [0u8; MAX_WIRE];
    let req = HostRequest::Authorise(data());
    let wire = encode_request(&req, &env(), &mut f, &mut out)
        .unwrap()
        .to_vec();
    let m = Message::decode(&wire[2..]).unwrap();
    let icc = m.get(55).unwrap();
    let ac = tlv_value(icc, &[0x9F, 0x26]).expect("9F26 in DE 55");
    assert_eq!(ac.len(), 8);
    assert_eq!(ac, &test_cryptogram(&data())[..], "deterministic");
    let mut other = data();
    other.amount.minor += 1;
    assert_ne!(test_cryptogram(&other), test_cryptogram(&data()));
    for de in [2usize, 3, 4, 7, 11, 12, 22, 23, 37, 41, 42, 49, 55] {
        let mut without = m;
        without.fields[de] = None;
        let mut o = [0u8; MAX_WIRE];
        let w = without.encode(&mut o).unwrap().to_vec();
        assert_eq!(
            decode_request(&w[2..]),
            Err(Iso8583Error::Missing(de as u8)),
            "0200 without DE {de}"
        );
    }
    // DE 55 without 9F26 (the last tag): rejected too.
    let cut = &icc[..icc.len() - 11];
    assert_eq!(&icc[icc.len() - 11..icc.len() - 8], &[0x9F, 0x26, 0x08]);
    let mut without = m;
    without.set(55, cut);
    let mut o = [0u8; MAX_WIRE];
    let w = without.encode(&mut o).unwrap().to_vec();
    assert_eq!(decode_request(&w[2..]), Err(Iso8583Error::Missing(55)));
}

#[test]
fn every_request_kind_roundtrips() {
    let mut f = Fields::new();
    let mut out = [0u8; MAX_WIRE];
    for (kind, advice, repeat, mti) in [
        (TxnKind::Purchase, true, false, 220),
        (TxnKind::Purchase, true, true, 221),
        (TxnKind::Refund, false, false, 200),
        (TxnKind::PreAuthorisation, false, false, 100),
        (TxnKind::Capture, false, false, 200),
        (TxnKind::Reversal, false, false, 400),
        (TxnKind::Reversal, true, false, 420),
    ] {
        let mut d = data();
        d.kind = kind;
        d.repeat = repeat;
        d.related_seq = if matches!(kind, TxnKind::Capture | TxnKind::Reversal) {
            99
        } else {
            0
        };
        if advice {
            d.expiry = Expiry { year: 0, month: 0 };
            d.auth_code = "Y3";
        }
        let req = if advice {
            HostRequest::Advice(d)
        } else {
            HostRequest::Authorise(d)
        };
        let wire = encode_request(&req, &env(), &mut f, &mut out)
            .unwrap()
            .to_vec();
        assert_eq!(request_mti(&wire[2..]), Some(mti), "{kind:?}");
        assert_eq!(decode_request(&wire[2..]).unwrap(), req, "{kind:?}");
    }
    let req = HostRequest::FetchBlockList {
        terminal_id: "TERM0001",
    };
    let wire = encode_request(&req, &env(), &mut f, &mut out)
        .unwrap()
        .to_vec();
    assert_eq!(decode_request(&wire[2..]).unwrap(), req);
}

#[test]
fn responses_roundtrip() {
    let mut f = Fields::new();
    let mut out = [0u8; MAX_WIRE];
    for (resp, mti) in [
        (
            HostResponse::AuthResult {
                txn_seq: 7,
                response_code: response_code::APPROVED,
                auth_code: "123456",
            },
            200,
        ),
        (
            HostResponse::AuthResult {
                txn_seq: 7,
                response_code: ResponseCode(*b"51"),
                auth_code: "",
            },
            100,
        ),
        (
            HostResponse::AdviceAck {
                txn_seq: 9,
                response_code: ResponseCode(*b"N7"),
            },
            220,
        ),
        (
            HostResponse::BlockList {
                pans: PanList("5019100000000030"),
            },
            800,
        ),
        (HostResponse::ReconcileResult { in_balance: true }, 500),
        (HostResponse::ReconcileResult { in_balance: false }, 500),
    ] {
        let wire = encode_response(&resp, &Message::new(mti), &mut f, &mut out)
            .unwrap()
            .to_vec();
        assert_eq!(request_mti(&wire[2..]), Some(mti + 10));
        assert_eq!(decode_response(&wire[2..]).unwrap(), resp);
    }
    for (mti, answer) in [(221, 230), (421, 430), (420, 430), (100, 110), (800, 810)] {
        assert_eq!(response_mti(mti), answer, "the answer to {mti:04}");
    }
}

/// DE 39 is an2: a host may answer any two letters or digits, and the terminal must
/// understand every answer (issue 9): "N7" is an answer, not a malformed message.
#[test]
fn an_alphanumeric_response_code_is_an_answer() {
    for (mti, code) in [(210u16, b"N7"), (110, b"A1"), (230, b"Z9"), (430, b"05")] {
        let mut m = Message::new(mti);
        m.set(37, b"000000000007").set(39, code);
        let mut out = [0u8; 64];
        let wire = m.encode(&mut out).unwrap().to_vec();
        let resp = decode_response(&wire[2..]);
        let text = std::format!("{resp:?}");
        let want = core::str::from_utf8(code).unwrap();
        assert!(
            resp.is_ok() && text.contains(want),
            "{mti:04} with DE 39 {want}: {text}"
        );
    }
    // Not an2: a message no host may send.
    let mut m = Message::new(210);
    m.set(37, b"000000000007").set(39, b"N ");
    let mut out = [0u8; 64];
    let wire = m.encode(&mut out).unwrap().to_vec();
    assert!(decode_response(&wire[2..]).is_err());
}

fn dkk(minor: u64) -> Amount {
    Amount {
        minor,
        currency: Currency::DKK,
    }
}

/// DKK and NOK totals are two totals, never one figure: DE 63 carries one group per
/// currency and the 1987 fields, which have room for one currency only, are left out.
#[test]
fn reconciliation_never_adds_currencies() {
    let mut f = Fields::new();
    let mut out = [0u8; MAX_WIRE];
    let mut totals = ReconcileTotals::default();
    totals.add(dkk(100_00), false).unwrap();
    totals
        .add(
            Amount {
                minor: 50_00,
                currency: Currency::NOK,
            },
            false,
        )
        .unwrap();
    totals.add(dkk(25_00), true).unwrap();
    assert_eq!(totals.get(Currency::DKK).unwrap().debits_minor, 100_00);
    assert_eq!(totals.get(Currency::NOK).unwrap().debits_minor, 50_00);
    let req = HostRequest::Reconcile {
        terminal_id: "TERM0001",
        totals,
    };
    let wire = encode_request(&req, &env(), &mut f, &mut out)
        .unwrap()
        .to_vec();
    let m = Message::decode(&wire[2..]).unwrap();
    for de in [50, 74, 76, 86, 88] {
        assert_eq!(m.get(de), None, "DE {de} with two currencies");
    }
    let mut de63 = std::vec::Vec::new();
    de63.extend_from_slice(b"208000000000100000000010000000000002500");
    de63.extend_from_slice(b"0000000000010000");
    de63.extend_from_slice(b"578000000000000000000010000000000000000");
    de63.extend_from_slice(b"0000000000005000");
    assert_eq!(m.get(63), Some(de63.as_slice()));
    assert_eq!(m.get(15), Some(&b"0302"[..]));
    assert_eq!(decode_request(&wire[2..]).unwrap(), req);
    // A currency named twice, or a missing DE 15, is no reconciliation.
    let mut twice = m;
    let both = [&de63[..55], &de63[..55]].concat();
    twice.set(63, &both);
    let mut o = [0u8; MAX_WIRE];
    let w = twice.encode(&mut o).unwrap().to_vec();
    assert!(decode_request(&w[2..]).is_err());
    let mut undated = m;
    undated.fields[15] = None;
    let w = undated.encode(&mut o).unwrap().to_vec();
    assert!(decode_request(&w[2..]).is_err());
}

#[test]
fn reconciliation_carries_counts_and_amounts() {
    let mut f = Fields::new();
    let mut out = [0u8; MAX_WIRE];
    let mut totals = ReconcileTotals::default();
    for minor in [100_00, 200_00, 80_00] {
        totals.add(dkk(minor), false).unwrap();
    }
    totals.add(dkk(80_00), true).unwrap();
    let req = HostRequest::Reconcile {
        terminal_id: "TERM0001",
        totals,
    };
    let wire = encode_request(&req, &env(), &mut f, &mut out)
        .unwrap()
        .to_vec();
    assert_eq!(request_mti(&wire[2..]), Some(500));
    let m = Message::decode(&wire[2..]).unwrap();
    assert_eq!(m.get(15), Some(&b"0302"[..]), "DE 15 settlement date MMDD");
    assert_eq!(m.get(50), Some(&b"208"[..]), "DE 50: the one currency");
    assert_eq!(m.get(76), Some(&b"0000000003"[..]), "DE 76 debits, number");
    assert_eq!(
        m.get(88),
        Some(&b"0000000000038000"[..]),
        "DE 88 debits, amount"
    );
    assert_eq!(m.get(74), Some(&b"0000000001"[..]), "DE 74 credits, number");
    assert_eq!(decode_request(&wire[2..]).unwrap(), req);
}
