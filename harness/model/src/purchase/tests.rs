use super::*;
use payhil_cards::catalogue::by_name;

fn input(card: &str, minor: u64, entry: EntryMode) -> PurchaseInput {
    let card = by_name(card).unwrap().clone();
    PurchaseInput {
        amount: Amount {
            minor,
            currency: Currency::DKK,
        },
        network: card.networks[0],
        pin: Some(card.pin.clone()),
        card,
        entry_mode: entry,
        forced_offline: false,
        kind: TxnKind::Purchase,
        fallback: false,
        note: None,
    }
}

#[test]
fn nets_04_cumulative_card_limit_counts_only_unforwarded_items() {
    let mut m = Model::new(ModelConfig::default());
    m.set_clock(1_800_000_000);
    m.set_network(false);
    let p = input("dankort", 1_500_00, EntryMode::Chip);
    for _ in 0..13 {
        assert_eq!(
            m.predict(&p),
            Prediction::exact(Outcome::ApprovedOffline, Reason::Approved)
        );
        m.observe(&p, Outcome::ApprovedOffline, Reason::Approved, 0);
        // Beyond the split window, so each purchase stands alone (PBS-05).
        m.advance_clock(11 * 60);
    }
    // 13 x 1,500 = 19,500; another 1,500 would pass 20,000.
    assert_eq!(
        m.predict(&p),
        Prediction::exact(Outcome::Declined, Reason::OfflineCardLimit)
    );
    m.set_network(true);
    m.forwarding_opportunity();
    m.set_network(false);
    assert_eq!(
        m.predict(&p),
        Prediction::exact(Outcome::ApprovedOffline, Reason::Approved)
    );
}

/// Issue 8: the model had no queue capacity, so a terminal that correctly refused the
/// payment after its queue was full failed the run.
#[test]
fn nets_01_a_full_queue_refuses_offline_payments() {
    let mut m = Model::new(ModelConfig::default());
    m.set_queue_capacity(2);
    m.set_clock(1_800_000_000);
    m.set_network(false);
    for card in ["dankort", "visa_dankort", "dankort"] {
        let mut p = input(card, 100_00, EntryMode::Chip);
        p.network = Network::Dankort;
        m.advance_clock(11 * 60);
        if m.queue_bounds().0 < 2 {
            assert_eq!(
                m.predict(&p),
                Prediction::exact(Outcome::ApprovedOffline, Reason::Approved)
            );
            m.observe(
                &p,
                Outcome::ApprovedOffline,
                Reason::Approved,
                m.queue_bounds().0 + 1,
            );
        } else {
            assert_eq!(
                m.predict(&p),
                Prediction::exact(Outcome::Declined, Reason::OfflineQueueFull)
            );
        }
    }
}

/// Issue 8: the terminal's queue report is checked by amount too, not only by count.
#[test]
fn the_pending_amount_is_bounded_by_the_models_items() {
    let mut m = Model::new(ModelConfig::default());
    m.set_clock(1_800_000_000);
    m.set_network(false);
    let p = input("dankort", 125_50, EntryMode::Chip);
    m.observe(&p, Outcome::ApprovedOffline, Reason::Approved, 7);
    assert_eq!(m.queue_amount_bounds(), (125_50, 125_50));
    m.set_network(true);
    assert_eq!(
        m.queue_amount_bounds(),
        (0, 125_50),
        "may have been forwarded"
    );
}

/// Issue 8: the runner emptied the model's queue whenever the terminal said it was empty.
#[test]
fn a_queue_reported_empty_keeps_what_the_host_does_not_have() {
    let mut m = Model::new(ModelConfig::default());
    m.set_clock(1_800_000_000);
    m.set_network(false);
    let p = input("dankort", 100_00, EntryMode::Chip);
    m.observe(&p, Outcome::ApprovedOffline, Reason::Approved, 7);
    m.advance_clock(11 * 60);
    m.observe(&p, Outcome::ApprovedOffline, Reason::Approved, 8);
    m.set_network(true);
    m.queue_reported_empty(|seq| seq == 7);
    assert_eq!(m.queue_bounds(), (1, 1), "#8 never reached the host");
}

/// Issue 8: the model repeated the firmware's check order, so a terminal that checks the
/// rules in another order failed although it broke none. The rules name no order: a payment
/// that breaks several may be refused for any of them.
#[test]
fn a_payment_breaking_several_rules_may_be_refused_for_any_of_them() {
    let mut m = Model::new(ModelConfig::default());
    m.set_network(false);
    let mut p = input("dankort", 2_000_00, EntryMode::Contactless);
    p.pin = None;
    // CARD-02 too: contactless above the CVM limit without the PIN (issue 9 step 3).
    let want = Prediction::declined_for_any(&[
        Reason::PinRequired,
        Reason::OfflineContactlessNotAllowed,
        Reason::OfflinePinRequired,
        Reason::OfflineAmountLimit,
    ]);
    assert_eq!(m.predict(&p), want);
    for r in want.outcomes() {
        assert!(m.predict(&p).allows(r.0, r.1));
    }
    assert!(
        !m.predict(&p)
            .allows(Outcome::Declined, Reason::OfflineCardLimit)
    );
}

/// CARD-02: below the CVM limit the terminal may ask for the PIN, or not.
#[test]
fn card_02_below_the_cvm_limit_the_pin_is_the_terminals_choice() {
    let m = Model::new(ModelConfig::default());
    let below = input("dankort", 350_00, EntryMode::Contactless);
    let above = input("dankort", 350_01, EntryMode::Contactless);
    assert!(m.pin_prompt(&below).allows(true) && m.pin_prompt(&below).allows(false));
    assert!(m.pin_prompt(&above).allows(true) && !m.pin_prompt(&above).allows(false));
}

/// CARD-04/daily-total (rules/catalogue.toml): a reversed purchase is not charged, so it
/// does not count toward the gambling maximum; a capture does.
#[test]
fn card_04_a_reversed_purchase_does_not_count_toward_the_daily_maximum() {
    let mut m = Model::new(ModelConfig {
        gambling_daily_max_minor: Some(1_000_00),
        ..ModelConfig::default()
    });
    m.set_clock(1_800_000_000);
    let p = input("dankort", 800_00, EntryMode::Chip);
    m.observe(&p, Outcome::ApprovedOnline, Reason::Approved, 1);
    assert_eq!(
        m.predict(&p),
        Prediction::exact(Outcome::Declined, Reason::GamblingDailyLimit)
    );
    let f = FollowUp {
        kind: TxnKind::Reversal,
        of: 1,
        seq: 2,
        amount: p.amount,
        pan: &p.card.pan,
        network: Network::Dankort,
    };
    m.observe_follow_up(&f, Outcome::ApprovedOnline);
    assert_eq!(
        m.predict(&p),
        Prediction::exact(Outcome::ApprovedOnline, Reason::Approved)
    );
}

/// Found under load: right after a cut, the terminal's first request may go out on the
/// connection the proxy had just closed; the terminal cannot know the host did not get it
/// and rightly stores a reversal of what it then declines (PBS-03). The model allows it for
/// that first request only.
#[test]
fn pbs_03_the_first_request_after_a_cut_may_leave_a_stored_reversal() {
    let mut m = Model::new(ModelConfig::default());
    m.set_clock(1_800_000_000);
    m.set_network(false);
    let p = input("dankort", 100_00, EntryMode::Contactless);
    m.observe(&p, Outcome::Declined, Reason::Approved, 1);
    assert_eq!(m.queue_bounds(), (0, 1), "maybe a stored reversal");
    m.observe(&p, Outcome::Declined, Reason::Approved, 2);
    assert_eq!(
        m.queue_bounds(),
        (0, 1),
        "only the first request after the cut"
    );
}

#[test]
fn nets_07_contactless_is_never_offline() {
    let mut m = Model::new(ModelConfig::default());
    m.set_network(false);
    let p = input("dankort", 100, EntryMode::Contactless);
    assert_eq!(
        m.predict(&p),
        Prediction::exact(Outcome::Declined, Reason::OfflineContactlessNotAllowed)
    );
}

/// Issue 9: offline, the card verifies the PIN. A wrong PIN is declined PinIncorrect and
/// uses one of the card's three tries; with none left even the right PIN is declined
/// PinTriesExceeded; no PIN at all stays NETS-08's OfflinePinRequired.
#[test]
fn issue_9_offline_the_card_verifies_the_pin_and_counts_the_tries() {
    let mut m = Model::new(ModelConfig::default());
    m.set_clock(1_800_000_000);
    m.set_network(false);
    let right = input("dankort", 100_00, EntryMode::Chip);
    let mut wrong = right.clone();
    wrong.pin = Pin::parse("0000");
    let mut bypass = right.clone();
    bypass.pin = None;
    let declined = |r| Prediction::exact(Outcome::Declined, r);
    assert_eq!(m.predict(&bypass), declined(Reason::OfflinePinRequired));
    m.observe(&bypass, Outcome::Declined, Reason::OfflinePinRequired, 1);
    // A wrong PIN, then the right one: the counter is reset.
    assert_eq!(m.predict(&wrong), declined(Reason::PinIncorrect));
    m.observe(&wrong, Outcome::Declined, Reason::PinIncorrect, 2);
    assert_eq!(
        m.predict(&right),
        Prediction::exact(Outcome::ApprovedOffline, Reason::Approved)
    );
    m.observe(&right, Outcome::ApprovedOffline, Reason::Approved, 3);
    for seq in 4..7 {
        assert_eq!(m.predict(&wrong), declined(Reason::PinIncorrect));
        m.observe(&wrong, Outcome::Declined, Reason::PinIncorrect, seq);
    }
    assert_eq!(m.predict(&right), declined(Reason::PinTriesExceeded));
    // Online the card is not asked: the issuer checks the PIN (DE 52) with its own counter,
    // which the card's blocked PIN does not touch.
    m.set_network(true);
    assert_eq!(
        m.predict(&right),
        Prediction::exact(Outcome::ApprovedOnline, Reason::Approved)
    );
    m.observe(&right, Outcome::ApprovedOnline, Reason::Approved, 7);
    for seq in 8..11 {
        assert_eq!(m.predict(&wrong), declined(Reason::PinIncorrect));
        m.observe(&wrong, Outcome::Declined, Reason::PinIncorrect, seq);
    }
    assert_eq!(m.predict(&right), declined(Reason::PinTriesExceeded));
    // A refund asks no PIN: the issuer decides as ever.
    let mut refund = wrong.clone();
    refund.kind = TxnKind::Refund;
    assert_eq!(
        m.predict(&refund),
        Prediction::exact(Outcome::ApprovedOnline, Reason::Approved)
    );
}

/// CARD-02: contactless above the CVM limit with the PIN skipped is declined PinRequired,
/// online or not; at the limit no PIN is needed, and a chip card's bypass goes online.
#[test]
fn card_02_a_skipped_pin_above_the_cvm_limit_is_declined() {
    let m = Model::new(ModelConfig::default());
    let cvm = ModelConfig::default().cvm_limit_minor;
    let mut above = input("dankort", cvm + 1, EntryMode::Contactless);
    above.pin = None;
    assert_eq!(
        m.predict(&above),
        Prediction::exact(Outcome::Declined, Reason::PinRequired)
    );
    let mut at = input("dankort", cvm, EntryMode::Contactless);
    at.pin = None;
    assert_eq!(
        m.predict(&at),
        Prediction::exact(Outcome::ApprovedOnline, Reason::Approved)
    );
    let mut chip = input("dankort", cvm + 1, EntryMode::Chip);
    chip.pin = None;
    assert_eq!(
        m.predict(&chip),
        Prediction::exact(Outcome::ApprovedOnline, Reason::Approved)
    );
}

/// Found by the terminal_vs_model fuzzer: after a cut that may have left nothing queued, the
/// model took its maybe-item for a certain one, so the reversal the next cut left was not
/// "first" and did not start the retry interval; with the restart taken for a chance to
/// forward at once, one second later the model wanted the queue empty.
#[test]
fn pbs_03_an_item_after_a_maybe_empty_queue_starts_the_retry_interval() {
    let mut m = Model::new(ModelConfig::default());
    m.set_clock(1_800_000_000);
    let p = input("dankort", 19_41, EntryMode::Chip);
    for _ in 0..2 {
        m.power_lost();
        m.restarted();
        m.interrupted(&p);
    }
    m.advance_clock(1);
    assert_eq!(m.queue_bounds().0, 0);
    assert!(m.queue_bounds().1 >= 1, "the reversal may not be due yet");
    m.advance_clock(59);
    assert_eq!(
        m.queue_bounds(),
        (0, 0),
        "one interval later it must be forwarded"
    );
}

/// A terminal's timers do not survive a power cut: after the restart it may forward at once,
/// and must once one retry interval has passed since it came up.
#[test]
fn nets_01_a_restart_restarts_the_retry_interval() {
    let mut m = Model::new(ModelConfig::default());
    m.set_clock(1_800_000_000);
    m.set_network(false);
    let p = input("dankort", 100_00, EntryMode::Chip);
    m.observe(&p, Outcome::ApprovedOffline, Reason::Approved, 1);
    m.advance_clock(3_600);
    m.power_lost();
    m.restarted();
    m.set_network(true);
    m.advance_clock(1);
    assert_eq!(m.queue_bounds(), (0, 1), "it may forward at once, or wait");
    m.advance_clock(59);
    assert_eq!(m.queue_bounds(), (0, 0));
}

/// The same fuzz finding, minimised: the reversal a terminal stores for a request the link
/// swallowed is the first item of its queue and starts the retry interval like any other.
#[test]
fn pbs_03_a_stored_reversal_of_an_unanswered_request_starts_the_retry_interval() {
    let mut m = Model::new(ModelConfig::default());
    m.set_clock(1_800_000_000);
    m.set_blackhole();
    let p = input("dankort", 2_700_01, EntryMode::Chip);
    m.observe(&p, Outcome::Declined, Reason::CommunicationFailure, 1);
    assert_eq!(m.queue_bounds(), (1, 1), "a reversal is stored");
    m.set_network(true);
    m.advance_clock(1);
    assert_eq!(
        m.queue_bounds(),
        (0, 1),
        "not due yet, though it may go at once"
    );
    m.advance_clock(59);
    assert_eq!(m.queue_bounds(), (0, 0));
}

/// Found by the terminal_vs_model fuzzer: with the clock set back, a reversal stored now
/// started the model's retry interval at the earlier clock, so a clock step that was still
/// before the first item's deadline counted as a forwarding round the terminal owed.
#[test]
fn nets_01_a_clock_set_back_does_not_bring_the_retry_deadline_forward() {
    let mut m = Model::new(ModelConfig::default());
    m.set_clock(1_800_000_000);
    let mut p = input("dankort", 100_00, EntryMode::Chip);
    p.forced_offline = true;
    m.observe(&p, Outcome::ApprovedOffline, Reason::Approved, 2);
    m.observe(&p, Outcome::ApprovedOffline, Reason::Approved, 3);
    m.set_clock(1_800_000_000 - 12_843);
    let reversal = FollowUp {
        kind: TxnKind::Reversal,
        of: 3,
        seq: 4,
        amount: p.amount,
        pan: &p.card.pan,
        network: p.network,
    };
    m.observe_follow_up(&reversal, Outcome::ApprovedOffline);
    m.advance_clock(8_856);
    assert_eq!(m.queue_bounds().0, 0);
    assert!(
        m.queue_bounds().1 >= 1,
        "the first item's interval has not passed"
    );
}

/// PBS-03/finite-journal: a follow-up of a transaction more than the bench's window of events
/// old may be refused as NoSuchTransaction; a younger one, or a queued one, may not.
#[test]
fn pbs_03_a_follow_up_may_find_an_old_original_forgotten() {
    let mut m = Model::new(ModelConfig {
        follow_up_window: Some(2),
        ..ModelConfig::default()
    });
    m.set_clock(1_800_000_000);
    let p = input("visa", 36_53, EntryMode::Chip);
    m.observe(&p, Outcome::ApprovedOnline, Reason::Approved, 2);
    let forgotten = (Outcome::Aborted, Reason::NoSuchTransaction);
    m.restarted();
    m.restarted();
    assert!(!m.predict_reversal(Some(2)).0.contains(&forgotten));
    m.restarted();
    assert!(m.predict_reversal(Some(2)).0.contains(&forgotten));
    assert!(
        m.predict_reversal(Some(2))
            .allows(Outcome::ApprovedOnline, Reason::Approved)
    );
    // Never with the window unset (the PTY runner).
    let mut strict = Model::new(ModelConfig::default());
    strict.observe(&p, Outcome::ApprovedOnline, Reason::Approved, 2);
    for _ in 0..100 {
        strict.restarted();
    }
    assert!(!strict.predict_reversal(Some(2)).0.contains(&forgotten));
}
