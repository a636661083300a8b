//! The checks of an approval's report over ZVT.

use super::*;
use payhil_ecr::zvt::TxnStatus;
use payhil_protocol::{Amount, Currency};

fn approval(amount: Option<u64>, receipt: Option<u16>, pan: Option<&str>) -> ZvtOutcome {
    ZvtOutcome {
        statuses: Vec::new(),
        result: Some(TxnStatus {
            result: Some(0),
            amount_minor: amount,
            currency: Some(208),
            receipt,
            masked_pan: pan.map(str::to_string),
            ..TxnStatus::default()
        }),
        receipt: Vec::new(),
        refused: Vec::new(),
        ended: Ended::Completed { data: Vec::new() },
    }
}

fn dankort() -> &'static payhil_cards::Pan {
    &payhil_cards::catalogue::by_name("dankort")
        .expect("in the catalogue")
        .pan
}

const AMOUNT: Amount = Amount {
    minor: 4995,
    currency: Currency::DKK,
};

#[test]
fn an_approval_reported_as_charged_passes() {
    let got = approval(Some(4995), Some(7), Some("501910******0006"));
    assert_eq!(check_approval_report(&got, AMOUNT, dankort()), Ok(()));
    // What the terminal leaves out is not held against it, but the receipt number.
    let got = approval(None, Some(7), None);
    assert_eq!(check_approval_report(&got, AMOUNT, dankort()), Ok(()));
}

#[test]
fn another_amount_another_card_or_no_receipt_number_is_named() {
    let wrong = [
        (approval(Some(5095), Some(7), None), "amount of 5095"),
        (approval(Some(4995), None, None), "no receipt number"),
        (
            approval(Some(4995), Some(7), Some("457123******1234")),
            "card 457123******1234",
        ),
    ];
    for (got, want) in wrong {
        let e = check_approval_report(&got, AMOUNT, dankort()).expect_err(want);
        assert!(e.contains(want), "{e}");
    }
}

#[test]
fn a_decline_is_not_an_approval_report() {
    let mut got = approval(Some(1), None, None);
    if let Some(r) = got.result.as_mut() {
        r.result = Some(result::INSUFFICIENT_FUNDS);
    }
    assert_eq!(check_approval_report(&got, AMOUNT, dankort()), Ok(()));
}
