//! The power plane: a switch that cuts the terminal's power without warning and restores it
//! (ARCHITECTURE.md, "A lab bench, in software"). An emulated terminal's switch kills its
//! process (SIGKILL: no cleanup, no finishing the request under way) and starts it again on the
//! same flash file; a physical terminal's runs the lab's commands for its relay or PDU.
//!
//! A cut inside the terminal (at its Nth flash write, or before it answers a result) is armed
//! through the emulator's power-control side channel, not here: see [`crate::Bench::arm_cut`].

use crate::{BenchError, Emulator, InternalCut, KILL_BOUND, await_boot, ecr_tcp, io, zvt_driver};
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

/// The bench's power instrument: cycling, cutting (from outside, or armed inside an emulated
/// terminal) and restoring the terminal's power, with its ZVT interface.
impl crate::Bench {
    /// Cuts the terminal's power without warning and boots it again (on the same flash, for
    /// an emulated terminal): [`Bench::power_off`], then [`Bench::power_on`].
    pub async fn power_cycle(&mut self, boot_timeout: Duration) -> Result<(), BenchError> {
        self.power_off().await?;
        self.power_on(boot_timeout).await
    }

    /// The terminal's power switch: the emulator's process, or the lab's switch.
    fn switch(&mut self) -> Result<&mut dyn PowerSwitch, BenchError> {
        match (self.emulator.as_mut(), self.switch.as_mut()) {
            (Some(emu), _) => Ok(emu),
            (None, Some(s)) => Ok(s),
            (None, None) => Err(BenchError::NoPowerSwitch),
        }
    }

    /// Cuts the terminal's power now, whatever it is doing: an emulated terminal's process is
    /// killed (SIGKILL), a physical terminal's switch turned off. Its last log lines and the
    /// ends of its host connections are recorded before this returns.
    pub async fn power_off(&mut self) -> Result<(), BenchError> {
        let status = self.switch()?.off().await?;
        self.powered_off(&format!("terminal powered off ({status})"))
            .await;
        Ok(())
    }

    async fn powered_off(&mut self, what: &str) {
        self.transcript.take_terminal_log();
        self.proxy.wait_idle().await;
        self.transcript.record(Source::Step, what.to_string());
    }

    /// Restores power after [`Bench::power_off`] (or a cut inside the terminal), waits for the
    /// terminal to boot and greets it.
    pub async fn power_on(&mut self, boot_timeout: Duration) -> Result<(), BenchError> {
        self.link.reset();
        // The relay's half-read frames belong to the terminal that is gone.
        self.link.io_mut().reset();
        if let (None, Some(d)) = (&self.ecr_addr, self.ecr.as_mut()) {
            // The same ZVT PTY, while no terminal holds it: nothing the one that lost power
            // half-sent, or was sent as it died, may reach the cash register or the next one.
            d.link_mut()
                .forget_terminal_and_input()
                .map_err(io("clearing the ZVT line"))?;
        }
        self.switch()?.on().await?;
        match self.emulator.as_mut() {
            Some(emu) => {
                if self.ecr_addr.is_some() {
                    // Its ZVT interface on TCP listens anew (on another port): connect as a
                    // cash register does after the terminal restarted.
                    self.ecr = None;
                    let (link, addr) =
                        ecr_tcp(&mut emu.child, boot_timeout, &self.transcript).await?;
                    self.ecr_addr = Some(addr);
                    self.ecr = Some(zvt_driver(link.buffered()));
                }
                await_boot(&mut self.link, emu, boot_timeout, &self.transcript).await?;
                emu.keepalive = None;
            }
            None => {
                let boot = self.link.wait_boot(boot_timeout).await?;
                self.transcript
                    .record(Source::Step, format!("terminal booted (boot {boot})"));
            }
        }
        self.hello().await?;
        Ok(())
    }

    /// Resets a terminal without the Reset request by the lab's own procedure: runs `command`
    /// (`sh -c`, bounded by `bound`), then greets the terminal again as a new session (a Boot
    /// it sends meanwhile is its restart, not a failure).
    pub async fn lab_reset(&mut self, command: &str, bound: Duration) -> Result<(), BenchError> {
        run(command, bound, &self.transcript).await?;
        self.link.reset();
        self.link.io_mut().reset();
        self.hello().await?;
        Ok(())
    }

    /// Arms a power cut inside an emulated terminal, through its power-control side channel.
    /// It is in force for the next request: the command is written before it.
    pub async fn arm_cut(&mut self, cut: InternalCut) -> Result<(), BenchError> {
        use tokio::io::AsyncWriteExt;
        let Some(emu) = self.emulator.as_mut() else {
            return Err(BenchError::NotEmulated(
                "a power cut inside the terminal (at a flash write, or before a result)",
            ));
        };
        let line = match cut {
            InternalCut::FlashWrite { n, torn } => {
                format!("cut-at-write {n} {}\n", if torn { "torn" } else { "clean" })
            }
            InternalCut::BeforeResult => "cut-before-result\n".to_string(),
            InternalCut::Disarm => "disarm\n".to_string(),
        };
        let Some(control) = emu.control.as_mut() else {
            return Err(BenchError::NotEmulated(
                "a power cut inside a stopped terminal",
            ));
        };
        control
            .write_all(line.as_bytes())
            .await
            .map_err(io("arming a power cut in the emulator"))?;
        control
            .flush()
            .await
            .map_err(io("arming a power cut in the emulator"))?;
        self.transcript.record(
            Source::Step,
            format!("power cut armed: {}", line.trim_end()),
        );
        Ok(())
    }

    /// After a cut armed with [`Bench::arm_cut`] was due: waits (bounded) for the emulator to
    /// have lost power, records it, and reports its exit. An emulator still running, or one
    /// that ended any other way, is an error.
    pub async fn lost_power(&mut self) -> Result<(), BenchError> {
        let Some(emu) = self.emulator.as_mut() else {
            return Err(BenchError::NotEmulated("a power cut inside the terminal"));
        };
        let status = match tokio::time::timeout(KILL_BOUND, emu.child.wait()).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(BenchError::StillPowered(e.to_string())),
            Err(_) => {
                return Err(BenchError::StillPowered(format!(
                    "still running {KILL_BOUND:?} after its link failed"
                )));
            }
        };
        emu.control = None;
        // The emulator's status for a power loss (fut_emulator::EXIT_POWER_LOST).
        if status.code() != Some(3) {
            self.transcript.take_terminal_log();
            return Err(BenchError::StillPowered(format!(
                "it ended otherwise ({status}); its last output:\n{}",
                self.transcript.tail(10)
            )));
        }
        self.powered_off(&format!("terminal lost power inside ({status})"))
            .await;
        Ok(())
    }

    /// Kills the emulator without warning (tests of a vanished device).
    pub fn kill_terminal(&mut self) -> Result<(), BenchError> {
        let Some(emu) = self.emulator.as_mut() else {
            return Err(BenchError::NotEmulated("killing the terminal"));
        };
        emu.child.start_kill().map_err(io("killing the emulator"))
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
