//! Purchases and their follow-ups (captures, reversals) in process, judged as the scenario
//! runner judges them (`runner/txn.rs`).

use super::{Driver, End};
use crate::bench::{Answer, Checkpoint, InFlight};
use fut_core::flash::Flash;
use payhil_model::ledger::Answered;
use payhil_protocol::{Amount, Awaiting, Outcome, PinText, Request, ReserveDetails, TxnKind};
use payhil_scenario::format::{Expectation, PurchaseSpec};

impl<F: Flash, C: Checkpoint> Driver<'_, F, C> {
    /// A purchase of any kind, from start to its answer (runner/txn.rs in process).
    pub fn purchase(
        &mut self,
        step: usize,
        spec: &PurchaseSpec,
        expect: Option<&Expectation>,
    ) -> Result<(), End> {
        self.seen.in_flight = Some(InFlight::Purchase(Box::new(spec.clone())));
        let input = spec.model_input();
        let prediction = self.model.as_ref().map(|m| m.predict(&input));
        let start = spec.start_request();
        self.expect_card_wait(&start)?;
        if spec.chip_unreadable {
            self.expect_card_wait(&Request::ChipUnreadable)?;
        }
        // The card's data as EMV BER-TLV, as the PTY runner presents it (PROTOCOL.md 4.7).
        let tlv = card_tlv(&spec.card, spec.network)?;
        let mut r = self.req(&Request::PresentCardTlv {
            entry_mode: spec.entry,
            network: spec.network,
            tlv: payhil_protocol::card_tlv::CardTlv(&tlv),
        })?;
        let prompted = r == Answer::Accepted(Awaiting::Pin);
        if let Some(m) = &self.model {
            let want = m.pin_prompt(&input);
            if !want.allows(prompted) {
                return Err(End::Failed(format!(
                    "PIN prompt: terminal asked: {prompted}; model: {want:?} (CARD-02, NETS-08)"
                )));
            }
        }
        if let Some(want) = expect.and_then(|e| e.pin_prompted) {
            if prompted != want {
                return Err(End::Failed(format!(
                    "PIN prompt: terminal asked: {prompted}; scenario expects: {want}"
                )));
            }
        }
        if prompted {
            let pin = spec.pin.as_ref().map_or("", |p| p.reveal());
            r = self.req(&Request::EnterPin(PinText(pin)))?;
        }
        if let Answer::VerifyPin(block) = r {
            let verdict = self.seen.cards.verify(&spec.card, &block);
            r = self.req(&Request::CardVerdict(verdict))?;
        }
        if r == Answer::Accepted(Awaiting::ReserveDetails) {
            r = match &spec.reserve {
                Some(n) => self.req(&Request::EnterReserveDetails(ReserveDetails {
                    attendant_present: n.attendant,
                    id_type: n.id_type,
                    id_reference: &n.id_reference,
                    note_account: &n.account,
                    phone_auth_code: &n.phone_code,
                }))?,
                None => self.req(&Request::Cancel)?,
            };
        }
        let Answer::Done {
            outcome,
            reason,
            seq,
        } = r
        else {
            return Err(End::Failed(format!(
                "{:?}: expected a finished transaction (Done), terminal answered {r:?}",
                spec.kind
            )));
        };
        self.judge(prediction, expect, outcome, reason)?;
        if let Some(m) = &mut self.model {
            m.observe(&input, outcome, reason, seq);
        }
        if seq > 0 {
            self.seen.txns.insert(step, (seq, spec.clone()));
        }
        let approved = matches!(outcome, Outcome::ApprovedOnline | Outcome::ApprovedOffline);
        if outcome == Outcome::ApprovedOffline && spec.kind == TxnKind::Purchase {
            let seen = &mut self.seen;
            spec.check_offline_approval(
                &mut seen.invariants,
                seen.books.advice_deliveries.iter().map(|d| d.seq),
                seq,
            )
            .map_err(End::Failed)?;
        }
        if approved {
            self.seen.ledger.approved(Answered {
                seq,
                kind: spec.kind,
                offline: outcome == Outcome::ApprovedOffline,
                amount: spec.total(),
                pan: spec.card.pan.masked(),
                network: spec.network,
                entry: spec.entry,
                at: self.seen.now,
            });
        }
        self.seen.in_flight = None;
        Ok(())
    }

    pub(super) fn expect_card_wait(&mut self, r: &Request<'_>) -> Result<(), End> {
        match self.req(r)? {
            Answer::Accepted(Awaiting::Card) => Ok(()),
            other => Err(End::Failed(format!(
                "{r:?}: expected Accepted(awaiting Card), terminal answered {other:?}"
            ))),
        }
    }

    /// A capture (CARD-06) or reversal (PBS-03) of the transaction made in step `of`.
    pub(super) fn follow_up(
        &mut self,
        step: usize,
        kind: TxnKind,
        of: usize,
        amount: Option<Amount>,
        expect: Option<&Expectation>,
    ) -> Result<(), End> {
        let Some((of_seq, spec)) = self.seen.txns.get(&of).cloned() else {
            return Err(End::Failed(format!(
                "step {of} made no transaction to refer to"
            )));
        };
        let amount = amount.unwrap_or(spec.total());
        self.seen.in_flight = Some(match kind {
            TxnKind::Capture => InFlight::Capture(Box::new(spec.clone()), amount),
            _ => InFlight::Reversal(of_seq),
        });
        let prediction = self.model.as_ref().map(|m| match kind {
            TxnKind::Capture => m.predict_capture(Some(of_seq), amount),
            _ => m.predict_reversal(Some(of_seq)),
        });
        let r = self.req(&Request::StartTransaction {
            kind,
            amount,
            tip_minor: 0,
            forced_offline: false,
            reference: of_seq,
        })?;
        let Answer::Done {
            outcome,
            reason,
            seq,
        } = r
        else {
            return Err(End::Failed(format!(
                "{kind:?}: expected a finished transaction (Done), terminal answered {r:?}"
            )));
        };
        self.judge(prediction, expect, outcome, reason)?;
        if let Some(m) = &mut self.model {
            m.observe_follow_up(
                &payhil_model::FollowUp {
                    kind,
                    of: of_seq,
                    seq,
                    amount,
                    pan: &spec.card.pan,
                    network: spec.network,
                },
                outcome,
            );
        }
        if matches!(outcome, Outcome::ApprovedOnline | Outcome::ApprovedOffline) {
            self.seen.ledger.approved(Answered {
                seq,
                kind,
                offline: outcome == Outcome::ApprovedOffline,
                amount,
                pan: spec.card.pan.masked(),
                network: spec.network,
                entry: spec.entry,
                at: self.seen.now,
            });
            if kind == TxnKind::Reversal {
                self.seen.ledger.reversed(of_seq);
                self.seen.invariants.settled(of_seq);
            }
            self.seen.txns.insert(step, (seq, spec));
        }
        self.seen.in_flight = None;
        Ok(())
    }
}

/// A card's data as EMV BER-TLV (PROTOCOL.md 4.7), as the PTY runner presents it. Encoded once
/// per card and application on a thread and kept: a fuzzer's input makes hundreds of purchases
/// with the catalogue's few cards, and the encoding was a twentieth of its time.
fn card_tlv(
    card: &payhil_cards::catalogue::TestCard,
    network: payhil_protocol::Network,
) -> Result<Vec<u8>, End> {
    type Key = (
        String,
        payhil_protocol::Expiry,
        u8,
        String,
        payhil_protocol::Network,
    );
    thread_local! {
        static ENCODED: std::cell::RefCell<Vec<(Key, Vec<u8>)>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    // What `CardObjects::of` reads of the card, and nothing else.
    let same = |k: &Key| {
        k.0 == card.pan.reveal()
            && k.1 == card.expiry
            && k.2 == card.pan_seq
            && k.3 == card.account
            && k.4 == network
    };
    if let Some(tlv) = ENCODED.with(|e| {
        e.borrow()
            .iter()
            .find(|(k, _)| same(k))
            .map(|(_, t)| t.clone())
    }) {
        return Ok(tlv);
    }
    let tlv = payhil_cards::emv::CardObjects::of(card, network)
        .encode()
        .map_err(|e| End::Failed(format!("encoding the card's data: {e}")))?;
    ENCODED.with(|e| {
        let mut e = e.borrow_mut();
        // Bounded: scenarios with many cards of their own start again rather than grow it.
        if e.len() >= 64 {
            e.clear();
        }
        let key = (
            card.pan.reveal().to_owned(),
            card.expiry,
            card.pan_seq,
            card.account.clone(),
            network,
        );
        e.push((key, tlv.clone()));
    });
    Ok(tlv)
}
