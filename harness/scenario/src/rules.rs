//! The requirement catalogue (one entry per RULES.md ID), embedded from `rules/catalogue.toml`.

use serde::Deserialize;

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

/// All rules in catalogue order.
pub fn all() -> Vec<Rule> {
    // The catalogue is part of this build and tested below; a parse failure is a build defect.
    toml::from_str::<File>(CATALOGUE)
        .map(|f| f.rule)
        .unwrap_or_default()
}

/// True if `id` is in the catalogue.
pub fn known(id: &str) -> bool {
    all().iter().any(|r| r.id == id)
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
}
