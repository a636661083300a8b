//! The verdict's checks: the terminal's answers against the model and the scenario, its queue
//! and reconciliation reports against the harness's ledger and the host's books, and the
//! exactly-once check after the queue is drained. Nothing the terminal reports about itself is
//! used to excuse a difference.

use super::Run;
use crate::format::reason_name;
use crate::format::{Expectation, Step, normalise_line, outcome_name};
use payhil_faults::{Faults, LinkState};
use payhil_model::ledger::{self, NetworkTotals, Phase, exactly_once};
use payhil_model::{Prediction, banking};
use payhil_protocol::{
    Currency, HostBalance, Network, Outcome, QueueStatus, Reason, Request, SettlementTotals,
    TxnKind,
};
use payhil_transport::Source;
use std::collections::BTreeMap;

/// What a step's expectation says about the settlement of its transaction.
#[derive(Debug, Clone)]
pub(super) struct SettleExpectation {
    step: usize,
    seq: u32,
    settles: Option<String>,
    network: Option<Network>,
}

/// Forwarding rounds the final drain allows before the queue counts as stuck.
const DRAIN_ROUNDS: u32 = 20;

impl Run {
    /// The terminal's queue report against the model (count and amount) and the scenario: a
    /// count or sum above what the model allows is as much a finding as one below it.
    pub(super) fn check_queue(&self, q: &QueueStatus, scenario: Option<u32>) -> Result<(), String> {
        let pending = q.pending;
        // The capacity is the device's, as its Hello said: a terminal whose queue shrinks or
        // grows between its Hello and a status report is inconsistent about itself.
        if q.capacity != self.bench.device.queue_capacity {
            return Err(format!(
                "offline queue: terminal reports a capacity of {}; its Hello said {}",
                q.capacity, self.bench.device.queue_capacity
            ));
        }
        let (lo, hi) = self.model.queue_bounds();
        if pending < lo || pending > hi {
            return Err(format!(
                "offline queue: terminal reports {pending} pending; model expects {lo}..={hi}"
            ));
        }
        if let Some(n) = scenario {
            if pending != n {
                return Err(format!(
                    "offline queue: terminal reports {pending} pending; scenario expects {n} (model allows {lo}..={hi})"
                ));
            }
        }
        let (lo, hi) = self.model.queue_amount_bounds();
        if q.pending_minor < lo || q.pending_minor > hi {
            return Err(format!(
                "offline queue: terminal reports {} minor units pending; the model's items sum to {lo}..={hi}",
                q.pending_minor
            ));
        }
        self.check_forwarded(q)
    }

    /// One power-up is one boot: the terminal's boot counter (PROTOCOL.md 4.3, power-ups since
    /// format) must have risen by exactly one across a power cycle the harness made. Less means
    /// the counter is not kept; more, that the terminal restarted by itself on the way up.
    pub(super) fn check_boot_count(&self, before: u32) -> Result<(), String> {
        let now = self.bench.device.boot_count;
        if Some(now) == before.checked_add(1) {
            Ok(())
        } else {
            Err(format!(
                "boot counter: {before} before the power cycle, {now} after it; one power-up is \
                 one boot"
            ))
        }
    }

    pub(super) fn check_overdue(&self, overdue: u32, scenario: Option<u32>) -> Result<(), String> {
        let (lo, hi) = self.model.overdue_bounds();
        if overdue < lo || overdue > hi {
            return Err(format!(
                "BAX-10: terminal reports {overdue} overdue; model expects {lo}..={hi}"
            ));
        }
        match scenario {
            Some(n) if n != overdue => Err(format!(
                "BAX-10: terminal reports {overdue} overdue; scenario expects {n}"
            )),
            _ => Ok(()),
        }
    }

    /// Compares the terminal's outcome with the model's prediction and the scenario's
    /// expectation; an error shows all three.
    pub(super) fn judge(
        &self,
        prediction: Prediction,
        expect: Option<&Expectation>,
        outcome: Outcome,
        reason: Reason,
    ) -> Result<String, String> {
        let shown = |o: Outcome, r: Reason| format!("{}/{}", outcome_name(o), reason_name(r));
        let terminal = shown(outcome, reason);
        let model = prediction
            .outcomes()
            .iter()
            .map(|(o, r)| shown(*o, *r))
            .collect::<Vec<_>>()
            .join(" or ");
        let scenario = expect.map(|e| match e.reason {
            Some(r) => shown(e.outcome, r),
            None => outcome_name(e.outcome).to_string(),
        });
        let both = format!(
            "terminal: {terminal}; model: {model}; scenario: {}",
            scenario.as_deref().unwrap_or("-")
        );
        if let Some(e) = expect {
            if e.outcome != outcome || e.reason.is_some_and(|r| r != reason) {
                return Err(format!("outcome differs from the scenario: {both}"));
            }
        }
        if !prediction.allows(outcome, reason) {
            return Err(format!("outcome differs from the reference model: {both}"));
        }
        Ok(terminal)
    }

    /// Keeps the receipt as an artifact and checks what it must show.
    pub(super) fn check_receipt(
        &mut self,
        step: &Step,
        receipt: &str,
        facts: &payhil_model::receipt::ReceiptFacts<'_>,
        approved: bool,
    ) -> Result<(), String> {
        if receipt.is_empty() {
            return if approved {
                Err("CARD-08: an approved transaction printed no receipt".into())
            } else {
                Ok(())
            };
        }
        let problems = payhil_model::receipt::findings(receipt, facts);
        self.artifacts.push(crate::Artifact {
            name: format!("step{:02}_receipt", step.index),
            text: receipt.to_string(),
        });
        if problems.is_empty() {
            Ok(())
        } else {
            Err(format!("receipt: {}", problems.join("; ")))
        }
    }

    /// Starts a new fault epoch (a network change, fault change or power cut): a request the
    /// host sees again after this may be a legitimate repeat of one whose answer was lost.
    pub(super) fn new_fault_epoch(&mut self, faulty: bool) {
        self.fault_epoch += 1;
        self.faulty = faulty;
        self.bench.host.set_fault_context(self.fault_epoch, faulty);
    }

    /// NETS-10: the terminal's count of forwarded items the host declined must be what the host
    /// declined, and what the scenario says if it says.
    pub(super) fn check_declined_by_host(
        &self,
        reported: u32,
        scenario: Option<u32>,
    ) -> Result<(), String> {
        let host = self.host_declined_offline();
        if reported != host {
            return Err(format!(
                "NETS-10: terminal reports {reported} declined by the host after forwarding; the host declined {host}"
            ));
        }
        match scenario {
            Some(d) if d != reported => Err(format!(
                "NETS-10: terminal reports {reported} declined by the host after forwarding; scenario expects {d}"
            )),
            _ => Ok(()),
        }
    }

    /// Forwarded offline purchases of this terminal that the host declined (NETS-10).
    fn host_declined_offline(&self) -> u32 {
        let books = self.bench.host.books();
        let tid = &self.bench.device.terminal_id;
        books
            .items
            .values()
            .filter(|s| {
                &s.terminal_id == tid
                    && s.kind == payhil_acquirer::SettledKind::Offline
                    && s.txn == TxnKind::Purchase
                    && !s.response_code.is_approved()
            })
            .count() as u32
    }

    /// The ledger against the host's books and delivery log.
    pub(super) fn check_exactly_once(&mut self, phase: Phase) -> Result<(), String> {
        let books = self.bench.host.books();
        let tid = self.bench.device.terminal_id.clone();
        let booked = books.booked(&tid);
        let deliveries = books.deliveries(&tid);
        self.check_advice_repeats()?;
        let verdict = exactly_once(&self.ledger, &booked, &deliveries, phase);
        self.bench.transcript.record(
            Source::Step,
            format!(
                "exactly-once ({phase:?}): lost {} duplicated {} unexpected {} recovered {} declined by the host {}{}",
                verdict.lost,
                verdict.duplicated,
                verdict.unexpected,
                verdict.recovered,
                verdict.host_declined,
                if verdict.interrupted_booked > 0 {
                    format!(
                        " interrupted by a power cut and booked {}",
                        verdict.interrupted_booked
                    )
                } else {
                    String::new()
                }
            ),
        );
        if verdict.ok() {
            Ok(())
        } else {
            Err(format!(
                "PBS-02 exactly-once: {}",
                verdict.findings.join("; ")
            ))
        }
    }

    /// The end of every scenario: the link is made clean, the terminal forwards until its queue
    /// is empty, and then every approval must be in the host's books exactly once. A terminal
    /// that cannot empty its queue on a clean link, or reports items the ledger does not hold,
    /// fails here. A scenario that must end with items pending skips the drain and is held to
    /// the mid-run check.
    pub(super) async fn drain_and_check(&mut self) -> Result<(), String> {
        if self.end_pending {
            return self.check_exactly_once(Phase::Running);
        }
        self.bench.transcript.record(
            Source::Step,
            "end of run: drain the offline queue on a clean link",
        );
        self.bench.proxy.set_faults(Faults::none()).await;
        self.bench.proxy.set(LinkState::Up).await;
        if self.bench.serial_fault_in_force() {
            self.bench.set_serial_fault(None);
        }
        self.new_fault_epoch(false);
        self.model.set_flaky(false);
        self.model.set_network(true);
        let mut pending = None;
        for _ in 0..DRAIN_ROUNDS {
            let q = self.forward().await?;
            if q.pending == 0 {
                pending = Some(q);
                break;
            }
        }
        let Some(q) = pending else {
            let q = self.queue(&Request::QueueStatus).await?;
            return Err(format!(
                "the terminal still reports {} pending after {DRAIN_ROUNDS} forwarding rounds on a clean link",
                q.pending
            ));
        };
        self.check_declined_by_host(q.declined_by_host, None)?;
        self.check_exactly_once(Phase::Drained)?;
        self.check_settlement_dates()?;
        self.check_settle_expectations()
    }

    /// The receipt lines a step's expectation asks for, or forbids.
    pub(super) fn expect_receipt_lines(
        &self,
        receipt: &str,
        e: &Expectation,
    ) -> Result<(), String> {
        let lines: Vec<String> = receipt.lines().map(normalise_line).collect();
        for want in &e.receipt_has {
            if !lines.iter().any(|l| l.contains(want.as_str())) {
                return Err(format!(
                    "receipt: no line contains `{want}` (scenario receipt_has); the receipt:\n{receipt}"
                ));
            }
        }
        for bad in &e.receipt_lacks {
            if let Some(l) = lines.iter().find(|l| l.contains(bad.as_str())) {
                return Err(format!(
                    "receipt: the line `{l}` contains `{bad}` (scenario receipt_lacks)"
                ));
            }
        }
        Ok(())
    }

    /// Keeps what a step's expectation says about the settlement, for after the drain.
    pub(super) fn expect_settlement_later(
        &mut self,
        step: &Step,
        seq: u32,
        e: &Expectation,
        approved: bool,
    ) {
        if approved && (e.settles.is_some() || e.settled_as.is_some()) {
            self.settle_expectations.push(SettleExpectation {
                step: step.index,
                seq,
                settles: e.settles.clone(),
                network: e.settled_as,
            });
        }
    }

    /// CARD-09, CARD-11: every item in the host's settlement is dated by the model's banking
    /// calendar from the day the terminal approved it, under the network the cardholder paid
    /// with, and never before the day it reached the host (CARD-09/offline-settlement).
    fn check_settlement_dates(&self) -> Result<(), String> {
        let books = self.bench.host.books();
        let tid = &self.bench.device.terminal_id;
        for item in books.settled().filter(|s| &s.terminal_id == tid) {
            let Some(a) = self.ledger.get(item.seq) else {
                continue; // unexpected items are the exactly-once check's finding
            };
            let model = banking::settles_at(a.network, a.at, item.received);
            if item.settles() != model {
                return Err(format!(
                    "CARD-09/CARD-11: #{} settles on {} in the host's settlement; the model dates it {} ({} approved at {})",
                    item.seq,
                    shown_date(item.settles()),
                    shown_date(model),
                    a.network.label(),
                    a.at
                ));
            }
        }
        Ok(())
    }

    /// The scenario's own settlement expectations, against the host's settlement.
    fn check_settle_expectations(&self) -> Result<(), String> {
        let books = self.bench.host.books();
        let tid = &self.bench.device.terminal_id;
        for x in &self.settle_expectations {
            let Some(item) = books
                .settled()
                .find(|s| &s.terminal_id == tid && s.seq == x.seq)
            else {
                return Err(format!(
                    "step {}: #{} is not in the host's settlement, but the scenario expects it to settle",
                    x.step, x.seq
                ));
            };
            if let Some(want) = &x.settles {
                let got = shown_date(item.settles());
                if &got != want {
                    return Err(format!(
                        "step {}: #{} settles on {got}; the scenario expects {want}",
                        x.step, x.seq
                    ));
                }
            }
            if let Some(want) = x.network {
                if item.network != want {
                    return Err(format!(
                        "step {}: #{} is settled as {}; the scenario expects {}",
                        x.step,
                        x.seq,
                        item.network.label(),
                        want.label()
                    ));
                }
            }
        }
        Ok(())
    }

    /// The terminal's reconciliation report against the host's books and the host's own
    /// verdict: a terminal that says "in balance" is believed only if the host said so, and the
    /// totals it reports must be the host's books for it.
    /// What the host answered this terminal's last reconciliation: in balance or not, or
    /// `None` if it received none.
    pub(super) fn host_reconciled(&self) -> Option<bool> {
        let tid = &self.bench.device.terminal_id;
        self.bench
            .host
            .books()
            .reconciliations
            .iter()
            .rev()
            .find(|r| &r.terminal_id == tid)
            .map(|r| r.in_balance)
    }

    pub(super) fn check_reconciliation(&self, t: &SettlementTotals) -> Result<(), String> {
        let books = self.bench.host.books();
        let tid = &self.bench.device.terminal_id;
        let host_said = self.host_reconciled();
        let reported = match t.host {
            HostBalance::InBalance => Some(true),
            HostBalance::OutOfBalance => Some(false),
            HostBalance::NotChecked => None,
        };
        if reported != host_said {
            return Err(format!(
                "reconciliation: the terminal reports the host's verdict as {:?}; the host {}",
                t.host,
                match host_said {
                    None => "received no reconciliation".to_string(),
                    Some(true) => "answered in balance".to_string(),
                    Some(false) => "answered out of balance".to_string(),
                }
            ));
        }
        let mine = ledger::totals(
            books
                .settled()
                .filter(|s| &s.terminal_id == tid)
                .map(|s| (s.network, s.txn, s.amount)),
        );
        let theirs = terminal_totals(t);
        if mine != theirs {
            return Err(format!(
                "reconciliation: the terminal's totals {theirs:?} differ from the host's books {mine:?}"
            ));
        }
        if host_said != Some(true) {
            return Err(format!(
                "reconciliation: the host says {:?} for the terminal's totals {t:?}",
                t.host
            ));
        }
        Ok(())
    }
}

fn shown_date(d: Option<time::Date>) -> String {
    d.map_or_else(|| "no date".to_string(), |d| d.to_string())
}

/// The terminal's totals per network and currency, as the ledger keeps them.
fn terminal_totals(t: &SettlementTotals) -> BTreeMap<(Network, Currency), NetworkTotals> {
    t.batches
        .iter()
        .flatten()
        .map(|b| {
            (
                (b.network, b.currency),
                NetworkTotals {
                    debits: b.count,
                    debits_minor: b.minor,
                    credits: b.refund_count,
                    credits_minor: b.refund_minor,
                },
            )
        })
        .collect()
}
