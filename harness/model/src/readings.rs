//! The readings of the rules that the seeds leave open, as the rule catalogue records them
//! (`rules/catalogue.toml`, `[[interpretation]]`, each with its seed passage and why). The model
//! takes every such figure from here, never from the firmware: a misreading is then a visible,
//! sourced entry, and the terminal under test is judged against it rather than against itself.

use serde::Deserialize;
use std::sync::LazyLock;

/// The catalogue as built into this harness.
const CATALOGUE: &str = include_str!("../../../rules/catalogue.toml");

/// The figures the model uses where the rules are open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Readings {
    /// PBS-05/split-window: one card's offline payments within this many seconds count
    /// together.
    pub split_window_s: u32,
    /// BAX-04/id-reference: length of a letters-and-digits ID reference, inclusive.
    pub id_reference_len: (usize, usize),
    /// BAX-08/phone-code: length of a phone authorisation code, inclusive.
    pub phone_code_len: (usize, usize),
    /// BAX-10/deadline-scope: a reserve item is overdue after this many seconds.
    pub reserve_deadline_s: u32,
    /// BAX-10/deadline-scope: a Nets offline item is overdue after this many seconds.
    pub nets_deadline_s: u32,
    /// CARD-04/daily-total: a reversed purchase still counts toward the daily maximum.
    pub reversed_counts_today: bool,
    /// CARD-04/daily-total: a capture counts toward the daily maximum.
    pub captures_count_today: bool,
    /// CARD-04/daily-total and CARD-08/time-zone: the terminal's day starts at this offset
    /// from UTC midnight.
    pub day_offset_s: i64,
    /// CARD-03/clock-set-back: how far the clock may be behind the latest journaled time
    /// before the terminal takes no card transaction.
    pub clock_tolerance_s: i64,
    /// PBS-03/finite-journal: the later events (card transactions, follow-ups, power-ups) for
    /// which the in-process bench's terminal must still hold a transaction for a follow-up.
    pub bench_follow_up_window: u32,
}

/// Why the catalogue's readings could not be taken.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReadingError {
    /// The file is not valid TOML of the catalogue's shape.
    #[error("rule catalogue: {0}")]
    Parse(String),
    /// A reading the model needs is missing.
    #[error("rule catalogue: interpretation {0} is missing")]
    Missing(&'static str),
    /// A reading's value lacks a field or has the wrong type or range.
    #[error("rule catalogue: interpretation {id}: value `{field}` is missing or out of range")]
    Value {
        /// The interpretation.
        id: &'static str,
        /// The field of its `value`.
        field: &'static str,
    },
}

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    interpretation: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    id: String,
    #[serde(default)]
    value: toml::Table,
}

struct Values(Vec<Entry>);

impl Values {
    fn get(&self, id: &'static str, field: &'static str) -> Result<&toml::Value, ReadingError> {
        let e = self
            .0
            .iter()
            .find(|e| e.id == id)
            .ok_or(ReadingError::Missing(id))?;
        e.value.get(field).ok_or(ReadingError::Value { id, field })
    }

    fn int<T: TryFrom<i64>>(
        &self,
        id: &'static str,
        field: &'static str,
    ) -> Result<T, ReadingError> {
        self.get(id, field)?
            .as_integer()
            .and_then(|i| T::try_from(i).ok())
            .ok_or(ReadingError::Value { id, field })
    }

    fn flag(&self, id: &'static str, field: &'static str) -> Result<bool, ReadingError> {
        self.get(id, field)?
            .as_bool()
            .ok_or(ReadingError::Value { id, field })
    }

    fn len_range(&self, id: &'static str) -> Result<(usize, usize), ReadingError> {
        let (lo, hi) = (self.int(id, "min_len")?, self.int(id, "max_len")?);
        if lo > hi {
            return Err(ReadingError::Value {
                id,
                field: "min_len",
            });
        }
        Ok((lo, hi))
    }

    fn days_s(&self, id: &'static str, field: &'static str) -> Result<u32, ReadingError> {
        let days: u32 = self.int(id, field)?;
        days.checked_mul(86_400)
            .ok_or(ReadingError::Value { id, field })
    }
}

impl Readings {
    /// The readings of a catalogue text.
    pub fn from_catalogue(text: &str) -> Result<Self, ReadingError> {
        let file: File = toml::from_str(text).map_err(|e| ReadingError::Parse(e.to_string()))?;
        let v = Values(file.interpretation);
        Ok(Self {
            split_window_s: v.int("PBS-05/split-window", "seconds")?,
            id_reference_len: v.len_range("BAX-04/id-reference")?,
            phone_code_len: v.len_range("BAX-08/phone-code")?,
            reserve_deadline_s: v.days_s("BAX-10/deadline-scope", "reserve_days")?,
            nets_deadline_s: v.days_s("BAX-10/deadline-scope", "nets_days")?,
            reversed_counts_today: v.flag("CARD-04/daily-total", "reversed_counts")?,
            captures_count_today: v.flag("CARD-04/daily-total", "captures_count")?,
            day_offset_s: v.int("CARD-04/daily-total", "utc_offset_s")?,
            clock_tolerance_s: v.int("CARD-03/clock-set-back", "tolerance_s")?,
            bench_follow_up_window: v.int("PBS-03/finite-journal", "in_process_bench_events")?,
        })
    }

    /// The readings of the catalogue built into this harness. Its parse is tested below, so a
    /// failure here is a broken build, reported as such.
    pub fn builtin() -> Self {
        static BUILTIN: LazyLock<Result<Readings, ReadingError>> =
            LazyLock::new(|| Readings::from_catalogue(CATALOGUE));
        match &*BUILTIN {
            Ok(r) => *r,
            Err(e) => panic!("the rule catalogue built into payhil is broken: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_catalogue_has_every_reading_the_model_needs() {
        let r = Readings::from_catalogue(CATALOGUE).expect("the built-in catalogue");
        assert_eq!(r.split_window_s, 600);
        assert_eq!(r.reserve_deadline_s, 14 * 86_400);
        assert!(r.id_reference_len.0 <= r.id_reference_len.1);
        assert_eq!(Readings::builtin(), r);
    }

    #[test]
    fn a_missing_or_malformed_reading_is_a_specific_error() {
        assert_eq!(
            Readings::from_catalogue(""),
            Err(ReadingError::Missing("PBS-05/split-window"))
        );
        let bad = CATALOGUE.replace("value = { seconds = 600 }", "value = { seconds = -1 }");
        assert_eq!(
            Readings::from_catalogue(&bad),
            Err(ReadingError::Value {
                id: "PBS-05/split-window",
                field: "seconds"
            })
        );
    }
}
