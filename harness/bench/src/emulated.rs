//! The emulated terminal's process: how it is started on its PTY (with the terminal settings,
//! its host, flash file, power channel and ZVT interface on its command line) and how the
//! bench waits for it to boot.

use crate::{BenchError, EmulatorSpec, io, terminal_log};
use payhil_transport::serial::Port;
use payhil_transport::{FrameLink, Relay, Source, Transcript};
use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

/// An emulated terminal: its process and what starting it again needs.
pub(crate) struct Emulator {
    pub(crate) spec: EmulatorSpec,
    pub(crate) terminal_path: PathBuf,
    pub(crate) flash: PathBuf,
    pub(crate) child: Child,
    /// The arguments of its ZVT interface (`--ecr zvt ...`), given again at every power-up.
    pub(crate) ecr_args: Vec<OsString>,
    /// The emulator's power-control side channel (its standard input).
    pub(crate) control: Option<tokio::process::ChildStdin>,
    /// The acquirer address it is started with.
    pub(crate) host: SocketAddr,
    pub(crate) transcript: Transcript,
    /// Our hold on the PTY's terminal end while a new process starts (see `Bench::start`).
    pub(crate) keepalive: Option<std::fs::File>,
}

/// Starts the emulator on `port` (its PTY's terminal end).
pub(crate) fn spawn(
    spec: &EmulatorSpec,
    port: &std::path::Path,
    host: SocketAddr,
    flash: &std::path::Path,
    t: &Transcript,
    ecr_args: &[OsString],
) -> Result<(Child, Option<tokio::process::ChildStdin>), BenchError> {
    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args)
        .args(ecr_args)
        .arg("--port")
        .arg(port)
        .arg("--host")
        .arg(host.to_string())
        .arg("--flash")
        .arg(flash)
        .arg("--offline-limit-minor")
        .arg(spec.config.offline_limit_minor.to_string())
        .arg("--card-limit-minor")
        .arg(spec.config.card_limit_minor.to_string())
        .arg("--forward-retry-s")
        .arg(spec.config.forward_retry_s.to_string())
        .arg("--cvm-limit-minor")
        .arg(spec.config.cvm_limit_minor.to_string())
        .arg("--reserve-phone-auth-above-minor")
        .arg(spec.config.reserve_phone_auth_above_minor.to_string())
        .arg("--reserve-cap-minor")
        .arg(spec.config.reserve_cap_minor.to_string())
        .arg("--host-timeout-ms")
        .arg(spec.config.host_timeout_ms.to_string())
        .args(
            spec.config
                .gambling_daily_max_minor
                .map(|m| format!("--gambling-daily-max-minor={m}")),
        )
        .args(spec.config.self_service.then_some("--self-service"))
        // The power instrument's side channel (cuts inside the terminal).
        .arg("--power-control-stdin")
        .stdin(Stdio::piped())
        // With a ZVT listener, its address is the first line on standard output.
        .stdout(if ecr_args.is_empty() {
            Stdio::null()
        } else {
            Stdio::piped()
        })
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .map_err(io(format!("spawning {}", spec.program.display())))?;
    t.record_local(
        Source::Step,
        "spawned the emulator on a PTY",
        format!("pid {:?} on {}", child.id(), port.display()),
    );
    if let Some(stderr) = child.stderr.take() {
        let drain = terminal_log::start(stderr).map_err(io("reading the emulator's log"))?;
        t.set_terminal_log(Some(drain));
    }
    let control = child.stdin.take();
    Ok((child, control))
}

/// Waits (bounded) for the emulator's Boot event, or reports its death with its last words.
pub(crate) async fn await_boot(
    link: &mut FrameLink<Relay<Port>>,
    emu: &mut Emulator,
    limit: Duration,
    t: &Transcript,
) -> Result<(), BenchError> {
    tokio::select! {
        r = link.wait_boot(limit) => {
            let boot = r?;
            t.record(Source::Step, format!("terminal booted (boot {boot})"));
            Ok(())
        }
        s = emu.child.wait() => {
            // The process is gone, so its log is complete: take its last words in.
            t.take_terminal_log();
            Err(BenchError::EmulatorDied {
                status: s.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string()),
                log: t.tail(10),
            })
        }
    }
}
