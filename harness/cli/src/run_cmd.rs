//! `payhil run` and `payhil check`.

use crate::output::{Mode, Output};
use crate::suite::{Stop, Suite, run_suite};
use anyhow::Context;
use payhil_scenario::runner::{RunOptions, TerminalTarget, redact};
use payhil_scenario::snapshot::{self, Comparison};
use payhil_scenario::{ScenarioReport, parse_file};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::watch;

/// Arguments of `payhil run`.
#[derive(clap::Args)]
pub struct RunArgs {
    /// Scenario files or directories (default: scenarios/).
    pub(crate) paths: Vec<PathBuf>,
    /// Drive a physical terminal on this serial port instead of the embedded emulator.
    #[arg(long)]
    port: Option<PathBuf>,
    /// Drive the emulated terminal's payments, refunds, reversals and end of day through its
    /// cash-register interface (`zvt`); the card, PIN, clock and queue stay with the bench's
    /// instruments. Scenarios with a step the interface cannot express are skipped with the
    /// reason.
    #[arg(long, value_enum, conflicts_with_all = ["port", "inventory"])]
    ecr: Option<EcrArg>,
    /// With --ecr: over loopback TCP (bare APDUs) rather than a serial PTY (framed, ACK/NAK).
    #[arg(long, requires = "ecr")]
    ecr_tcp: bool,
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
    /// With --port, for a terminal without the Reset request: the lab's command that resets it
    /// (empties its queue; run with `sh -c` before each scenario, at most 5 minutes).
    #[arg(long, requires = "port")]
    reset_command: Option<String>,
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
    pub(crate) sign_key: Option<PathBuf>,
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
    pub(crate) boot_timeout: u64,
    /// Emulated terminals: how many scenarios run at once (default: the number of cores).
    /// A terminal behind a port runs one at a time.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=256))]
    jobs: Option<u32>,
    /// Run on every terminal of this inventory (TOML, see inventory.example.toml) at once,
    /// one evidence bundle per terminal.
    #[arg(long, conflicts_with_all = ["port", "power_off", "power_on", "evidence"])]
    inventory: Option<PathBuf>,
    /// With --inventory: only the terminals with every one of these tags (comma-separated).
    #[arg(long, value_delimiter = ',', requires = "inventory")]
    pub(crate) tags: Vec<String>,
    /// Print only failures and the totals.
    #[arg(long, conflicts_with = "json")]
    quiet: bool,
    /// Print one JSON object per event (start, scenario, terminal, end) for CI logs.
    #[arg(long)]
    json: bool,
}

impl RunArgs {
    fn output_mode(&self) -> Mode {
        match (self.quiet, self.json) {
            (_, true) => Mode::Json,
            (true, _) => Mode::Quiet,
            _ => Mode::Human,
        }
    }

    /// Scenarios at once on emulated terminals.
    pub(crate) fn jobs(&self) -> usize {
        self.jobs.map_or_else(
            || std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
            |j| j as usize,
        )
    }
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
}

pub(crate) fn seed_from_time() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
}

/// `payhil run`: returns the exit status (0 only if every scenario passed).
pub async fn run(args: RunArgs) -> anyhow::Result<i32> {
    let out = Output::new(args.output_mode());
    let seed = args.seed.unwrap_or_else(seed_from_time);
    out.notice(
        None,
        &format!("payhil run: seed {seed} (replay with --seed {seed})"),
        serde_json::json!({"event": "start", "seed": seed}),
    );
    if let Some(inventory) = &args.inventory {
        return crate::inventory_run::run(&args, inventory, seed, out).await;
    }
    let proxy_listen = fixed_proxy_address(&args)?;
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
            reset_command: args.reset_command.clone(),
        },
        None => match (emulated_target(args.trace_terminal)?, args.ecr) {
            (TerminalTarget::Emulated { program, args: a }, Some(EcrArg::Zvt)) => {
                TerminalTarget::EmulatedZvt {
                    program,
                    args: a,
                    tcp: args.ecr_tcp,
                }
            }
            (t, _) => t,
        },
    };
    if args.port.is_some() {
        out.info(
            None,
            &format!(
                "payhil run: the acquirer proxy listens on {proxy_listen}; the terminal's host address must point there"
            ),
        );
    }
    let opts = RunOptions {
        target,
        seed,
        boot_timeout: Duration::from_secs(args.boot_timeout),
        proxy_listen,
        progress: None,
    };
    let files = discover(&args.paths)?;
    if files.is_empty() {
        anyhow::bail!("no scenario files found");
    }
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
    let target_name = match (&args.port, args.ecr) {
        (Some(p), _) => format!("physical:{}", p.display()),
        (None, Some(EcrArg::Zvt)) if args.ecr_tcp => "emulated, over ZVT on TCP".into(),
        (None, Some(EcrArg::Zvt)) => "emulated, over ZVT on a serial line".into(),
        (None, None) => "emulated".into(),
    };
    let start = payhil_evidence::RunStart {
        seed,
        target: target_name,
        command: std::env::args().collect(),
    };
    // The default directory (named for the second and the seed) moves to the next free `-2`,
    // `-3`, ... when another run has it; a directory the user gave never does.
    let (mut bundle, _) = if default_evidence {
        payhil_evidence::BundleWriter::create_unique(&evidence_dir, start, sign_key)
    } else {
        payhil_evidence::BundleWriter::create(&evidence_dir, start, sign_key)
            .map(|b| (b, evidence_dir.clone()))
    }
    .with_context(|| format!("starting the evidence bundle {}", evidence_dir.display()))?;
    // Listened for from before the first terminal starts: from now on a signal no longer kills
    // the process on the spot (which would leave the emulators' flash, card data at rest, in
    // the temporary directories) but ends the run.
    let stop = listen_for_stop()?;
    let suite = Suite {
        terminal: None,
        files: &files,
        roots: roots_of(&args.paths),
        opts,
        jobs: args.jobs(),
        compare_snapshots: !args.no_snapshots && args.port.is_none(),
        out: args.out.clone(),
        configured: None,
    };
    let result = run_suite(suite, &mut bundle, out, stop.clone()).await;
    if let Some((name, status, not_run)) = result.interrupted {
        // The record of the last complete run is left as it was.
        out.info(
            None,
            &format!(
                "payhil run: evidence left incomplete in {} (verify rejects it)",
                bundle.work_dir().display()
            ),
        );
        out.notice(
            None,
            &format!(
                "payhil run: interrupted by {name}: {} passed, {} failed, {not_run} not run",
                result.passed, result.failed
            ),
            serde_json::json!({"event": "end", "interrupted": name, "passed": result.passed, "failed": result.failed, "not_run": not_run}),
        );
        return Ok(status);
    }
    record_last_run(seed, result.record);
    let evidence_ok = crate::evidence_cmd::finish(bundle, default_evidence);
    out.notice(
        None,
        &totals_line(result.passed, result.failed, result.skipped),
        serde_json::json!({"event": "end", "passed": result.passed, "failed": result.failed,
            "skipped": result.skipped, "evidence_ok": evidence_ok}),
    );
    // A signal that came while the last scenario was being reported found no scenario to
    // stop; the run is complete, but whoever sent it asked for it to end, so the exit status
    // says so.
    if let Some((name, status)) = *stop.borrow() {
        out.info(
            None,
            &format!("payhil run: {name} received after the last scenario"),
        );
        return Ok(status);
    }
    Ok(i32::from(result.failed > 0 || !evidence_ok))
}

/// "N passed, M failed" and the skipped, if any.
pub fn totals_line(passed: usize, failed: usize, skipped: usize) -> String {
    if skipped > 0 {
        format!("{passed} passed, {failed} failed, {skipped} skipped (not offered by the terminal)")
    } else {
        format!("{passed} passed, {failed} failed")
    }
}

/// Cash-register interfaces `payhil run --ecr` drives.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum EcrArg {
    /// ZVT.
    Zvt,
}

/// The emulated default: this executable's `emulate`, spawned per scenario.
pub fn emulated_target(trace: bool) -> anyhow::Result<TerminalTarget> {
    Ok(TerminalTarget::Emulated {
        program: std::env::current_exe().context("locating the payhil executable")?,
        args: if trace {
            vec!["emulate".into(), "--trace".into()]
        } else {
            vec!["emulate".into()]
        },
    })
}

/// The roots scenario ids are taken below: the paths given, or the default directory.
pub fn roots_of(paths: &[PathBuf]) -> Vec<PathBuf> {
    if paths.is_empty() {
        vec![default_scenario_dir()]
    } else {
        paths.to_vec()
    }
}

/// Where the proxy listens. A terminal behind a port is configured with one host address, so
/// with port 0 one free port is chosen now for the whole run (and printed as it is, never as
/// port 0); an emulated terminal is told its own per scenario.
fn fixed_proxy_address(args: &RunArgs) -> anyhow::Result<std::net::SocketAddr> {
    if args.port.is_none() || args.proxy_listen.port() != 0 {
        return Ok(args.proxy_listen);
    }
    let probe = std::net::TcpListener::bind(args.proxy_listen)
        .with_context(|| format!("choosing a port for the proxy on {}", args.proxy_listen))?;
    Ok(probe.local_addr()?)
}

/// Records the run's results for `payhil rules` (a failure to is said, not fatal).
pub fn record_last_run(seed: u64, scenarios: Vec<LastResult>) {
    let record = LastRun { seed, scenarios };
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
}

/// SIGINT and SIGTERM, as a value every suite of the run watches: the first one that arrives.
pub fn listen_for_stop() -> anyhow::Result<watch::Receiver<Stop>> {
    let mut interrupts = Interrupts::listen().context("listening for SIGINT and SIGTERM")?;
    let (tx, rx) = watch::channel(None);
    tokio::spawn(async move {
        let got = interrupts.next().await;
        let _ = tx.send(Some(got));
        // Kept open: a suite that ends later still reads the signal, not a closed channel.
        tx.closed().await;
    });
    Ok(rx)
}

pub(crate) fn snapshot_problems(file: &Path, report: &ScenarioReport) -> Vec<String> {
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
pub(crate) fn write_outputs(d: &Path, report: &ScenarioReport) -> anyhow::Result<()> {
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
