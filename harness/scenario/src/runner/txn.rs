//! One card transaction as the runner drives it: a purchase (of any kind) from start to receipt,
//! and a capture or reversal of an earlier one; each judged against the model and the scenario,
//! recorded in the harness's ledger, and its receipt checked.

use super::Run;
use crate::format::{Expectation, PurchaseSpec, Step};
use payhil_cards::emv::CardObjects;
use payhil_model::ledger::Answered;
use payhil_protocol::card_tlv::CardTlv;
use payhil_protocol::{
    Amount, Awaiting, Outcome, PinText, Request, ReserveDetails, Response, TxnKind,
};

impl Run {
    pub(super) async fn purchase(
        &mut self,
        step: &Step,
        spec: &PurchaseSpec,
        expect: Option<&Expectation>,
    ) -> Result<String, String> {
        self.purchase_with(step, spec, expect, true).await
    }

    /// A purchase; `keep_receipt` false checks the receipt without keeping it as an artifact
    /// (bulk purchases would drown the snapshots).
    pub(super) async fn purchase_with(
        &mut self,
        step: &Step,
        spec: &PurchaseSpec,
        expect: Option<&Expectation>,
        keep_receipt: bool,
    ) -> Result<String, String> {
        if let Some(fault) = spec.card_fault {
            return self.card_fault_purchase(step, spec, fault, expect).await;
        }
        let input = spec.model_input();
        let prediction = self.model.predict(&input);
        self.in_flight(Some(input.clone()));
        let start = spec.start_request();
        // Over ZVT the cash register starts it; the card still comes from the instruments.
        // Kept in the run while the instruments play the card: a power cut ends it.
        let zvt = self.bench.ecr.is_some();
        if zvt {
            let pending = self
                .ecr_begin(super::ecr::command_for(spec), spec.ecr_result_lost)
                .await?;
            self.ecr_pending = Some(pending);
        } else {
            self.expect_card_wait(&start, "").await?;
        }
        if spec.chip_unreadable {
            // SUPPORT-03: the chip fails; the fallback read follows.
            self.expect_card_wait(&Request::ChipUnreadable, " for a fallback read")
                .await?;
        }
        // The card's data as EMV BER-TLV (PROTOCOL.md 4.7), as the card simulator presents it.
        let tlv = CardObjects::of(&spec.card, spec.network)
            .encode()
            .map_err(|e| e.to_string())?;
        let present = Request::PresentCardTlv {
            entry_mode: spec.entry,
            network: spec.network,
            tlv: CardTlv(&tlv),
        };
        let mut r = self.request(&present).await?;
        let prompted = r.get()
            == (Response::Accepted {
                awaiting: Awaiting::Pin,
            });
        let want_prompt = self.model.pin_prompt(&input);
        if !want_prompt.allows(prompted) {
            return Err(format!(
                "PIN prompt: terminal asked: {prompted}; model: {want_prompt:?} (CARD-02, NETS-08)"
            ));
        }
        if let Some(want) = expect.and_then(|e| e.pin_prompted) {
            if prompted != want {
                return Err(format!(
                    "PIN prompt: terminal asked: {prompted}; scenario expects: {want}"
                ));
            }
        }
        if prompted && self.cut_at(super::power::Point::AfterCard).await? {
            return Err(super::power::CUT.into());
        }
        if prompted {
            // No PIN (bypass) is sent as an empty PIN.
            let pin = spec.pin.as_ref().map_or("", |p| p.reveal());
            r = self.request(&Request::EnterPin(PinText(pin))).await?;
        }
        if matches!(r.get(), Response::VerifyPin(_))
            && self.cut_at(super::power::Point::AfterPin).await?
        {
            return Err(super::power::CUT.into());
        }
        if let Response::VerifyPin(block) = r.get() {
            // The terminal decided offline and asks the card to verify the PIN: the card
            // instrument answers as the card would, and counts the try.
            let verdict = self.cards.verify(&spec.card, &block);
            r = self.request(&Request::CardVerdict(verdict)).await?;
        }
        if r.get()
            == (Response::Accepted {
                awaiting: Awaiting::ReserveDetails,
            })
        {
            r = match &spec.reserve {
                Some(n) => {
                    let details = ReserveDetails {
                        attendant_present: n.attendant,
                        id_type: n.id_type,
                        id_reference: &n.id_reference,
                        note_account: &n.account,
                        phone_auth_code: &n.phone_code,
                    };
                    self.request(&Request::EnterReserveDetails(details)).await?
                }
                // The checks cannot be done: the payment is reversed (BAX-07).
                None => self.request(&Request::Cancel).await?,
            };
        }
        let Response::Done(result) = r.get() else {
            return Err(format!(
                "{:?}: expected a finished transaction (Done), terminal answered {:?}",
                spec.kind,
                r.get()
            ));
        };
        self.in_flight(None);
        // What the verdict rests on: the cash register's report over ZVT, or the test agent's.
        let pending = if zvt { self.ecr_pending.take() } else { None };
        let (outcome, reason, txn_seq, receipt, verdict) = match pending {
            Some(pending) if spec.ecr_result_lost => {
                return self
                    .lost_on_ecr(pending, prediction, expect, spec, &input)
                    .await;
            }
            Some(pending) => {
                let got = self.ecr_end(pending).await?;
                super::ecr::check_approval_report(&got, spec.total(), &spec.card.pan)
                    .map_err(|e| format!("over ZVT: {e}"))?;
                let z = self.judge_zvt(prediction, expect, &got)?;
                (z.outcome, z.reason, z.seq, z.receipt, z.verdict)
            }
            None => {
                let verdict = self.judge(prediction, expect, result.outcome, result.reason)?;
                (
                    result.outcome,
                    result.reason,
                    result.txn_seq,
                    result.receipt.to_string(),
                    verdict,
                )
            }
        };
        self.model.observe(&input, outcome, reason, txn_seq);
        let approved = matches!(outcome, Outcome::ApprovedOnline | Outcome::ApprovedOffline);
        if txn_seq > 0 {
            self.txns.insert(step.index, (txn_seq, spec.clone()));
        }
        if outcome == Outcome::ApprovedOffline && spec.kind == TxnKind::Purchase {
            let delivered = self.bench.host.books().advice_deliveries;
            spec.check_offline_approval(
                &mut self.invariants,
                delivered.iter().map(|d| d.seq),
                txn_seq,
            )?;
        }
        if approved {
            self.ledger.approved(Answered {
                seq: txn_seq,
                kind: spec.kind,
                offline: outcome == Outcome::ApprovedOffline,
                amount: spec.total(),
                pan: spec.card.pan.masked(),
                network: spec.network,
                entry: spec.entry,
                at: self.now,
            });
        }
        let terminal_id = self.bench.device.terminal_id.clone();
        let facts = payhil_model::receipt::ReceiptFacts {
            amount: spec.total(),
            tip_minor: spec.tip_minor,
            network: spec.network,
            pan: &spec.card.pan,
            expiry: spec.card.expiry,
            unix_s: self.now,
            terminal_id: &terminal_id,
            offline: outcome == Outcome::ApprovedOffline,
            note: spec
                .reserve
                .as_ref()
                .filter(|_| approved)
                .map(|n| (n.id_reference.as_str(), n.account.as_str())),
        };
        let (seq, total) = (txn_seq, spec.total());
        if let Some(e) = expect {
            self.expect_receipt_lines(&receipt, e)?;
            self.expect_settlement_later(step, seq, e, approved);
        }
        if keep_receipt {
            self.check_receipt(step, &receipt, &facts, approved)?;
        } else {
            let problems = payhil_model::receipt::findings(&receipt, &facts);
            if !problems.is_empty() {
                return Err(format!("receipt: {}", problems.join("; ")));
            }
        }
        Ok(format!("{} {total} -> {verdict} (#{seq})", spec.card.name))
    }

    /// A capture (CARD-06) or reversal (PBS-03) of the transaction made in step `of`.
    pub(super) async fn follow_up(
        &mut self,
        step: &Step,
        kind: TxnKind,
        of: usize,
        amount: Option<Amount>,
        expect: Option<&Expectation>,
    ) -> Result<String, String> {
        let original = self.txns.get(&of).cloned();
        let of_seq = original.as_ref().map(|(s, _)| *s);
        let Some((_, spec)) = original else {
            return Err(format!("step {of} made no transaction to refer to"));
        };
        let amount = amount.unwrap_or(spec.total());
        let prediction = match kind {
            TxnKind::Capture => self.model.predict_capture(of_seq, amount),
            _ => self.model.predict_reversal(of_seq),
        };
        let req = Request::StartTransaction {
            kind,
            amount,
            tip_minor: 0,
            forced_offline: false,
            reference: of_seq.unwrap_or(0),
        };
        // Under way, so that a power cut falling in it is told apart from one between steps
        // (a cut in a capture or reversal ends the run with that said; it used to be taken
        // for a cut between steps, and the model judged the next step as if the reversal had
        // not happened: found by the terminal_vs_model fuzzer).
        let mut input = spec.model_input();
        input.kind = kind;
        input.amount = amount;
        self.in_flight(Some(input));
        let (outcome, seq, receipt, verdict) = if self.bench.ecr.is_some() {
            use payhil_protocol::zvt::message::{Command, Password};
            // Over ZVT a reversal names the payment, a book total the pre-authorisation, by
            // its receipt number.
            let receipt = u16::try_from(of_seq.unwrap_or(0) % 10_000).unwrap_or(0);
            let cmd = match kind {
                TxnKind::Capture => Command::BookTotal {
                    receipt,
                    amount_minor: Some(amount.minor),
                    currency: Some(super::ecr::CURRENCY),
                },
                _ => Command::Reversal {
                    password: Password(0),
                    receipt: Some(receipt),
                },
            };
            let got = self.ecr_execute(cmd).await?;
            if kind == TxnKind::Capture {
                super::ecr::check_approval_report(&got, amount, &spec.card.pan)
                    .map_err(|e| format!("over ZVT: {e}"))?;
            }
            self.in_flight(None);
            let z = self.judge_zvt(prediction, expect, &got)?;
            (z.outcome, z.seq, z.receipt, z.verdict)
        } else {
            let r = self.request(&req).await?;
            self.in_flight(None);
            let Response::Done(result) = r.get() else {
                return Err(format!(
                    "{kind:?}: expected a finished transaction (Done), terminal answered {:?}",
                    r.get()
                ));
            };
            let verdict = self.judge(prediction, expect, result.outcome, result.reason)?;
            (
                result.outcome,
                result.txn_seq,
                result.receipt.to_string(),
                verdict,
            )
        };
        let approved = matches!(outcome, Outcome::ApprovedOnline | Outcome::ApprovedOffline);
        let follow = payhil_model::FollowUp {
            kind,
            of: of_seq.unwrap_or(0),
            seq,
            amount,
            pan: &spec.card.pan,
            network: spec.network,
        };
        self.model.observe_follow_up(&follow, outcome);
        if approved {
            self.ledger.approved(Answered {
                seq,
                kind,
                offline: outcome == Outcome::ApprovedOffline,
                amount,
                pan: spec.card.pan.masked(),
                network: spec.network,
                entry: spec.entry,
                at: self.now,
            });
            if kind == TxnKind::Reversal {
                // The cardholder must not be charged: the original leaves the settlement.
                let gone = of_seq.unwrap_or(0);
                self.ledger.reversed(gone);
                self.invariants.settled(gone);
            }
            self.txns.insert(step.index, (seq, spec.clone()));
        }
        let terminal_id = self.bench.device.terminal_id.clone();
        let facts = payhil_model::receipt::ReceiptFacts {
            amount,
            tip_minor: 0,
            network: spec.network,
            pan: &spec.card.pan,
            expiry: spec.card.expiry,
            unix_s: self.now,
            terminal_id: &terminal_id,
            // A voided or stored follow-up is not an offline payment: no OFFLINE marker needed.
            offline: false,
            note: None,
        };
        self.check_receipt(step, &receipt, &facts, approved)?;
        if let Some(e) = expect {
            self.expect_receipt_lines(&receipt, e)?;
            self.expect_settlement_later(step, seq, e, approved);
        }
        Ok(format!(
            "{kind:?} of step {of} {amount} -> {verdict} (#{seq})"
        ))
    }

    /// A payment whose result the cash register never heard (`ecr_result_lost`): the
    /// terminal's decision is judged as it tried to report it; then the link is opened again,
    /// the last result asked for, and the host's books must show the payment not charged. The
    /// model and the ledger see the payment and the terminal's reversal of it.
    async fn lost_on_ecr(
        &mut self,
        pending: super::ecr::Pending,
        prediction: payhil_model::purchase::Prediction,
        expect: Option<&Expectation>,
        spec: &PurchaseSpec,
        input: &payhil_model::PurchaseInput,
    ) -> Result<String, String> {
        let lost = self.ecr_end_cut(pending).await?;
        let z = self.judge_zvt(prediction, expect, &super::ecr::as_sent(&lost))?;
        let (recovered, reversal) = self.ecr_recover(&lost).await?;
        self.model.observe(input, z.outcome, z.reason, z.seq);
        let approved = matches!(
            z.outcome,
            Outcome::ApprovedOnline | Outcome::ApprovedOffline
        );
        if approved {
            let answered = |seq, kind, offline| Answered {
                seq,
                kind,
                offline,
                amount: spec.total(),
                pan: spec.card.pan.masked(),
                network: spec.network,
                entry: spec.entry,
                at: self.now,
            };
            self.ledger.approved(answered(
                z.seq,
                spec.kind,
                z.outcome == Outcome::ApprovedOffline,
            ));
            if let Some((rev_seq, rev_outcome)) = reversal {
                let follow = payhil_model::FollowUp {
                    kind: TxnKind::Reversal,
                    of: z.seq,
                    seq: rev_seq,
                    amount: spec.total(),
                    pan: &spec.card.pan,
                    network: spec.network,
                };
                self.model.observe_follow_up(&follow, rev_outcome);
                self.ledger
                    .approved(answered(rev_seq, TxnKind::Reversal, false));
            }
            self.ledger.reversed(z.seq);
            self.invariants.settled(z.seq);
        }
        Ok(format!("{} -> {}; {recovered}", spec.card.name, z.verdict))
    }
}
