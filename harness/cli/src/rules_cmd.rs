//! `payhil rules`: which rules the scenarios cover, and how they fared in the last run.

use crate::run_cmd::{discover, last_run_path};
use payhil_scenario::parse_file;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Arguments of `payhil rules`.
#[derive(clap::Args)]
pub struct RulesArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Scenario files or directories (default: scenarios/).
    paths: Vec<PathBuf>,
    /// Results to show: an evidence bundle (its `report.json`) or a `last-run.json` (default:
    /// the latest bundle, `target/payhil/latest`, else `target/payhil/last-run.json`).
    #[arg(long)]
    results: Option<PathBuf>,
}

#[derive(Serialize)]
struct Coverage {
    id: String,
    family: String,
    source: String,
    scenarios: Vec<ScenarioRef>,
}

#[derive(Serialize)]
struct ScenarioRef {
    file: String,
    last_result: String,
}

/// Prints the coverage table; exit status 1 if a rule has no scenario, 2 on bad input.
pub fn rules(args: RulesArgs) -> i32 {
    let files = match discover(&args.paths) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("payhil rules: {e:#}");
            return 2;
        }
    };
    let (results_path, last) = last_results(args.results.as_deref());
    let mut by_rule: BTreeMap<String, Vec<ScenarioRef>> = BTreeMap::new();
    let mut bad = 0;
    for f in &files {
        match parse_file(f) {
            Ok(s) => {
                let file = f.display().to_string();
                for r in s.rules {
                    let last_result = last
                        .get(&key(f))
                        .cloned()
                        .unwrap_or_else(|| "not run".into());
                    by_rule.entry(r).or_default().push(ScenarioRef {
                        file: file.clone(),
                        last_result,
                    });
                }
            }
            Err(e) => {
                bad += 1;
                eprintln!("{e}");
            }
        }
    }
    let table: Vec<Coverage> = payhil_scenario::rules::all()
        .into_iter()
        .map(|r| Coverage {
            scenarios: by_rule.remove(&r.id).unwrap_or_default(),
            id: r.id,
            family: r.family,
            source: r.source,
        })
        .collect();
    let uncovered = table.iter().filter(|c| c.scenarios.is_empty()).count();
    if args.json {
        match serde_json::to_string_pretty(&table) {
            Ok(j) => println!("{j}"),
            Err(e) => {
                eprintln!("payhil rules: {e}");
                return 2;
            }
        }
    } else {
        println!("{:<11} {:<9} SCENARIOS", "RULE", "RESULT");
        for c in &table {
            let result = if c.scenarios.is_empty() {
                "NONE"
            } else if c.scenarios.iter().all(|s| s.last_result == "pass") {
                "pass"
            } else if c.scenarios.iter().any(|s| s.last_result == "fail") {
                "FAIL"
            } else {
                "not run"
            };
            let names: Vec<&str> = c.scenarios.iter().map(|s| s.file.as_str()).collect();
            println!("{:<11} {:<9} {}", c.id, result, names.join(", "));
        }
        println!(
            "{} rules, {} covered, {uncovered} without a scenario (results from {})",
            table.len(),
            table.len() - uncovered,
            results_path.display()
        );
    }
    if bad > 0 { 2 } else { i32::from(uncovered > 0) }
}

/// A scenario file's key for matching results: its canonical path when it exists.
fn key(file: &std::path::Path) -> String {
    std::fs::canonicalize(file)
        .unwrap_or_else(|_| file.to_path_buf())
        .display()
        .to_string()
}

/// The last results by scenario file: from an evidence bundle's `report.json`, or from the
/// older `last-run.json`.
fn last_results(given: Option<&std::path::Path>) -> (PathBuf, BTreeMap<String, String>) {
    let latest = last_run_path().with_file_name("latest");
    let path = match given {
        Some(p) if p.is_dir() => p.join("report.json"),
        Some(p) => p.to_path_buf(),
        None if latest.join("report.json").is_file() => latest.join("report.json"),
        None => last_run_path(),
    };
    let Some(v) = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
    else {
        return (path, BTreeMap::new());
    };
    // A bundle's report names its scenarios with `file` and `verdict`; last-run.json with
    // `file` and `result`.
    let results = v["scenarios"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| {
            let file = s["file"].as_str()?;
            let result = s["verdict"].as_str().or_else(|| s["result"].as_str())?;
            Some((key(std::path::Path::new(file)), result.to_string()))
        })
        .collect();
    (path, results)
}
