use super::*;
use payhil_cards::Pan;
use payhil_protocol::Currency;

fn pan() -> MaskedPan {
    Pan::parse("5019100000000006").unwrap().masked()
}

fn answered(seq: u32, offline: bool) -> Answered {
    Answered {
        seq,
        kind: TxnKind::Purchase,
        offline,
        amount: Amount {
            minor: 100,
            currency: Currency::DKK,
        },
        pan: pan(),
        network: Network::Dankort,
        entry: EntryMode::Chip,
        at: 1_800_000_000,
    }
}

fn booked(a: &Answered) -> Booked {
    Booked {
        seq: a.seq,
        kind: a.kind,
        offline: a.offline,
        amount: a.amount,
        pan: a.pan.clone(),
        network: a.network,
        entry: a.entry,
        local_time: a.at,
        approved: true,
        reversed: false,
    }
}

fn ledger(items: &[Answered]) -> Ledger {
    let mut l = Ledger::default();
    for a in items {
        l.approved(a.clone());
    }
    l
}

#[test]
fn pbs_02_every_approval_once_in_the_books() {
    let items = [answered(1, false), answered(2, true), answered(3, true)];
    let l = ledger(&items);
    let all: Vec<Booked> = items.iter().map(booked).collect();
    let r = exactly_once(&l, &all, &[], Phase::Drained);
    assert!(r.ok(), "{r:?}");
    assert_eq!(r.recovered, 2);
    let r = exactly_once(&l, &all[..2], &[], Phase::Drained);
    assert_eq!(r.lost, 1, "{r:?}");
    let r = exactly_once(&l, &all[..2], &[], Phase::Running);
    assert!(r.ok(), "an offline item may still be queued mid-run: {r:?}");
    let r = exactly_once(&l, &all[1..], &[], Phase::Running);
    assert_eq!(r.lost, 1, "an online approval is in the books at once");
}

/// Issue 8: a terminal that loses one approval while holding one stored reversal passed,
/// because the terminal's pending count excused the missing item. The ledger takes no
/// count from the terminal at all.
#[test]
fn pbs_02_a_lost_approval_is_lost_whatever_the_terminal_reports() {
    let items = [answered(1, true), answered(2, true)];
    let l = ledger(&items);
    let r = exactly_once(&l, &[booked(&items[0])], &[], Phase::Drained);
    assert_eq!((r.lost, r.findings.len()), (1, 1), "{r:?}");
}

#[test]
fn each_booked_field_is_compared() {
    let a = answered(1, true);
    let l = ledger(std::slice::from_ref(&a));
    let mut visa = booked(&a);
    visa.network = Network::Visa;
    let mut later = booked(&a);
    later.local_time += 86_400;
    let mut other_card = booked(&a);
    other_card.pan = Pan::parse("4571000000000001").unwrap().masked();
    let mut nok = booked(&a);
    nok.amount.currency = Currency::NOK;
    let mut swiped = booked(&a);
    swiped.entry = EntryMode::Magstripe;
    for (b, what) in [
        (visa, "network"),
        (later, "dated"),
        (other_card, "card"),
        (nok, "amount"),
        (swiped, "entry mode"),
    ] {
        let r = exactly_once(&l, &[b], &[], Phase::Drained);
        assert!(r.findings.iter().any(|f| f.contains(what)), "{what}: {r:?}");
    }
}

#[test]
fn unexpected_and_reversed_items_are_findings() {
    let a = answered(1, false);
    let mut l = ledger(std::slice::from_ref(&a));
    let stranger = booked(&answered(9, true));
    let r = exactly_once(&l, &[booked(&a), stranger.clone()], &[], Phase::Drained);
    assert_eq!(r.unexpected, 1);
    l.reversed(1);
    let r = exactly_once(&l, &[booked(&a)], &[], Phase::Drained);
    assert!(
        r.findings[0].contains("after the terminal reversed it"),
        "{r:?}"
    );
    // Mid-run (after a power cycle, say) the reversal may still be queued at the terminal.
    assert!(exactly_once(&l, &[booked(&a)], &[], Phase::Running).ok());
    let mut gone = booked(&a);
    gone.reversed = true;
    assert!(exactly_once(&l, &[gone], &[], Phase::Drained).ok());
}

#[test]
fn host_declined_offline_items_are_not_lost_but_online_ones_are_findings() {
    let off = answered(1, true);
    let on = answered(2, false);
    let l = ledger(&[off.clone(), on.clone()]);
    let mut b1 = booked(&off);
    b1.approved = false;
    let mut b2 = booked(&on);
    b2.approved = false;
    let r = exactly_once(&l, &[b1, b2], &[], Phase::Drained);
    assert_eq!(r.host_declined, 1);
    assert_eq!(r.findings.len(), 1, "{r:?}");
}

#[test]
fn an_advice_sent_again_on_a_clean_link_is_a_duplicate() {
    let a = answered(1, true);
    let l = ledger(std::slice::from_ref(&a));
    let d = |epoch, faulty| Delivery {
        seq: 1,
        advice: true,
        epoch,
        faulty,
    };
    let books = [booked(&a)];
    let r = exactly_once(&l, &books, &[d(1, false), d(1, false)], Phase::Drained);
    assert_eq!(r.duplicated, 1, "{r:?}");
    assert!(exactly_once(&l, &books, &[d(1, false), d(2, false)], Phase::Drained).ok());
    assert!(exactly_once(&l, &books, &[d(1, true), d(1, true)], Phase::Drained).ok());
}

/// Issue 10: a purchase interrupted by a power cut may be in the books once or not at all;
/// a second item like it is unexpected (never twice).
#[test]
fn pbs_02_an_interrupted_purchase_is_booked_at_most_once() {
    let mut l = Ledger::default();
    let a = answered(7, true);
    l.interrupted(Interrupted {
        kind: a.kind,
        amount: a.amount,
        pan: a.pan.clone(),
        network: a.network,
        entry: a.entry,
        at: a.at,
        answer_lost: false,
    });
    assert!(exactly_once(&l, &[], &[], Phase::Drained).ok());
    let r = exactly_once(&l, &[booked(&a)], &[], Phase::Drained);
    assert!(r.ok(), "{r:?}");
    assert_eq!(r.interrupted_booked, 1);
    let twice = [booked(&a), booked(&answered(8, true))];
    let r = exactly_once(&l, &twice, &[], Phase::Drained);
    assert_eq!(r.unexpected, 1, "{r:?}");
    let mut other = booked(&a);
    other.amount.minor += 1;
    let r = exactly_once(&l, &[other], &[], Phase::Drained);
    assert_eq!(
        r.unexpected, 1,
        "another amount is not the interrupted one: {r:?}"
    );
}

/// PBS-03/maybe-sent: an online authorisation whose answer a power cut kept from the
/// terminal must be reversed; settled, it is a finding. Reversed, or never approved, it is
/// not.
#[test]
fn pbs_03_an_authorisation_the_terminal_never_heard_back_on_must_not_settle() {
    let a = answered(3, false);
    let mut l = Ledger::default();
    l.interrupted(Interrupted {
        kind: a.kind,
        amount: a.amount,
        pan: a.pan.clone(),
        network: a.network,
        entry: a.entry,
        at: a.at,
        answer_lost: true,
    });
    let r = exactly_once(&l, &[booked(&a)], &[], Phase::Drained);
    assert!(r.findings.iter().any(|f| f.starts_with("PBS-03")), "{r:?}");
    let r = exactly_once(&l, &[booked(&a)], &[], Phase::Running);
    assert!(r.ok(), "mid-run the reversal may still be queued: {r:?}");
    let mut reversed = booked(&a);
    reversed.reversed = true;
    assert!(exactly_once(&l, &[reversed], &[], Phase::Drained).ok());
    assert!(exactly_once(&l, &[], &[], Phase::Drained).ok());
}

#[test]
fn a_sequence_number_used_twice_is_a_finding() {
    let mut l = Ledger::default();
    l.approved(answered(1, true));
    l.approved(answered(1, false));
    let r = exactly_once(&l, &[], &[], Phase::Running);
    assert!(r.findings[0].contains("answered twice"), "{r:?}");
}
