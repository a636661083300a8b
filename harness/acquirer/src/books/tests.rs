use super::*;
use payhil_protocol::{Currency, PanText};

fn data(seq: u32, pan: &'static str) -> TxnData<'static> {
    TxnData {
        terminal_id: "T1",
        merchant_id: "M1",
        txn_seq: seq,
        pan: PanText(pan),
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
        local_time: 1_772_446_500,
        pin_verified: true,
        auth_code: "Y3",
        kind: TxnKind::Purchase,
        related_seq: 0,
        repeat: false,
        pin_block: None,
    }
}

#[test]
fn pbs_02_a_replayed_advice_is_acknowledged_and_settled_once() {
    let mut b = Books::default();
    let d = data(7, "5019100000000006");
    for _ in 0..3 {
        assert_eq!(
            b.handle(&HostRequest::Advice(d)).message(),
            HostResponse::AdviceAck {
                txn_seq: 7,
                response_code: rc::APPROVED
            }
        );
    }
    assert_eq!(b.advice_deliveries.len(), 3);
    assert_eq!(b.settled().count(), 1);
    let file = b.settlement_file();
    assert!(file.contains("501910******0006"), "{file}");
    assert!(!file.contains("5019100000000006"), "PCI-01: {file}");
}

/// The settlement file shows authorisation codes only: an offline item carries the host's
/// own code, never the terminal's offline marker (Y1/Y3, EMV tag 8A) or reserve marker (R).
/// A phone authorisation code the issuer gave for a reserve payment is kept.
#[test]
fn offline_items_settle_with_the_hosts_code_not_a_terminal_marker() {
    let mut b = Books::default();
    for (seq, marker) in [(7, "Y3"), (8, "Y1"), (9, "R"), (10, "AB1234")] {
        let mut d = data(seq, "5019100000000006");
        d.auth_code = marker;
        b.handle(&HostRequest::Advice(d));
    }
    let file = b.settlement_file();
    for marker in ["AUTH Y3", "AUTH Y1", "AUTH R "] {
        assert!(!file.contains(marker), "{marker}: {file}");
    }
    for seq in [7, 8, 9] {
        assert!(
            file.contains(&format!("AUTH {}", auth_code(seq))),
            "{seq}: {file}"
        );
    }
    assert!(file.contains("AUTH AB1234"), "{file}");
}

#[test]
fn a_configured_code_replaces_the_issuers_answer_for_that_card_only() {
    let mut b = Books::default();
    let pan = Pan::parse("5019100000000006").unwrap();
    b.answer_card_with(&pan, ResponseCode(*b"N7"));
    let reply = b.handle(&HostRequest::Authorise(data(1, "5019100000000006")));
    assert_eq!(reply.response_code(), Some(ResponseCode(*b"N7")));
    assert_eq!(
        b.handle(&HostRequest::Authorise(data(2, "5019100000000014")))
            .response_code(),
        Some(rc::APPROVED),
        "other cards keep their issuer"
    );
    let item = &b.items[&("T1".to_string(), 1)];
    assert!(!item.response_code.is_approved(), "declined, not settled");
    assert_eq!(b.settled().count(), 1);
    // The code reaches the wire as the two characters.
    let mut f = payhil_protocol::iso8583::mapping::Fields::new();
    let mut out = [0u8; payhil_protocol::iso8583::mapping::MAX_WIRE];
    let wire = payhil_protocol::iso8583::mapping::encode_response(
        &reply.message(),
        &payhil_protocol::iso8583::Message::new(200),
        &mut f,
        &mut out,
    )
    .unwrap();
    assert!(wire.windows(2).any(|w| w == b"N7"));
}

#[test]
fn issuer_behaviours_decline_with_their_codes() {
    let mut b = Books::default();
    assert_eq!(
        b.handle(&HostRequest::Authorise(data(1, "5019100000000022")))
            .response_code(),
        Some(ResponseCode(*b"51"))
    );
    assert_eq!(
        b.handle(&HostRequest::Authorise(data(2, "5019100000000030")))
            .response_code(),
        Some(ResponseCode(*b"62"))
    );
    assert_eq!(b.settled().count(), 0);
    let Reply::Txn { auth_code, .. } =
        b.handle(&HostRequest::Authorise(data(3, "5019100000000014")))
    else {
        panic!("an authorisation gets a transaction reply")
    };
    assert_eq!(auth_code.len(), 6);
    assert_eq!(b.settled().count(), 1);
    let list = b.handle(&HostRequest::FetchBlockList { terminal_id: "T1" });
    assert_eq!(list, Reply::BlockList("5019100000000030".into()));
}

#[test]
fn card_06_pbs_03_captures_reversals_and_refunds_settle_as_they_should() {
    let mut b = Books::default();
    let mut pre = data(1, "5019100000000006");
    pre.kind = TxnKind::PreAuthorisation;
    pre.amount.minor = 500_00;
    assert_eq!(
        b.handle(&HostRequest::Authorise(pre)).response_code(),
        Some(ResponseCode(*b"00"))
    );
    let mut cap = data(2, "5019100000000006");
    cap.kind = TxnKind::Capture;
    cap.related_seq = 1;
    cap.amount.minor = 500_01;
    assert_eq!(
        b.handle(&HostRequest::Authorise(cap)).response_code(),
        Some(ResponseCode(*b"13")),
        "over the approved amount"
    );
    cap.txn_seq = 3;
    cap.amount.minor = 400_00;
    assert_eq!(
        b.handle(&HostRequest::Authorise(cap)).response_code(),
        Some(ResponseCode(*b"00"))
    );
    cap.txn_seq = 4;
    assert_eq!(
        b.handle(&HostRequest::Authorise(cap)).response_code(),
        Some(rc::DUPLICATE),
        "captured once"
    );
    let buy = data(5, "5019100000000006");
    b.handle(&HostRequest::Authorise(buy));
    let mut rev = data(6, "5019100000000006");
    rev.kind = TxnKind::Reversal;
    rev.related_seq = 5;
    assert_eq!(
        b.handle(&HostRequest::Advice(rev)).response_code(),
        Some(ResponseCode(*b"00"))
    );
    let mut refund = data(7, "5019100000000006");
    refund.kind = TxnKind::Refund;
    b.handle(&HostRequest::Authorise(refund));
    let settled: Vec<(u32, TxnKind)> = b.settled().map(|s| (s.seq, s.txn)).collect();
    assert_eq!(settled, vec![(3, TxnKind::Capture), (7, TxnKind::Refund)]);
    let file = b.settlement_file();
    assert!(
        file.contains("REFUNDS DANKORT COUNT 1 DKK -125.50"),
        "{file}"
    );
}

fn dkk(minor: u64) -> Amount {
    Amount {
        minor,
        currency: Currency::DKK,
    }
}

/// A DKK and a NOK purchase are two totals: a terminal that adds them into one figure (or
/// books the NOK one as DKK) is out of balance, and one that keeps them apart is in.
#[test]
fn reconciliation_is_per_currency() {
    let mut b = Books::default();
    b.handle(&HostRequest::Authorise(data(1, "5019100000000006")));
    let mut nok = data(2, "5019100000000006");
    nok.amount = Amount {
        minor: 100_00,
        currency: Currency::NOK,
    };
    b.handle(&HostRequest::Authorise(nok));
    let mut apart = ReconcileTotals::default();
    apart.add(nok.amount, false).unwrap();
    apart.add(dkk(125_50), false).unwrap();
    assert!(
        b.reconcile("T1", &apart),
        "the order of currencies does not matter"
    );
    let mut summed = ReconcileTotals::default();
    summed.add(dkk(125_50 + 100_00), false).unwrap();
    summed.add(dkk(0), false).unwrap();
    assert!(!b.reconcile("T1", &summed), "one figure across currencies");
    let mut only_dkk = ReconcileTotals::default();
    only_dkk.add(dkk(125_50), false).unwrap();
    assert!(!b.reconcile("T1", &only_dkk), "a currency missing");
}

#[test]
fn reconciliation_compares_the_terminals_totals_with_the_books() {
    let mut b = Books::default();
    b.handle(&HostRequest::Authorise(data(1, "5019100000000006")));
    let mut refund = data(2, "5019100000000006");
    refund.kind = TxnKind::Refund;
    b.handle(&HostRequest::Authorise(refund));
    let mut right = ReconcileTotals::default();
    right.add(dkk(125_50), false).unwrap();
    right.add(dkk(125_50), true).unwrap();
    assert!(b.reconcile("T1", &right));
    let mut off = ReconcileTotals::default();
    off.add(dkk(125_51), false).unwrap();
    off.add(dkk(125_50), true).unwrap();
    assert!(!b.reconcile("T1", &off), "one øre off");
    assert!(!b.reconcile("T2", &right), "another terminal's books");
    let reply = b.handle(&HostRequest::Reconcile {
        terminal_id: "T1",
        totals: right,
    });
    assert_eq!(
        reply.message(),
        HostResponse::ReconcileResult { in_balance: true }
    );
}

/// Issue 9: the issuer decrypts DE 52 with the test PIN key and compares it with the
/// card's PIN: 55 for a wrong one (a try used), 75 once none are left, whatever the PIN; the
/// right one resets the counter. A repeat of one transaction is answered as booked.
#[test]
fn issue_9_the_issuer_verifies_the_online_pin_and_counts_the_tries() {
    use des::cipher::BlockEncrypt;
    let pan = "5019100000000006";
    let encrypt = |pin: &str| {
        let clear = PinBlock::format2(pin).unwrap().iso0(pan).unwrap();
        let mut b = clear.into();
        TdesEde2::new(&TEST_PIN_KEY.into()).encrypt_block(&mut b);
        Some(EncryptedPinBlock(b.into()))
    };
    let mut books = Books::default();
    let mut answer = |seq: u32, pin: &str| {
        let mut d = data(seq, pan);
        d.pin_block = encrypt(pin);
        match books.handle(&HostRequest::Authorise(d)) {
            Reply::Txn { response_code, .. } => response_code,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(answer(1, "1111"), rc::INCORRECT_PIN);
    assert_eq!(
        answer(1, "739216"),
        rc::INCORRECT_PIN,
        "a repeat: as booked"
    );
    assert_eq!(answer(2, "739216"), rc::APPROVED);
    for seq in 3..6 {
        assert_eq!(answer(seq, "1111"), rc::INCORRECT_PIN);
    }
    assert_eq!(answer(6, "739216"), rc::PIN_TRIES_EXCEEDED);
    // Without DE 52 (no PIN entered) the issuer decides as before.
    let mut d = data(7, "5019100000000014");
    d.pin_block = None;
    assert!(matches!(
        books.handle(&HostRequest::Authorise(d)),
        Reply::Txn {
            response_code: rc::APPROVED,
            ..
        }
    ));
}
