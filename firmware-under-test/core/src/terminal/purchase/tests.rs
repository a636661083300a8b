extern crate std;
use super::super::test_support::*;
use std::vec;

#[test]
fn card_02_contactless_above_the_cvm_limit_asks_for_the_pin() {
    let mut mem = vec![0xFFu8; 16 * 4096];
    let mut t = boot(&mut mem);
    let tap = card(DANKORT, Network::Dankort, EntryMode::Contactless);
    assert_eq!(
        start(&mut t, dkk(350_00), tap, None),
        None,
        "below the limit: straight to the host"
    );
    t.host_result(Ok(HostResponse::AuthResult {
        txn_seq: 2,
        response_code: response_code::APPROVED,
        auth_code: "1",
    }));
    assert_eq!(
        start(&mut t, dkk(350_01), tap, None),
        Some(Response::Accepted {
            awaiting: Awaiting::Pin
        })
    );
}

#[test]
fn card_03_valid_through_the_last_day_of_the_expiry_month() {
    let mut mem = vec![0xFFu8; 16 * 4096];
    let mut t = boot(&mut mem);
    let mut c = card(DANKORT, Network::Dankort, EntryMode::Chip);
    c.expiry = Expiry {
        year: 2027,
        month: 2,
    };
    t.handle(&Request::SetClock {
        unix_s: 1_803_859_199,
    }); // 2027-02-28T23:59:59Z
    assert_eq!(start(&mut t, dkk(100), c, Some("1234")), None);
    t.host_result(Ok(HostResponse::AuthResult {
        txn_seq: 2,
        response_code: response_code::APPROVED,
        auth_code: "1",
    }));
    t.handle(&Request::SetClock {
        unix_s: 1_803_859_200,
    }); // 2027-03-01T00:00:00Z
    assert_eq!(
        outcome(start(&mut t, dkk(100), c, Some("1234"))),
        (Outcome::Declined, Reason::CardExpired)
    );
}

#[test]
fn support_03_unreadable_chip_then_fallback_only_online() {
    let mut mem = vec![0xFFu8; 16 * 4096];
    let mut t = boot(&mut mem);
    t.handle(&Request::StartPurchase {
        amount: dkk(100_00),
        forced_offline: false,
    });
    assert!(matches!(
        t.handle(&Request::ChipUnreadable),
        Step::Reply(Response::Accepted {
            awaiting: Awaiting::Card
        })
    ));
    t.handle(&Request::PresentCard(card(
        DANKORT,
        Network::Dankort,
        EntryMode::Magstripe,
    )));
    assert!(matches!(
        t.handle(&Request::EnterPin(PinText("1234"))),
        Step::Host(_)
    ));
    let Step::Reply(Response::Done(r)) = no_host(&mut t, HostUnreachable::NotSent) else {
        panic!()
    };
    assert_eq!(
        (r.outcome, r.reason),
        (Outcome::Declined, Reason::FallbackOnlineOnly)
    );
}

#[test]
fn bax_02_reserve_payment_prints_a_debit_note_and_is_stored() {
    let mut mem = vec![0xFFu8; 16 * 4096];
    let mut t = boot(&mut mem);
    reserve_until_details(&mut t, 300_00);
    let note = ReserveDetails {
        attendant_present: true,
        id_type: IdType::DriversLicence,
        id_reference: "12345678901",
        note_account: ACCOUNT,
        phone_auth_code: "",
    };
    let Step::Reply(Response::Done(r)) = t.handle(&Request::EnterReserveDetails(note)) else {
        panic!()
    };
    assert_eq!(r.outcome, Outcome::ApprovedOffline);
    for want in [
        "DEBIT NOTE",
        "DRIVING LICENCE",
        "12345678901",
        ACCOUNT,
        "NOK 300.00",
        "SIGNATURE",
        "700000******0005",
    ] {
        assert!(
            r.receipt.contains(want),
            "{want} missing from\n{}",
            r.receipt
        );
    }
    assert!(!r.receipt.contains("2030"), "BAX-05: no expiry on the note");
    let Step::Reply(Response::Queue(q)) = t.handle(&Request::QueueStatus) else {
        panic!()
    };
    assert_eq!(q.pending, 1);
    // BAX-10: two weeks later the item is overdue.
    t.handle(&Request::SetClock {
        unix_s: 1_800_000_000 + i64::from(TWO_WEEKS_S) + 1,
    });
    let Step::Reply(Response::Queue(q)) = t.handle(&Request::QueueStatus) else {
        panic!()
    };
    assert_eq!(q.overdue, 1);
}

#[test]
fn bax_07_a_failed_note_check_reverses_the_payment() {
    let mut mem = vec![0xFFu8; 16 * 4096];
    let mut t = boot(&mut mem);
    reserve_until_details(&mut t, 3_000_00);
    let note = ReserveDetails {
        attendant_present: true,
        id_type: IdType::Passport,
        id_reference: "12345678",
        note_account: ACCOUNT,
        phone_auth_code: "",
    };
    let Step::Reply(Response::Done(r)) = t.handle(&Request::EnterReserveDetails(note)) else {
        panic!()
    };
    assert_eq!(
        (r.outcome, r.reason),
        (Outcome::Declined, Reason::ReserveAuthCodeRequired)
    );
    let Step::Reply(Response::Queue(q)) = t.handle(&Request::QueueStatus) else {
        panic!()
    };
    assert_eq!(q.pending, 0, "nothing stored");
}

#[test]
fn card_01_a_co_badged_card_is_paid_on_the_chosen_network() {
    let mut mem = vec![0xFFu8; 16 * 4096];
    let mut t = boot(&mut mem);
    let mut c = card("4571100000000009", Network::Visa, EntryMode::Chip);
    assert!(start(&mut t, dkk(100_00), c, Some("1234")).is_none());
    let (_, _, receipt) = approve(&mut t, 2);
    assert!(receipt.contains("VISA"), "{receipt}");
    c.network = Network::Dankort;
    assert!(start(&mut t, dkk(100_00), c, Some("1234")).is_none());
    let (_, _, receipt) = approve(&mut t, 3);
    assert!(receipt.contains("DANKORT"), "{receipt}");
    let tot = totals(&mut t);
    assert_eq!(
        (
            batch(&tot, Network::Visa).count,
            batch(&tot, Network::Dankort).count
        ),
        (1, 1),
        "batches kept apart (CARD-09)"
    );
}

#[test]
fn card_04_gambling_daily_maximum_counts_the_days_purchases() {
    let mut mem = vec![0xFFu8; 16 * 4096];
    let mut c = cfg();
    c.limits.gambling_daily_max_minor = Some(1_000_00);
    let mut t = boot_with(c, &mut mem);
    let k = card(DANKORT, Network::Dankort, EntryMode::Chip);
    assert!(start(&mut t, dkk(600_00), k, Some("1234")).is_none());
    assert_eq!(approve(&mut t, 2).0, Outcome::ApprovedOnline);
    assert_eq!(
        outcome(start(&mut t, dkk(400_01), k, Some("1234"))),
        (Outcome::Declined, Reason::GamblingDailyLimit)
    );
    assert!(
        start(&mut t, dkk(400_00), k, Some("1234")).is_none(),
        "exactly at the maximum"
    );
    assert_eq!(approve(&mut t, 4).0, Outcome::ApprovedOnline);
    // The next day the card may play again.
    t.handle(&Request::AdvanceClock { secs: 86_400 });
    assert!(start(&mut t, dkk(900_00), k, Some("1234")).is_none());
}

#[test]
fn a_card_number_failing_luhn_is_unreadable_card_data() {
    let mut mem = vec![0xFFu8; 16 * 4096];
    let mut t = boot(&mut mem);
    let bad = card("5019100000000007", Network::Dankort, EntryMode::Chip);
    assert_eq!(
        outcome(start(&mut t, dkk(100), bad, None)),
        (Outcome::Aborted, Reason::CardDataInvalid)
    );
}

#[test]
fn issue_9_an_unknown_host_code_is_a_decline_showing_the_code_never_offline() {
    let mut mem = vec![0xFFu8; 16 * 4096];
    let mut t = boot(&mut mem);
    for code in [b"N7", b"05", b"94", b"Z1"] {
        let (outcome, reason, receipt) = declined_by(&mut t, code);
        let text = core::str::from_utf8(code).unwrap();
        assert_eq!(
            (outcome, reason),
            (
                Outcome::Declined,
                Reason::HostDeclined(payhil_protocol::host_link::ResponseCode(*code))
            ),
            "{text}"
        );
        assert!(
            receipt.contains(&std::format!("RESPONSE CODE {text}")),
            "{receipt}"
        );
    }
    let Step::Reply(Response::Queue(q)) = t.handle(&Request::QueueStatus) else {
        panic!()
    };
    assert_eq!(q.pending, 0, "no offline approval, nothing to reverse");
    // The code is journaled with the decline (SUPPORT-02).
    let mut reasons = std::vec::Vec::new();
    t.journal
        .for_each(|f| reasons.push(f.record.reason))
        .unwrap();
    assert!(reasons.contains(&Reason::HostDeclined(
        payhil_protocol::host_link::ResponseCode(*b"N7")
    )));
}

#[test]
fn issue_9_a_conditional_approval_is_declined_and_reversed() {
    let mut mem = vec![0xFFu8; 16 * 4096];
    let mut t = boot(&mut mem);
    let (outcome, reason, _) = declined_by(&mut t, b"10");
    assert_eq!(outcome, Outcome::Declined);
    assert_eq!(
        reason,
        Reason::HostDeclined(payhil_protocol::host_link::ResponseCode(*b"10"))
    );
    t.handle(&Request::ForwardQueue);
    let Step::Host(HostRequest::Advice(d)) =
        t.host_result(Ok(HostResponse::BlockList { pans: PanList("") }))
    else {
        panic!()
    };
    assert_eq!((d.kind, d.related_seq), (TxnKind::Reversal, 2));
}

#[test]
fn card_10_a_host_answer_blocked_lost_or_stolen_blocks_the_card_offline() {
    for code in [b"62", b"41", b"43"] {
        let text = core::str::from_utf8(code).unwrap();
        let mut mem = vec![0xFFu8; 16 * 4096];
        let mut t = boot(&mut mem);
        let (o, _, _) = declined_by(&mut t, code);
        assert_eq!(o, Outcome::Declined, "{text}");
        // The host is down: the card is not approved offline, before or after a power cycle.
        let (o, r, _) = offline_purchase(&mut t, 100_00);
        assert_eq!((o, r), (Outcome::Declined, Reason::CardBlocked), "{text}");
        let mut t = boot(&mut mem);
        let (o, r, _) = offline_purchase(&mut t, 100_00);
        assert_eq!(
            (o, r),
            (Outcome::Declined, Reason::CardBlocked),
            "{text}, after a power cycle"
        );
        // Another card is not affected.
        let other = card("4571100000000009", Network::Dankort, EntryMode::Chip);
        assert!(start(&mut t, dkk(100_00), other, Some("1234")).is_none());
        let Step::Reply(Response::Done(d)) = no_host(&mut t, HostUnreachable::NotSent) else {
            panic!()
        };
        assert_eq!(d.outcome, Outcome::ApprovedOffline, "{text}");
        // PCI-02: the learned card is kept, but not readably.
        let digits = DANKORT.as_bytes();
        assert!(!mem.windows(digits.len()).any(|w| w == digits));
    }
}

#[test]
fn card_10_a_learned_block_holds_for_forced_offline_too() {
    let mut mem = vec![0xFFu8; 16 * 4096];
    let mut t = boot(&mut mem);
    declined_by(&mut t, b"43");
    t.handle(&Request::StartPurchase {
        amount: dkk(100_00),
        forced_offline: true,
    });
    t.handle(&Request::PresentCard(card(
        DANKORT,
        Network::Dankort,
        EntryMode::Chip,
    )));
    let Step::Reply(Response::Done(d)) = t.handle(&Request::EnterPin(PinText("1234"))) else {
        panic!()
    };
    assert_eq!(
        (d.outcome, d.reason),
        (Outcome::Declined, Reason::CardBlocked)
    );
}

#[test]
fn card_10_an_online_approval_lifts_a_learned_block() {
    let mut mem = vec![0xFFu8; 16 * 4096];
    let mut t = boot(&mut mem);
    declined_by(&mut t, b"62");
    // The issuer lifted the block: the host approves the card again.
    let c = card(DANKORT, Network::Dankort, EntryMode::Chip);
    assert!(start(&mut t, dkk(100_00), c, Some("1234")).is_none());
    let seq = t.journal.next_seq() - 1;
    assert_eq!(approve(&mut t, seq).0, Outcome::ApprovedOnline);
    let mut t = boot(&mut mem);
    assert_eq!(offline_purchase(&mut t, 100_00).0, Outcome::ApprovedOffline);
}

/// Issue 9: offline, the card verifies the PIN (EMV plaintext PIN, format 2 block). A wrong PIN
/// is declined PinIncorrect, a blocked one PinTriesExceeded, each receipt says so, and "PIN
/// VERIFIED" is printed only after the card verified it: never for a PIN nobody checked.
#[test]
fn issue_9_offline_the_card_verifies_the_pin() {
    let mut mem = vec![0xFFu8; 16 * 4096];
    let mut t = boot(&mut mem);
    let chip = card(DANKORT, Network::Dankort, EntryMode::Chip);
    // Returns the verdict's outcome, reason and receipt for `pin` after the host did not answer.
    let offline = |t: &mut T<'_>, pin: &'static str, verdict: PinVerdict| {
        assert!(start(t, dkk(100_00), chip, Some(pin)).is_none());
        let Step::Reply(Response::VerifyPin(block)) = t.host_result(Err(HostUnreachable::NotSent))
        else {
            panic!("offline with a PIN: the card is asked")
        };
        assert_eq!(block, PinBlock::format2(pin).unwrap());
        assert_eq!(t.awaiting(), Awaiting::CardVerdict);
        match t.handle(&Request::CardVerdict(verdict)) {
            Step::Reply(Response::Done(d)) => {
                (d.outcome, d.reason, std::string::String::from(d.receipt))
            }
            other => panic!("{other:?}"),
        }
    };
    let (o, r, receipt) = offline(&mut t, "4321", PinVerdict::Wrong { tries_left: 2 });
    assert_eq!((o, r), (Outcome::Declined, Reason::PinIncorrect));
    assert!(receipt.contains("INCORRECT PIN") && !receipt.contains("PIN VERIFIED"));
    let (o, r, receipt) = offline(&mut t, "1234", PinVerdict::Blocked);
    assert_eq!((o, r), (Outcome::Declined, Reason::PinTriesExceeded));
    assert!(receipt.contains("PIN TRIES EXCEEDED") && !receipt.contains("PIN VERIFIED"));
    let (o, r, receipt) = offline(&mut t, "1234", PinVerdict::Verified);
    assert_eq!((o, r), (Outcome::ApprovedOffline, Reason::Approved));
    assert!(receipt.contains("PIN VERIFIED"), "{receipt}");
    // A verdict nobody asked for is refused.
    assert!(matches!(
        t.handle(&Request::CardVerdict(PinVerdict::Verified)),
        Step::Reply(Response::Rejected(RequestError::WrongState {
            awaiting: Awaiting::Nothing
        }))
    ));
    // Online, the issuer verifies the PIN: "PIN VERIFIED" once it approves, its own reasons
    // for 55 and 75 (and no "PIN VERIFIED" on a decline).
    let (o, _, receipt) = declined_by(&mut t, b"00");
    assert_eq!(o, Outcome::ApprovedOnline);
    assert!(receipt.contains("PIN VERIFIED"), "{receipt}");
    let (o, r, receipt) = declined_by(&mut t, b"55");
    assert_eq!((o, r), (Outcome::Declined, Reason::PinIncorrect));
    assert!(receipt.contains("INCORRECT PIN") && !receipt.contains("PIN VERIFIED"));
    let (o, r, receipt) = declined_by(&mut t, b"75");
    assert_eq!((o, r), (Outcome::Declined, Reason::PinTriesExceeded));
    assert!(receipt.contains("PIN TRIES EXCEEDED"), "{receipt}");
}

/// Issue 9: online, DE 52 carries the ISO 9564 format 0 block of the PIN entered, encrypted
/// with 2-key TDES under the documented test PIN key; without a PIN there is none.
#[test]
fn issue_9_online_the_pin_goes_encrypted_in_de_52() {
    use des::cipher::{BlockDecrypt, KeyInit};
    let mut mem = vec![0xFFu8; 16 * 4096];
    let mut t = boot(&mut mem);
    let sent = |t: &mut T<'_>, entry: EntryMode, minor: u64, pin: Option<&str>| {
        t.handle(&Request::StartPurchase {
            amount: dkk(minor),
            forced_offline: false,
        });
        let mut step = t.handle(&Request::PresentCard(card(
            DANKORT,
            Network::Dankort,
            entry,
        )));
        if let Some(p) = pin {
            step = t.handle(&Request::EnterPin(PinText(p)));
        }
        let Step::Host(HostRequest::Authorise(d)) = step else {
            panic!("{step:?}")
        };
        let block = d.pin_block;
        let seq = d.txn_seq;
        t.host_result(Ok(HostResponse::AuthResult {
            txn_seq: seq,
            response_code: response_code::APPROVED,
            auth_code: "1",
        }));
        block
    };
    let block = sent(&mut t, EntryMode::Chip, 100_00, Some("1234")).expect("DE 52");
    let mut b = block.0.into();
    des::TdesEde2::new(&payhil_protocol::host_link::TEST_PIN_KEY.into()).decrypt_block(&mut b);
    let clear: [u8; 8] = b.into();
    // PIN field 04 12 34 FF FF FF FF FF XOR PAN field 00 00 91 00 00 00 00 00 (the 12 digits
    // of 5019100000000006 before its check digit: 910000000000).
    assert_eq!(clear, [0x04, 0x12, 0xA5, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
    assert_eq!(
        PinBlock::from_iso0(&clear, DANKORT),
        PinBlock::format2("1234")
    );
    assert_eq!(
        sent(&mut t, EntryMode::Chip, 100_00, Some("")),
        None,
        "bypass"
    );
    assert_eq!(
        sent(&mut t, EntryMode::Contactless, 10_00, None),
        None,
        "no prompt"
    );
}

/// BAX-09 caps reserve payments: a stored reversal (a request that went unanswered, then a
/// decline on the note) is no reserve payment and must not use up the cap. Before, it did, and
/// scenario bax/reserve_boundaries failed whenever the first request after the cut was written
/// to the cut connection (the model, from the rules, counts reserve payments only).
#[test]
fn bax_09_a_stored_reversal_does_not_count_towards_the_reserve_cap() {
    let mut mem = vec![0xFFu8; 16 * 4096];
    let mut c = cfg();
    c.limits.reserve.aggregate_cap_minor = Some(5_000_00);
    let mut t = boot_with(c, &mut mem);
    let nok = |minor| Amount {
        minor,
        currency: Currency::NOK,
    };
    let bax = card(BANKAXEPT, Network::BankAxept, EntryMode::Chip);
    let note = |code: &'static str| ReserveDetails {
        attendant_present: true,
        id_type: IdType::Passport,
        id_reference: "12345678",
        note_account: ACCOUNT,
        phone_auth_code: code,
    };
    // The request may have reached the host: declined on the note, a reversal is stored.
    assert!(start(&mut t, nok(2_500_01), bax, Some("1234")).is_none());
    assert!(matches!(
        no_host(&mut t, HostUnreachable::NoAnswer),
        Step::Reply(Response::Accepted {
            awaiting: Awaiting::ReserveDetails
        })
    ));
    let Step::Reply(Response::Done(r)) = t.handle(&Request::EnterReserveDetails(note(""))) else {
        panic!()
    };
    assert_eq!(r.reason, Reason::ReserveAuthCodeRequired);
    let Step::Reply(Response::Queue(q)) = t.handle(&Request::QueueStatus) else {
        panic!()
    };
    assert_eq!(q.pending, 1, "the reversal is stored");
    // 2,500.00 more stays within the 5,000.00 cap: the reversal is not a reserve payment.
    reserve_until_details(&mut t, 2_500_00);
    let Step::Reply(Response::Done(r)) = t.handle(&Request::EnterReserveDetails(note(""))) else {
        panic!()
    };
    assert_eq!(
        (r.outcome, r.reason),
        (Outcome::ApprovedOffline, Reason::Approved)
    );
}

/// CARD-02: above the CVM limit a contactless payment needs the PIN; a skipped PIN (bypass)
/// is declined PinRequired, with the reason on the receipt, and nothing goes to the host.
#[test]
fn card_02_a_skipped_pin_above_the_cvm_limit_is_declined() {
    let mut mem = vec![0xFFu8; 16 * 4096];
    let mut t = boot(&mut mem);
    let tap = card(DANKORT, Network::Dankort, EntryMode::Contactless);
    t.handle(&Request::StartPurchase {
        amount: dkk(350_01),
        forced_offline: false,
    });
    assert!(matches!(
        t.handle(&Request::PresentCard(tap)),
        Step::Reply(Response::Accepted {
            awaiting: Awaiting::Pin
        })
    ));
    let Step::Reply(Response::Done(d)) = t.handle(&Request::EnterPin(PinText(""))) else {
        panic!("declined at once, not sent to the host")
    };
    assert_eq!(
        (d.outcome, d.reason),
        (Outcome::Declined, Reason::PinRequired)
    );
    assert!(d.receipt.contains("PIN REQUIRED"), "{}", d.receipt);
}
