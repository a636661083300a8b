//! Runs a scenario on a bench and checks the terminal three ways: against the scenario's own
//! expectations, against the reference model, and against the invariants (exactly-once,
//! receipts, no card data in any artifact).

use crate::format::{PurchaseSpec, Scenario};
use payhil_bench::{Bench, BenchConfig, EmulatorSpec, Target, TerminalConfig};
use payhil_faults::LinkState;
use payhil_model::ledger::Ledger;
use payhil_model::{Model, ModelConfig};
use payhil_protocol::{Awaiting, QueueStatus, Request, Response};
use payhil_transport::Source;
use std::path::PathBuf;
use std::time::{Duration, Instant};

mod card_fault;
mod checks;
mod deliveries;
mod ecr;
mod evidence;
mod line;
mod physical;
mod power;
mod report;
mod step;
mod transcript_stream;
mod txn;

pub use report::{Artifact, ExposurePoint, Failure, ScenarioReport, StepResult, TerminalLoss};

impl TerminalTarget {
    /// The emulated terminal `program args` as `scn` needs it: driven through its ZVT
    /// interface over TCP when the scenario is about a cash register's link (a result lost on
    /// it), through its test agent otherwise.
    pub fn emulated_for(scn: &Scenario, program: PathBuf, args: Vec<std::ffi::OsString>) -> Self {
        if ecr::needs_ecr(scn).is_some() {
            Self::EmulatedZvt {
                program,
                args,
                tcp: true,
            }
        } else {
            Self::Emulated { program, args }
        }
    }
}

/// The controlled clock's value before a scenario sets it: Monday 2026-01-05 09:00:00 UTC.
pub const DEFAULT_CLOCK: i64 = 1_767_603_600;

/// Which terminal to run on.
#[derive(Debug, Clone)]
pub enum TerminalTarget {
    /// Spawn this emulator command (e.g. `payhil emulate`) on a fresh PTY per scenario.
    Emulated {
        /// Executable.
        program: PathBuf,
        /// Leading arguments.
        args: Vec<std::ffi::OsString>,
    },
    /// Spawn this emulator command on a fresh PTY per scenario, and drive its payments
    /// through its ZVT cash-register interface (on a second PTY, or on loopback TCP with
    /// `tcp`); its test-agent port serves the card, clock and queue instruments.
    EmulatedZvt {
        /// Executable.
        program: PathBuf,
        /// Leading arguments.
        args: Vec<std::ffi::OsString>,
        /// ZVT over loopback TCP rather than a serial PTY.
        tcp: bool,
    },
    /// A physical terminal on a serial port.
    Physical {
        /// Port path.
        port: PathBuf,
        /// Baud rate.
        baud: u32,
        /// The lab's power switch for it (power cuts need one).
        power_switch: Option<payhil_bench::ExternalSwitchSpec>,
        /// For a terminal without the Reset request: the lab's command that resets it (run
        /// with `sh -c` before each scenario, bounded; the terminal is greeted again after it).
        reset_command: Option<String>,
    },
}

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The terminal.
    pub target: TerminalTarget,
    /// The run's seed (a scenario's own seed wins). Recorded in the report.
    pub seed: u64,
    /// Bound on a starting or restarting terminal.
    pub boot_timeout: Duration,
    /// Where the acquirer proxy listens (port 0: any free port).
    pub proxy_listen: std::net::SocketAddr,
    /// Set to the step under way (1-based; 0 before the first), for a live display.
    pub progress: Option<std::sync::Arc<std::sync::atomic::AtomicUsize>>,
}

struct Run {
    /// Sequence number and purchase of each step that made a transaction.
    txns: std::collections::HashMap<usize, (u32, PurchaseSpec)>,
    bench: Bench,
    model: Model,
    invariants: payhil_model::oracle::OfflineInvariants,
    now: i64,
    /// What the terminal approved, as the harness recorded it (the oracle's side).
    ledger: Ledger,
    /// The cards, played by the harness: each one's PIN-try counter, for the whole run.
    cards: payhil_cards::instrument::CardInstrument,
    /// The fault epoch: a new one at every network change, fault change and power cut.
    fault_epoch: u64,
    /// Faults are active on the link.
    faulty: bool,
    /// The scenario expects items still pending at its end: no drain before the final check.
    end_pending: bool,
    /// Settlement expectations, checked once the queue is drained: (step, line, sequence
    /// number, settlement date, network).
    settle_expectations: Vec<checks::SettleExpectation>,
    artifacts: Vec<Artifact>,
    steps: Vec<StepResult>,
    boot_timeout: Duration,
    /// A power cut armed and not yet fired.
    armed: Option<power::ArmedCut>,
    /// Where the armed cut fired, while the step it fired in is ending.
    cut_fired: Option<String>,
    /// The purchase under way, which a power cut would interrupt.
    in_flight: Option<payhil_model::PurchaseInput>,
    /// The cut that fired came after the host booked the purchase's authorisation.
    answer_lost: bool,
    /// A ZVT command under way while the instruments play the card: a power cut ends it.
    ecr_pending: Option<ecr::Pending>,
    /// The terminal was lost during the run (see [`TerminalLoss`]).
    lost: Option<TerminalLoss>,
    /// The terminal's sends as the harness can account for them (repeat flags, forwarded count).
    sends: deliveries::SendHistory,
    /// Each card's exposure whenever it changed, and its last value per card.
    exposure: Vec<ExposurePoint>,
    last_exposure: std::collections::BTreeMap<String, u64>,
}

/// `text` as the harness may keep or write it: every test card's number, PIN and CVC, and any
/// other card number, masked (PCI-01, PBS-01); withheld whole if something cannot be masked.
/// The report's own texts are redacted already; this is for anything else written next to them.
pub fn redact(text: &str) -> String {
    evidence::redact(text, &evidence::Secrets::catalogue())
}

/// A transcript entry as the harness may keep or write it: its text and its machine-local
/// details redacted as the runner redacts every entry it records (its times are the harness's
/// own and are left alone). For a transcript file written by another run or tool.
pub fn redact_entry(e: payhil_transport::transcript::Entry) -> payhil_transport::transcript::Entry {
    evidence::TranscriptCheck::new(evidence::Secrets::catalogue()).entry(e)
}

/// Whether `text` holds a test card's number, PIN or CVC, or any card number (the scan
/// [`redact`] starts with: cheaper when, as usually, nothing is found).
pub fn holds_card_data(text: &str) -> bool {
    evidence::holds_card_data(text, &evidence::Secrets::catalogue())
}

/// Runs a scenario. Never panics on terminal behaviour: every problem ends up in the report.
pub async fn run(scn: &Scenario, opts: &RunOptions) -> ScenarioReport {
    run_to(scn, opts, None).await
}

/// Runs one scenario like [`run`]; with `transcript`, its transcript streams to that file as
/// JSON Lines ([`crate::transcript_file`]) while the run goes, each entry scanned for card data
/// and redacted as it is recorded, and only its end stays in memory (memory stays bounded
/// however chatty the terminal). A file that cannot be created fails the scenario before the
/// terminal starts; one that cannot be written to the end fails it at the end.
pub async fn run_to(
    scn: &Scenario,
    opts: &RunOptions,
    transcript: Option<&std::path::Path>,
) -> ScenarioReport {
    let started = Instant::now();
    let seed = scn.seed.unwrap_or(opts.seed);
    let mut report = ScenarioReport {
        name: scn.name.clone(),
        stem: scn.stem.clone(),
        path: scn.path.clone(),
        rules: scn.rules.clone(),
        seed,
        steps: Vec::new(),
        failure: None,
        invariant_findings: Vec::new(),
        artifacts: Vec::new(),
        transcript: String::new(),
        replayable_transcript: String::new(),
        transcript_entries: Vec::new(),
        transcript_file: None,
        exposure: Vec::new(),
        device: None,
        elapsed: Duration::ZERO,
        skipped: None,
        lost: None,
    };
    if let Some(why) = physical::skip_reason(scn, &opts.target) {
        report.skipped = Some(why);
        return report;
    }
    let t = &scn.terminal;
    let ecr = match &opts.target {
        TerminalTarget::EmulatedZvt { tcp, .. } => Some(if *tcp {
            payhil_bench::EcrLink::Tcp
        } else {
            payhil_bench::EcrLink::Serial
        }),
        _ => None,
    };
    let target = match &opts.target {
        TerminalTarget::Emulated { program, args }
        | TerminalTarget::EmulatedZvt { program, args, .. } => Target::Emulated(EmulatorSpec {
            program: program.clone(),
            args: args.clone(),
            config: TerminalConfig {
                offline_limit_minor: t.offline_limit.minor,
                card_limit_minor: t.card_limit.minor,
                forward_retry_s: t.forward_retry_s,
                cvm_limit_minor: t.cvm_limit.minor,
                gambling_daily_max_minor: t.gambling_daily_max.map(|a| a.minor),
                self_service: t.self_service,
                reserve_phone_auth_above_minor: t.reserve_phone_auth_above.minor,
                reserve_cap_minor: t.reserve_cap.minor,
                host_timeout_ms: t.host_timeout_ms,
            },
        }),
        TerminalTarget::Physical {
            port,
            baud,
            power_switch,
            ..
        } => Target::Physical {
            port: port.clone(),
            baud: *baud,
            power_switch: power_switch.clone(),
        },
    };
    let mut cfg = BenchConfig::new(target);
    cfg.ecr = ecr;
    cfg.boot_timeout = opts.boot_timeout;
    if let Some(ms) = t.response_timeout_ms {
        cfg.link.response_timeout = Duration::from_millis(ms);
    }
    cfg.seed = seed;
    cfg.proxy_listen = opts.proxy_listen;
    let secrets = evidence::Secrets::of(scn);
    // The file exists before the terminal starts: an unwritable place ends the scenario before
    // anything happens on the bench.
    let stream =
        match transcript.map(|p| transcript_stream::TranscriptStream::create(p, secrets.clone())) {
            None => None,
            Some(Ok(s)) => Some(s),
            Some(Err(e)) => {
                report.failure = Some(Failure {
                    step: 0,
                    line: 0,
                    message: format!(
                        "the transcript file {} cannot be written: {e}",
                        transcript
                            .map(|p| p.display().to_string())
                            .unwrap_or_default()
                    ),
                });
                report.elapsed = started.elapsed();
                return report;
            }
        };
    let bench = match Bench::start(cfg).await {
        Ok(b) => b,
        Err(e) => {
            report.lost = match &e {
                payhil_bench::BenchError::PortOpen { .. } => {
                    Some(TerminalLoss::Gone(e.to_string()))
                }
                payhil_bench::BenchError::Link(l) => TerminalLoss::of_link(l),
                payhil_bench::BenchError::Hello(_) => Some(TerminalLoss::Refused(e.to_string())),
                _ => None,
            };
            // The error may quote the terminal's last log lines.
            report.failure = Some(Failure {
                step: 0,
                line: 0,
                message: evidence::redact(&format!("bench setup failed: {e}"), &secrets),
            });
            report.elapsed = started.elapsed();
            return report;
        }
    };
    bench.transcript.record(
        Source::Step,
        format!(
            "scenario {} ({}), seed {seed}",
            scn.name,
            scn.path.display()
        ),
    );
    if let Some(s) = &stream {
        // What the bench recorded while starting goes first, then every entry as it comes.
        bench
            .transcript
            .stream_to(s.sink(), transcript_stream::KEEP);
        report.transcript_file = Some(s.path().to_path_buf());
    }
    report.device = Some(bench.device.clone());
    bench.host.add_cards(&scn.cards);
    let mut run = Run {
        txns: std::collections::HashMap::new(),
        invariants: payhil_model::oracle::OfflineInvariants::new(
            t.offline_limit,
            t.card_limit.minor,
        ),
        bench,
        model: Model::new(ModelConfig {
            offline_limit: t.offline_limit,
            card_limit_minor: t.card_limit.minor,
            forward_retry_s: t.forward_retry_s,
            cvm_limit_minor: t.cvm_limit.minor,
            gambling_daily_max_minor: t.gambling_daily_max.map(|a| a.minor),
            self_service: t.self_service,
            reserve_phone_auth_above_minor: t.reserve_phone_auth_above.minor,
            reserve_cap_minor: t.reserve_cap.minor,
            readings: payhil_model::Readings::builtin(),
            queue_capacity: None,
            follow_up_window: None,
        }),
        now: DEFAULT_CLOCK,
        ledger: Ledger::default(),
        cards: payhil_cards::instrument::CardInstrument::new(),
        fault_epoch: 0,
        faulty: false,
        end_pending: scn.end_with_pending,
        settle_expectations: Vec::new(),
        artifacts: Vec::new(),
        steps: Vec::new(),
        boot_timeout: opts.boot_timeout,
        armed: None,
        cut_fired: None,
        in_flight: None,
        answer_lost: false,
        ecr_pending: None,
        lost: None,
        sends: deliveries::SendHistory::default(),
        exposure: Vec::new(),
        last_exposure: std::collections::BTreeMap::new(),
    };
    if let Some(p) = &opts.progress {
        p.store(0, std::sync::atomic::Ordering::Relaxed);
    }
    let reset_command = match &opts.target {
        TerminalTarget::Physical { reset_command, .. } => reset_command.as_deref(),
        TerminalTarget::Emulated { .. } | TerminalTarget::EmulatedZvt { .. } => None,
    };
    let mut failure = match run.start(t, reset_command).await {
        Ok(()) => None,
        Err(message) => Some(Failure {
            step: 0,
            line: 0,
            message,
        }),
    };
    if failure.is_none() {
        for step in &scn.steps {
            run.bench.transcript.record(
                Source::Step,
                format!(
                    "step {} (line {}): {:?}",
                    step.index, step.line, step.action
                ),
            );
            if let Some(p) = &opts.progress {
                p.store(step.index, std::sync::atomic::Ordering::Relaxed);
            }
            let began = Instant::now();
            let mut result = run.step(step).await;
            if result.is_err() && run.cut_fired.is_some() {
                // An armed power cut ended the step; the run goes on once power is back.
                result = run.restore_after_cut(step).await;
            }
            run.in_flight(None);
            run.note_exposure(step.index);
            match run.expected_end(step, result, began.elapsed()).await {
                Ok(summary) => run.steps.push(StepResult {
                    index: step.index,
                    line: step.line,
                    summary,
                }),
                Err(message) => {
                    run.bench.transcript.record(
                        Source::Step,
                        format!("step {} FAILED: {message}", step.index),
                    );
                    failure = Some(Failure {
                        step: step.index,
                        line: step.line,
                        message,
                    });
                    break;
                }
            }
        }
    }
    if failure.is_none() {
        if let Err(message) = run.unfired_cut().await {
            failure = Some(Failure {
                step: 0,
                line: 0,
                message,
            });
        }
    }
    if failure.is_none() {
        // Whatever the scenario says, nothing approved may be lost or doubled (PBS-02): the
        // queue is drained, then every approval must be in the host's books exactly once.
        if let Err(message) = run.drain_and_check().await {
            failure = Some(Failure {
                step: 0,
                line: 0,
                message: format!("end of run: {message}"),
            });
        }
        run.note_exposure(scn.steps.len() + 1);
    }
    let Run {
        mut bench,
        artifacts,
        steps,
        exposure,
        lost,
        ..
    } = run;
    // Stopped before the transcript is rendered: the terminal's last words and the ends of its
    // connections are in it, in order. Stopped before its flash is read, too: nothing is being
    // written any more.
    let _ = bench.stop_terminal().await;
    // What the terminal keeps at rest is evidence too (PCI-02). The image lives in the bench's
    // temporary directory, so it is read now, before the bench is dropped. A physical terminal
    // has no image the harness can read: nothing of this applies to it yet.
    let storage_findings = match bench.flash_image() {
        Some(Ok(image)) => evidence::storage_findings(&image, &secrets),
        Some(Err(e)) => vec![format!(
            "PCI-02: terminal storage: the flash image could not be read: {e}"
        )],
        None => Vec::new(),
    };
    // PCI-01, PCI-02, PBS-01: scan every artifact, every transcript entry and every line the
    // terminal logged for card numbers, PINs and CVCs of all test cards; then keep only
    // redacted copies, so that nothing the harness keeps or writes passes a leak on.
    let evidence = match &stream {
        None => evidence::check(artifacts, bench.transcript.entries(), &secrets),
        Some(s) => {
            // Every entry was scanned and redacted as it was recorded.
            bench.transcript.take_terminal_log();
            let streamed = s.finish();
            let tail = bench.transcript.entries();
            let (mut findings, artifacts) = evidence::check_artifacts(artifacts, &secrets);
            findings.extend(streamed.findings);
            let earlier = streamed.written.saturating_sub(tail.len() as u64);
            let mut text = String::new();
            if earlier > 0 {
                text = format!(
                    "[{earlier} earlier entries are in {}]\n",
                    s.path().display()
                );
            }
            text += &payhil_transport::transcript::render(&tail);
            evidence::Evidence {
                findings,
                artifacts,
                transcript: text,
                replayable: payhil_transport::transcript::render_replayable(&tail),
                entries: tail,
            }
        }
    };
    drop(bench);
    report.steps = steps
        .into_iter()
        .map(|s| StepResult {
            summary: evidence::redact(&s.summary, &secrets),
            ..s
        })
        .collect();
    // A failure message may quote what the terminal answered (a receipt, a log line).
    report.failure = failure.map(|f| Failure {
        message: evidence::redact(&f.message, &secrets),
        ..f
    });
    report.invariant_findings = evidence.findings;
    report.invariant_findings.extend(storage_findings);
    report.artifacts = evidence.artifacts;
    report.exposure = exposure;
    report.lost = lost;
    report.transcript = evidence.transcript;
    report.replayable_transcript = evidence.replayable;
    report.transcript_entries = evidence.entries;
    report.elapsed = started.elapsed();
    report
}

impl Run {
    async fn request(
        &mut self,
        req: &Request<'_>,
    ) -> Result<payhil_transport::ResponseBytes, String> {
        let r = self.watched_request(req).await;
        // The clock the harness moved while the terminal waited for a swallowed request: the
        // model and the host follow it (it is the harness's figure, checked against the
        // terminal's answer by the link).
        let moved = self.bench.link.host_waits.take_moved();
        if moved > 0 {
            self.now = self.now.saturating_add(i64::from(moved));
            self.model.pass_time(moved);
            self.bench.host.set_clock(self.now);
            self.bench.transcript.set_clock(self.now);
        }
        r
    }

    /// A swallowed request is never answered: while the link is a blackhole the terminal is
    /// asked to announce its host waits, and the link moves its clock to their deadline rather
    /// than wait them out (PROTOCOL.md 4.8). A terminal that does not offer this waits in real
    /// time, as before. Sent only when that changes (or `again`, after a restart), so that
    /// scenarios without a blackhole exchange the same frames as before.
    async fn announce_host_waits(&mut self, again: bool) -> Result<(), String> {
        let on = self.bench.proxy.state() == LinkState::Blackhole;
        if on == self.bench.link.host_waits.advancing() && !again {
            return Ok(());
        }
        let r = self.request(&Request::AnnounceHostWaits { on }).await?;
        match r.get() {
            Response::Clock { unix_s } if unix_s == self.now => {
                self.bench.link.host_waits.set_advance(on);
                Ok(())
            }
            Response::Clock { unix_s } => Err(format!(
                "AnnounceHostWaits: the terminal's clock reads {unix_s}, the harness set {}",
                self.now
            )),
            Response::Rejected(payhil_protocol::RequestError::Malformed) => {
                self.bench.link.host_waits.set_advance(false);
                self.bench.transcript.record(
                    Source::Step,
                    "the terminal does not announce its host waits: they pass in real time",
                );
                Ok(())
            }
            other => Err(format!(
                "AnnounceHostWaits: expected Clock, terminal answered {other:?}"
            )),
        }
    }

    /// Sends `req` (`QueueStatus` or `ForwardQueue`) and returns the queue the terminal reports.
    async fn queue(&mut self, req: &Request<'_>) -> Result<QueueStatus, String> {
        let r = self.request(req).await?;
        match r.get() {
            Response::Queue(q) => Ok(q),
            other => Err(format!(
                "{req:?}: expected Queue, terminal answered {other:?}"
            )),
        }
    }

    /// Sends `req` and checks that the terminal now waits for a card (`why` ends the error).
    async fn expect_card_wait(&mut self, req: &Request<'_>, why: &str) -> Result<(), String> {
        let r = self.request(req).await?;
        match r.get() {
            Response::Accepted {
                awaiting: Awaiting::Card,
            } => Ok(()),
            other => Err(format!(
                "{req:?}: expected Accepted(awaiting Card){why}, terminal answered {other:?}"
            )),
        }
    }

    /// Sets the clock and gives the model the device's queue capacity from its Hello (a device
    /// property; every other answer of the terminal is judged, not learnt).
    async fn start(
        &mut self,
        t: &crate::format::TerminalSettings,
        reset_command: Option<&str>,
    ) -> Result<(), String> {
        self.reset_if_carried_over(t, DEFAULT_CLOCK, reset_command)
            .await?;
        self.set_clock(DEFAULT_CLOCK).await?;
        self.model
            .set_queue_capacity(self.bench.device.queue_capacity);
        let q = self.queue(&Request::QueueStatus).await?;
        // A terminal running before the harness opened its port may have forwarded items then:
        // its count is judged from here on. One the harness powered up has forwarded nothing.
        if !self.bench.powered_up_for_the_run() {
            self.sends.forwarded_at_boot = q.forwarded;
        }
        self.check_queue(&q, None)?;
        if self.bench.ecr.is_some() {
            // As a cash register does before its first payment: what it wants to hear.
            self.ecr_register().await?;
        }
        Ok(())
    }

    /// One forwarding round: the terminal forwards what it can, and the model knows it had
    /// the chance.
    async fn forward(&mut self) -> Result<QueueStatus, String> {
        // Only a round that ended is one: a power cut may have stopped it anywhere.
        let q = self.queue(&Request::ForwardQueue).await?;
        self.model.forwarding_opportunity();
        Ok(q)
    }

    async fn set_clock(&mut self, unix_s: i64) -> Result<String, String> {
        let r = self.request(&Request::SetClock { unix_s }).await?;
        match r.get() {
            Response::Clock { unix_s: got } if got == unix_s => {
                self.now = unix_s;
                self.bench.link.host_waits.set_clock(unix_s);
                self.model.set_clock(unix_s);
                self.bench.host.set_clock(unix_s);
                self.bench.transcript.set_clock(unix_s);
                // After a restart too (the terminal starts without announcing).
                if self.bench.proxy.state() == LinkState::Blackhole {
                    self.announce_host_waits(true).await?;
                }
                Ok(format!("clock set to {unix_s}"))
            }
            other => Err(format!(
                "SetClock({unix_s}): expected Clock({unix_s}), terminal answered {other:?}"
            )),
        }
    }
}
