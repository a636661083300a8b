//! `payhil run` and `payhil check`.

use anyhow::Context;
use payhil_scenario::runner::{RunOptions, TerminalTarget, redact};
use payhil_scenario::snapshot::{self, Comparison};
use payhil_scenario::{ScenarioReport, parse_file};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::signal::unix::{Signal, SignalKind, signal};

/// Arguments of `payhil run`.
#[derive(clap::Args)]
pub struct RunArgs {
    /// Scenario files or directories (default: scenarios/).
    paths: Vec<PathBuf>,
    /// Drive a physical terminal on this serial port instead of the embedded emulator.
    #[arg(long)]
    port: Option<PathBuf>,
    /// Baud rate for --port.
    // Zero is no rate: on a serial line it means "hang up".
    #[arg(long, default_value_t = 115_200, requires = "port",
          value_parser = clap::value_parser!(u32).range(1..))]
    baud: u32,
    /// With --port: the command that cuts the terminal's power (its relay or PDU; run with
    /// `sh -c`). Scenarios that cut power need it; an emulated terminal's process is killed.
    #[arg(long, requires_all = ["port", "power_on"])]
    power_off: Option<String>,
    /// With --port: the command that restores the terminal's power.
    #[arg(long, requires_all = ["port", "power_off"])]
    power_on: Option<String>,
    /// With --power-off: how long the power stays off, in milliseconds (real time).
    #[arg(long, default_value_t = 1_000, requires = "power_off")]
    power_off_ms: u64,
    /// Seed for every random choice (printed; pass it again to replay a run exactly).
    #[arg(long)]
    seed: Option<u64>,
    /// Write each scenario's transcript and artifacts under this directory.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Where the run's evidence bundle goes (a new directory; default: a new one under
    /// target/payhil/runs/, with target/payhil/latest pointing at it).
    #[arg(long)]
    evidence: Option<PathBuf>,
    /// Sign the evidence with this minisign secret key (`payhil keygen` makes one).
    #[arg(long)]
    sign_key: Option<PathBuf>,
    /// Do not compare receipts and settlement files with the reviewed snapshots.
    #[arg(long)]
    no_snapshots: bool,
    /// Where the acquirer proxy listens (a physical terminal's configured host address).
    #[arg(long, default_value = "127.0.0.1:0")]
    proxy_listen: std::net::SocketAddr,
    /// Have the embedded terminal log every request and host exchange into the transcript.
    #[arg(long)]
    trace_terminal: bool,
    /// Bound on a terminal's start-up, in seconds (1 to 86400).
    // The bound is added to the current instant, which panics on overflow for values near
    // u64::MAX seconds; a day is far more than any terminal needs, and zero cannot boot.
    #[arg(long, default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    boot_timeout: u64,
}

/// What `payhil run` records for `payhil rules`.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct LastRun {
    /// The run's seed.
    pub seed: u64,
    /// One entry per scenario file.
    pub scenarios: Vec<LastResult>,
}

/// One scenario's result.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct LastResult {
    /// The file as given.
    pub file: String,
    /// "pass", "fail" or "skip".
    pub result: String,
    /// Why it failed.
    pub failure: Option<String>,
}

/// Where `payhil run` records its results (generated output: under `target/`).
pub fn last_run_path() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| PathBuf::from("target"), PathBuf::from)
        .join("payhil/last-run.json")
}

/// The scenarios directory: `./scenarios` if present, else the one this binary was built from.
pub fn default_scenario_dir() -> PathBuf {
    let here = PathBuf::from("scenarios");
    if here.is_dir() {
        here
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios")
    }
}

/// Scenario files under the given paths, sorted.
pub fn discover(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let roots = if paths.is_empty() {
        vec![default_scenario_dir()]
    } else {
        paths.to_vec()
    };
    Ok(payhil_scenario::discovery::scenario_files(&roots)?)
}

/// `payhil check`: exit status 0 if every file is valid, 1 if one is not, 2 if the scenarios
/// cannot be found (an unreadable directory, or one without scenario files).
pub fn check(paths: Vec<PathBuf>) -> i32 {
    let files = match discover(&paths) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("payhil check: {e:#}");
            return 2;
        }
    };
    // A directory without scenarios is almost surely a wrong path; "0 checked, 0 with errors"
    // and success would let a CI job check nothing and pass.
    let roots = if paths.is_empty() {
        vec![default_scenario_dir()]
    } else {
        paths
    };
    let empty: Vec<&PathBuf> = roots
        .iter()
        .filter(|root| root.is_dir() && !files.iter().any(|f| f.starts_with(root)))
        .collect();
    if !empty.is_empty() {
        for dir in empty {
            eprintln!(
                "payhil check: no scenario files (*.toml) in {}",
                dir.display()
            );
        }
        return 2;
    }
    let mut bad = 0;
    for f in &files {
        match parse_file(f) {
            Ok(s) => println!(
                "ok    {} ({} steps; {})",
                f.display(),
                s.steps.len(),
                s.rules.join(" ")
            ),
            Err(e) => {
                bad += 1;
                println!("error {e}");
            }
        }
    }
    println!("{} checked, {bad} with errors", files.len());
    i32::from(bad > 0)
}

/// SIGINT (Ctrl-C) and SIGTERM, listened for during the whole run: a signal that arrives
/// between two scenarios is kept for the next wait, not lost.
struct Interrupts {
    int: Signal,
    term: Signal,
}

impl Interrupts {
    fn listen() -> std::io::Result<Self> {
        Ok(Self {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
        })
    }

    /// The next signal's name and the exit status that reports it (128 + its number).
    async fn next(&mut self) -> (&'static str, i32) {
        tokio::select! {
            _ = self.int.recv() => ("SIGINT", 130),
            _ = self.term.recv() => ("SIGTERM", 143),
        }
    }

    /// A signal that has come and not been taken yet, without waiting for one.
    async fn pending(&mut self) -> Option<(&'static str, i32)> {
        tokio::select! {
            biased;
            got = self.next() => Some(got),
            () = std::future::ready(()) => None,
        }
    }
}

pub(crate) fn seed_from_time() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
}

/// `payhil run`: returns the exit status (0 only if every scenario passed).
pub async fn run(args: RunArgs) -> anyhow::Result<i32> {
    let seed = args.seed.unwrap_or_else(seed_from_time);
    println!("payhil run: seed {seed} (replay with --seed {seed})");
    let target = match &args.port {
        Some(port) => TerminalTarget::Physical {
            port: port.clone(),
            baud: args.baud,
            power_switch: match (&args.power_off, &args.power_on) {
                (Some(off), Some(on)) => {
                    let mut s = payhil_bench::ExternalSwitchSpec::new(off, on);
                    s.off_time = Duration::from_millis(args.power_off_ms);
                    Some(s)
                }
                _ => None,
            },
        },
        None => TerminalTarget::Emulated {
            program: std::env::current_exe().context("locating the payhil executable")?,
            args: if args.trace_terminal {
                vec!["emulate".into(), "--trace".into()]
            } else {
                vec!["emulate".into()]
            },
        },
    };
    let compare_snapshots = !args.no_snapshots && args.port.is_none();
    if args.port.is_some() {
        println!(
            "payhil run: the acquirer proxy listens on {}; the terminal's host address must point there",
            args.proxy_listen
        );
    }
    let opts = RunOptions {
        target,
        seed,
        boot_timeout: Duration::from_secs(args.boot_timeout),
        proxy_listen: args.proxy_listen,
    };
    let files = discover(&args.paths)?;
    // The evidence bundle is started before the first scenario: an unwritable place or a
    // bad key is an error now, not after a long run.
    let (evidence_dir, default_evidence) = match &args.evidence {
        Some(d) => (d.clone(), false),
        None => (crate::evidence_cmd::default_dir(seed), true),
    };
    let sign_key = match &args.sign_key {
        Some(k) => Some(payhil_evidence::signing::load_secret(k)?),
        None => None,
    };
    let mut bundle = payhil_evidence::BundleWriter::create(
        &evidence_dir,
        payhil_evidence::RunStart {
            seed,
            target: match &args.port {
                Some(p) => format!("physical:{}", p.display()),
                None => "emulated".into(),
            },
            command: std::env::args().collect(),
        },
        sign_key,
    )
    .with_context(|| format!("starting the evidence bundle {}", evidence_dir.display()))?;
    let roots = if args.paths.is_empty() {
        vec![default_scenario_dir()]
    } else {
        args.paths.clone()
    };
    let mut ids = crate::evidence_cmd::ScenarioIds::new(roots);
    if files.is_empty() {
        anyhow::bail!("no scenario files found");
    }
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    let mut record = LastRun {
        seed,
        scenarios: Vec::new(),
    };
    // Installed before the first terminal starts: from now on a signal no longer kills the
    // process on the spot (which would leave the emulators' flash, card data at rest, in the
    // temporary directories) but ends the run below.
    let mut interrupts = Interrupts::listen().context("listening for SIGINT and SIGTERM")?;
    for (done, file) in files.iter().enumerate() {
        let scn = match parse_file(file) {
            Ok(s) => s,
            Err(e) => {
                failed += 1;
                println!("FAIL  {}\n      {e}", file.display());
                bundle.add(payhil_evidence::ScenarioOutcome {
                    id: ids.id(file),
                    file,
                    report: None,
                    refused: Some(e.to_string()),
                    skipped: None,
                    snapshot_problems: Vec::new(),
                });
                record.scenarios.push(LastResult {
                    file: file.display().to_string(),
                    result: "fail".into(),
                    failure: Some(e.to_string()),
                });
                continue;
            }
        };
        let id = ids.id(file);
        let transcript = bundle.transcript_path(&id);
        let report = tokio::select! {
            // A signal already pending (it came between two scenarios) wins before the next
            // terminal is started.
            biased;
            (name, status) = interrupts.next() => {
                // The scenario's future is dropped here, and with it its bench: the emulator is
                // killed (kill_on_drop) and its temporary directory, flash image included, is
                // removed. The record of the last complete run is left as it was.
                println!("INTERRUPTED  {} by {name}", scn.stem);
                println!(
                    "payhil run: evidence left incomplete in {} (verify rejects it)",
                    bundle.work_dir().display()
                );
                println!(
                    "payhil run: interrupted by {name}: {passed} passed, {failed} failed, {} not run",
                    files.len() - done
                );
                return Ok(status);
            }
            report = payhil_scenario::run_to(&scn, &opts, Some(&transcript)) => report,
        };
        if let Some(why) = &report.skipped {
            skipped += 1;
            println!("SKIP  {:<40} {why}", report.stem);
            bundle.add(payhil_evidence::ScenarioOutcome {
                id: id.clone(),
                file,
                report: Some(&report),
                refused: None,
                skipped: Some(why.clone()),
                snapshot_problems: Vec::new(),
            });
            record.scenarios.push(LastResult {
                file: file.display().to_string(),
                result: "skip".into(),
                failure: Some(why.clone()),
            });
            continue;
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
        let snapshots = if compare_snapshots && report.failure.is_none() {
            snapshot_problems(file, &report)
        } else {
            Vec::new()
        };
        problems.extend(snapshots.iter().cloned());
        bundle.add(payhil_evidence::ScenarioOutcome {
            id: id.clone(),
            file,
            report: Some(&report),
            refused: None,
            skipped: None,
            snapshot_problems: snapshots,
        });
        if let Some(dir) = &args.out {
            // A place that cannot be written fails this scenario, not the suite: the rest
            // still runs and the summary is printed.
            if let Err(e) = write_outputs(&dir.join(&id), &report) {
                problems.push(format!("writing results under {}: {e:#}", dir.display()));
            }
        }
        let verdict = if problems.is_empty() { "PASS" } else { "FAIL" };
        println!(
            "{verdict}  {:<40} {:>6.2}s  [{}]",
            report.stem,
            report.elapsed.as_secs_f64(),
            report.rules.join(" ")
        );
        record.scenarios.push(LastResult {
            file: file.display().to_string(),
            result: if problems.is_empty() { "pass" } else { "fail" }.into(),
            failure: problems.first().cloned(),
        });
        if problems.is_empty() {
            passed += 1;
        } else {
            failed += 1;
            for p in &problems {
                println!("      {p}");
            }
            let tail: Vec<&str> = report.transcript.lines().rev().take(12).collect();
            println!("      last transcript lines:");
            for l in tail.iter().rev() {
                println!("        {l}");
            }
        }
    }
    let path = last_run_path();
    let written = path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| {
            std::fs::write(
                &path,
                serde_json::to_string_pretty(&record).unwrap_or_default(),
            )
        });
    if let Err(e) = written {
        eprintln!(
            "payhil run: could not record results in {}: {e}",
            path.display()
        );
    }
    let evidence_ok = crate::evidence_cmd::finish(bundle, default_evidence);
    if skipped > 0 {
        println!(
            "{passed} passed, {failed} failed, {skipped} skipped (not offered by the terminal)"
        );
    } else {
        println!("{passed} passed, {failed} failed");
    }
    // A signal that came while the last scenario was being reported found no scenario to
    // stop; the run is complete, but whoever sent it asked for it to end, so the exit status
    // says so.
    if let Some((name, status)) = interrupts.pending().await {
        println!("payhil run: {name} received after the last scenario");
        return Ok(status);
    }
    Ok(i32::from(failed > 0 || !evidence_ok))
}

fn snapshot_problems(file: &Path, report: &ScenarioReport) -> Vec<String> {
    let dir = snapshot::dir_for(file);
    let mut out = Vec::new();
    for a in &report.artifacts {
        match snapshot::compare(&dir, &snapshot::name(&report.stem, &a.name), &a.text) {
            Comparison::Match => {}
            Comparison::Missing(f) => println!("      note: no reviewed snapshot {} (cargo test, then cargo insta review)", f.display()),
            Comparison::Differs { file, line, expected, actual } => out.push(format!(
                "{} differs from {} at line {line}:\n        snapshot: {expected}\n        terminal: {actual}",
                a.name,
                file.display()
            )),
        }
    }
    out
}

/// Writes a scenario's transcript, artifacts and result in `d` (`--out` joined with the
/// scenario's path under its root, so equal file names in different folders never collide).
/// The report's texts are redacted already (the end-of-run check masks what it reports); everything is passed through
/// the redaction once more on its way out, because the result quotes what the terminal says
/// about itself, and because nothing the harness writes may carry card data (PCI-01).
fn write_outputs(d: &Path, report: &ScenarioReport) -> anyhow::Result<()> {
    std::fs::create_dir_all(d)?;
    let write = |name: &str, text: &str| std::fs::write(d.join(name), redact(text));
    match &report.transcript_file {
        // The whole transcript is in the streamed file (redacted entry by entry); rendered one
        // entry at a time, never held whole.
        Some(jsonl) => {
            let mut out = std::io::BufWriter::new(std::fs::File::create(d.join("transcript.txt"))?);
            payhil_scenario::transcript_file::render_to(jsonl, &mut out)?;
            std::io::Write::flush(&mut out)?;
        }
        None => write("transcript.txt", &report.transcript)?,
    }
    for a in &report.artifacts {
        write(&format!("{}.txt", a.name), &a.text)?;
    }
    let mut summary = format!(
        "scenario: {}\nfile: {}\nseed: {}\nresult: {}\nrules: {}\ndevice: {:?}\n",
        report.name,
        report.path.display(),
        report.seed,
        if report.passed() { "pass" } else { "fail" },
        report.rules.join(" "),
        report.device
    );
    for f in &report.invariant_findings {
        summary.push_str(&format!("finding: {f}\n"));
    }
    write("result.txt", &summary)?;
    Ok(())
}
