//! One terminal's suite: its scenarios one after another on a terminal the harness did not
//! start (each begins with the test agent's Reset), or `jobs` at a time on emulated terminals
//! (each scenario its own process on its own PTY). Reported in file order as they end, into the
//! terminal's evidence bundle.
//!
//! A terminal that is lost is not tried again as if nothing happened: one that stopped
//! answering (or refused the session) fails the rest of its scenarios at once with the error
//! that lost it; one whose port went away is opened again by its path before each remaining
//! scenario, which fails at once while the port is absent and runs when it is back (never
//! through a stale handle: every scenario opens the port itself).

use crate::evidence_cmd::ScenarioIds;
use crate::output::{Output, ScenarioLine};
use crate::run_cmd::{LastResult, snapshot_problems, write_outputs};
use futures_util::StreamExt;
use payhil_scenario::runner::{RunOptions, TerminalLoss, TerminalTarget};
use payhil_scenario::{ScenarioReport, parse_file};
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use tokio::sync::watch;

/// A signal that ends the run: its name and the exit status that reports it.
pub type Stop = Option<(&'static str, i32)>;

/// What one terminal runs.
pub struct Suite<'a> {
    /// The terminal's name in an inventory run (prefixes its lines).
    pub terminal: Option<&'a str>,
    /// Scenario files, in order.
    pub files: &'a [PathBuf],
    /// The roots they were found under (their bundle ids are their paths below these).
    pub roots: Vec<PathBuf>,
    /// How to run them.
    pub opts: RunOptions,
    /// How many at once (1 on a terminal the harness did not start).
    pub jobs: usize,
    /// Compare receipts and settlement files with the reviewed snapshots.
    pub compare_snapshots: bool,
    /// Where `--out` writes each scenario's files.
    pub out: Option<PathBuf>,
    /// The limits a terminal without Reset is configured with (inventory): scenarios that
    /// assume others are skipped.
    pub configured: Option<crate::inventory::Configured>,
}

/// What a suite did.
#[derive(Default)]
pub struct SuiteResult {
    /// Passed.
    pub passed: usize,
    /// Failed (including refused and not run).
    pub failed: usize,
    /// Skipped: a step the terminal does not offer.
    pub skipped: usize,
    /// One entry per scenario that ended.
    pub record: Vec<LastResult>,
    /// The signal that ended it early, and how many scenarios were not run.
    pub interrupted: Option<(&'static str, i32, usize)>,
}

/// The scenario where the terminal was lost, and how.
#[derive(Clone)]
struct Lost {
    scenario: String,
    loss: TerminalLoss,
}

enum Ended {
    Refused(String),
    Misconfigured(String),
    NotRun(String),
    Ran(Box<ScenarioReport>),
}

/// Runs `s`, adding each scenario to `bundle` as it ends; stops early when `stop` says so.
pub async fn run_suite(
    mut s: Suite<'_>,
    bundle: &mut payhil_evidence::BundleWriter,
    out: Output,
    mut stop: watch::Receiver<Stop>,
) -> SuiteResult {
    let mut ids = ScenarioIds::new(s.roots.clone());
    let plan: Vec<(&PathBuf, String, PathBuf)> = s
        .files
        .iter()
        .map(|f| {
            let id = ids.id(f);
            let transcript = bundle.transcript_path(&id);
            (f, id, transcript)
        })
        .collect();
    let physical = matches!(s.opts.target, TerminalTarget::Physical { .. });
    let jobs = if physical { 1 } else { s.jobs.max(1) };
    let lost: RefCell<Option<Lost>> = RefCell::new(None);
    let bar = out.bar(s.terminal, plan.len());
    // One scenario at a time: the bar shows its step (the runner sets it as it goes).
    let step = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    if jobs == 1 && !bar.is_hidden() {
        s.opts.progress = Some(step.clone());
    }
    let ticking = s.opts.progress.is_some();
    let (lost, opts, configured) = (&lost, &s.opts, s.configured);
    let running = RefCell::new(String::new());
    let (bar, running_now) = (&bar, &running);
    let mut ended = futures_util::stream::iter(plan.iter())
        .map(|(file, _, transcript)| async move {
            *running_now.borrow_mut() = stem(file);
            bar.set_message(format!("running {}", stem(file)));
            let scn = match parse_file(file) {
                Ok(scn) => scn,
                Err(e) => return Ended::Refused(e.to_string()),
            };
            if let Some(why) = configured.and_then(|c| c.mismatch(&scn.terminal)) {
                return Ended::Misconfigured(why);
            }
            if let Some(why) = not_run(lost, opts, s.terminal, out).await {
                return Ended::NotRun(why);
            }
            Ended::Ran(Box::new(
                payhil_scenario::run_to(&scn, opts, Some(transcript)).await,
            ))
        })
        .buffered(jobs);
    let mut result = SuiteResult::default();
    let mut done = 0;
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(250));
    loop {
        let next = tokio::select! {
            biased;
            _ = tick.tick(), if ticking => {
                bar.set_message(format!(
                    "running {}, step {} ({} passed, {} failed, {} skipped)",
                    running.borrow(),
                    step.load(std::sync::atomic::Ordering::Relaxed),
                    result.passed,
                    result.failed,
                    result.skipped
                ));
                continue;
            }
            Ok(()) = stop.changed() => {
                if let Some((name, status)) = *stop.borrow() {
                    // The scenarios' futures are dropped with the stream, and with them their
                    // benches: emulators are killed (kill_on_drop) and their temporary
                    // directories, flash images included, removed.
                    out.notice(
                        s.terminal,
                        &format!("INTERRUPTED by {name}"),
                        serde_json::json!({"event": "interrupted", "terminal": s.terminal, "signal": name}),
                    );
                    result.interrupted = Some((name, status, plan.len() - done));
                    return result;
                }
                continue;
            }
            next = ended.next() => next,
        };
        let Some(ended) = next else { break };
        let (file, id, _) = &plan[done];
        done += 1;
        let outcome = match ended {
            Ended::Refused(why) | Ended::NotRun(why) => {
                bundle.add(payhil_evidence::ScenarioOutcome {
                    id: id.clone(),
                    file,
                    report: None,
                    refused: Some(why.clone()),
                    skipped: None,
                    snapshot_problems: Vec::new(),
                });
                out.scenario(&ScenarioLine {
                    terminal: s.terminal,
                    id,
                    stem: &stem(file),
                    result: "fail",
                    elapsed_s: 0.0,
                    rules: &[],
                    problems: std::slice::from_ref(&why),
                    tail: &[],
                });
                Err(why)
            }
            Ended::Misconfigured(why) => {
                bundle.add(payhil_evidence::ScenarioOutcome {
                    id: id.clone(),
                    file,
                    report: None,
                    refused: None,
                    skipped: Some(why.clone()),
                    snapshot_problems: Vec::new(),
                });
                out.scenario(&ScenarioLine {
                    terminal: s.terminal,
                    id,
                    stem: &stem(file),
                    result: "skip",
                    elapsed_s: 0.0,
                    rules: &[],
                    problems: std::slice::from_ref(&why),
                    tail: &[],
                });
                Ok(Some(why))
            }
            Ended::Ran(report) => {
                // A scenario that passed expected what happened (a run ended by its own line
                // fault): the terminal is not lost.
                if let (true, false, Some(loss)) = (physical, report.passed(), &report.lost) {
                    *lost.borrow_mut() = Some(Lost {
                        scenario: id.clone(),
                        loss: loss.clone(),
                    });
                }
                ran(&s, bundle, out, file, id, &report)
            }
        };
        bar.inc(1);
        let (verdict, failure) = match outcome {
            Ok(None) => {
                result.passed += 1;
                ("pass", None)
            }
            Ok(Some(why)) => {
                result.skipped += 1;
                ("skip", Some(why))
            }
            Err(why) => {
                result.failed += 1;
                ("fail", Some(why))
            }
        };
        result.record.push(LastResult {
            file: file.display().to_string(),
            result: verdict.into(),
            failure,
        });
        bar.set_message(format!(
            "{} passed, {} failed, {} skipped",
            result.passed, result.failed, result.skipped
        ));
    }
    bar.finish_and_clear();
    result
}

fn stem(file: &Path) -> String {
    file.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Why the next scenario is not run, if the terminal was lost and is not back.
async fn not_run(
    lost: &RefCell<Option<Lost>>,
    opts: &RunOptions,
    terminal: Option<&str>,
    out: Output,
) -> Option<String> {
    let l = lost.borrow().clone()?;
    match (&l.loss, &opts.target) {
        (TerminalLoss::Gone(why), TerminalTarget::Physical { port, baud, .. }) => {
            // Opened and closed at once: the scenario opens the port itself, by its path.
            match payhil_transport::serial::open(port, *baud).await {
                Ok(probe) => {
                    drop(probe);
                    lost.borrow_mut().take();
                    out.info(
                        terminal,
                        &format!("payhil run: {} is back; going on", port.display()),
                    );
                    None
                }
                Err(e) => Some(format!(
                    "not run: the terminal's port has been gone since {} ({why}); now: {e}",
                    l.scenario
                )),
            }
        }
        (TerminalLoss::Gone(_), _) => None,
        (TerminalLoss::Silent(why) | TerminalLoss::Refused(why), _) => Some(format!(
            "not run: the terminal stopped answering in {}: {why}",
            l.scenario
        )),
    }
}

/// Reports a scenario that ran: `Ok(None)` passed, `Ok(Some(why))` skipped, `Err` failed.
fn ran(
    s: &Suite<'_>,
    bundle: &mut payhil_evidence::BundleWriter,
    out: Output,
    file: &Path,
    id: &str,
    report: &ScenarioReport,
) -> Result<Option<String>, String> {
    if let Some(why) = &report.skipped {
        bundle.add(payhil_evidence::ScenarioOutcome {
            id: id.to_string(),
            file,
            report: Some(report),
            refused: None,
            skipped: Some(why.clone()),
            snapshot_problems: Vec::new(),
        });
        out.scenario(&ScenarioLine {
            terminal: s.terminal,
            id,
            stem: &report.stem,
            result: "skip",
            elapsed_s: report.elapsed.as_secs_f64(),
            rules: &report.rules,
            problems: std::slice::from_ref(why),
            tail: &[],
        });
        return Ok(Some(why.clone()));
    }
    let mut problems = Vec::new();
    if let Some(f) = &report.failure {
        let at = if f.step > 0 {
            format!("step {} ({}:{})", f.step, file.display(), f.line)
        } else {
            "run".into()
        };
        problems.push(format!("{at}: {}", f.message));
    }
    problems.extend(report.invariant_findings.iter().cloned());
    let snapshots = if s.compare_snapshots && report.failure.is_none() {
        snapshot_problems(file, report)
    } else {
        Vec::new()
    };
    problems.extend(snapshots.iter().cloned());
    bundle.add(payhil_evidence::ScenarioOutcome {
        id: id.to_string(),
        file,
        report: Some(report),
        refused: None,
        skipped: None,
        snapshot_problems: snapshots,
    });
    if let Some(dir) = &s.out {
        // A place that cannot be written fails this scenario, not the suite: the rest
        // still runs and the summary is printed.
        if let Err(e) = write_outputs(&dir.join(id), report) {
            problems.push(format!("writing results under {}: {e:#}", dir.display()));
        }
    }
    let tail: Vec<String> = if problems.is_empty() {
        Vec::new()
    } else {
        let mut t: Vec<String> = report
            .transcript
            .lines()
            .rev()
            .take(12)
            .map(str::to_string)
            .collect();
        t.reverse();
        t
    };
    out.scenario(&ScenarioLine {
        terminal: s.terminal,
        id,
        stem: &report.stem,
        result: if problems.is_empty() { "pass" } else { "fail" },
        elapsed_s: report.elapsed.as_secs_f64(),
        rules: &report.rules,
        problems: &problems,
        tail: &tail,
    });
    match problems.into_iter().next() {
        None => Ok(None),
        Some(first) => Err(first),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_serial::SerialPort;

    fn physical(port: &Path) -> RunOptions {
        RunOptions {
            target: TerminalTarget::Physical {
                port: port.to_path_buf(),
                baud: 115_200,
                power_switch: None,
                reset_command: None,
            },
            seed: 1,
            boot_timeout: std::time::Duration::from_secs(1),
            proxy_listen: "127.0.0.1:0".parse().unwrap(),
            progress: None,
        }
    }

    /// A terminal whose port went away: while its stable path (a symlink, as
    /// /dev/serial/by-id is) is absent, the next scenario is not run, naming the scenario
    /// that lost it; once the path leads to a port again, the scenario runs (it opens the
    /// port itself, by the path: never through an old handle).
    #[tokio::test]
    async fn a_gone_port_is_tried_again_by_its_path_before_each_scenario() {
        let dir = tempfile::tempdir().unwrap();
        let stable = dir.path().join("usb-terminal-if00-port0");
        let opts = physical(&stable);
        let out = Output::new(crate::output::Mode::Quiet);
        let lost = RefCell::new(Some(Lost {
            scenario: "online/first".into(),
            loss: TerminalLoss::Gone("device gone: end of file".into()),
        }));
        let why = not_run(&lost, &opts, None, out).await.unwrap();
        assert!(why.starts_with("not run: the terminal's port has been gone since online/first"));
        assert!(why.contains("usb-terminal-if00-port0"), "{why}");
        assert!(lost.borrow().is_some(), "still lost");
        let (_master, slave) = tokio_serial::SerialStream::pair().unwrap();
        std::os::unix::fs::symlink(slave.name().unwrap(), &stable).unwrap();
        assert_eq!(not_run(&lost, &opts, None, out).await, None);
        assert!(lost.borrow().is_none(), "back: no longer lost");
    }

    /// A terminal that stopped answering is not tried again: its port is there, and each try
    /// would cost the whole response bound.
    #[tokio::test]
    async fn a_silent_terminal_is_not_tried_again() {
        let opts = physical(Path::new("/dev/null"));
        let out = Output::new(crate::output::Mode::Quiet);
        let lost = RefCell::new(Some(Lost {
            scenario: "online/first".into(),
            loss: TerminalLoss::Silent("no response to Hello".into()),
        }));
        let why = not_run(&lost, &opts, None, out).await.unwrap();
        assert_eq!(
            why,
            "not run: the terminal stopped answering in online/first: no response to Hello"
        );
    }
}
