//! The bench: one terminal and the instruments around it (ARCHITECTURE.md, "A lab bench, in
//! software"). The same [`Bench`] drives an emulated terminal in CI and a physical one in the lab;
//! only [`Target`] differs.
//!
//! Emulated: a PTY pair is opened first (so no early byte is lost), the emulator is spawned as a
//! separate process on the PTY's terminal end, and its stderr is recorded in the transcript.
//! Physical: the serial port is opened and the device greeted; its host address must point at
//! the proxy address this bench prints.
//!
//! Either way the link reaches the terminal through the serial line relay
//! (`payhil_transport::relay`), inline in front of the PTY or the port: with no fault set it
//! passes bytes unchanged; [`Bench::set_serial_fault`] puts a line fault in force.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod card_robot;
mod ecr_link;
mod emulated;
pub mod power;
mod terminal_log;

pub use card_robot::{CardAction, CardRobot, CardRobotError};
pub use ecr_link::EcrLink;
use ecr_link::ecr_tcp;
use emulated::{Emulator, await_boot, spawn};
pub use power::{ExternalSwitch, ExternalSwitchSpec, PowerSwitch};

use payhil_acquirer::HostSim;
use payhil_faults::{NetProxy, SerialFault, SerialPlan};
use payhil_protocol::{PROTOCOL_VERSION, Request, RequestError, ResetSettings, Response};
use payhil_transport::serial::{Port, pty_pair};
use payhil_transport::{
    FrameLink, LineControl, LinkError, LinkSettings, Relay, Source, Transcript,
};
use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Which terminal the bench drives.
#[derive(Debug, Clone)]
pub enum Target {
    /// Spawn an emulator process on a fresh PTY.
    Emulated(EmulatorSpec),
    /// A device on a real serial port.
    Physical {
        /// Port path, e.g. `/dev/ttyUSB0`.
        port: PathBuf,
        /// Baud rate.
        baud: u32,
        /// The lab's power switch for it, if it has one (power cuts need it).
        power_switch: Option<ExternalSwitchSpec>,
    },
}

/// How to start an emulated terminal.
#[derive(Debug, Clone)]
pub struct EmulatorSpec {
    /// Executable: `payhil` itself (with `emulate` in `args`) or `fut-emulator`.
    pub program: PathBuf,
    /// Arguments before the bench's own (`--port`, `--host`, `--flash`).
    pub args: Vec<OsString>,
    /// Terminal configuration passed on the command line.
    pub config: TerminalConfig,
}

/// Terminal settings the scenario (and the model) assume. For a physical terminal they are
/// the lab's responsibility to match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TerminalConfig {
    /// Offline per-transaction limit, minor units (NETS-03).
    pub offline_limit_minor: u64,
    /// Offline per-card limit, minor units (NETS-04).
    pub card_limit_minor: u64,
    /// Forward retry interval, controlled-clock seconds.
    pub forward_retry_s: u32,
    /// Contactless CVM limit, minor units (CARD-02).
    pub cvm_limit_minor: u64,
    /// Gambling merchant's daily maximum per card, minor units (CARD-04).
    pub gambling_daily_max_minor: Option<u64>,
    /// Self-service terminal (BAX-03).
    pub self_service: bool,
    /// BankAxept reserve: phone authorisation above this, minor units NOK (BAX-08).
    pub reserve_phone_auth_above_minor: u64,
    /// BankAxept reserve: aggregate cap, minor units NOK, 0 for none (BAX-09).
    pub reserve_cap_minor: u64,
    /// How long the terminal waits for the host (real time, milliseconds).
    pub host_timeout_ms: u64,
}

impl Default for TerminalConfig {
    fn default() -> Self {
        Self {
            offline_limit_minor: 1_500_00,
            card_limit_minor: 20_000_00,
            forward_retry_s: 60,
            cvm_limit_minor: 350_00,
            gambling_daily_max_minor: None,
            self_service: false,
            reserve_phone_auth_above_minor: 2_500_00,
            reserve_cap_minor: 20_000_00,
            host_timeout_ms: 2_000,
        }
    }
}

/// Bench settings.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// The terminal.
    pub target: Target,
    /// Where the fault proxy listens (the terminal's host address). Port 0 picks a free one.
    pub proxy_listen: SocketAddr,
    /// Link timeouts and retries.
    pub link: LinkSettings,
    /// How long a starting terminal may take to announce itself.
    pub boot_timeout: Duration,
    /// Seed for every random choice of the instruments (fault proxy).
    pub seed: u64,
    /// Drive an emulated terminal's payments through its ZVT cash-register interface
    /// ([`Bench::ecr`]); its test-agent port then serves as the card, clock and queue
    /// instruments.
    pub ecr: Option<EcrLink>,
}

impl BenchConfig {
    /// Defaults for a target: loopback port 0, default link settings, 10 s boot bound.
    pub fn new(target: Target) -> Self {
        Self {
            target,
            proxy_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            link: LinkSettings::default(),
            boot_timeout: Duration::from_secs(10),
            seed: 0,
            ecr: None,
        }
    }
}

/// What the terminal said about itself in Hello (empty until the first Hello).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeviceIdentity {
    /// Protocol version.
    pub protocol_version: u16,
    /// Model.
    pub model: String,
    /// Serial number.
    pub serial: String,
    /// Firmware version.
    pub firmware_version: String,
    /// Firmware build hash.
    pub build_hash: String,
    /// Terminal id.
    pub terminal_id: String,
    /// Merchant id.
    pub merchant_id: String,
    /// Boot counter.
    pub boot_count: u32,
    /// Offline items it can hold (Hello, protocol 2).
    pub queue_capacity: u32,
    /// Size of its transaction storage in bytes (Hello, protocol 2).
    pub flash_bytes: u32,
}

/// Why the bench could not be set up or a bench operation failed.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Sockets, PTY or process spawning failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The terminal's serial port could not be opened (absent, unplugged, no permission).
    #[error("opening the serial port {}: {source}", path.display())]
    PortOpen {
        /// The port.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The link to the terminal failed.
    #[error(transparent)]
    Link(#[from] LinkError),
    /// The terminal answered Hello with something else.
    #[error("terminal refused the session: {0}")]
    Hello(String),
    /// The emulator exited before it booted.
    #[error("emulator exited during start-up ({status}); its last output:\n{log}")]
    EmulatorDied {
        /// Exit status.
        status: String,
        /// Its last stderr lines.
        log: String,
    },
    /// The operation needs an emulated terminal.
    #[error("{0} is only possible on an emulated terminal")]
    NotEmulated(&'static str),
    /// A physical terminal without a configured power switch was to lose power.
    #[error(
        "a power cut on a physical terminal needs its power switch: configure the commands \
         that switch its relay or PDU (`payhil run --power-off CMD --power-on CMD`)"
    )]
    NoPowerSwitch,
    /// A power switch command failed.
    #[error("power switch command `{command}` failed: {why}")]
    PowerSwitch {
        /// The command.
        command: String,
        /// How it failed.
        why: String,
    },
    /// A cut armed inside the terminal was expected to have fired, and the terminal is alive.
    #[error("the terminal did not lose power: {0}")]
    StillPowered(String),
}

/// A power cut armed inside an emulated terminal (its power-control side channel).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InternalCut {
    /// At the `n`th flash write (program or erase) from now, 1 being the next; `torn`: half of
    /// that write lands.
    FlashWrite {
        /// Which write, from 1.
        n: u32,
        /// Torn rather than clean.
        torn: bool,
    },
    /// When the terminal has finished its next transaction, before it answers with the result.
    BeforeResult,
    /// Nothing (disarms what was armed).
    Disarm,
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> BenchError {
    let what = what.into();
    move |source| BenchError::Io { what, source }
}

/// How long a killed emulator may take to be reaped.
pub(crate) const KILL_BOUND: Duration = Duration::from_secs(5);

/// A running bench.
pub struct Bench {
    /// The link to the terminal's test agent, through the serial line relay.
    pub link: FrameLink<Relay<Port>>,
    /// Sets the serial line relay's faults.
    pub line: LineControl,
    /// The run's seed, and how many serial faults were set so far (each gets its own stream).
    seed: u64,
    serial_faults_set: u64,
    serial_in_force: bool,
    /// The acquirer host simulator.
    pub host: HostSim,
    /// The network fault proxy between terminal and host.
    pub proxy: NetProxy,
    /// Everything that happened.
    pub transcript: Transcript,
    /// The terminal's identity from the last Hello.
    pub device: DeviceIdentity,
    emulator: Option<Emulator>,
    /// A physical terminal's power switch, if the lab configured one.
    switch: Option<ExternalSwitch>,
    /// The terminal's ZVT interface, when the bench drives payments through it
    /// ([`BenchConfig::ecr`]); the runner takes it while a command is under way. Its link keeps
    /// its transcript lines for the runner to record after each command
    /// (`payhil_ecr::zvt::Link::buffered`).
    pub ecr: Option<payhil_ecr::zvt::Driver<payhil_ecr::zvt::ZvtStream>>,
    /// Where the terminal's ZVT interface listens, when it is on TCP (to connect again).
    ecr_addr: Option<String>,
    _workdir: tempfile::TempDir,
}

impl Bench {
    /// The harness powered the terminal up for this run (an emulator it spawned), so what the
    /// terminal counts since boot it counts since the run began. A physical terminal was
    /// running before the harness opened its port.
    pub fn powered_up_for_the_run(&self) -> bool {
        self.emulator.is_some()
    }

    /// Sets up host, proxy and terminal, and greets the terminal.
    pub async fn start(cfg: BenchConfig) -> Result<Self, BenchError> {
        let transcript = Transcript::new();
        let workdir = tempfile::Builder::new()
            .prefix("payhil-bench")
            .tempdir()
            .map_err(io("creating a work directory"))?;
        let host = HostSim::start(SocketAddr::from(([127, 0, 0, 1], 0)), transcript.clone())
            .await
            .map_err(io("starting the host simulator"))?;
        let proxy = NetProxy::start(cfg.proxy_listen, host.addr(), transcript.clone(), cfg.seed)
            .await
            .map_err(io(format!(
                "starting the network proxy on {}",
                cfg.proxy_listen
            )))?;
        proxy.set_upstream_closed(host.connection_closed());
        transcript.record_local(
            Source::Step,
            "host simulator and network proxy listening",
            format!("host {}, proxy {}", host.addr(), proxy.addr()),
        );
        let mut ecr = None;
        let mut ecr_keepalive = None;
        let mut ecr_addr = None;
        let (mut link, emulator, switch) = match &cfg.target {
            Target::Emulated(spec) => {
                let pty = pty_pair().map_err(io("opening a PTY pair"))?;
                let flash = workdir.path().join("flash.bin");
                let relay = Relay::new(Port::from(pty.harness), transcript.clone());
                let line = relay.control();
                let mut link = FrameLink::new(relay, "emulator", cfg.link, transcript.clone())
                    .with_relay(line);
                let mut ecr_args: Vec<OsString> = Vec::new();
                let ecr_pty = match cfg.ecr {
                    Some(EcrLink::Serial) => {
                        let p = pty_pair().map_err(io("opening the ZVT PTY pair"))?;
                        ecr_args.extend(["--ecr".into(), "zvt".into(), "--ecr-port".into()]);
                        ecr_args.push(p.terminal_path.clone().into_os_string());
                        Some(p)
                    }
                    Some(EcrLink::Tcp) => {
                        ecr_args.extend(
                            ["--ecr", "zvt", "--ecr-listen", "127.0.0.1:0"].map(OsString::from),
                        );
                        None
                    }
                    None => None,
                };
                let (mut child, control) = spawn(
                    spec,
                    &pty.terminal_path,
                    proxy.addr(),
                    &flash,
                    &transcript,
                    &ecr_args,
                )?;
                ecr = match (cfg.ecr, ecr_pty) {
                    (Some(EcrLink::Serial), Some(p)) => {
                        ecr_keepalive = p.keepalive;
                        Some(
                            payhil_ecr::zvt::Link::new(
                                payhil_ecr::zvt::ZvtStream::Serial(p.harness),
                                payhil_ecr::zvt::Framing::Serial,
                                None,
                            )
                            .buffered(),
                        )
                    }
                    (Some(EcrLink::Tcp), _) => {
                        let (link, addr) =
                            ecr_tcp(&mut child, cfg.boot_timeout, &transcript).await?;
                        ecr_addr = Some(addr);
                        Some(link.buffered())
                    }
                    _ => None,
                };
                let mut emu = Emulator {
                    spec: spec.clone(),
                    terminal_path: pty.terminal_path,
                    flash,
                    child,
                    ecr_args,
                    control,
                    host: proxy.addr(),
                    transcript: transcript.clone(),
                    keepalive: None,
                };
                await_boot(&mut link, &mut emu, cfg.boot_timeout, &transcript).await?;
                // Now the emulator holds the terminal end: drop ours so its exit reads as EOF.
                drop(pty.keepalive);
                (link, Some(emu), None)
            }
            Target::Physical {
                port,
                baud,
                power_switch,
            } => {
                let s = payhil_transport::serial::open(port, *baud)
                    .await
                    .map_err(|source| BenchError::PortOpen {
                        path: port.clone(),
                        source,
                    })?;
                transcript.record_local(
                    Source::Step,
                    format!("opened the serial port at {baud} baud"),
                    port.display().to_string(),
                );
                let relay = Relay::new(s, transcript.clone());
                let line = relay.control();
                let name = port.display().to_string();
                (
                    FrameLink::new(relay, name, cfg.link, transcript.clone()).with_relay(line),
                    None,
                    power_switch
                        .clone()
                        .map(|spec| ExternalSwitch::new(spec, transcript.clone())),
                )
            }
        };
        let line = link.io_mut().control();
        link.host_waits.watch_swallowed(proxy.swallowed());
        let mut bench = Self {
            link,
            line,
            seed: cfg.seed,
            serial_faults_set: 0,
            serial_in_force: false,
            host,
            proxy,
            transcript,
            device: DeviceIdentity::default(),
            emulator,
            switch,
            ecr: ecr.map(zvt_driver),
            ecr_addr,
            _workdir: workdir,
        };
        bench.hello().await?;
        // The emulator holds its end of the ZVT PTY by now (it opened it before booting).
        drop(ecr_keepalive);
        Ok(bench)
    }

    /// Closes the link to the terminal's ZVT interface and connects again, as a cash register
    /// does after losing its link (TCP only: a PTY's closed end cannot be opened again).
    pub async fn reconnect_ecr(&mut self) -> Result<(), BenchError> {
        let Some(addr) = self.ecr_addr.clone() else {
            return Err(BenchError::Hello(
                "the ZVT interface is not on TCP: its link cannot be opened again".into(),
            ));
        };
        // Dropped first: the terminal sees the link close before the new one opens.
        self.ecr = None;
        let link =
            payhil_ecr::zvt::open(&format!("tcp://{addr}"), 0, Duration::from_secs(10), None)
                .await
                .map_err(io("connecting to the ZVT interface again"))?
                .buffered();
        self.ecr = Some(zvt_driver(link));
        Ok(())
    }

    /// Greets the terminal and records its identity.
    pub async fn hello(&mut self) -> Result<&DeviceIdentity, BenchError> {
        let r = self
            .link
            .request(&Request::Hello {
                protocol_version: PROTOCOL_VERSION,
            })
            .await?;
        self.identity_from(r.get())
    }

    /// Puts the terminal in a known state (`Request::Reset`: empty journal and queue, the
    /// given configuration and clock) and records its identity after it. `Ok(false)`: the
    /// terminal does not offer it (it answered `Rejected(Malformed)`), and nothing changed.
    pub async fn reset(&mut self, settings: ResetSettings) -> Result<bool, BenchError> {
        let r = self.link.request(&Request::Reset(settings)).await?;
        if matches!(r.get(), Response::Rejected(RequestError::Malformed)) {
            return Ok(false);
        }
        self.identity_from(r.get()).map(|_| true)
    }

    fn identity_from(&mut self, r: Response<'_>) -> Result<&DeviceIdentity, BenchError> {
        match r {
            Response::Hello(d) => {
                self.device = DeviceIdentity {
                    protocol_version: d.protocol_version,
                    model: d.identity.model.into(),
                    serial: d.identity.serial.into(),
                    firmware_version: d.identity.firmware_version.into(),
                    build_hash: d.identity.build_hash.into(),
                    terminal_id: d.identity.terminal_id.into(),
                    merchant_id: d.identity.merchant_id.into(),
                    boot_count: d.boot_count,
                    queue_capacity: d.queue_capacity,
                    flash_bytes: d.flash_bytes,
                };
                Ok(&self.device)
            }
            other => Err(BenchError::Hello(format!("{other:?}"))),
        }
    }

    /// Puts a serial line fault in force (`None`: a clean line) for every frame not yet sent;
    /// in force, and recorded, when this returns. Its random choices come from the run's seed.
    pub fn set_serial_fault(&mut self, fault: Option<SerialFault>) {
        self.serial_in_force = fault.is_some();
        match fault {
            Some(f) => {
                self.serial_faults_set += 1;
                let plan = SerialPlan::new(f, self.seed, self.serial_faults_set);
                self.line.set(Some(Box::new(plan)));
                self.transcript
                    .record(Source::Line, format!("fault in force: {f:?}"));
            }
            None => {
                self.line.set(None);
                self.transcript.record(Source::Line, "clean line");
            }
        }
    }

    /// Whether a serial line fault is in force.
    pub fn serial_fault_in_force(&self) -> bool {
        self.serial_in_force
    }

    /// The emulated terminal's flash image as it is now: what the terminal keeps at rest, for
    /// the end-of-run scan for card data (PCI-02). Read it after [`Bench::stop_terminal`], so
    /// that nothing is still being written, and before the bench is dropped: the image lives in
    /// the bench's temporary directory, which goes with it.
    ///
    /// `None` for a physical terminal: the harness cannot read its storage.
    pub fn flash_image(&self) -> Option<std::io::Result<Vec<u8>>> {
        self.emulator.as_ref().map(|emu| std::fs::read(&emu.flash))
    }

    /// Stops the emulator (if any) and reports its exit.
    pub async fn shutdown(mut self) -> Option<String> {
        self.stop_terminal().await
    }

    /// Stops the emulator (if any), takes in its last log lines and waits for its host
    /// connections to end, so the transcript is complete and in order; reports the exit.
    pub async fn stop_terminal(&mut self) -> Option<String> {
        let emu = self.emulator.as_mut()?;
        let _ = emu.child.start_kill();
        let status = tokio::time::timeout(Duration::from_secs(5), emu.child.wait()).await;
        self.transcript.take_terminal_log();
        self.proxy.wait_idle().await;
        Some(match status {
            Ok(Ok(s)) => s.to_string(),
            Ok(Err(e)) => e.to_string(),
            Err(_) => "did not exit within 5 s of SIGKILL".into(),
        })
    }
}

/// The cash register's driver over an emulated terminal's ZVT link (password 000000, the
/// spec's timers).
fn zvt_driver(
    link: payhil_ecr::zvt::Link<payhil_ecr::zvt::ZvtStream>,
) -> payhil_ecr::zvt::Driver<payhil_ecr::zvt::ZvtStream> {
    payhil_ecr::zvt::Driver::new(
        link,
        payhil_ecr::zvt::Password(0),
        payhil_ecr::zvt::Timeouts::default(),
    )
}
