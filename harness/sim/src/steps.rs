//! A scenario's steps as requests to the in-process terminal, judged as the scenario runner
//! judges them (`payhil_scenario::runner`): each answer against the scenario's expectation and
//! the reference model, every approval into the harness's ledger, every offline approval
//! against the limit invariants, the queue reports against the model and the host's books.
//! Receipts and the PCI scan are the PTY runner's; here the point is the oracle after power cuts.

use crate::bench::{self, Answer, Checkpoint, Halted, Seen};
use fut_core::Terminal;
use fut_core::flash::{Flash, FlashError};
use fut_core::journal::JournalError;
use payhil_model::ledger::Phase;
use payhil_model::{Model, ModelConfig, Prediction};
use payhil_protocol::{Outcome, Reason, Request, TxnKind};
use payhil_scenario::format::{
    Action, Expectation, LinkSpec, PurchaseSpec, Scenario, Step, outcome_name, reason_name,
};

/// How a run stopped early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// Power was cut (the flash said so).
    Halted,
    /// A finding: what went wrong, both sides shown.
    Failed(String),
}

impl From<Halted> for End {
    fn from(_: Halted) -> Self {
        End::Halted
    }
}

impl From<String> for End {
    fn from(s: String) -> Self {
        End::Failed(s)
    }
}

/// A terminal being driven, with what the harness saw.
pub struct Driver<'c, F: Flash, C: Checkpoint> {
    /// The terminal (none while it is off).
    pub t: Option<Terminal<'static, F>>,
    /// What the harness saw.
    pub seen: Seen,
    /// The reference model (only in a counted run: after a cut it cannot know whether the
    /// interrupted transaction was kept, so recovery is judged by the ledger and books).
    pub model: Option<Model>,
    /// Checkpoints before every call into the core.
    pub cp: &'c mut C,
    cfg: fut_core::Config<'static>,
}

/// The model for a scenario's settings, as the runner builds it.
pub fn model(scn: &Scenario) -> Model {
    model_for(&scn.terminal)
}

/// The model for these terminal settings.
pub fn model_for(t: &payhil_scenario::format::TerminalSettings) -> Model {
    Model::new(ModelConfig {
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
        // Its small chip holds 128 records by design (so that short runs wrap the ring): a
        // hundred power-ups, each a boot record, reuse the page of a purchase made before
        // them. The PTY runner requires every transaction to be kept.
        follow_up_window: Some(payhil_model::Readings::builtin().bench_follow_up_window),
    })
}

/// The steps the in-process bench cannot play: faults shape bytes on a TCP connection.
pub fn unsupported(step: &Step) -> Option<&'static str> {
    match step.action {
        Action::Faults(Some(_)) => Some("a `faults` step (byte-level link faults)"),
        // Power cuts are what `payhil powerloss` makes itself, at every write.
        Action::PowerCut(_) => Some("a `power_cut` step (powerloss cuts at every write itself)"),
        Action::Serial(Some(_)) => Some("a `serial` step (serial line faults need the relay)"),
        Action::Purchase(ref p, _) if p.ecr_result_lost => {
            Some("a result lost on a cash-register link (`payhil run --ecr zvt --ecr-tcp`)")
        }
        Action::Purchase(ref p, _) if p.card_fault.is_some() => {
            Some("a `card_fault` purchase (card-data faults run over the PTY: `payhil run`)")
        }
        _ => None,
    }
}

impl<'c, F: Flash, C: Checkpoint> Driver<'c, F, C> {
    /// A driver with the terminal off.
    pub fn new(
        cfg: fut_core::Config<'static>,
        seen: Seen,
        model: Option<Model>,
        cp: &'c mut C,
    ) -> Self {
        Self {
            t: None,
            seen,
            model,
            cp,
            cfg,
        }
    }

    /// A driver of a terminal already up (a clone of one booted before, with what the harness
    /// had seen of it then).
    pub fn of_booted(
        cfg: fut_core::Config<'static>,
        t: Terminal<'static, F>,
        seen: Seen,
        model: Option<Model>,
        cp: &'c mut C,
    ) -> Self {
        Self {
            t: Some(t),
            seen,
            model,
            cp,
            cfg,
        }
    }

    /// Powers the terminal up on `flash` and gives it the harness's clock.
    pub fn boot(&mut self, flash: F) -> Result<(), End> {
        self.cp.before_call(&self.seen);
        match Terminal::boot(self.cfg, flash) {
            Ok(t) => {
                self.t = Some(t);
                self.seen.answered_advices = 0;
            }
            Err(JournalError::Flash(FlashError::PowerLost)) => return Err(End::Halted),
            Err(e) => {
                return Err(End::Failed(format!(
                    "the terminal does not boot on its own flash: {e:?}"
                )));
            }
        }
        let now = self.seen.now;
        self.set_clock(now)
    }

    /// Cuts power politely (the terminal is between requests) and gives its flash back.
    pub fn power_off(&mut self) -> Option<F> {
        self.t.take().map(Terminal::into_flash)
    }

    fn req(&mut self, r: &Request<'_>) -> Result<Answer, End> {
        let t = self
            .t
            .as_mut()
            .ok_or_else(|| End::Failed("the terminal is off".into()))?;
        Ok(bench::request(t, &mut self.seen, self.cp, r)?)
    }

    fn queue(&mut self, r: &Request<'_>) -> Result<payhil_protocol::QueueStatus, End> {
        match self.req(r)? {
            // Every advice the host answered was pending (the terminal sends nothing else), so
            // each answer takes one item off the queue: the count since boot is the answers'.
            Answer::Queue(q) if q.forwarded != self.seen.answered_advices => {
                Err(End::Failed(format!(
                    "{r:?}: the terminal reports {} items forwarded since boot; the host answered {}",
                    q.forwarded, self.seen.answered_advices
                )))
            }
            Answer::Queue(q) => Ok(q),
            other => Err(End::Failed(format!(
                "{r:?}: expected Queue, terminal answered {other:?}"
            ))),
        }
    }

    fn set_clock(&mut self, unix_s: i64) -> Result<(), End> {
        match self.req(&Request::SetClock { unix_s })? {
            Answer::Clock(got) if got == unix_s => {
                self.seen.now = unix_s;
                self.seen.books.clock = unix_s;
                if let Some(m) = &mut self.model {
                    m.set_clock(unix_s);
                }
                Ok(())
            }
            other => Err(End::Failed(format!(
                "SetClock({unix_s}): expected Clock({unix_s}), terminal answered {other:?}"
            ))),
        }
    }

    /// The start of a run: the device's queue capacity (the one property taken from it).
    pub fn start(&mut self) -> Result<(), End> {
        let q = self.queue(&Request::QueueStatus)?;
        if let Some(m) = &mut self.model {
            m.set_queue_capacity(q.capacity);
        }
        self.check_queue(&q, None)
    }

    fn forward(&mut self) -> Result<payhil_protocol::QueueStatus, End> {
        // Only a round that ended is one: a power cut may have stopped it anywhere, and then
        // the queue is as uncertain as the cut leaves it (as the PTY runner has it). Counted
        // regardless, a round cut at its first write emptied the model's queue while the
        // terminal kept every item (found by `payhil soak`: a split the model did not see).
        let q = self.queue(&Request::ForwardQueue)?;
        if let Some(m) = &mut self.model {
            m.forwarding_opportunity();
        }
        Ok(q)
    }

    fn check_queue(&self, q: &payhil_protocol::QueueStatus, want: Option<u32>) -> Result<(), End> {
        if let Some(n) = want {
            if q.pending != n {
                return Err(End::Failed(format!(
                    "offline queue: terminal reports {} pending; scenario expects {n}",
                    q.pending
                )));
            }
        }
        let Some(m) = &self.model else {
            return Ok(());
        };
        let (lo, hi) = m.queue_bounds();
        if q.pending < lo || q.pending > hi {
            return Err(End::Failed(format!(
                "offline queue: terminal reports {} pending; model expects {lo}..={hi}",
                q.pending
            )));
        }
        let (lo, hi) = m.queue_amount_bounds();
        if q.pending_minor < lo || q.pending_minor > hi {
            return Err(End::Failed(format!(
                "offline queue: terminal reports {} minor units pending; the model's items sum to {lo}..={hi}",
                q.pending_minor
            )));
        }
        Ok(())
    }

    /// NETS-10: the terminal's count of forwarded items the host declined is the host's.
    fn check_declined(&self, reported: u32, want: Option<u32>) -> Result<(), End> {
        let host = self
            .seen
            .books
            .items
            .values()
            .filter(|s| {
                s.terminal_id == bench::TERMINAL_ID
                    && s.kind == payhil_acquirer::SettledKind::Offline
                    && s.txn == TxnKind::Purchase
                    && !s.response_code.is_approved()
            })
            .count() as u32;
        if reported != host {
            return Err(End::Failed(format!(
                "NETS-10: terminal reports {reported} declined by the host after forwarding; the host declined {host}"
            )));
        }
        match want {
            Some(d) if d != reported => Err(End::Failed(format!(
                "NETS-10: terminal reports {reported} declined by the host; scenario expects {d}"
            ))),
            _ => Ok(()),
        }
    }

    /// Plays one scenario step.
    pub fn step(&mut self, step: &Step) -> Result<(), End> {
        match &step.action {
            Action::SetClock(t) => self.set_clock(*t),
            Action::AdvanceClock(secs) => {
                let want = self.seen.now.saturating_add(i64::from(*secs));
                match self.req(&Request::AdvanceClock { secs: *secs })? {
                    Answer::Clock(got) if got == want => {
                        self.seen.now = want;
                        self.seen.books.clock = want;
                        if let Some(m) = &mut self.model {
                            m.advance_clock(*secs);
                        }
                        Ok(())
                    }
                    other => Err(End::Failed(format!(
                        "AdvanceClock({secs}): expected Clock({want}), terminal answered {other:?}"
                    ))),
                }
            }
            Action::Network(link) => {
                self.seen.link = *link;
                self.seen.new_epoch();
                if let Some(m) = &mut self.model {
                    match link {
                        LinkSpec::Blackhole => m.set_blackhole(),
                        other => m.set_network(*other == LinkSpec::Up),
                    }
                }
                Ok(())
            }
            // Clearing faults on a link that never had any (see `unsupported`).
            Action::Faults(_) => Ok(()),
            // A clean line is what the in-process bench always has.
            Action::Serial(None) => Ok(()),
            // Refused before the run (`unsupported`).
            Action::Serial(Some(_)) | Action::PowerCut(_) => {
                Err(End::Failed("this step cannot run in process".into()))
            }
            Action::Purchases {
                count,
                amount,
                cards,
                expect,
            } => {
                for i in 0..*count as usize {
                    let Some(card) = cards.get(i % cards.len().max(1)).cloned() else {
                        return Err(End::Failed("a bulk purchase without cards".into()));
                    };
                    let spec = PurchaseSpec::bulk(card, *amount);
                    self.purchase(step.index, &spec, expect.as_ref())
                        .map_err(|e| match e {
                            End::Failed(m) => {
                                End::Failed(format!("purchase {} of {count}: {m}", i + 1))
                            }
                            h => h,
                        })?;
                }
                Ok(())
            }
            Action::ForwardUntilEmpty(max) => {
                for _ in 0..*max {
                    let q = self.forward()?;
                    if q.pending == 0 {
                        let books = &self.seen.books;
                        if let Some(m) = &mut self.model {
                            m.queue_reported_empty(|seq| {
                                books
                                    .items
                                    .contains_key(&(bench::TERMINAL_ID.to_string(), seq))
                            });
                        }
                        return self.check_queue(&q, None);
                    }
                }
                Err(End::Failed(format!(
                    "offline queue not empty after {max} forwarding rounds"
                )))
            }
            Action::Purchase(spec, expect) => self.purchase(step.index, spec, expect.as_ref()),
            Action::Forward => {
                let q = self.forward()?;
                self.check_queue(&q, None)
            }
            Action::ExpectQueue(n, _overdue, declined) => {
                let q = self.queue(&Request::QueueStatus)?;
                self.check_queue(&q, Some(*n))?;
                self.check_declined(q.declined_by_host, *declined)
            }
            Action::Capture { of, amount, expect } => self.follow_up(
                step.index,
                TxnKind::Capture,
                *of,
                Some(*amount),
                expect.as_ref(),
            ),
            Action::Reverse { of, expect } => {
                self.follow_up(step.index, TxnKind::Reversal, *of, None, expect.as_ref())
            }
            Action::Settle => self.check_exactly_once(Phase::Running),
            Action::Reconcile => match self.req(&Request::Reconcile)? {
                Answer::Totals => match self.seen.books.reconciliations.last() {
                    Some(r) if r.in_balance => Ok(()),
                    Some(_) => Err(End::Failed(
                        "reconciliation: the host found the terminal out of balance".into(),
                    )),
                    None => Err(End::Failed("reconciliation: the host received none".into())),
                },
                other => Err(End::Failed(format!(
                    "Reconcile: expected Totals, terminal answered {other:?}"
                ))),
            },
            Action::PowerCycle => {
                let flash = self
                    .power_off()
                    .ok_or_else(|| End::Failed("the terminal is off".into()))?;
                self.seen.new_epoch();
                if let Some(m) = &mut self.model {
                    m.restarted();
                }
                self.boot(flash)
            }
        }
    }

    /// Compares an outcome with the model's prediction and the scenario's expectation.
    fn judge(
        &self,
        prediction: Option<Prediction>,
        expect: Option<&Expectation>,
        outcome: Outcome,
        reason: Reason,
    ) -> Result<(), End> {
        let shown = |o: Outcome, r: Reason| format!("{}/{}", outcome_name(o), reason_name(r));
        if let Some(e) = expect {
            if e.outcome != outcome || e.reason.is_some_and(|r| r != reason) {
                return Err(End::Failed(format!(
                    "outcome differs from the scenario: terminal {}; scenario {}",
                    shown(outcome, reason),
                    outcome_name(e.outcome)
                )));
            }
        }
        if let Some(p) = prediction {
            if !p.allows(outcome, reason) {
                let model: Vec<String> = p.outcomes().iter().map(|(o, r)| shown(*o, *r)).collect();
                return Err(End::Failed(format!(
                    "outcome differs from the reference model: terminal {}; model {}",
                    shown(outcome, reason),
                    model.join(" or ")
                )));
            }
        }
        Ok(())
    }
}

mod exactly_once;
mod txn;
