//! Settlement records: batches per network with their settlement dates (CARD-09) on banking
//! days (CARD-11), and totals that reconcile with the host's.
//!
//! Each transaction is counted once: the journal holds each record once (its power-cut tests
//! prove it), and only approved purchases the host did not decline after forwarding count.

use crate::calendar::{Date, HolidayCalendar};
use crate::flash::Flash;
use crate::journal::{Found, Journal, JournalError, TxnStatus};
use core::fmt::{self, Write};
use payhil_protocol::host_link::ReconcileTotals;
use payhil_protocol::{BatchTotal, Network, SettlementTotals, TxnKind};

/// When a purchase made on `txn` is settled: Dankort (and BankAxept, also domestic debit) the
/// same day, Visa and the international schemes at the earliest the day after (CARD-09);
/// always on a banking day (CARD-11).
pub fn settlement_date(cal: &HolidayCalendar<'_>, network: Network, txn: Date) -> Date {
    match network {
        Network::Dankort | Network::BankAxept => cal.on_or_after(txn),
        Network::Visa | Network::VisaDebit | Network::Mastercard => {
            cal.on_or_after(txn.plus_days(1))
        }
    }
}

/// Whether a journaled transaction belongs in the settlement: approved purchases, captures and
/// refunds that were neither declined by the host afterwards nor reversed. Pre-authorisations
/// settle only through their capture (CARD-06); reversals only take their original out (PBS-03).
pub fn settles(f: &Found) -> bool {
    matches!(
        f.record.status,
        TxnStatus::ApprovedOnline | TxnStatus::ApprovedOffline
    ) && matches!(
        f.record.kind,
        TxnKind::Purchase | TxnKind::Capture | TxnKind::Refund
    ) && !f.host_declined
        && !f.reversed
}

/// Totals per network over everything in the journal that settles. Pending offline items are
/// included: they are owed by the cardholder, only not yet forwarded.
pub fn totals<F: Flash, const P: usize>(
    j: &mut Journal<F, P>,
) -> Result<SettlementTotals, JournalError> {
    totals_where(j, |_| true)
}

/// What the host should have: the settled transactions that are online or already forwarded
/// (ISO 8583 0500 totals, per currency: debits are purchases and captures, credits refunds).
pub fn host_view<F: Flash, const P: usize>(
    j: &mut Journal<F, P>,
) -> Result<ReconcileTotals, JournalError> {
    let mut r = ReconcileTotals::default();
    let mut failed = false;
    j.for_each(|f| {
        if settles(&f) && f.done {
            let credit = f.record.kind == TxnKind::Refund;
            // The terminal takes four currencies (those with an alphabetic code), as many as
            // the totals hold, and a journal holds far fewer than u32::MAX items: a failure
            // here means the journal is not what the terminal wrote.
            failed |= r.add(f.record.amount, credit).is_err();
        }
    })?;
    if failed {
        return Err(JournalError::Inconsistent);
    }
    Ok(r)
}

fn totals_where<F: Flash, const P: usize>(
    j: &mut Journal<F, P>,
    include: impl Fn(&Found) -> bool,
) -> Result<SettlementTotals, JournalError> {
    let mut t = SettlementTotals::default();
    let mut failed = false;
    j.for_each(|f| {
        if settles(&f) && include(&f) {
            let r = f.record;
            // Five networks and the currencies the terminal takes fit the batches, and a
            // journal holds far fewer than u32::MAX items: a failure means the journal is not
            // what the terminal wrote.
            failed |= t
                .add(r.network, r.amount, r.kind == TxnKind::Refund)
                .is_err();
        }
    })?;
    if failed {
        return Err(JournalError::Inconsistent);
    }
    Ok(t)
}

const NETWORKS: [Network; 5] = [
    Network::Dankort,
    Network::Visa,
    Network::VisaDebit,
    Network::Mastercard,
    Network::BankAxept,
];

/// A printable settlement report: one batch per network, each transaction with its settlement
/// date, and the batch total. A full output buffer is reported as `Flash(OutOfBounds)`.
pub fn render<F: Flash, const P: usize>(
    j: &mut Journal<F, P>,
    cal: &HolidayCalendar<'_>,
    out: &mut impl Write,
) -> Result<(), JournalError> {
    let totals = totals(j)?;
    let mut failed = false;
    for n in NETWORKS {
        for b in totals.batches.iter().flatten().filter(|b| b.network == n) {
            failed |= render_batch(j, cal, out, b)?;
        }
    }
    if failed {
        Err(JournalError::Flash(crate::flash::FlashError::OutOfBounds))
    } else {
        Ok(())
    }
}

/// One batch of [`render`]; `true` if the output was full.
fn render_batch<F: Flash, const P: usize>(
    j: &mut Journal<F, P>,
    cal: &HolidayCalendar<'_>,
    out: &mut impl Write,
    b: &BatchTotal,
) -> Result<bool, JournalError> {
    let n = b.network;
    let mut failed = false;
    if b.count == 0 && b.refund_count == 0 {
        return Ok(false);
    }
    failed |= writeln!(
        out,
        "BATCH {} {} ({})",
        n.label(),
        b.currency.alpha(),
        cal.name
    )
    .is_err();
    j.for_each(|f| {
        if settles(&f) && f.record.network == n && f.record.amount.currency == b.currency {
            let r = f.record;
            let on = settlement_date(cal, n, Date::of_unix(r.local_time));
            failed |= writeln!(
                out,
                "{:06} {}{}.{:02} {} SETTLES {:04}-{:02}-{:02}",
                r.seq,
                if r.kind == TxnKind::Refund { "-" } else { "" },
                r.amount.minor / 100,
                r.amount.minor % 100,
                r.amount.currency.alpha(),
                on.year,
                on.month,
                on.day
            )
            .is_err();
        }
    })?;
    failed |= writeln!(
        out,
        "TOTAL {} COUNT {} {}.{:02} {}",
        n.label(),
        b.count,
        b.minor / 100,
        b.minor % 100,
        b.currency.alpha()
    )
    .is_err();
    Ok(failed)
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::calendar::{DANISH_BANKING, FAROESE_BANKING};
    use crate::flash::NorFlash;
    use crate::journal::{StoredPan, TxnRecord};
    use payhil_protocol::{Amount, Currency, EntryMode, Reason};
    use std::string::String;
    use std::vec;

    fn d(year: i32, month: u8, day: u8) -> Date {
        Date { year, month, day }
    }

    #[test]
    fn card_09_dankort_same_day_visa_next_banking_day() {
        let cal = DANISH_BANKING;
        let monday = d(2026, 3, 2);
        assert_eq!(settlement_date(&cal, Network::Dankort, monday), monday);
        assert_eq!(settlement_date(&cal, Network::Visa, monday), d(2026, 3, 3));
        let friday = d(2026, 3, 6);
        assert_eq!(
            settlement_date(&cal, Network::Visa, friday),
            d(2026, 3, 9),
            "over the weekend"
        );
        let saturday = d(2026, 3, 7);
        assert_eq!(
            settlement_date(&cal, Network::Dankort, saturday),
            d(2026, 3, 9)
        );
    }

    #[test]
    fn card_11_settlement_dates_skip_the_seeds_holidays() {
        // Ólavsøka: a Visa purchase on Monday 27 July 2026 in the Faroe Islands settles
        // Thursday 30 July (28 and 29 July are closed).
        assert_eq!(
            settlement_date(&FAROESE_BANKING, Network::Visa, d(2026, 7, 27)),
            d(2026, 7, 30)
        );
        assert_eq!(
            settlement_date(&DANISH_BANKING, Network::Visa, d(2026, 7, 27)),
            d(2026, 7, 28)
        );
        // Christmas: 23 Dec 2026 (Wed) Visa -> 24, 25, 26 (Sat), 27 (Sun) closed -> 28 Dec.
        assert_eq!(
            settlement_date(&DANISH_BANKING, Network::Visa, d(2026, 12, 23)),
            d(2026, 12, 28)
        );
    }

    #[test]
    fn totals_reconcile_and_count_each_transaction_once() {
        let mut mem = vec![0xFFu8; 8 * 4096];
        let mut j: Journal<_, 64> = Journal::mount(
            NorFlash::new(&mut mem[..], 4096),
            crate::journal::PanKey::test_key("TEST"),
        )
        .unwrap();
        let add = |j: &mut Journal<_, 64>, minor, network, status| {
            let seq = j.take_seq();
            let rec = TxnRecord {
                seq,
                kind: TxnKind::Purchase,
                related_seq: 0,
                amount: Amount {
                    minor,
                    currency: Currency::DKK,
                },
                status,
                network,
                entry_mode: EntryMode::Chip,
                pan: StoredPan::from_ascii("4571100000000009").unwrap(),
                pan_seq: 1,
                local_time: 1_772_446_500, // Monday 2026-03-02
                auth_code: *b"123456",
                reason: Reason::Approved,
            };
            j.record(&rec).unwrap();
            seq
        };
        add(&mut j, 100_00, Network::Dankort, TxnStatus::ApprovedOnline);
        let offline = add(&mut j, 50_00, Network::Dankort, TxnStatus::ApprovedOffline);
        add(&mut j, 70_00, Network::Visa, TxnStatus::ApprovedOnline);
        add(&mut j, 999_00, Network::Visa, TxnStatus::Declined);
        let declined_later = add(&mut j, 30_00, Network::Dankort, TxnStatus::ApprovedOffline);
        j.acknowledge(offline, false).unwrap();
        j.acknowledge(declined_later, true).unwrap();
        let t = totals(&mut j).unwrap();
        let dkk = |n| t.batch(n, Currency::DKK).map(|b| (b.count, b.minor));
        assert_eq!(dkk(Network::Dankort), Some((2, 150_00)));
        assert_eq!(dkk(Network::Visa), Some((1, 70_00)));
        let mut out = String::new();
        render(&mut j, &DANISH_BANKING, &mut out).unwrap();
        assert!(out.contains("TOTAL DANKORT COUNT 2 150.00"), "{out}");
        assert!(
            out.contains("70.00 DKK SETTLES 2026-03-03"),
            "Visa the next banking day: {out}"
        );
        assert!(
            out.contains("100.00 DKK SETTLES 2026-03-02"),
            "Dankort the same day: {out}"
        );
    }
}
