//! Power cuts as scenario steps: arming a cut, noticing where it fires (at a point of a
//! purchase the harness drives, at the host's side of an exchange, or inside the terminal),
//! restoring power, and judging what the interrupted transaction left behind.
//!
//! A cut fires in the middle of a step. The request under way fails (the terminal never answers
//! it), the step ends there, power is restored on the same flash, and the run checks at once that
//! nothing it saw approved was lost or doubled; the transaction the cut interrupted may have been
//! approved or not (the harness never saw its result), but never booked twice.

use super::Run;
use crate::format::{PowerCutSpec, Step};
use payhil_acquirer::Hooked;
use payhil_bench::InternalCut;
use payhil_model::PurchaseInput;
use payhil_model::ledger::{Interrupted, Phase};
use payhil_protocol::{Request, TxnKind};
use payhil_transport::{ResponseBytes, Source};

/// The error a request ends with when a power cut fired during it; the step loop looks at
/// [`Run::cut_fired`], never at this text.
pub(super) const CUT: &str = "the terminal lost power (an armed power cut fired)";

/// A cut the scenario armed and that has not fired yet.
pub(super) struct ArmedCut {
    /// The step that armed it.
    step: usize,
    spec: PowerCutSpec,
    /// The host's side: resolves when the hooked request has arrived.
    hook: Option<tokio::sync::oneshot::Receiver<()>>,
    /// Armed inside the terminal: a failed link means it fired.
    internal: bool,
}

/// A named point of a purchase the harness drives itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Point {
    /// The terminal took the card and asks for the PIN.
    AfterCard,
    /// The terminal took the PIN and asks the card to verify it (offline).
    AfterPin,
}

fn describe(spec: PowerCutSpec) -> String {
    match spec {
        PowerCutSpec::AfterCard => "after the card".into(),
        PowerCutSpec::AfterPin => "after the PIN".into(),
        PowerCutSpec::AfterApproval => "after the approval, before the result".into(),
        PowerCutSpec::MidForward { advice } => {
            format!("in the middle of forwarding, as advice {advice} was sent")
        }
        PowerCutSpec::AdviceUnacked { advice } => {
            format!("between advice {advice} and its acknowledgement")
        }
        PowerCutSpec::FlashWrite { n, torn } => {
            format!(
                "at flash write {n} ({})",
                if torn { "torn" } else { "clean" }
            )
        }
    }
}

impl Run {
    /// Arms the step's cut; it fires during a later step.
    pub(super) async fn arm(&mut self, step: &Step, spec: PowerCutSpec) -> Result<String, String> {
        if let Some(a) = &self.armed {
            return Err(format!(
                "the power cut armed at step {} ({}) has not fired yet; one cut at a time",
                a.step,
                describe(a.spec)
            ));
        }
        let mut armed = ArmedCut {
            step: step.index,
            spec,
            hook: None,
            internal: false,
        };
        let host = &self.bench.host;
        match spec {
            PowerCutSpec::AfterCard => {}
            // Offline the harness cuts when the card is asked; online, when the authorisation
            // reaches the host (which books it and never answers).
            PowerCutSpec::AfterPin => {
                armed.hook = Some(host.power_hook(Hooked::Authorisation, 1, true));
            }
            PowerCutSpec::MidForward { advice } => {
                armed.hook = Some(host.power_hook(Hooked::Advice, advice, false));
            }
            PowerCutSpec::AdviceUnacked { advice } => {
                armed.hook = Some(host.power_hook(Hooked::Advice, advice, true));
            }
            PowerCutSpec::AfterApproval => {
                self.bench
                    .arm_cut(InternalCut::BeforeResult)
                    .await
                    .map_err(|e| e.to_string())?;
                armed.internal = true;
            }
            PowerCutSpec::FlashWrite { n, torn } => {
                self.bench
                    .arm_cut(InternalCut::FlashWrite { n, torn })
                    .await
                    .map_err(|e| e.to_string())?;
                armed.internal = true;
            }
        }
        self.armed = Some(armed);
        Ok(format!("power cut armed {}", describe(spec)))
    }

    /// Sends `req`, watching for an armed cut: the host's hook firing (the harness then cuts
    /// the power) or the terminal dying inside (its link fails). Either way the request ends
    /// with [`CUT`] and [`Run::cut_fired`] says where.
    pub(super) async fn watched_request(
        &mut self,
        req: &Request<'_>,
    ) -> Result<ResponseBytes, String> {
        let hook = self.armed.as_mut().and_then(|a| a.hook.as_mut());
        let answer = match hook {
            Some(hook) => tokio::select! {
                // Biased: once the host has the hooked request, nothing else counts.
                biased;
                Ok(()) = hook => None,
                r = self.bench.link.request(req) => Some(r),
            },
            None => Some(self.bench.link.request(req).await),
        };
        match answer {
            Some(Ok(r)) => Ok(r),
            None => {
                self.bench.power_off().await.map_err(|e| e.to_string())?;
                // At an authorisation the host booked: its answer is lost to the terminal.
                self.answer_lost = self
                    .armed
                    .as_ref()
                    .is_some_and(|a| a.spec == PowerCutSpec::AfterPin);
                Err(self.fired())
            }
            Some(Err(e)) if self.armed.as_ref().is_some_and(|a| a.internal) => {
                match self.bench.lost_power().await {
                    Ok(()) => Err(self.fired()),
                    Err(not) => Err(format!("{e} ({not})")),
                }
            }
            Some(Err(e)) => {
                // Unless a cut or a line fault the harness made explains it, a terminal that is
                // gone or silent is lost: a lab's run does not go on as if it were there.
                if self.cut_fired.is_none() && !self.bench.serial_fault_in_force() {
                    self.lost = self
                        .lost
                        .take()
                        .or_else(|| super::TerminalLoss::of_link(&e));
                }
                Err(e.to_string())
            }
        }
    }

    /// At a named point of a purchase: cuts the power if a cut is armed for that point.
    /// `Ok(true)`: it fired (the purchase ends there).
    pub(super) async fn cut_at(&mut self, point: Point) -> Result<bool, String> {
        let due = matches!(
            (self.armed.as_ref().map(|a| a.spec), point),
            (Some(PowerCutSpec::AfterCard), Point::AfterCard)
                | (Some(PowerCutSpec::AfterPin), Point::AfterPin)
        );
        if !due {
            return Ok(false);
        }
        self.bench.power_off().await.map_err(|e| e.to_string())?;
        self.fired();
        Ok(true)
    }

    /// Whether the armed cut is inside the terminal (a failed link then means it fired).
    pub(super) fn armed_inside(&self) -> bool {
        self.armed.as_ref().is_some_and(|a| a.internal)
    }

    /// Records that the armed cut fired; the error text for the request it ended.
    pub(super) fn fired(&mut self) -> String {
        if let Some(a) = self.armed.take() {
            self.bench.host.clear_power_hook();
            self.cut_fired = Some(describe(a.spec));
        }
        CUT.to_string()
    }

    /// A purchase is under way (`Some`) or over (`None`): what a cut would interrupt.
    pub(super) fn in_flight(&mut self, p: Option<PurchaseInput>) {
        self.in_flight = p;
    }

    /// After a cut fired during `step`: the interrupted transaction's outcome becomes uncertain,
    /// power is restored on the same flash, the clock given back, and nothing the harness saw
    /// approved may be lost or doubled.
    pub(super) async fn restore_after_cut(&mut self, step: &Step) -> Result<String, String> {
        let what = self.cut_fired.take().unwrap_or_default();
        self.new_fault_epoch(self.faulty);
        // The cut may have stopped a send half-way, and the terminal's next boot starts here.
        self.sends_may_be_hidden();
        self.booted();
        self.model.power_lost();
        self.model.restarted();
        let interrupted = self.in_flight.take();
        let answer_lost = std::mem::take(&mut self.answer_lost);
        if let Some(p) = &interrupted {
            if p.kind == TxnKind::Capture || p.kind == TxnKind::Reversal {
                return Err(format!(
                    "the power cut ({what}) fired during a {:?}; cuts are for purchases",
                    p.kind
                ));
            }
            self.model.interrupted(p);
            self.ledger.interrupted(Interrupted {
                kind: p.kind,
                amount: p.amount,
                pan: p.card.pan.masked(),
                network: p.network,
                entry: p.entry_mode,
                at: self.now,
                answer_lost,
            });
        }
        // A payment the cash register started over ZVT ends with its terminal's power.
        self.ecr_abandon().await?;
        let booted_before = self.bench.device.boot_count;
        self.bench
            .power_on(self.boot_timeout)
            .await
            .map_err(|e| format!("after the power cut ({what}): {e}"))?;
        self.check_boot_count(booted_before)?;
        // The real-time clock keeps running through a cut; the emulator's is given back.
        let now = self.now;
        self.set_clock(now).await?;
        let q = self.queue(&Request::QueueStatus).await?;
        self.check_queue(&q, None)?;
        self.check_exactly_once(Phase::Running)?;
        self.bench.transcript.record(
            Source::Step,
            format!(
                "step {}: power restored after the cut {what}; {}",
                step.index,
                if interrupted.is_some() {
                    "the purchase it interrupted may or may not have been approved"
                } else {
                    "no purchase was under way"
                }
            ),
        );
        Ok(format!(
            "power cut {what}; restored, boot {}, {} pending",
            self.bench.device.boot_count, q.pending
        ))
    }

    /// The end of the steps: a cut still armed never fired, which the scenario did not mean.
    pub(super) async fn unfired_cut(&mut self) -> Result<(), String> {
        let Some(a) = self.armed.take() else {
            return Ok(());
        };
        self.bench.host.clear_power_hook();
        if a.internal {
            let _ = self.bench.arm_cut(InternalCut::Disarm).await;
        }
        Err(format!(
            "the power cut armed at step {} ({}) never fired: no later step reached that point",
            a.step,
            describe(a.spec)
        ))
    }
}
