//! Tests of the format: every error names its file, line and column.

use super::*;

fn parse(text: &str) -> Result<Scenario, ScenarioError> {
    parse_str(Path::new("t.toml"), text)
}

const OK: &str = r#"
name = "x"
rules = ["NETS-01"]
[[step]]
set_clock = 2026-03-02T10:15:00Z
[[step]]
purchase = { amount = "125.5 DKK", card = "dankort" }
expect = { outcome = "approved_offline", reason = "approved" }
"#;

#[test]
fn a_valid_scenario_parses_with_exact_amounts() {
    let s = parse(OK).unwrap();
    assert_eq!(s.steps.len(), 2);
    let Action::SetClock(t) = s.steps[0].action else {
        panic!()
    };
    assert_eq!(t, 1_772_446_500);
    let Action::Purchase(p, Some(e)) = &s.steps[1].action else {
        panic!()
    };
    assert_eq!(p.amount.minor, 12_550);
    assert_eq!(p.pin.as_ref().map(Pin::reveal), Some("739216"));
    assert_eq!(e.outcome, Outcome::ApprovedOffline);
    assert_eq!(s.steps[1].line, 7);
}

#[test]
fn errors_name_line_and_column() {
    let e = parse(&OK.replace("\"dankort\"", "\"dankort_x\"")).unwrap_err();
    assert_eq!((e.line, e.column), (7, 43), "{e}");
    assert!(
        e.to_string()
            .starts_with("t.toml:7:43: unknown card `dankort_x`"),
        "{e}"
    );

    let e = parse(&OK.replace("NETS-01", "NETS-99")).unwrap_err();
    assert_eq!((e.line, e.column), (3, 10), "{e}");

    let e = parse(&OK.replace("125.5 DKK", "125.505 DKK")).unwrap_err();
    assert!(e.message.contains("more decimals"), "{e}");

    let e = parse(&OK.replace("set_clock =", "set_clok =")).unwrap_err();
    assert_eq!(e.line, 5, "{e}");

    let e = parse("name = \"x\"\nrules = [\"NETS-01\"\n").unwrap_err();
    assert_eq!(e.line, 2, "{e}");

    let e = parse(&format!("{OK}network = \"sideways\"\n")).unwrap_err();
    assert_eq!(e.line, 9, "{e}");

    // Too many seconds to count in milliseconds: an error, not an overflow.
    let e = parse(&OK.replace(
        "rules = [\"NETS-01\"]",
        "rules = [\"NETS-01\"]\nterminal = { host_timeout = \"18446744073709552s\" }",
    ))
    .unwrap_err();
    assert!(e.message.contains("whole number of ms or s"), "{e}");
}

/// A scenario of `n` steps after the clock is set: `advance_clock` and a purchase in turn.
fn long_scenario(n: usize) -> String {
    let mut text = String::from(
        "name = \"long\"\nrules = [\"NETS-01\"]\n[[step]]\nset_clock = 2026-03-02T10:15:00Z\n",
    );
    for i in 0..n {
        if i % 2 == 0 {
            text.push_str("[[step]]\nadvance_clock = \"1m\"\n");
        } else {
            text.push_str("[[step]]\npurchase = { amount = \"12.50 DKK\", card = \"dankort\" }\nexpect = { outcome = \"approved_offline\" }\n");
        }
    }
    text
}

#[test]
fn a_100_000_step_scenario_parses_with_the_right_lines() {
    // Each step's line used to be found by scanning the file from its start, so this took
    // minutes; it must stay linear. Only correctness is asserted: timing is measured by hand.
    let text = long_scenario(99_999);
    let s = parse(&text).unwrap();
    assert_eq!(s.steps.len(), 100_000);
    // Lines: 4 for the header and the clock step, then 2 per advance and 3 per purchase;
    // a step's line is its action's, the second of its block.
    let last = &s.steps[99_999];
    assert!(matches!(last.action, Action::AdvanceClock(60)));
    assert_eq!(last.index, 100_000);
    assert_eq!(last.line, 4 + 49_999 * 2 + 49_999 * 3 + 2);
    let Action::Purchase(p, Some(_)) = &s.steps[99_998].action else {
        panic!("step 99,999 is a purchase")
    };
    assert_eq!(p.amount.minor, 12_50);
    assert_eq!(s.steps[99_998].line, 4 + 49_999 * 2 + 49_998 * 3 + 2);

    // An error at the very end is still reported at its line and column.
    let bad = format!("{text}[[step]]\nadvance_clock = \"1 fortnight\"\n");
    let e = parse(&bad).unwrap_err();
    assert_eq!((e.line, e.column), (last.line + 2, 17), "{e}");
}

#[test]
fn columns_count_characters_not_bytes() {
    // Non-ASCII text before the bad value on the same line (the BankAxept note is checked
    // after the amount, so the amount is what is reported).
    let line = "purchase = { reserve = { id_type = \"passport\", id_reference = \"ÆØÅ-kø\", account = \"1\" }, card = \"dankort\", amount = \"12,50 DKK\" }";
    let text = OK.replace(
        "purchase = { amount = \"125.5 DKK\", card = \"dankort\" }",
        line,
    );
    let at = line.find("\"12,50 DKK\"").unwrap();
    let e = parse(&text).unwrap_err();
    assert!(e.message.contains("amount `12,50 DKK`"), "{e}");
    assert_eq!(
        (e.line, e.column),
        (7, line[..at].chars().count() + 1),
        "{e}"
    );
    assert_ne!(e.column, at + 1, "the column must not count bytes");
}

#[test]
fn invalid_utf8_is_reported_at_its_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("latin1.toml");
    // "kø" in Latin-1: the ø is the single byte 0xF8, which is not UTF-8.
    let mut bytes = OK
        .replace("set_clock", "note = \"k@\"\nset_clock")
        .into_bytes();
    let at = bytes.iter().position(|b| *b == b'@').unwrap();
    bytes[at] = 0xF8;
    std::fs::write(&file, &bytes).unwrap();
    let e = parse_file(&file).unwrap_err();
    assert_eq!((e.line, e.column), (5, 10), "{e}");
    assert!(e.message.contains("UTF-8"), "{e}");
}

/// A scenario whose clock is set in step 1 and whose step 2 onwards are `steps`.
fn with_steps(steps: &str) -> String {
    format!(
        "name = \"x\"\nrules = [\"NETS-01\"]\n[[step]]\nset_clock = 2026-03-02T10:15:00Z\n[[step]]\n{steps}\n"
    )
}

/// The 1-based line and column where `needle` starts in `text`.
fn position(text: &str, needle: &str) -> (usize, usize) {
    let at = text.find(needle).unwrap();
    let line_start = text[..at].rfind('\n').map_or(0, |n| n + 1);
    (
        text[..at].matches('\n').count() + 1,
        text[line_start..at].chars().count() + 1,
    )
}

#[test]
fn a_zero_host_timeout_is_rejected() {
    for zero in ["0ms", "0s"] {
        let text = OK.replace(
            "rules = [\"NETS-01\"]",
            &format!("rules = [\"NETS-01\"]\nterminal = {{ host_timeout = \"{zero}\" }}"),
        );
        let e = parse(&text).unwrap_err();
        assert_eq!((e.line, e.column), position(&text, "\"0"), "{e}");
        assert!(e.message.contains("more than zero"), "{e}");
    }
}

#[test]
fn a_currency_the_cards_network_cannot_take_is_rejected_where_it_is_written() {
    for (step, needle, want) in [
        (
            "purchase = { amount = \"125.50 NOK\", card = \"dankort\" }",
            "\"125.50 NOK\"",
            "Dankort",
        ),
        (
            "purchase = { amount = \"125.50 DKK\", card = \"bankaxept\" }",
            "\"125.50 DKK\"",
            "BankAxept",
        ),
        (
            "purchase = { amount = \"125.50 NOK\", card = \"visa_dankort\", network = \"dankort\" }",
            "\"125.50 NOK\"",
            "Dankort",
        ),
        (
            "purchases = { count = 3, amount = \"10.00 NOK\", cards = [\"bankaxept\", \"dankort\"] }",
            "\"dankort\"",
            "Dankort",
        ),
    ] {
        let text = with_steps(step);
        let e = parse(&text).unwrap_err();
        assert_eq!((e.line, e.column), position(&text, needle), "{e}");
        assert!(
            e.message.contains(want) && e.message.contains("currency"),
            "{e}"
        );
    }
    // International networks take any currency the harness knows.
    for ok in [
        "purchase = { amount = \"125.50 NOK\", card = \"visa\" }",
        "purchase = { amount = \"125.50 EUR\", card = \"visa_dankort\", network = \"visa\" }",
        "purchase = { amount = \"125.50 NOK\", card = \"bankaxept\" }",
    ] {
        parse(&with_steps(ok)).unwrap();
    }
}

#[test]
fn sums_that_overflow_are_errors_not_wraps() {
    let max = "184467440737095516.15 DKK"; // u64::MAX minor units
    for (steps, needle) in [
        (
            format!("purchase = {{ amount = \"{max}\", card = \"dankort\", tip = \"0.01 DKK\" }}"),
            "\"0.01 DKK\"",
        ),
        (
            format!("purchases = {{ count = 2, amount = \"{max}\", cards = [\"dankort\"] }}"),
            "2,",
        ),
        (
            format!(
                "purchase = {{ amount = \"{max}\", card = \"dankort\" }}\n[[step]]\npurchase = {{ amount = \"0.01 DKK\", card = \"dankort\" }}"
            ),
            "\"0.01 DKK\"",
        ),
        (
            format!(
                "purchase = {{ amount = \"{max}\", card = \"dankort\", kind = \"preauth\" }}\n[[step]]\ncapture = {{ of = 2, amount = \"0.01 DKK\" }}"
            ),
            "\"0.01 DKK\"",
        ),
    ] {
        let text = with_steps(&steps);
        let e = parse(&text).unwrap_err();
        assert_eq!((e.line, e.column), position(&text, needle), "{e}");
        assert!(e.message.contains("overflow"), "{e}");
    }
    // Up to the limit is fine.
    parse(&with_steps(&format!(
        "purchase = {{ amount = \"{max}\", card = \"dankort\" }}"
    )))
    .unwrap();
}

#[test]
fn captures_and_reversals_must_refer_to_a_step_that_made_a_fitting_transaction() {
    // Step 2 a purchase, step 3 no transaction, step 4 the follow-up.
    let before = "purchase = { amount = \"125.50 DKK\", card = \"dankort\" }\n[[step]]\nnetwork = \"up\"\n[[step]]\n";
    for (follow_up, want) in [
        (
            "capture = { of = 2, amount = \"1.00 DKK\" }",
            "not a pre-authorisation",
        ),
        ("reverse = { of = 1 }", "made no transaction"),
        (
            "capture = { of = 3, amount = \"1.00 DKK\" }",
            "made no transaction",
        ),
        ("reverse = { of = 4 }", "earlier step"),
        ("reverse = { of = 5 }", "earlier step"),
        ("reverse = { of = 0 }", "earlier step"),
    ] {
        let text = with_steps(&format!("{before}{follow_up}"));
        let e = parse(&text).unwrap_err();
        let (line, column) = position(&text, "of = ");
        assert_eq!((e.line, e.column), (line, column + 5), "{follow_up}: {e}");
        assert!(e.message.contains(want), "{follow_up}: {e}");
    }
    let preauth = "purchase = { amount = \"125.50 DKK\", card = \"dankort\", kind = \"preauth\" }\n[[step]]\nnetwork = \"up\"\n[[step]]\n";
    parse(&with_steps(&format!(
        "{preauth}capture = {{ of = 2, amount = \"1.00 DKK\" }}\n[[step]]\nreverse = {{ of = 4 }}\n[[step]]\nreverse = {{ of = 2 }}"
    )))
    .unwrap();
    let e = parse(&with_steps(&format!(
        "{preauth}capture = {{ of = 2, amount = \"1.00 NOK\" }}"
    )))
    .unwrap_err();
    assert!(e.message.contains("currency"), "{e}");
}

#[test]
fn a_step_needs_exactly_one_action() {
    let e = parse(&OK.replace(
        "set_clock = 2026-03-02T10:15:00Z",
        "set_clock = 2026-03-02T10:15:00Z\nnetwork = \"up\"",
    ))
    .unwrap_err();
    assert!(e.message.contains("more than one action"), "{e}");
    assert_eq!(e.line, 6);
}

/// Issue 8: expectations that state the rule: settlement date and network, receipt lines that
/// must appear or must not, and expectations on every purchase of a bulk step.
#[test]
fn settlement_receipt_and_bulk_expectations_parse_and_errors_name_their_place() {
    let s = parse(&OK.replace(
        r#"reason = "approved" }"#,
        r#"reason = "approved", settles = 2026-03-03, settled_as = "dankort", receipt_has = ["AMOUNT   DKK 125.50"], receipt_lacks = ["PIN"] }"#,
    ))
    .unwrap();
    let Action::Purchase(_, Some(e)) = &s.steps[1].action else {
        panic!("a purchase with an expectation")
    };
    assert_eq!(e.settles.as_deref(), Some("2026-03-03"));
    assert_eq!(e.settled_as, Some(Network::Dankort));
    assert_eq!(e.receipt_has, vec!["AMOUNT DKK 125.50".to_string()]);
    assert_eq!(e.receipt_lacks, vec!["PIN".to_string()]);

    let e = parse(&OK.replace(
        r#"reason = "approved" }"#,
        r#"settles = 2026-03-03T10:00:00Z }"#,
    ))
    .unwrap_err();
    assert!(e.message.contains("a date without a time"), "{e}");
    assert_eq!(e.line, 8, "{e}");
    let e = parse(&OK.replace(r#"reason = "approved" }"#, r#"settled_as = "amex" }"#)).unwrap_err();
    assert!(e.message.contains("unknown network `amex`"), "{e}");
    let e =
        parse(&OK.replace(r#"reason = "approved" }"#, r#"receipt_has = ["  "] }"#)).unwrap_err();
    assert!(e.message.contains("empty text"), "{e}");

    let bulk = parse(&format!(
        "{OK}[[step]]\npurchases = {{ count = 3, amount = \"1.00 DKK\", cards = [\"dankort\"], expect = {{ outcome = \"approved_offline\" }} }}\n"
    ))
    .unwrap();
    let Action::Purchases {
        expect: Some(e), ..
    } = &bulk.steps[2].action
    else {
        panic!("a bulk step with an expectation")
    };
    assert_eq!(e.outcome, Outcome::ApprovedOffline);
}

/// Issue 8: a scenario defines test cards of its own, each field checked where it is written.
#[test]
fn a_scenario_defines_its_own_test_cards() {
    let card = r#"
[[card]]
name = "my_visa"
pan = "4000 0000 0000 0002"
expiry = "2027-02"
networks = ["visa"]
pin = "1234"
cvc = "047"
issuer = "insufficient_funds"
"#;
    let with = |c: &str| {
        OK.replace("[[step]]\nset_clock", &format!("{c}[[step]]\nset_clock"))
            .replace("\"dankort\"", "\"my_visa\"")
            .replace("125.5 DKK", "10.00 DKK")
    };
    let s = parse(&with(card)).unwrap();
    assert_eq!(s.cards.len(), 1);
    let c = &s.cards[0];
    assert_eq!((c.expiry.year, c.expiry.month), (2027, 2));
    assert_eq!(c.networks, vec![Network::Visa]);
    assert_eq!(
        c.issuer,
        payhil_cards::catalogue::IssuerBehaviour::InsufficientFunds
    );
    let Action::Purchase(p, _) = &s.steps[1].action else {
        panic!("a purchase")
    };
    assert_eq!(p.card.name, "my_visa");

    for (bad, want) in [
        ("4000 0000 0000 0003", "not a card number"),
        ("2027-13", "expiry is YYYY-MM"),
        ("\"visa\"", "exists already"),
    ] {
        let text = match want {
            "not a card number" => card.replace("4000 0000 0000 0002", bad),
            "expiry is YYYY-MM" => card.replace("2027-02", bad),
            _ => card.replace("\"my_visa\"", bad),
        };
        let e = parse(&with(&text)).unwrap_err();
        assert!(e.message.contains(want), "{want}: {e}");
    }
    let e = parse(&with(&card.replace("cvc = \"047\"", "cvc = \"04\""))).unwrap_err();
    assert!(e.message.contains("CVC"), "{e}");
}

/// Issue 10: `card_fault` names a class; an unknown one is an error at its value, listing the
/// classes, and an amount class takes no `expect` (it is refused before any outcome).
#[test]
fn card_fault_classes_are_checked_where_they_are_written() {
    let with = |fault: &str, expect: &str| {
        format!(
            "name = \"f\"\nrules = [\"SUPPORT-01\"]\n[[step]]\npurchase = {{ amount = \"1.00 DKK\", card = \"dankort\", card_fault = \"{fault}\" }}\n{expect}"
        )
    };
    let s = parse(&with("bad_luhn", "expect = { outcome = \"declined\" }\n")).unwrap();
    let Action::Purchase(p, _) = &s.steps[0].action else {
        panic!("a purchase")
    };
    assert_eq!(p.card_fault, Some(CardFault::BadLuhn));
    let e = parse(&with("bad_lun", "")).unwrap_err();
    assert_eq!((e.line, e.column), (4, 66), "{e}");
    assert!(
        e.message.contains("unknown card_fault `bad_lun`") && e.message.contains("truncated_tlv"),
        "{e}"
    );
    let e = parse(&with(
        "zero_amount",
        "expect = { outcome = \"declined\" }\n",
    ))
    .unwrap_err();
    assert_eq!(e.line, 5, "{e}");
    assert!(e.message.contains("takes no `expect`"), "{e}");
    let refund = with("bad_luhn", "").replace("card_fault", "kind = \"refund\", card_fault");
    assert!(
        parse(&refund)
            .unwrap_err()
            .message
            .contains("plain purchase")
    );
}

#[test]
fn power_cut_steps_parse_and_bad_ones_say_where() {
    let head = "name = \"p\"\nrules = [\"PBS-02\"]\n";
    let ok = |cut: &str| {
        let text = format!("{head}[[step]]\npower_cut = {cut}\n[[step]]\nforward = true\n");
        let s = parse_str(Path::new("p.toml"), &text).unwrap_or_else(|e| panic!("{cut}: {e}"));
        match &s.steps[0].action {
            Action::PowerCut(spec) => *spec,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(ok("{ at = \"after_card\" }"), PowerCutSpec::AfterCard);
    assert_eq!(
        ok("{ at = \"mid_forward\", advice = 3 }"),
        PowerCutSpec::MidForward { advice: 3 }
    );
    assert_eq!(
        ok("{ at = \"advice_unacked\" }"),
        PowerCutSpec::AdviceUnacked { advice: 1 }
    );
    assert_eq!(
        ok("{ flash_write = 9, torn = true }"),
        PowerCutSpec::FlashWrite { n: 9, torn: true }
    );
    let bad = |cut: &str, want: &str| {
        let text = format!("{head}[[step]]\npower_cut = {cut}\n[[step]]\nforward = true\n");
        let e = parse_str(Path::new("p.toml"), &text).unwrap_err();
        assert!(e.message.contains(want), "{cut}: {e}");
        assert_eq!(e.line, 4, "{cut}: {e}");
    };
    bad("{ at = \"later\" }", "`at` is after_card");
    bad("{ flash_write = 0 }", "from 1");
    bad("{ at = \"after_card\", torn = true }", "`torn` belongs");
    bad("{ at = \"after_pin\", advice = 2 }", "`advice` belongs");
    bad("{ at = \"after_pin\", flash_write = 2 }", "not both");
    bad("{ }", "say where the power is cut");
    let last = format!(
        "{head}[[step]]\nforward = true\n[[step]]\npower_cut = {{ at = \"after_card\" }}\n"
    );
    let e = parse_str(Path::new("p.toml"), &last).unwrap_err();
    assert!(e.message.contains("none follows"), "{e}");
}
