//! How a terminal's report over ZVT is read: the result codes a reason may show under, whether
//! a report shows a predicted outcome, and the checks of an approval's report against what the
//! harness asked for and presented.

use payhil_ecr::zvt::{Ended, Outcome as ZvtOutcome};
use payhil_protocol::zvt::message::{PAYMENT_OFFLINE, PAYMENT_ONLINE, PAYMENT_PIN, result};
use payhil_protocol::{Outcome, Reason};

/// The result codes under which a cash register may learn of a transaction that ended for
/// `reason` (PA00P015 10: `01..=63` are the host's own codes).
pub fn codes_for(reason: Reason) -> &'static [u8] {
    use Reason::*;
    match reason {
        Approved => &[result::SUCCESS],
        InsufficientFunds => &[result::INSUFFICIENT_FUNDS],
        CardBlocked => &[result::CARD_BLOCKED, 0x04, 0x07, 0x41, 0x43],
        CardExpired => &[result::CARD_EXPIRED, 0x36],
        CardNotYetValid => &[result::CARD_NOT_YET_VALID],
        IssuerUnavailable | CommunicationFailure => {
            &[result::COMMUNICATION_ERROR, 0x9B, 0xA0, 0xA1, 0xA3, 0x5B]
        }
        HostDeclined(_) | HostDeclinedNumeric(_) => &[
            0x01, 0x03, 0x04, 0x05, 0x06, 0x0C, 0x0D, 0x0E, 0x14, 0x1E, 0x33, 0x36, 0x39, 0x3D,
            0x3E, 0x41, 0x5B,
        ],
        OfflineAmountLimit | OfflineCardLimit | GamblingDailyLimit | ReserveAggregateLimit => {
            &[result::MAX_AMOUNT_EXCEEDED]
        }
        OfflineCardTypeNotAllowed
        | OfflineContactlessNotAllowed
        | OfflineWalletNotAllowed
        | FallbackOnlineOnly
        | OnlineOnly => &[
            result::METHOD_NOT_SUPPORTED,
            result::NOT_POSSIBLE,
            0x7B,
            0x7C,
        ],
        OfflineQueueFull => &[result::MEMORY_FULL, 0x6A, 0xB2],
        ChipUnreadable => &[result::CARD_NOT_READABLE, 0x72],
        CardDataMissing => &[result::CARD_DATA_MISSING],
        CardDataInvalid | CardDataMalformed | CardDataDuplicated | CardDataInconsistent
        | CardNumberInvalid => &[result::CARD_DATA_INCORRECT],
        CardNotSupported => &[result::CARD_UNKNOWN, result::METHOD_NOT_SUPPORTED],
        CurrencyMismatch => &[result::WRONG_CURRENCY],
        Cancelled => &[result::ABORTED],
        PinIncorrect => &[result::PIN_WRONG],
        PinTriesExceeded => &[result::PIN_TRIES_EXCEEDED, 0x38],
        NoSuchTransaction => &[result::REVERSAL_NOT_POSSIBLE, result::ALREADY_REVERSED],
        StorageFailure | ClockNotTrusted => &[result::PROCESSING_ERROR, result::SYSTEM_ERROR, 0x62],
        _ => &[result::NOT_POSSIBLE],
    }
}

/// A result as the terminal sent it, judged as if the cash register had taken it.
pub fn as_sent(lost: &payhil_ecr::zvt::TxnStatus) -> ZvtOutcome {
    let code = lost.result.unwrap_or(result::SUCCESS);
    ZvtOutcome {
        statuses: Vec::new(),
        result: Some(lost.clone()),
        receipt: Vec::new(),
        refused: Vec::new(),
        ended: if code == result::SUCCESS {
            Ended::Completed { data: Vec::new() }
        } else {
            Ended::Aborted { result: code }
        },
    }
}

/// What a terminal told the cash register about an approval, checked against what the harness
/// asked for and presented: the amount and currency (where the terminal sends them), a receipt
/// number (the cash register reverses by it), and the card number's visible digits. A
/// terminal's report is checked, never taken (the cash register books what it is told).
pub fn check_approval_report(
    got: &ZvtOutcome,
    amount: payhil_protocol::Amount,
    pan: &payhil_cards::Pan,
) -> Result<(), String> {
    let Some(r) = got.result.as_ref().filter(|r| r.result.unwrap_or(0) == 0) else {
        return Ok(());
    };
    if let Some(a) = r.amount_minor.filter(|a| *a != amount.minor) {
        return Err(format!(
            "the terminal told the cash register an amount of {a} minor units; the payment was {amount}"
        ));
    }
    if let Some(c) = r.currency.filter(|c| *c != amount.currency.0) {
        return Err(format!(
            "the terminal told the cash register currency {c}; the payment was in {}",
            amount.currency.0
        ));
    }
    if r.receipt.is_none() {
        return Err(
            "the terminal gave the cash register no receipt number (BMP 87) for an approval: \
             it cannot be reversed by the cash register"
                .into(),
        );
    }
    if let Some(shown) = &r.masked_pan {
        let real = pan.reveal();
        let same = shown.len() == real.len()
            && shown
                .bytes()
                .zip(real.bytes())
                .all(|(s, c)| !s.is_ascii_digit() || s == c);
        if !same {
            return Err(format!(
                "the terminal told the cash register card {shown}; the card presented was {}",
                pan.masked()
            ));
        }
    }
    Ok(())
}

/// The result code a report ends with: an abort's, else the status information's, else success.
pub fn code_of(got: &ZvtOutcome) -> u8 {
    match &got.ended {
        Ended::Aborted { result } => *result,
        _ => got
            .result
            .as_ref()
            .and_then(|r| r.result)
            .unwrap_or(result::SUCCESS),
    }
}

/// Whether the report `got` is the predicted `(outcome, reason)` as ZVT shows it.
pub fn shows(got: &ZvtOutcome, outcome: Outcome, reason: Reason) -> bool {
    let code = code_of(got);
    let completed = matches!(got.ended, Ended::Completed { .. });
    let payment = got.result.as_ref().and_then(|r| r.payment_type);
    match outcome {
        Outcome::ApprovedOnline => {
            completed && code == 0 && matches!(payment, Some(PAYMENT_ONLINE | PAYMENT_PIN) | None)
        }
        Outcome::ApprovedOffline => {
            completed && code == 0 && matches!(payment, Some(PAYMENT_OFFLINE) | None)
        }
        Outcome::Declined | Outcome::Aborted => {
            code != 0
                && (codes_for(reason).contains(&code)
                    || matches!(reason, Reason::HostDeclinedNumeric(n) if n == code))
        }
    }
}

#[cfg(test)]
mod tests;
