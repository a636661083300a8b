//! Scenario files: what they say, how they are parsed, how they run.
//!
//! * [`mod@format`]: the TOML format, parsed with spans so every error names file:line:column.
//! * [`rules`]: the requirement catalogue scenarios name (rules/catalogue.toml).
//! * [`runner`]: runs a scenario on a [`payhil_bench::Bench`], checks the terminal against the
//!   scenario's expectations and the reference model, and collects artifacts.
//! * [`snapshot`]: compares artifacts with the reviewed insta snapshots beside each scenario
//!   (`scenarios/<group>/snapshots`).
//! * [`discovery`]: which scenario files a set of paths holds.
//! * [`transcript_file`]: a transcript as JSON Lines, written and read one entry at a time.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod discovery;
pub mod format;
pub mod rules;
pub mod runner;
pub mod snapshot;
pub mod transcript_file;

pub use format::{Action, Scenario, ScenarioError, parse_file, parse_str};
pub use runner::{Artifact, ScenarioReport, run, run_to};
