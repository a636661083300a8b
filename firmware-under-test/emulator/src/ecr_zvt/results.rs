//! What the terminal tells the cash register about a transaction: the ZVT result code for the
//! core's outcome and reason (PA00P015 10), and the fields of the status information.

use super::Done;
use payhil_protocol::zvt::message::{self, result};
use payhil_protocol::{HostBalance, Outcome, Reason, SettlementTotals};

/// The status information's fields the terminal fills in.
#[derive(Debug, Clone, Default)]
pub struct Status {
    /// Result code.
    pub result: u8,
    /// Amount, minor units.
    pub amount_minor: Option<u64>,
    /// Trace number: the sequence number's last six digits.
    pub trace: Option<u32>,
    /// Receipt number: the sequence number's last four digits (what a reversal names).
    pub receipt: Option<u16>,
    /// How the terminal decided: online or offline (approvals only).
    pub payment_type: Option<u8>,
    /// Time `hhmmss`.
    pub time: u32,
    /// Date `MMDD`.
    pub date: u16,
    /// Approval code, padded to 8 bytes with NUL.
    pub auth: Option<[u8; 8]>,
    /// How the terminal decided, in words.
    pub text: Option<String>,
}

impl Status {
    /// An empty status at the terminal's time `now` (Unix seconds, UTC).
    pub fn at(now: i64) -> Self {
        let days = now.div_euclid(86_400);
        let secs = now.rem_euclid(86_400);
        let (_, m, d) = payhil_protocol::civil::from_days(days);
        let (h, mi, s) = (secs / 3600, secs / 60 % 60, secs % 60);
        Self {
            time: u32::try_from(h * 10_000 + mi * 100 + s).unwrap_or(0),
            date: u16::from(m) * 100 + u16::from(d),
            ..Self::default()
        }
    }
}

/// The ZVT result code for a finished transaction: 00 for an approval (online or offline), the
/// host's own code where it gave one, the nearest of the specification's codes otherwise.
pub fn code_of(done: &Done) -> u8 {
    use Reason::*;
    if matches!(
        done.outcome,
        Outcome::ApprovedOnline | Outcome::ApprovedOffline
    ) {
        return result::SUCCESS;
    }
    match done.reason {
        Approved => result::SUCCESS,
        InsufficientFunds => result::INSUFFICIENT_FUNDS,
        CardBlocked => result::CARD_BLOCKED,
        CardExpired => result::CARD_EXPIRED,
        IssuerUnavailable | CommunicationFailure => result::COMMUNICATION_ERROR,
        HostDeclinedNumeric(n) if (1..=0x63).contains(&n) => n,
        HostDeclined(_) | HostDeclinedNumeric(_) => result::DO_NOT_HONOUR,
        OfflineAmountLimit | OfflineCardLimit | GamblingDailyLimit | ReserveAggregateLimit => {
            result::MAX_AMOUNT_EXCEEDED
        }
        OfflineCardTypeNotAllowed | OfflineContactlessNotAllowed | OfflineWalletNotAllowed => {
            result::METHOD_NOT_SUPPORTED
        }
        OfflineQueueFull => result::MEMORY_FULL,
        ChipUnreadable => result::CARD_NOT_READABLE,
        CardDataMissing => result::CARD_DATA_MISSING,
        CardDataInvalid | CardDataMalformed | CardDataDuplicated | CardDataInconsistent
        | CardNumberInvalid => result::CARD_DATA_INCORRECT,
        CardNotSupported => result::CARD_UNKNOWN,
        CardNotYetValid => result::CARD_NOT_YET_VALID,
        CurrencyMismatch => result::WRONG_CURRENCY,
        Cancelled => result::ABORTED,
        PinIncorrect => result::PIN_WRONG,
        PinTriesExceeded => result::PIN_TRIES_EXCEEDED,
        NoSuchTransaction => result::REVERSAL_NOT_POSSIBLE,
        StorageFailure | ClockNotTrusted => result::PROCESSING_ERROR,
        _ => result::NOT_POSSIBLE,
    }
}

/// The status information of a finished transaction of `amount_minor`.
pub fn status_info(done: &Done, amount_minor: u64, code: u8, now: i64) -> Status {
    let mut auth = [0u8; 8];
    let a = done.auth_code.as_bytes();
    let n = a.len().min(8);
    auth[..n].copy_from_slice(&a[..n]);
    let how = match done.outcome {
        Outcome::ApprovedOnline => "approved online".to_string(),
        Outcome::ApprovedOffline => "approved offline".to_string(),
        Outcome::Declined => format!("declined: {:?}", done.reason),
        Outcome::Aborted => format!("aborted: {:?}", done.reason),
    };
    let payment_type = match done.outcome {
        Outcome::ApprovedOnline => Some(message::PAYMENT_ONLINE),
        Outcome::ApprovedOffline => Some(message::PAYMENT_OFFLINE),
        _ => None,
    };
    Status {
        result: code,
        payment_type,
        amount_minor: (amount_minor > 0).then_some(amount_minor),
        trace: Some(done.txn_seq % 1_000_000),
        receipt: u16::try_from(done.txn_seq % 10_000).ok(),
        auth: (n > 0).then_some(auth),
        text: Some(how),
        ..Status::at(now)
    }
}

/// An end of day's result code, receipt lines and total (purchases less refunds, in minor
/// units, never below zero).
pub fn totals(t: &SettlementTotals) -> (u8, Vec<String>, u64) {
    let mut lines = vec!["END OF DAY".to_string()];
    let mut total: u64 = 0;
    for b in t.batches.iter().flatten() {
        lines.push(format!(
            "{:?} {}: {} x {} / refunds {} x {}",
            b.network,
            b.currency.alpha(),
            b.count,
            b.minor,
            b.refund_count,
            b.refund_minor
        ));
        total = total.saturating_add(b.minor.saturating_sub(b.refund_minor));
    }
    let code = match t.host {
        HostBalance::InBalance => {
            lines.push("HOST: IN BALANCE".into());
            result::SUCCESS
        }
        HostBalance::OutOfBalance => {
            lines.push("HOST: OUT OF BALANCE".into());
            result::SUCCESS
        }
        HostBalance::NotChecked => {
            lines.push("HOST: NOT REACHED".into());
            result::END_OF_DAY_NOT_POSSIBLE
        }
    };
    (code, lines, total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_and_date_come_from_the_terminal_clock() {
        // 2026-12-07 10:15:02 UTC.
        let s = Status::at(1_796_638_502);
        assert_eq!((s.time, s.date), (101_502, 1207));
    }
}
