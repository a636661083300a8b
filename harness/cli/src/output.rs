//! What `payhil run` prints: lines for a person (`--quiet`: only failures and totals), or one
//! JSON object per event for a CI log (`--json`). Every line is written whole, so the lines of
//! terminals run at once never mix.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Value, json};
use std::io::IsTerminal;
use std::sync::OnceLock;

/// The live display of a run for a person at a terminal: a bar per terminal (indicatif), drawn
/// on standard error; lines are printed above it.
static BARS: OnceLock<MultiProgress> = OnceLock::new();

/// Prints `text` as a line of its own, above the live display if there is one.
fn say(text: &str) {
    match BARS.get() {
        Some(m) => m.suspend(|| println!("{text}")),
        None => println!("{text}"),
    }
}

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
            say(&format!("{}{text}", prefix(terminal)));
        }
    }

    /// A line a person must see (problems, totals), and the JSON event that carries it.
    pub fn notice(&self, terminal: Option<&str>, text: &str, event: Value) {
        match self.mode {
            Mode::Json => say(&event.to_string()),
            _ => say(&format!("{}{text}", prefix(terminal))),
        }
    }

    /// A scenario's end.
    pub fn scenario(&self, s: &ScenarioLine<'_>) {
        match self.mode {
            Mode::Json => say(&json!({
                "event": "scenario",
                "terminal": s.terminal,
                "scenario": s.id,
                "result": s.result,
                "elapsed_s": (s.elapsed_s * 1000.0).round() / 1000.0,
                "rules": s.rules,
                "problems": s.problems,
            })
            .to_string()),
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
                say(&text);
            }
        }
    }

    /// A live bar for a terminal's `total` scenarios: drawn only for a person (not `--quiet`
    /// or `--json`) whose standard error is a terminal; hidden otherwise.
    pub fn bar(&self, terminal: Option<&str>, total: usize) -> ProgressBar {
        if self.mode != Mode::Human || !std::io::stderr().is_terminal() {
            return ProgressBar::hidden();
        }
        let multi =
            BARS.get_or_init(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        let bar = multi.add(ProgressBar::new(total as u64));
        let style = ProgressStyle::with_template("{prefix:>10} [{bar:30}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(terminal.unwrap_or("payhil").to_string());
        bar
    }
}

fn prefix(terminal: Option<&str>) -> String {
    terminal.map(|t| format!("[{t}] ")).unwrap_or_default()
}
