//! A purchase whose card data (or amount) is corrupted by one fault class (issue 10, item 1):
//! the model's prediction comes from the rules for that class, never from the terminal, and an
//! approval is a finding whatever the scenario says.

use super::Run;
use crate::format::{Expectation, PurchaseSpec, Step, outcome_name, reason_name};
use payhil_cards::faults::CardFault;
use payhil_model::card_data::{self, FaultPrediction};
use payhil_protocol::card_tlv::CardTlv;
use payhil_protocol::{Awaiting, Outcome, PinText, Request, RequestError, Response};

impl Run {
    pub(super) async fn card_fault_purchase(
        &mut self,
        step: &Step,
        spec: &PurchaseSpec,
        fault: CardFault,
        expect: Option<&Expectation>,
    ) -> Result<String, String> {
        let name = fault.name();
        let prediction = card_data::predict(fault);
        let model = match &prediction {
            FaultPrediction::BadAmount => "rejected/bad_amount".to_string(),
            FaultPrediction::Declined(p) => p
                .outcomes()
                .iter()
                .map(|(o, r)| format!("{}/{}", outcome_name(*o), reason_name(*r)))
                .collect::<Vec<_>>()
                .join(" or "),
        };
        let amount = fault.amount(spec.amount);
        // Over ZVT the cash register starts the payment and the card instrument presents the
        // bad data, as in a lab; an amount fault is the cash register's own (one ZVT cannot
        // carry is skipped: `ecr::skip_reason`), and the terminal must refuse it.
        if self.bench.ecr.is_some() && matches!(prediction, FaultPrediction::BadAmount) {
            let cmd = super::ecr::command_for(&PurchaseSpec {
                amount,
                ..spec.clone()
            });
            let how = self
                .ecr_refused_amount(cmd)
                .await
                .map_err(|e| format!("card_fault {name}: over ZVT, {e}; model: {model}"))?;
            return Ok(format!(
                "card_fault {name}: terminal over ZVT: {how}; model: {model}"
            ));
        }
        let zvt = if self.bench.ecr.is_some() {
            let cmd = super::ecr::command_for(&PurchaseSpec {
                amount,
                ..spec.clone()
            });
            Some(self.ecr_begin(cmd, false).await?)
        } else {
            None
        };
        if zvt.is_none() {
            let r = self
                .request(&Request::StartPurchase {
                    amount,
                    forced_offline: spec.forced_offline,
                })
                .await?;
            match (r.get(), &prediction) {
                (Response::Rejected(RequestError::BadAmount), FaultPrediction::BadAmount) => {
                    return Ok(format!(
                        "card_fault {name}: terminal: rejected/bad_amount; model: {model}"
                    ));
                }
                (
                    Response::Accepted {
                        awaiting: Awaiting::Card,
                    },
                    _,
                ) => {}
                (other, _) => {
                    return Err(format!(
                        "card_fault {name}: terminal: {other:?}; model: {model} (start {amount})"
                    ));
                }
            }
        }
        let tlv = fault
            .presentation(&spec.card, spec.network, amount.currency, self.now)
            .map_err(|e| e.to_string())?;
        let mut r = self
            .request(&Request::PresentCardTlv {
                entry_mode: spec.entry,
                network: spec.network,
                tlv: CardTlv(&tlv),
            })
            .await?;
        // A terminal that takes the bad data for a card goes on: play the cardholder and the
        // card so that its final answer, not an unexpected prompt, is what is judged.
        if r.get()
            == (Response::Accepted {
                awaiting: Awaiting::Pin,
            })
        {
            let pin = spec.pin.as_ref().map_or("", |p| p.reveal());
            r = self.request(&Request::EnterPin(PinText(pin))).await?;
        }
        if let Response::VerifyPin(block) = r.get() {
            let verdict = self.cards.verify(&spec.card, &block);
            r = self.request(&Request::CardVerdict(verdict)).await?;
        }
        if matches!(r.get(), Response::Accepted { .. }) {
            r = self.request(&Request::Cancel).await?;
        }
        let Response::Done(result) = r.get() else {
            return Err(format!(
                "card_fault {name}: expected a finished transaction (Done), terminal answered {:?}",
                r.get()
            ));
        };
        // What the verdict rests on: the cash register's report over ZVT, or the test agent's.
        let (outcome, reason, receipt, via) = match zvt {
            Some(pending) => {
                let got = self.ecr_end(pending).await?;
                let FaultPrediction::Declined(p) = &prediction else {
                    return Err(format!(
                        "card_fault {name}: an amount fault over ZVT (skipped before it starts)"
                    ));
                };
                let z = self
                    .judge_zvt(p.clone(), None, &got)
                    .map_err(|e| format!("card_fault {name}: {e}"))?;
                (z.outcome, z.reason, z.receipt, " over ZVT")
            }
            None => (
                result.outcome,
                result.reason,
                result.receipt.to_string(),
                "",
            ),
        };
        let terminal = format!("{}/{}{via}", outcome_name(outcome), reason_name(reason));
        if matches!(outcome, Outcome::ApprovedOnline | Outcome::ApprovedOffline) {
            return Err(format!(
                "card_fault {name}: terminal: {terminal}; model: {model}: an approval from bad card data (SUPPORT-01)"
            ));
        }
        let FaultPrediction::Declined(p) = prediction else {
            return Err(format!(
                "card_fault {name}: terminal: {terminal}; model: {model}: the amount was taken"
            ));
        };
        self.judge(p, expect, outcome, reason)
            .map_err(|e| format!("card_fault {name}: {e}"))?;
        if let Some(e) = expect {
            self.expect_receipt_lines(&receipt, e)?;
        }
        if !receipt.is_empty() {
            // An expired card is declined as a read card is, with a receipt: checked and kept.
            let terminal_id = self.bench.device.terminal_id.clone();
            let facts = payhil_model::receipt::ReceiptFacts {
                amount,
                tip_minor: 0,
                network: spec.network,
                pan: &spec.card.pan,
                expiry: spec.card.expiry,
                unix_s: self.now,
                terminal_id: &terminal_id,
                offline: false,
                note: None,
            };
            self.check_receipt(step, &receipt, &facts, false)?;
        }
        Ok(format!(
            "card_fault {name}: terminal: {terminal}; model: {model}"
        ))
    }
}
