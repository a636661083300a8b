//! Civil dates and times from Unix seconds (UTC) for receipts, and banking days for settlement
//! (CARD-09, CARD-11). Proleptic Gregorian calendar.

/// A UTC date and time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime {
    /// Year.
    pub year: i32,
    /// Month 1..=12.
    pub month: u8,
    /// Day 1..=31.
    pub day: u8,
    /// Hour 0..=23.
    pub hour: u8,
    /// Minute.
    pub minute: u8,
    /// Second.
    pub second: u8,
}

/// Converts Unix seconds to a UTC date and time.
pub fn from_unix(unix_s: i64) -> DateTime {
    let (year, month, day) = payhil_protocol::civil::from_days(unix_s.div_euclid(86_400));
    let secs = unix_s.rem_euclid(86_400);
    DateTime {
        year: year as i32,
        month,
        day,
        hour: (secs / 3600) as u8,
        minute: (secs % 3600 / 60) as u8,
        second: (secs % 60) as u8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(
            from_unix(0),
            DateTime {
                year: 1970,
                month: 1,
                day: 1,
                hour: 0,
                minute: 0,
                second: 0
            }
        );
        // 2024-02-29T23:59:59Z, a leap day.
        assert_eq!(
            from_unix(1_709_251_199),
            DateTime {
                year: 2024,
                month: 2,
                day: 29,
                hour: 23,
                minute: 59,
                second: 59
            }
        );
        assert_eq!(from_unix(-1).year, 1969);
    }
}

/// A calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    /// Year.
    pub year: i32,
    /// Month 1..=12.
    pub month: u8,
    /// Day 1..=31.
    pub day: u8,
}

impl Date {
    /// The date of a Unix time (UTC).
    pub fn of_unix(unix_s: i64) -> Self {
        let t = from_unix(unix_s);
        Self {
            year: t.year,
            month: t.month,
            day: t.day,
        }
    }

    /// Days since 1970-01-01.
    pub fn days(self) -> i64 {
        payhil_protocol::civil::to_days(i64::from(self.year), self.month, self.day)
    }

    /// The date `n` days later.
    pub fn plus_days(self, n: i64) -> Self {
        Self::of_unix((self.days() + n) * 86_400)
    }

    /// Day of the week, 0 = Monday .. 6 = Sunday.
    pub fn weekday(self) -> u8 {
        // 1970-01-01 was a Thursday (3).
        ((self.days() + 3).rem_euclid(7)) as u8
    }
}

/// Easter Sunday (Gregorian; anonymous algorithm, Meeus/Jones/Butcher).
pub fn easter(year: i32) -> Date {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    Date {
        year,
        month: month as u8,
        day: day as u8,
    }
}

/// Bank holidays as data (CARD-11): fixed dates and days relative to Easter Sunday.
#[derive(Debug, Clone, Copy)]
pub struct HolidayCalendar<'a> {
    /// Name, for reports.
    pub name: &'a str,
    /// (month, day) closed every year.
    pub fixed: &'a [(u8, u8)],
    /// Days relative to Easter Sunday that are closed.
    pub easter_offsets: &'a [i16],
    /// Days relative to Easter Sunday that are closed up to and including a year only, as
    /// (offset, last year): a holiday a law abolished from a date keeps its earlier dates.
    pub easter_offsets_until: &'a [(i16, i32)],
}

/// The Faroe Islands' banking calendar as the Visa/Dankort terms list it ("Bankdag", seed 001
/// section 21): weekends, public holidays (Great Prayer Day, Easter + 26, up to and including
/// 2023, following the 2024 abolition by date as the project reads the seed), the flag day 25 April,
/// Constitution Day 5 June, Ólavsøka eve and day 28-29 July, Christmas Eve and 31 December.
/// The Friday after Ascension is a banking day: the seed does not list it.
pub const FAROESE_BANKING: HolidayCalendar<'static> = HolidayCalendar {
    name: "FO",
    fixed: &[
        (1, 1),
        (4, 25),
        (6, 5),
        (7, 28),
        (7, 29),
        (12, 24),
        (12, 25),
        (12, 26),
        (12, 31),
    ],
    easter_offsets: &[-3, -2, 0, 1, 39, 49, 50],
    easter_offsets_until: &[(26, 2023)],
};

/// Denmark's banking calendar (not the seed's, which is the Faroese one above): weekends, public
/// holidays (Great Prayer Day up to and including 2023: the act abolishing it applies from
/// 2024), the Friday after Ascension (a bank closing day in Denmark), Constitution Day,
/// Christmas Eve and 31 December.
pub const DANISH_BANKING: HolidayCalendar<'static> = HolidayCalendar {
    name: "DK",
    fixed: &[(1, 1), (6, 5), (12, 24), (12, 25), (12, 26), (12, 31)],
    easter_offsets: &[-3, -2, 0, 1, 39, 40, 49, 50],
    easter_offsets_until: &[(26, 2023)],
};

impl HolidayCalendar<'_> {
    /// True on banking days: not a Saturday, Sunday or listed holiday (CARD-11).
    pub fn is_banking_day(&self, d: Date) -> bool {
        if d.weekday() >= 5 || self.fixed.contains(&(d.month, d.day)) {
            return false;
        }
        let after_easter = d.days() - easter(d.year).days();
        let closed = self
            .easter_offsets
            .iter()
            .any(|&o| i64::from(o) == after_easter)
            || self
                .easter_offsets_until
                .iter()
                .any(|&(o, last)| i64::from(o) == after_easter && d.year <= last);
        !closed
    }

    /// The first banking day on or after `d`.
    pub fn on_or_after(&self, d: Date) -> Date {
        let mut x = d;
        // At most a handful of closed days in a row; bounded anyway.
        for _ in 0..14 {
            if self.is_banking_day(x) {
                return x;
            }
            x = x.plus_days(1);
        }
        x
    }
}

#[cfg(test)]
mod banking_tests {
    use super::*;

    fn d(year: i32, month: u8, day: u8) -> Date {
        Date { year, month, day }
    }

    #[test]
    fn easter_dates() {
        assert_eq!(easter(2024), d(2024, 3, 31));
        assert_eq!(easter(2026), d(2026, 4, 5));
        assert_eq!(easter(2027), d(2027, 3, 28));
    }

    #[test]
    fn card_11_banking_days_exclude_weekends_and_the_seeds_holidays() {
        let fo = FAROESE_BANKING;
        assert!(fo.is_banking_day(d(2026, 3, 2)), "a Monday");
        assert!(
            !fo.is_banking_day(d(2026, 3, 7)) && !fo.is_banking_day(d(2026, 3, 8)),
            "weekend"
        );
        assert!(
            !fo.is_banking_day(d(2029, 4, 25)),
            "flag day (a Wednesday in 2029)"
        );
        assert!(
            !fo.is_banking_day(d(2026, 7, 28)),
            "Ólavsøkuaften (a Tuesday in 2026)"
        );
        assert!(!fo.is_banking_day(d(2026, 7, 29)), "Ólavsøkudag");
        assert!(!fo.is_banking_day(d(2026, 12, 24)) && !fo.is_banking_day(d(2026, 12, 31)));
        assert!(!fo.is_banking_day(d(2026, 4, 3)), "Good Friday 2026");
        assert!(
            fo.is_banking_day(d(2026, 5, 1)),
            "Great Prayer Day 2026 (Easter + 26): abolished from 2024"
        );
        assert!(
            DANISH_BANKING.is_banking_day(d(2026, 5, 1)),
            "abolished in Denmark"
        );
        assert!(
            !DANISH_BANKING.is_banking_day(d(2026, 5, 15)),
            "Friday after Ascension"
        );
        assert_eq!(d(2026, 4, 2).weekday(), 3, "Maundy Thursday is a Thursday");
        assert_eq!(
            fo.on_or_after(d(2026, 4, 2)),
            d(2026, 4, 7),
            "Easter: Thu..Mon closed"
        );
    }

    /// Closed weekdays of the seed's "Bankdag" (section 21) in a year.
    fn seed_closed_weekdays(year: i32) -> &'static [(u8, u8)] {
        match year {
            // New Year's Day, Olavsoka day, Christmas Eve and 31 Dec fall on weekends in 2023.
            2023 => &[
                (4, 6),   // Maundy Thursday
                (4, 7),   // Good Friday
                (4, 10),  // Easter Monday
                (4, 25),  // Faroese Flag Day
                (5, 5),   // Great Prayer Day
                (5, 18),  // Ascension Day
                (5, 29),  // Whit Monday
                (6, 5),   // Constitution Day
                (7, 28),  // Olavsoka eve
                (12, 25), // Christmas Day
                (12, 26), // Boxing Day
            ],
            2024 => &[
                (1, 1),
                (3, 28),
                (3, 29),
                (4, 1),
                (4, 25),
                (5, 9),
                (5, 20),
                (6, 5),
                (7, 29),
                (12, 24),
                (12, 25),
                (12, 26),
                (12, 31),
            ],
            2026 => &[
                (1, 1),
                (4, 2),
                (4, 3),
                (4, 6),
                (5, 14),
                (5, 25),
                (6, 5),
                (7, 28),
                (7, 29),
                (12, 24),
                (12, 25),
                (12, 31),
            ],
            _ => &[],
        }
    }

    #[test]
    fn card_11_faroese_calendar_closes_exactly_the_seeds_days() {
        for year in [2023, 2024, 2026] {
            let listed = seed_closed_weekdays(year);
            let mut x = d(year, 1, 1);
            while x.year == year {
                let closed = x.weekday() >= 5 || listed.contains(&(x.month, x.day));
                assert_eq!(FAROESE_BANKING.is_banking_day(x), !closed, "{x:?}");
                x = x.plus_days(1);
            }
        }
        // The Friday after Ascension is not in the seed's list.
        for x in [d(2023, 5, 19), d(2024, 5, 10), d(2026, 5, 15)] {
            assert!(FAROESE_BANKING.is_banking_day(x), "{x:?}");
        }
    }

    #[test]
    fn card_11_danish_great_prayer_day_is_closed_until_2023_only() {
        // Denmark abolished Store Bededag from 2024; the seed's calendar follows that by date.
        assert!(!DANISH_BANKING.is_banking_day(d(2023, 5, 5)), "2023");
        assert!(!DANISH_BANKING.is_banking_day(d(2016, 4, 22)), "2016");
        assert!(DANISH_BANKING.is_banking_day(d(2024, 4, 26)), "2024");
        assert!(DANISH_BANKING.is_banking_day(d(2026, 5, 1)), "2026");
        assert_eq!(
            DANISH_BANKING.on_or_after(d(2023, 5, 4).plus_days(1)),
            d(2023, 5, 8),
            "Great Prayer Day 2023, then the weekend"
        );
        assert!(FAROESE_BANKING.is_banking_day(d(2024, 4, 26)));
        assert!(!FAROESE_BANKING.is_banking_day(d(2023, 5, 5)));
    }
}
