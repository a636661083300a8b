//! The power plane: a switch that cuts the terminal's power without warning and restores it
//! (ARCHITECTURE.md, "A lab bench, in software"). An emulated terminal's switch kills its
//! process (SIGKILL: no cleanup, no finishing the request under way) and starts it again on the
//! same flash file; a physical terminal's runs the lab's commands for its relay or PDU.
//!
//! A cut inside the terminal (at its Nth flash write, or before it answers a result) is armed
//! through the emulator's power-control side channel, not here: see [`crate::Bench::arm_cut`].

use crate::{BenchError, Emulator, KILL_BOUND};
use payhil_transport::{Source, Transcript};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use tokio::process::Command;

/// What a switch operation resolves to.
pub type PowerFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, BenchError>> + Send + 'a>>;

/// A terminal's power switch.
pub trait PowerSwitch: Send {
    /// Cuts power now, without warning the terminal; resolves once it is off, with a line on
    /// how it went for the transcript.
    fn off(&mut self) -> PowerFuture<'_, String>;
    /// Restores power: the terminal starts booting (the bench waits for its Boot event).
    fn on(&mut self) -> PowerFuture<'_, ()>;
}

/// A physical terminal's power switch: shell commands the lab configures (a relay board's CLI,
/// a PDU's SNMP or HTTP client), e.g. `--power-off 'pdu-ctl 3 off' --power-on 'pdu-ctl 3 on'`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalSwitchSpec {
    /// Cuts the terminal's power (run with `sh -c`).
    pub off: String,
    /// Restores it (run with `sh -c`).
    pub on: String,
    /// How long the power stays off (real time: a physical supply needs it to drain).
    pub off_time: Duration,
    /// Bound on each command.
    pub timeout: Duration,
}

impl ExternalSwitchSpec {
    /// The two commands, with 1 s off and a 30 s bound on each.
    pub fn new(off: impl Into<String>, on: impl Into<String>) -> Self {
        Self {
            off: off.into(),
            on: on.into(),
            off_time: Duration::from_secs(1),
            timeout: Duration::from_secs(30),
        }
    }
}

/// [`PowerSwitch`] running [`ExternalSwitchSpec`]'s commands.
pub struct ExternalSwitch {
    spec: ExternalSwitchSpec,
    transcript: Transcript,
}

impl ExternalSwitch {
    /// A switch recording its commands in `transcript`.
    pub fn new(spec: ExternalSwitchSpec, transcript: Transcript) -> Self {
        Self { spec, transcript }
    }
}

/// Runs `command` with `sh -c`, bounded by `timeout`; an exit other than 0 is an error with
/// the command's last words.
pub(crate) async fn run(
    command: &str,
    timeout: Duration,
    t: &Transcript,
) -> Result<(), BenchError> {
    t.record_local(Source::Step, "power switch", command.to_string());
    let child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| BenchError::Io {
            what: format!("starting the power switch command `{command}`"),
            source,
        })?;
    let out = match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(r) => r.map_err(|source| BenchError::Io {
            what: format!("running the power switch command `{command}`"),
            source,
        })?,
        // Dropping the future drops the child, which is killed (kill_on_drop).
        Err(_) => {
            return Err(BenchError::PowerSwitch {
                command: command.to_string(),
                why: format!("did not finish within {timeout:?}"),
            });
        }
    };
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last: Vec<&str> = stderr.lines().rev().take(3).collect();
    Err(BenchError::PowerSwitch {
        command: command.to_string(),
        why: format!(
            "{}{}",
            out.status,
            if last.is_empty() {
                String::new()
            } else {
                format!(
                    ": {}",
                    last.into_iter().rev().collect::<Vec<_>>().join(" / ")
                )
            }
        ),
    })
}

impl PowerSwitch for ExternalSwitch {
    fn off(&mut self) -> PowerFuture<'_, String> {
        Box::pin(async move {
            run(&self.spec.off, self.spec.timeout, &self.transcript).await?;
            // The supply needs time to drain before the terminal is really off.
            tokio::time::sleep(self.spec.off_time).await;
            Ok("switched off".to_string())
        })
    }

    fn on(&mut self) -> PowerFuture<'_, ()> {
        Box::pin(async move { run(&self.spec.on, self.spec.timeout, &self.transcript).await })
    }
}

/// An emulated terminal's switch: its process.
impl PowerSwitch for Emulator {
    fn off(&mut self) -> PowerFuture<'_, String> {
        Box::pin(async move {
            // SIGKILL: the process gets no chance to finish anything (a real cut).
            let _ = self.child.start_kill();
            self.control = None;
            Ok(
                match tokio::time::timeout(KILL_BOUND, self.child.wait()).await {
                    Ok(s) => s.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string()),
                    Err(_) => format!("still running {KILL_BOUND:?} after SIGKILL"),
                },
            )
        })
    }

    fn on(&mut self) -> PowerFuture<'_, ()> {
        Box::pin(async move {
            // Hold the terminal end open while the new process starts, as at first start.
            self.keepalive = Some(
                std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(&self.terminal_path)
                    .map_err(crate::io(format!(
                        "reopening {}",
                        self.terminal_path.display()
                    )))?,
            );
            let (child, control) = crate::spawn(
                &self.spec,
                &self.terminal_path,
                self.host,
                &self.flash,
                &self.transcript,
                // Its ZVT interface comes back with it (`Bench::power_on` connects again).
                &self.ecr_args,
            )?;
            self.child = child;
            self.control = control;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn switch(off: &str, on: &str) -> ExternalSwitch {
        let mut spec = ExternalSwitchSpec::new(off, on);
        spec.off_time = Duration::ZERO;
        spec.timeout = Duration::from_secs(5);
        ExternalSwitch::new(spec, Transcript::new())
    }

    #[tokio::test]
    async fn the_lab_commands_run_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("relay.log");
        let cmd = |w: &str| format!("echo {w} >> '{}'", log.display());
        let mut s = switch(&cmd("off"), &cmd("on"));
        s.off().await.unwrap();
        s.on().await.unwrap();
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "off\non\n");
    }

    #[tokio::test]
    async fn a_failing_command_says_which_and_why() {
        let mut s = switch("echo relay 3 not found >&2; exit 7", "true");
        let e = s.off().await.unwrap_err().to_string();
        assert!(e.contains("exit 7") && e.contains("exit status: 7"), "{e}");
        assert!(e.contains("relay 3 not found"), "{e}");
    }

    #[tokio::test]
    async fn a_hanging_command_is_bounded() {
        let mut spec = ExternalSwitchSpec::new("true", "sleep 30");
        spec.timeout = Duration::from_millis(200);
        let mut s = ExternalSwitch::new(spec, Transcript::new());
        let started = std::time::Instant::now();
        let e = s.on().await.unwrap_err().to_string();
        assert!(e.contains("did not finish"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
