//! Scenarios over the terminal's ZVT cash-register interface (`payhil run --ecr zvt`): the
//! payments, refunds, reversals and the end of day go to the terminal as a cash register sends
//! them; the card, the PIN, the clock and the queue stay with the bench's instruments (the test
//! agent's port of the emulated terminal, as a card robot would be in a lab). What the terminal
//! reports over ZVT is judged against the same model, ledger and host's books as on the test
//! agent's path; a scenario with a step ZVT cannot express is skipped with the reason.
//!
//! ZVT reports a result code, not the terminal's reason, so the model's prediction is judged by
//! the code under which each predicted reason reaches a cash register ([`codes_for`], read
//! from the specification's code list, PA00P015 10), and an approval by its payment type (BMP
//! 19: 40 offline, 60 online, 70 online with PIN).

use super::Run;
use crate::format::{Action, Expectation, PurchaseSpec, Scenario};
use payhil_ecr::zvt::{Ended, Outcome as ZvtOutcome, Progress};
use payhil_model::purchase::Prediction;
use payhil_protocol::zvt::message::{Command, PAYMENT_OFFLINE, Password, config, result, status};
use payhil_protocol::{Currency, Outcome, Reason, TxnKind};
use tokio::task::JoinHandle;

mod report;
pub use report::{as_sent, check_approval_report, code_of, codes_for, shows};

/// The largest amount ZVT's amount field carries: 12 BCD digits (BMP 04, 6 bytes).
const MAX_ZVT_AMOUNT: u64 = 999_999_999_999;

/// The terminal's currency as ZVT writes it: DKK (the reference terminal's).
pub(super) const CURRENCY: u16 = 208;

/// Why `scn` cannot run over ZVT, if it cannot: the first step ZVT (or the bench around it)
/// cannot express.
pub fn skip_reason(scn: &Scenario, tcp: bool) -> Option<String> {
    for step in &scn.steps {
        let why = match &step.action {
            Action::Purchase(spec, _) if spec.ecr_result_lost && !tcp => Some(
                "a result lost on the cash register's link, which the harness cuts and opens \
                 again over TCP only (--ecr-tcp): a PTY's closed end cannot be opened again",
            ),
            Action::Purchase(spec, _) => purchase_gap(spec),
            Action::Purchases { amount, .. } if amount.currency != Currency::DKK => {
                Some("a payment in another currency than the terminal's (DKK over ZVT)")
            }
            Action::Serial(_) => Some(
                "a fault on the test agent's serial line, which does not carry the payments over ZVT",
            ),
            _ => None,
        };
        if let Some(w) = why {
            return Some(format!(
                "step {} (line {}) needs {w}",
                step.index, step.line
            ));
        }
    }
    None
}

/// Why `scn` needs a cash-register interface, if it does: a result lost on its link.
pub fn needs_ecr(scn: &Scenario) -> Option<String> {
    scn.steps.iter().find_map(|step| match &step.action {
        Action::Purchase(spec, _) if spec.ecr_result_lost => Some(format!(
            "step {} (line {}) needs a result lost on a cash register's link, which only an \
             emulated terminal offers so far, over ZVT on TCP (run it with --ecr zvt --ecr-tcp)",
            step.index, step.line
        )),
        _ => None,
    })
}

fn purchase_gap(spec: &PurchaseSpec) -> Option<&'static str> {
    if spec.forced_offline {
        Some("a forced-offline payment, which a ZVT authorisation cannot ask for")
    } else if spec.tip_minor > 0 {
        Some(
            "a tip inside the payment, which a ZVT authorisation cannot carry (ZVT books a tip \
             afterwards, 06 0C)",
        )
    } else if spec.reserve.is_some() {
        Some("a BankAxept reserve payment (a debit note), which ZVT cannot express")
    } else if spec
        .card_fault
        .is_some_and(|f| f.amount(spec.amount).minor > MAX_ZVT_AMOUNT)
    {
        Some("an amount of more than 12 digits, which ZVT's amount field (BMP 04) cannot carry")
    } else if !matches!(
        spec.kind,
        TxnKind::Purchase | TxnKind::Refund | TxnKind::PreAuthorisation
    ) {
        Some("a transaction of a kind a cash register does not start over ZVT")
    } else if spec.amount.currency != Currency::DKK {
        Some("a payment in another currency than the terminal's (DKK over ZVT)")
    } else {
        None
    }
}

/// The ZVT command that starts `spec`.
pub fn command_for(spec: &PurchaseSpec) -> Command {
    match spec.kind {
        TxnKind::Refund => Command::Refund {
            password: Password(0),
            amount_minor: spec.amount.minor,
            currency: Some(CURRENCY),
        },
        TxnKind::PreAuthorisation => Command::PreAuthorisation {
            amount_minor: spec.amount.minor,
            currency: Some(CURRENCY),
            payment_type: None,
        },
        _ => Command::Authorisation {
            amount_minor: spec.amount.minor,
            currency: Some(CURRENCY),
            payment_type: None,
        },
    }
}

/// What the terminal reported over ZVT, as the runner uses it.
pub struct Reported {
    /// The outcome and reason of the model's prediction that the report matches.
    pub outcome: Outcome,
    /// (See `outcome`.)
    pub reason: Reason,
    /// The terminal's sequence number (its trace number).
    pub seq: u32,
    /// The receipt, from the print lines.
    pub receipt: String,
    /// The verdict line.
    pub verdict: String,
}

/// How long a ZVT command under way may take to end after its terminal lost power (its link
/// closes with the process: at once, in practice).
const ABANDON_BOUND: std::time::Duration = std::time::Duration::from_secs(5);

/// A command under way in its own task (the runner presents the card meanwhile).
pub struct Pending {
    task: JoinHandle<(
        payhil_ecr::zvt::Driver<payhil_ecr::zvt::ZvtStream>,
        Result<ZvtOutcome, payhil_ecr::zvt::ZvtError>,
    )>,
}

impl Run {
    /// Sends `cmd` over ZVT and returns once the terminal asks for the card; the command goes
    /// on in its own task.
    pub(super) async fn ecr_begin(
        &mut self,
        cmd: Command,
        cut_at_result: bool,
    ) -> Result<Pending, String> {
        let mut driver = self.take_driver()?;
        if cut_at_result {
            driver.cut_at_next_result();
        }
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let r = driver.execute(cmd, Some(&tx), None).await;
            (driver, r)
        });
        while let Some(p) = rx.recv().await {
            if p == Progress::Status(status::INSERT_CARD) {
                return Ok(Pending { task });
            }
        }
        // The command ended without asking for a card.
        let got = self.ecr_end(Pending { task }).await?;
        Err(format!(
            "ZVT: the terminal ended the command before asking for the card: {:?} (result {:02X}: {})",
            got.ended,
            code_of(&got),
            result::describe(code_of(&got))
        ))
    }

    /// The ZVT driver, out of the bench while a command is under way (put back after it).
    fn take_driver(
        &mut self,
    ) -> Result<payhil_ecr::zvt::Driver<payhil_ecr::zvt::ZvtStream>, String> {
        self.bench
            .ecr
            .take()
            .ok_or_else(|| "the terminal's ZVT interface is busy or gone".to_string())
    }

    /// Waits for the command under way to end.
    pub(super) async fn ecr_end(&mut self, p: Pending) -> Result<ZvtOutcome, String> {
        match self.ecr_join(p).await? {
            Ok(o) => Ok(o),
            Err(e) => Err(self.ecr_failed(e).await),
        }
    }

    /// Waits for the command under way to end and takes the driver back ([`Run::put_back`]);
    /// the command's own result.
    async fn ecr_join(
        &mut self,
        p: Pending,
    ) -> Result<Result<ZvtOutcome, payhil_ecr::zvt::ZvtError>, String> {
        let (driver, r) = p
            .task
            .await
            .map_err(|e| format!("ZVT: the driver's task failed: {e}"))?;
        self.put_back(driver);
        Ok(r)
    }

    /// Gives the driver back to the bench after a command, recording what its link kept
    /// during the command after the instruments' lines of that command: at a fixed point, so
    /// a seeded run's transcript does not depend on how the two links' bytes interleaved.
    fn put_back(&mut self, mut driver: payhil_ecr::zvt::Driver<payhil_ecr::zvt::ZvtStream>) {
        for (source, text) in driver.take_lines() {
            self.bench.transcript.record(source, text);
        }
        self.bench.ecr = Some(driver);
    }

    /// Ends a command whose link the harness cut at the terminal's result: the result it sent
    /// (never acknowledged), after the link was closed and opened again as a cash register does.
    pub(super) async fn ecr_end_cut(
        &mut self,
        p: Pending,
    ) -> Result<payhil_ecr::zvt::TxnStatus, String> {
        let lost = match self.ecr_join(p).await? {
            Err(payhil_ecr::zvt::ZvtError::CutAtResult { result }) => *result,
            Ok(o) => {
                return Err(format!(
                    "ZVT: the command ended ({:?}) without the result the link was to be cut at",
                    o.ended
                ));
            }
            Err(e) => return Err(format!("ZVT: {e}")),
        };
        self.bench
            .reconnect_ecr()
            .await
            .map_err(|e| format!("ZVT: {e}"))?;
        Ok(lost)
    }

    /// After a result the cash register never heard: asks for the last result again (repeat
    /// receipt, service byte 01) and checks with the host's books that the payment was not
    /// taken (the terminal reversed it) and was booked at most once. Returns the verdict and
    /// the reversal's sequence number, if the terminal made one.
    pub(super) async fn ecr_recover(
        &mut self,
        lost: &payhil_ecr::zvt::TxnStatus,
    ) -> Result<(String, Option<(u32, Outcome)>), String> {
        let again = self
            .ecr_execute(Command::RepeatReceipt {
                password: Password(0),
                status_information: true,
            })
            .await?;
        let repeated = again
            .result
            .ok_or("ZVT: the terminal did not repeat its last result after the link was lost")?;
        let seq = lost.trace.unwrap_or(0);
        let approved = lost.result == Some(result::SUCCESS);
        let books = self.bench.host.books();
        let tid = &self.bench.device.terminal_id;
        let item = books.items.get(&(tid.clone(), seq));
        if approved && item.is_some_and(|i| i.response_code == 0 && !i.reversed) {
            return Err(format!(
                "a result the cash register never acknowledged (#{seq}) stands at the host: \
                 the cardholder is charged and the cash register thinks the payment failed \
                 (the terminal must reverse it)"
            ));
        }
        let reversal = repeated.trace.filter(|t| approved && *t != seq).map(|t| {
            let how = if repeated.payment_type == Some(PAYMENT_OFFLINE) {
                Outcome::ApprovedOffline
            } else {
                Outcome::ApprovedOnline
            };
            (t, how)
        });
        Ok((
            format!(
                "the result of #{seq} was lost on the cash register's link; the host's books \
                 show it not charged; the repeated last result: {:02X?} ({})",
                repeated.result,
                repeated.text.as_deref().unwrap_or("-")
            ),
            reversal,
        ))
    }

    /// Registers as the terminal's cash register (06 00): intermediate statuses wanted (the
    /// card is presented when the terminal says so), receipts as print lines, the payment
    /// started by the cash register, in the terminal's currency. The terminal must complete it.
    pub(super) async fn ecr_register(&mut self) -> Result<(), String> {
        let got = self
            .ecr_execute(Command::Registration {
                password: Password(0),
                config: config::INTERMEDIATE_STATUS
                    | config::RECEIPTS_AS_PRINT_LINES
                    | config::ECR_CONTROLS_PAYMENT,
                currency: Some(CURRENCY),
            })
            .await?;
        match got.ended {
            Ended::Completed { .. } => Ok(()),
            other => Err(format!(
                "ZVT: the terminal did not take the registration: {other:?}"
            )),
        }
    }

    /// Carries out a command that needs no card (a reversal, the end of day).
    pub(super) async fn ecr_execute(&mut self, cmd: Command) -> Result<ZvtOutcome, String> {
        let mut driver = self.take_driver()?;
        let r = driver.execute(cmd, None, None).await;
        self.put_back(driver);
        match r {
            Ok(o) => Ok(o),
            Err(e) => Err(self.ecr_failed(e).await),
        }
    }

    /// Sends a payment whose amount the terminal must refuse (an amount fault the cash register
    /// makes) and says how the terminal refused it; a terminal that asks for the card instead
    /// is told to abort (06 B0) and the run fails, as one that completes it does.
    pub(super) async fn ecr_refused_amount(&mut self, cmd: Command) -> Result<String, String> {
        let mut driver = self.take_driver()?;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let abort = std::sync::Arc::new(tokio::sync::Notify::new());
        let mut asked = false;
        let r = {
            let run = driver.execute(cmd, Some(&tx), Some(abort.clone()));
            tokio::pin!(run);
            loop {
                tokio::select! {
                    r = &mut run => break r,
                    Some(p) = rx.recv() => {
                        if p == Progress::Status(status::INSERT_CARD) && !asked {
                            asked = true;
                            abort.notify_one();
                        }
                    }
                }
            }
        };
        self.put_back(driver);
        if asked {
            return Err("the terminal took the amount and asked for the card".into());
        }
        match r {
            Err(payhil_ecr::zvt::ZvtError::Refused { code }) => Ok(format!(
                "refused (84 {code:02X}: {})",
                result::describe(code)
            )),
            // Ended with an error code (an abort, or a result that is not a success).
            Ok(o) if code_of(&o) != result::SUCCESS => Ok(format!(
                "ended with result {:02X} ({})",
                code_of(&o),
                result::describe(code_of(&o))
            )),
            Ok(o) => Err(format!(
                "the terminal completed it without an error: {:?}",
                o.ended
            )),
            Err(e) => Err(self.ecr_failed(e).await),
        }
    }

    /// A ZVT command that failed: with a cut armed inside the terminal, a link that failed is
    /// the cut firing (the terminal lost power while it served the command), as on the test
    /// agent's link ([`Run::watched_request`]); anything else is the error it is.
    async fn ecr_failed(&mut self, e: payhil_ecr::zvt::ZvtError) -> String {
        if self.armed_inside() {
            match self.bench.lost_power().await {
                Ok(()) => return self.fired(),
                Err(not) => return format!("ZVT: {e} ({not})"),
            }
        }
        format!("ZVT: {e}")
    }

    /// After a power cut: the ZVT command that was under way, if any, ends with the terminal's
    /// power (its link closed); the driver is taken back. Bounded: a driver that has not seen
    /// its link close within the bound is given up, and the interface with it.
    pub(super) async fn ecr_abandon(&mut self) -> Result<(), String> {
        let Some(p) = self.ecr_pending.take() else {
            return Ok(());
        };
        let abort = p.task.abort_handle();
        match tokio::time::timeout(ABANDON_BOUND, p.task).await {
            Ok(Ok((driver, r))) => {
                self.put_back(driver);
                let how = match r {
                    Ok(o) => format!("ended: {:?}", o.ended),
                    Err(e) => format!("ended with the terminal's power: {e}"),
                };
                self.bench
                    .transcript
                    .record(payhil_transport::Source::Step, format!("ZVT command {how}"));
                Ok(())
            }
            Ok(Err(e)) => Err(format!("ZVT: the driver's task failed: {e}")),
            Err(_) => {
                abort.abort();
                Err(format!(
                    "ZVT: the command under way did not end within {ABANDON_BOUND:?} of the \
                     terminal losing power"
                ))
            }
        }
    }

    /// Judges what the terminal reported over ZVT against the model (and the scenario), as
    /// [`Run::judge`] judges the test agent's answer.
    pub(super) fn judge_zvt(
        &self,
        prediction: Prediction,
        expect: Option<&Expectation>,
        got: &ZvtOutcome,
    ) -> Result<Reported, String> {
        let wanted = |o: Outcome, r: Reason| {
            expect.is_none_or(|e| e.outcome == o && e.reason.is_none_or(|er| er == r))
        };
        // PCI-01: a card number over ZVT is masked (E nibbles); a full one is a finding
        // whatever the outcome.
        if let Some(pan) = got.result.as_ref().and_then(|r| r.masked_pan.as_ref()) {
            if !pan.contains('*') && pan.len() >= 12 {
                return Err(format!(
                    "PCI-01: the terminal sent an unmasked card number to the cash register \
                     (BMP 22, {} digits)",
                    pan.len()
                ));
            }
        }
        let predicted = prediction.outcomes().to_vec();
        let pick = predicted
            .iter()
            .find(|(o, r)| shows(got, *o, *r) && wanted(*o, *r))
            .or_else(|| predicted.iter().find(|(o, r)| shows(got, *o, *r)))
            .copied();
        let code = code_of(got);
        let said = format!(
            "result {code:02X} ({}), payment type {}, {:?}",
            result::describe(code),
            got.result
                .as_ref()
                .and_then(|r| r.payment_type)
                .map_or("-".to_string(), |p| format!("{p:02X}")),
            got.ended
        );
        let Some((outcome, reason)) = pick else {
            let model = predicted
                .iter()
                .map(|(o, r)| format!("{o:?}/{r:?} (codes {:02X?})", codes_for(*r)))
                .collect::<Vec<_>>()
                .join(" or ");
            return Err(format!(
                "outcome differs from the reference model: terminal over ZVT: {said}; model: {model}"
            ));
        };
        let verdict = self.judge(prediction, expect, outcome, reason)?;
        let r = got.result.clone().unwrap_or_default();
        Ok(Reported {
            outcome,
            reason,
            seq: r.trace.unwrap_or(0),
            receipt: got.receipt.join("\n"),
            verdict: format!("{verdict} (ZVT {said})"),
        })
    }

    /// The end of day over ZVT: the terminal reconciles with its host; the result must be a
    /// success, the host must have been asked and found it in balance, and the total the
    /// terminal reports must be the host's books' net (sales less refunds).
    pub(super) async fn ecr_reconcile(&mut self) -> Result<String, String> {
        let got = self
            .ecr_execute(Command::EndOfDay {
                password: Password(0),
            })
            .await?;
        let books = self.bench.host.books();
        let tid = &self.bench.device.terminal_id;
        let host_said = self.host_reconciled();
        // The books' totals as the agent's reconciliation check sums them, netted over the
        // terminal's currency (ZVT reports one total).
        let net = payhil_model::ledger::totals(
            books
                .settled()
                .filter(|s| &s.terminal_id == tid)
                .map(|s| (s.network, s.txn, s.amount)),
        )
        .iter()
        .filter(|((_, currency), _)| *currency == Currency::DKK)
        .fold(0i128, |n, (_, t)| {
            n + i128::from(t.debits_minor) - i128::from(t.credits_minor)
        })
        .max(0);
        let code = code_of(&got);
        let reported = got
            .result
            .as_ref()
            .and_then(|r| r.amount_minor)
            .unwrap_or(0);
        if code != result::SUCCESS || !matches!(got.ended, Ended::Completed { .. }) {
            return Err(format!(
                "end of day over ZVT: result {code:02X} ({}); the host {}",
                result::describe(code),
                match host_said {
                    None => "received no reconciliation",
                    Some(true) => "answered in balance",
                    Some(false) => "answered out of balance",
                }
            ));
        }
        if host_said != Some(true) {
            return Err(format!(
                "end of day over ZVT: the terminal reports success; the host {}",
                if host_said.is_none() {
                    "received no reconciliation"
                } else {
                    "answered out of balance"
                }
            ));
        }
        if i128::from(reported) != net {
            return Err(format!(
                "end of day over ZVT: the terminal's total {reported} differs from the host's books ({net})"
            ));
        }
        Ok(format!("end of day over ZVT: in balance, total {reported}"))
    }
}
