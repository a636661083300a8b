//! `payhil run --inventory`: the suite on every chosen terminal of a rack at once, one evidence
//! bundle per terminal, one combined summary and exit status. A terminal that fails or goes
//! away ends its own run (see [`crate::suite`]); the others go on.

use crate::inventory::{Inventory, Terminal};
use crate::output::Output;
use crate::run_cmd::{RunArgs, discover, listen_for_stop, record_last_run, roots_of, totals_line};
use crate::suite::{Suite, SuiteResult, run_suite};
use anyhow::Context;
use payhil_scenario::runner::{RunOptions, TerminalTarget};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The reference terminal in a rack: started by payhil behind two PTY pairs joined as a serial
/// cable, kept running from one scenario to the next, its power switched by killing and
/// starting it again on the same flash and port. Stopped, and its files removed, on drop.
struct RackEmulator {
    harness_path: PathBuf,
    stop: String,
    cable: tokio::task::JoinHandle<()>,
    _ends: (tokio_serial::SerialStream, tokio_serial::SerialStream),
    _dir: tempfile::TempDir,
}

impl RackEmulator {
    /// Starts one whose host address is `host`; returns it and its power switch.
    fn start(
        host: std::net::SocketAddr,
    ) -> anyhow::Result<(Self, payhil_bench::ExternalSwitchSpec)> {
        use tokio_serial::SerialPort;
        let (mut device_master, device_slave) =
            tokio_serial::SerialStream::pair().context("opening a PTY pair")?;
        let (mut harness_master, harness_slave) =
            tokio_serial::SerialStream::pair().context("opening a PTY pair")?;
        let name = |s: &tokio_serial::SerialStream| {
            s.name().context("a PTY without a name").map(PathBuf::from)
        };
        let device_path = name(&device_slave)?;
        let harness_path = name(&harness_slave)?;
        let cable = tokio::spawn(async move {
            let _ = tokio::io::copy_bidirectional(&mut device_master, &mut harness_master).await;
        });
        let dir = tempfile::Builder::new()
            .prefix("payhil-rack")
            .tempdir()
            .context("creating the emulator's directory")?;
        let exe = std::env::current_exe().context("locating the payhil executable")?;
        let pid = dir.path().join("pid");
        // Its output goes nowhere: a background process holding the switch command's pipes
        // would keep the command from ending.
        let on = format!(
            "{} emulate --port {} --host {host} --flash {} >/dev/null 2>&1 & echo $! > {}",
            quote(&exe),
            quote(&device_path),
            quote(&dir.path().join("flash.bin")),
            quote(&pid)
        );
        let off = format!("kill -9 \"$(cat {})\"", quote(&pid));
        let started = std::process::Command::new("sh")
            .args(["-c", &on])
            .status()
            .context("starting the emulator")?;
        anyhow::ensure!(started.success(), "starting the emulator: {started}");
        let mut spec = payhil_bench::ExternalSwitchSpec::new(off.clone(), on);
        spec.off_time = Duration::from_millis(20);
        Ok((
            Self {
                harness_path,
                stop: off,
                cable,
                _ends: (device_slave, harness_slave),
                _dir: dir,
            },
            spec,
        ))
    }
}

impl Drop for RackEmulator {
    fn drop(&mut self) {
        let _ = std::process::Command::new("sh")
            .args(["-c", &format!("{} 2>/dev/null", self.stop)])
            .status();
        self.cable.abort();
    }
}

/// `path` in single quotes for `sh -c`.
fn quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

/// A free loopback address for a proxy (chosen once for the run: the terminal is configured
/// with it).
fn free_loopback() -> anyhow::Result<std::net::SocketAddr> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("choosing a proxy port")?;
    Ok(l.local_addr()?)
}

/// How a terminal of the inventory is driven, and what keeps it (a rack emulator) alive.
fn target_of(
    t: &Terminal,
) -> anyhow::Result<(TerminalTarget, std::net::SocketAddr, Option<RackEmulator>)> {
    let proxy = match t.proxy_listen {
        Some(a) if a.port() != 0 => a,
        Some(a) => {
            let l = std::net::TcpListener::bind(a).with_context(|| format!("binding {a}"))?;
            l.local_addr()?
        }
        None => free_loopback()?,
    };
    let switch = match (&t.power_off, &t.power_on) {
        (Some(off), Some(on)) => {
            let mut s = payhil_bench::ExternalSwitchSpec::new(off, on);
            s.off_time = Duration::from_millis(t.power_off_ms);
            Some(s)
        }
        _ => None,
    };
    if t.emulator {
        let (emu, spec) = RackEmulator::start(proxy)?;
        let target = TerminalTarget::Physical {
            port: emu.harness_path.clone(),
            baud: t.baud,
            power_switch: Some(switch.unwrap_or(spec)),
            reset_command: t.reset_command.clone(),
        };
        return Ok((target, proxy, Some(emu)));
    }
    let port = t.port.clone().context("no port")?;
    Ok((
        TerminalTarget::Physical {
            port,
            baud: t.baud,
            power_switch: switch,
            reset_command: t.reset_command.clone(),
        },
        proxy,
        None,
    ))
}

/// One result per scenario file over all terminals (for `payhil rules`): failed if it failed
/// on any, else passed if it passed on any, else skipped.
fn combined(per_terminal: Vec<Vec<crate::run_cmd::LastResult>>) -> Vec<crate::run_cmd::LastResult> {
    let mut by_file: Vec<crate::run_cmd::LastResult> = Vec::new();
    for l in per_terminal.into_iter().flatten() {
        let rank = |r: &str| match r {
            "fail" => 2,
            "pass" => 1,
            _ => 0,
        };
        match by_file.iter_mut().find(|k| k.file == l.file) {
            Some(k) if rank(&l.result) > rank(&k.result) => *k = l,
            Some(_) => {}
            None => by_file.push(l),
        }
    }
    by_file
}

/// Runs the suite on every terminal of `inventory` that carries `args.tags`.
pub async fn run(args: &RunArgs, inventory: &Path, seed: u64, out: Output) -> anyhow::Result<i32> {
    let inv = Inventory::load(inventory)?;
    let chosen = inv.matching(&args.tags);
    anyhow::ensure!(
        !chosen.is_empty(),
        "{}: no terminal carries the tags {:?}",
        inventory.display(),
        args.tags
    );
    let files = discover(&args.paths)?;
    anyhow::ensure!(!files.is_empty(), "no scenario files found");
    let base = crate::evidence_cmd::default_dir(seed);
    std::fs::create_dir_all(&base).with_context(|| format!("creating {}", base.display()))?;
    let sign_key = match &args.sign_key {
        Some(k) => Some(payhil_evidence::signing::load_secret(k)?),
        None => None,
    };
    let stop = listen_for_stop()?;
    let mut runs = Vec::new();
    let mut rack = Vec::new();
    for t in &chosen {
        let (target, proxy, emu) =
            target_of(t).with_context(|| format!("setting up terminal {}", t.name))?;
        rack.extend(emu);
        let what = match &target {
            TerminalTarget::Physical { port, .. } => port.display().to_string(),
            TerminalTarget::Emulated { .. } => "emulated".into(),
            TerminalTarget::EmulatedZvt { .. } => "emulated, over ZVT".into(),
        };
        out.info(
            Some(&t.name),
            &format!(
                "port {what} ({} baud, flow control {:?}); its acquirer proxy listens on {proxy}",
                t.baud, t.flow_control
            ),
        );
        let dir = base.join(&t.name);
        let bundle = payhil_evidence::BundleWriter::create(
            &dir,
            payhil_evidence::RunStart {
                seed,
                target: format!("physical:{what} ({})", t.name),
                command: std::env::args().collect(),
            },
            sign_key.clone(),
        )
        .with_context(|| format!("starting the evidence bundle {}", dir.display()))?;
        let opts = RunOptions {
            target,
            seed,
            boot_timeout: Duration::from_secs(args.boot_timeout),
            proxy_listen: proxy,
            progress: None,
        };
        runs.push((*t, opts, bundle));
    }
    let suites = runs.into_iter().map(|(t, opts, mut bundle)| {
        let stop = stop.clone();
        let files = &files;
        async move {
            let suite = Suite {
                terminal: Some(&t.name),
                files,
                roots: roots_of(&args.paths),
                opts,
                jobs: 1,
                compare_snapshots: false,
                out: None,
                configured: t.config,
            };
            let result = run_suite(suite, &mut bundle, out, stop).await;
            (t, result, bundle)
        }
    });
    let ended: Vec<(&Terminal, SuiteResult, payhil_evidence::BundleWriter)> =
        futures_util::future::join_all(suites).await;
    drop(rack);
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    let mut all_ok = true;
    let mut record = Vec::new();
    let mut interrupted = None;
    for (t, r, bundle) in ended {
        passed += r.passed;
        failed += r.failed;
        skipped += r.skipped;
        if let Some((name, status, not_run)) = r.interrupted {
            interrupted = Some((name, status));
            out.notice(
                Some(&t.name),
                &format!("interrupted: {not_run} not run; evidence left incomplete"),
                serde_json::json!({"event": "terminal", "terminal": t.name, "interrupted": name,
                    "passed": r.passed, "failed": r.failed, "not_run": not_run}),
            );
            continue;
        }
        let evidence_ok = crate::evidence_cmd::finish(bundle, false);
        all_ok &= evidence_ok && r.failed == 0;
        out.notice(
            Some(&t.name),
            &totals_line(r.passed, r.failed, r.skipped),
            serde_json::json!({"event": "terminal", "terminal": t.name, "passed": r.passed,
                "failed": r.failed, "skipped": r.skipped, "evidence_ok": evidence_ok}),
        );
        record.push(r.record);
    }
    if let Some((_, status)) = interrupted {
        return Ok(status);
    }
    record_last_run(seed, combined(record));
    out.notice(
        None,
        &format!(
            "{} terminals: {}; evidence under {}",
            chosen.len(),
            totals_line(passed, failed, skipped),
            base.display()
        ),
        serde_json::json!({"event": "end", "terminals": chosen.len(), "passed": passed,
            "failed": failed, "skipped": skipped, "evidence": base}),
    );
    Ok(i32::from(!all_ok))
}
