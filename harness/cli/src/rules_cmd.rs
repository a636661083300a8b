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
    /// Results of the last run (written by `payhil run`).
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
    let results_path = args.results.clone().unwrap_or_else(last_run_path);
    let last: BTreeMap<String, String> = std::fs::read_to_string(&results_path)
        .ok()
        .and_then(|t| serde_json::from_str::<crate::run_cmd::LastRun>(&t).ok())
        .map(|r| {
            r.scenarios
                .into_iter()
                .map(|s| (s.file, s.result))
                .collect()
        })
        .unwrap_or_default();
    let mut by_rule: BTreeMap<String, Vec<ScenarioRef>> = BTreeMap::new();
    let mut bad = 0;
    for f in &files {
        match parse_file(f) {
            Ok(s) => {
                let file = f.display().to_string();
                for r in s.rules {
                    let last_result = last.get(&file).cloned().unwrap_or_else(|| "not run".into());
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
