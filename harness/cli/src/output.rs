//! What `payhil run` prints: lines for a person (`--quiet`: only failures and totals), or one
//! JSON object per event for a CI log (`--json`). Every line is written whole, so the lines of
//! terminals run at once never mix.

use serde_json::{Value, json};

/// How `payhil run` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// A line per scenario, failures with the transcript's last lines.
    Human,
    /// Only failures and the totals.
    Quiet,
    /// One JSON object per line per event (`start`, `scenario`, `terminal`, `end`).
    Json,
}

/// The run's output.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    mode: Mode,
}

/// One scenario's end, as reported.
pub struct ScenarioLine<'a> {
    /// The terminal, in an inventory run.
    pub terminal: Option<&'a str>,
    /// The scenario's bundle id (in JSON).
    pub id: &'a str,
    /// Its file's stem (for a person).
    pub stem: &'a str,
    /// `pass`, `fail` or `skip`.
    pub result: &'a str,
    /// Wall time in seconds.
    pub elapsed_s: f64,
    /// Rules it covers.
    pub rules: &'a [String],
    /// Why it failed or was skipped.
    pub problems: &'a [String],
    /// The transcript's last lines, for a failure.
    pub tail: &'a [String],
}

impl Output {
    /// An output in `mode`.
    pub fn new(mode: Mode) -> Self {
        Self { mode }
    }

    /// A line of information for a person (not in `--quiet` or `--json`).
    pub fn info(&self, terminal: Option<&str>, text: &str) {
        if self.mode == Mode::Human {
            println!("{}{text}", prefix(terminal));
        }
    }

    /// A line a person must see (problems, totals), and the JSON event that carries it.
    pub fn notice(&self, terminal: Option<&str>, text: &str, event: Value) {
        match self.mode {
            Mode::Json => println!("{event}"),
            _ => println!("{}{text}", prefix(terminal)),
        }
    }

    /// A scenario's end.
    pub fn scenario(&self, s: &ScenarioLine<'_>) {
        match self.mode {
            Mode::Json => println!(
                "{}",
                json!({
                    "event": "scenario",
                    "terminal": s.terminal,
                    "scenario": s.id,
                    "result": s.result,
                    "elapsed_s": (s.elapsed_s * 1000.0).round() / 1000.0,
                    "rules": s.rules,
                    "problems": s.problems,
                })
            ),
            Mode::Quiet if s.result == "pass" => {}
            _ => {
                let mut text = format!(
                    "{}{:<5} {:<40} {:>6.2}s  [{}]",
                    prefix(s.terminal),
                    s.result.to_uppercase(),
                    s.stem,
                    s.elapsed_s,
                    s.rules.join(" ")
                );
                for p in s.problems {
                    text.push_str(&format!("\n      {p}"));
                }
                if !s.tail.is_empty() {
                    text.push_str("\n      last transcript lines:");
                    for l in s.tail {
                        text.push_str(&format!("\n        {l}"));
                    }
                }
                println!("{text}");
            }
        }
    }
}

fn prefix(terminal: Option<&str>) -> String {
    terminal.map(|t| format!("[{t}] ")).unwrap_or_default()
}
