//! The acquirer's banking calendar: when each transaction is settled (CARD-09) on a banking day
//! (CARD-11). Danish banking days: no Saturdays, Sundays, public holidays, Constitution Day
//! (5 June), Christmas Eve or 31 December; the Friday after Ascension is a bank holiday.

use payhil_protocol::Network;
use time::{Date, Duration, Month, Weekday};

/// Easter Sunday (Gregorian computus, Meeus/Jones/Butcher).
pub fn easter(year: i32) -> Option<Date> {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let h = (19 * a + b - b / 4 - (b - (b + 8) / 25 + 1) / 3 + 15) % 30;
    let l = (32 + 2 * (b % 4) + 2 * (c / 4) - h - c % 4) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    Date::from_calendar_date(year, Month::try_from(month as u8).ok()?, day as u8).ok()
}

/// True on Danish banking days (CARD-11).
pub fn is_banking_day(d: Date) -> bool {
    if matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday) {
        return false;
    }
    let fixed = [
        (Month::January, 1),
        (Month::June, 5),
        (Month::December, 24),
        (Month::December, 25),
        (Month::December, 26),
        (Month::December, 31),
    ];
    if fixed.contains(&(d.month(), d.day())) {
        return false;
    }
    // Maundy Thursday, Good Friday, Easter Monday, Ascension and the Friday after, Whit Monday.
    let movable = [-3, -2, 1, 39, 40, 50];
    !easter(d.year()).is_some_and(|e| movable.iter().any(|&o| e + Duration::days(o) == d))
}

/// The first banking day on or after `d`.
pub fn on_or_after(mut d: Date) -> Date {
    for _ in 0..14 {
        if is_banking_day(d) {
            break;
        }
        d += Duration::days(1);
    }
    d
}

/// Settlement date: Dankort and BankAxept the same (banking) day, Visa and the international
/// schemes at the earliest the next banking day (CARD-09).
pub fn settlement_date(network: Network, txn: Date) -> Date {
    match network {
        Network::Dankort | Network::BankAxept => on_or_after(txn),
        _ => on_or_after(txn + Duration::days(1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn card_09_card_11_settlement_dates() {
        assert_eq!(easter(2026), Some(date!(2026 - 04 - 05)));
        assert_eq!(
            settlement_date(Network::Dankort, date!(2026 - 03 - 02)),
            date!(2026 - 03 - 02)
        );
        assert_eq!(
            settlement_date(Network::Visa, date!(2026 - 03 - 06)),
            date!(2026 - 03 - 09),
            "Friday to Monday"
        );
        assert_eq!(
            settlement_date(Network::Dankort, date!(2026 - 04 - 02)),
            date!(2026 - 04 - 07),
            "Easter"
        );
        assert_eq!(
            settlement_date(Network::Visa, date!(2026 - 06 - 04)),
            date!(2026 - 06 - 08),
            "Constitution Day, weekend"
        );
        assert_eq!(
            settlement_date(Network::Visa, date!(2026 - 12 - 23)),
            date!(2026 - 12 - 28),
            "Christmas"
        );
    }
}
