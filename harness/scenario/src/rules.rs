//! The requirement catalogue (one entry per RULES.md ID), embedded from `rules/catalogue.toml`.

use serde::Deserialize;
use std::sync::LazyLock;

/// One rule.
#[derive(Debug, Clone, Deserialize)]
pub struct Rule {
    /// Stable ID, e.g. `NETS-04`.
    pub id: String,
    /// Rule family (NETS, CARD, ...).
    pub family: String,
    /// Source document.
    pub source: String,
    /// The rule's text.
    pub text: String,
}

#[derive(Deserialize)]
struct File {
    rule: Vec<Rule>,
}

const CATALOGUE: &str = include_str!("../../../rules/catalogue.toml");

/// How often the catalogue was parsed, so a test can see it is once.
#[cfg(test)]
static LOADS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// The catalogue, parsed on first use: `payhil check` asks [`known`] for every rule ID of every
/// file, and parsing the TOML each time made checking many files slow for nothing.
static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    #[cfg(test)]
    LOADS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    // The catalogue is part of this build and tested below; a parse failure is a build defect.
    toml::from_str::<File>(CATALOGUE)
        .map(|f| f.rule)
        .unwrap_or_default()
});

/// All rules in catalogue order.
pub fn all() -> Vec<Rule> {
    RULES.clone()
}

/// True if `id` is in the catalogue.
pub fn known(id: &str) -> bool {
    RULES.iter().any(|r| r.id == id)
}

#[cfg(test)]
mod tests {
    #[test]
    fn catalogue_parses_and_ids_are_unique() {
        let all = super::all();
        assert_eq!(all.len(), 41);
        let mut ids: Vec<_> = all.iter().map(|r| r.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), all.len());
    }

    #[test]
    fn the_catalogue_is_read_once_however_many_ids_are_looked_up() {
        for _ in 0..1000 {
            assert!(super::known("NETS-01"));
            assert!(!super::known("NETS-99"));
        }
        assert_eq!(super::all().len(), 41);
        // Other tests may run first, but all of them together read it at most once.
        assert!(
            super::LOADS.load(std::sync::atomic::Ordering::Relaxed) <= 1,
            "the catalogue was parsed {} times",
            super::LOADS.load(std::sync::atomic::Ordering::Relaxed)
        );
    }

    /// A reading of a rule where its source leaves room (`[[interpretation]]`); the harness
    /// does not use them, but each must be complete and name a rule of the catalogue.
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Interpretation {
        id: String,
        rule: String,
        reading: String,
        source: String,
        why: String,
        /// The values the model reads (payhil-model's `readings`).
        #[allow(dead_code)]
        value: Option<toml::Table>,
    }

    #[derive(serde::Deserialize)]
    struct Interpretations {
        #[serde(default)]
        interpretation: Vec<Interpretation>,
    }

    #[test]
    fn interpretations_are_complete_and_name_known_rules() {
        let file: Interpretations = toml::from_str(super::CATALOGUE).expect("catalogue parses");
        assert!(!file.interpretation.is_empty());
        for i in &file.interpretation {
            assert!(super::known(&i.rule), "{}: unknown rule {}", i.id, i.rule);
            assert!(i.id.starts_with(&format!("{}/", i.rule)), "{}", i.id);
            for (field, text) in [
                ("reading", &i.reading),
                ("source", &i.source),
                ("why", &i.why),
            ] {
                assert!(!text.trim().is_empty(), "{}: empty {field}", i.id);
            }
        }
        let bankdag = file
            .interpretation
            .iter()
            .find(|i| i.id == "CARD-11/bankdag");
        assert!(bankdag.is_some_and(|i| i.source.contains("001_7a3bd471e617754d.txt")));
    }
}
