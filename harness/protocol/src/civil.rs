//! Proleptic Gregorian dates from and to days since 1970-01-01 (Howard Hinnant's algorithms),
//! shared by the ISO 8583 mapping and the firmware's calendar so the arithmetic exists once.

/// (year, month 1..=12, day 1..=31) of a day number (days since 1970-01-01).
pub const fn from_days(days: i64) -> (i64, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    (yoe + era * 400 + (month <= 2) as i64, month, day)
}

/// Days since 1970-01-01 of a date.
pub const fn to_days(year: i64, month: u8, day: u8) -> i64 {
    let y = year - (month <= 2) as i64;
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = month as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
    era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
}

#[cfg(test)]
mod tests {
    #[test]
    fn roundtrips_and_known_days() {
        assert_eq!(super::from_days(0), (1970, 1, 1));
        assert_eq!(super::to_days(2024, 2, 29), 19_782);
        for d in [-800_000, -1, 0, 59, 19_782, 2_932_896] {
            let (y, m, dd) = super::from_days(d);
            assert_eq!(super::to_days(y, m, dd), d);
        }
    }
}
