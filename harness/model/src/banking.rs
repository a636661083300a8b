//! The banking calendar of the rules: when each transaction is settled (CARD-09) on a banking
//! day (CARD-11). The model predicts settlement dates with it and the acquirer simulator books
//! them with it; the firmware keeps its own, so a terminal's dates are checked against this one.
//!
//! Banking days are the seed's (001, section 21 "Bankdag", the Faroese edition of the
//! Visa/Dankort terms): every day but Saturdays, Sundays, public holidays, the Faroese Flag Day
//! (25 April), Constitution Day (5 June), Ólavsøka eve and day (28 and 29 July), Christmas Eve
//! and 31 December. The harness keeps its own calendar, written from the seed; it never links
//! the firmware's (rules/catalogue.toml, interpretation "CARD-11/bankdag").

use payhil_protocol::Network;
use time::{Date, Duration, Month, Weekday};

/// Closed on these dates every year: New Year's Day, the Faroese Flag Day, Constitution Day,
/// Ólavsøka eve and day, Christmas Eve, Christmas Day, Boxing Day, 31 December.
const FIXED: [(Month, u8); 9] = [
    (Month::January, 1),
    (Month::April, 25),
    (Month::June, 5),
    (Month::July, 28),
    (Month::July, 29),
    (Month::December, 24),
    (Month::December, 25),
    (Month::December, 26),
    (Month::December, 31),
];

/// Closed on these days after Easter Sunday: Maundy Thursday, Good Friday, Easter Monday,
/// Ascension Day, Whit Monday (Easter and Whit Sunday are Sundays anyway). The Friday after
/// Ascension is a Danish bank closing day the seed does not list, so it is a banking day here.
const EASTER_OFFSETS: [i64; 5] = [-3, -2, 1, 39, 50];

/// Great Prayer Day (Easter + 26) is a public holiday up to and including this year: the law
/// change that abolished it from 2024 is followed by date (rules/catalogue.toml,
/// interpretation "CARD-11/bankdag", which also records the reading that would keep it).
const GREAT_PRAYER_DAY: (i64, i32) = (26, 2023);

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

/// True on banking days as the seed defines them (CARD-11, see the module documentation).
pub fn is_banking_day(d: Date) -> bool {
    if matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday)
        || FIXED.contains(&(d.month(), d.day()))
    {
        return false;
    }
    let (prayer, until) = GREAT_PRAYER_DAY;
    !easter(d.year()).is_some_and(|e| {
        EASTER_OFFSETS.iter().any(|&o| e + Duration::days(o) == d)
            || (d.year() <= until && e + Duration::days(prayer) == d)
    })
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

/// Settlement date of a transaction the acquirer received on `received` (CARD-09 and
/// rules/catalogue.toml CARD-09/offline-settlement): never before the acquirer has it, so an
/// offline item settles from the banking day it reached the host; a Visa item still at the
/// earliest the day after the purchase.
pub fn settlement_date_received(network: Network, txn: Date, received: Date) -> Date {
    settlement_date(network, txn).max(on_or_after(received))
}

/// [`settlement_date_received`] from Unix times (the UTC dates of the controlled clock,
/// CARD-08/time-zone); `None` for a time outside the calendar.
pub fn settles_at(network: Network, txn_unix: i64, received_unix: i64) -> Option<Date> {
    let date = |t| {
        time::OffsetDateTime::from_unix_timestamp(t)
            .ok()
            .map(|t| t.date())
    };
    Some(settlement_date_received(
        network,
        date(txn_unix)?,
        date(received_unix)?,
    ))
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

    /// The weekdays the seed closes (section 21 "Bankdag") in a year, with what they are.
    fn closed_weekdays(year: i32) -> Vec<(Date, &'static str)> {
        match year {
            2023 => vec![
                (date!(2023 - 04 - 06), "Maundy Thursday"),
                (date!(2023 - 04 - 07), "Good Friday"),
                (date!(2023 - 04 - 10), "Easter Monday"),
                (date!(2023 - 04 - 25), "Faroese Flag Day"),
                (date!(2023 - 05 - 05), "Great Prayer Day"),
                (date!(2023 - 05 - 18), "Ascension Day"),
                (date!(2023 - 05 - 29), "Whit Monday"),
                (date!(2023 - 06 - 05), "Constitution Day"),
                (date!(2023 - 07 - 28), "Olavsoka eve"),
                (date!(2023 - 12 - 25), "Christmas Day"),
                (date!(2023 - 12 - 26), "Boxing Day"),
            ],
            2024 => vec![
                (date!(2024 - 01 - 01), "New Year's Day"),
                (date!(2024 - 03 - 28), "Maundy Thursday"),
                (date!(2024 - 03 - 29), "Good Friday"),
                (date!(2024 - 04 - 01), "Easter Monday"),
                (date!(2024 - 04 - 25), "Faroese Flag Day"),
                (date!(2024 - 05 - 09), "Ascension Day"),
                (date!(2024 - 05 - 20), "Whit Monday"),
                (date!(2024 - 06 - 05), "Constitution Day"),
                (date!(2024 - 07 - 29), "Olavsoka day"),
                (date!(2024 - 12 - 24), "Christmas Eve"),
                (date!(2024 - 12 - 25), "Christmas Day"),
                (date!(2024 - 12 - 26), "Boxing Day"),
                (date!(2024 - 12 - 31), "31 December"),
            ],
            2026 => vec![
                (date!(2026 - 01 - 01), "New Year's Day"),
                (date!(2026 - 04 - 02), "Maundy Thursday"),
                (date!(2026 - 04 - 03), "Good Friday"),
                (date!(2026 - 04 - 06), "Easter Monday"),
                (date!(2026 - 05 - 14), "Ascension Day"),
                (date!(2026 - 05 - 25), "Whit Monday"),
                (date!(2026 - 06 - 05), "Constitution Day"),
                (date!(2026 - 07 - 28), "Olavsoka eve"),
                (date!(2026 - 07 - 29), "Olavsoka day"),
                (date!(2026 - 12 - 24), "Christmas Eve"),
                (date!(2026 - 12 - 25), "Christmas Day"),
                (date!(2026 - 12 - 31), "31 December"),
            ],
            _ => unreachable!("no list for {year}"),
        }
    }

    #[test]
    fn card_11_closed_weekdays_are_exactly_the_seeds() {
        for year in [2023, 2024, 2026] {
            let listed = closed_weekdays(year);
            for (d, what) in &listed {
                assert!(!is_banking_day(*d), "{d} {what} is not a banking day");
            }
            // Nothing else is closed: walk the whole year.
            let mut d = Date::from_calendar_date(year, Month::January, 1).unwrap();
            while d.year() == year {
                let weekend = matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday);
                let closed = weekend || listed.iter().any(|(l, _)| *l == d);
                assert_eq!(is_banking_day(d), !closed, "{d} ({})", d.weekday());
                d += Duration::days(1);
            }
        }
    }

    #[test]
    fn card_11_great_prayer_day_is_a_holiday_up_to_2023_only() {
        assert!(!is_banking_day(date!(2023 - 05 - 05)));
        assert!(is_banking_day(date!(2024 - 04 - 26)));
        assert!(is_banking_day(date!(2026 - 05 - 01)));
        assert_eq!(
            settlement_date(Network::Visa, date!(2023 - 05 - 04)),
            date!(2023 - 05 - 08),
            "Great Prayer Day 2023 and the weekend"
        );
        assert_eq!(
            settlement_date(Network::Visa, date!(2024 - 04 - 25)),
            date!(2024 - 04 - 26),
            "from the Faroese Flag Day to the former Great Prayer Day"
        );
    }

    #[test]
    fn card_11_the_friday_after_ascension_is_a_banking_day() {
        // The seed does not list it (a Danish bank closing day, not a Faroese one).
        for d in [
            date!(2023 - 05 - 19),
            date!(2024 - 05 - 10),
            date!(2026 - 05 - 15),
        ] {
            assert!(is_banking_day(d), "{d}");
        }
        assert_eq!(
            settlement_date(Network::Dankort, date!(2026 - 05 - 14)),
            date!(2026 - 05 - 15),
            "Ascension Day to the Friday"
        );
    }

    #[test]
    fn card_09_card_11_settlement_skips_the_faroese_days() {
        assert_eq!(
            settlement_date(Network::Visa, date!(2026 - 07 - 27)),
            date!(2026 - 07 - 30),
            "Olavsoka eve and day"
        );
        assert_eq!(
            settlement_date(Network::Visa, date!(2024 - 04 - 24)),
            date!(2024 - 04 - 26),
            "Flag Day; Great Prayer Day is no longer a holiday"
        );
        assert_eq!(
            settlement_date(Network::Dankort, date!(2023 - 07 - 28)),
            date!(2023 - 07 - 31),
            "Olavsoka eve on a Friday"
        );
    }
}
