//! Transactions that refer to an earlier one: captures of pre-authorisations (CARD-06) and
//! reversals or voids of purchases (PBS-03), and the reversal stored for an authorisation whose
//! outcome the host may know better than the terminal, also one left unresolved by a power cut.

use super::{Card, State, Step, Terminal, Txn};
use crate::flash::{Flash, FlashError};
use crate::journal::{JournalError, TxnRecord, TxnStatus};
use payhil_protocol::host_link::HostRequest;
use payhil_protocol::{Amount, Expiry, Outcome, Reason, TxnKind};

impl<F: Flash> Terminal<'_, F> {
    /// The journaled transaction `seq`, if it is still on flash.
    pub(super) fn find(&mut self, seq: u32) -> Result<Option<crate::journal::Found>, JournalError> {
        let mut hit = None;
        self.journal.for_each(|f| {
            // A `Sent` record is the trace of an authorisation on its way, not the transaction.
            if f.record.seq == seq && f.record.status != TxnStatus::Sent {
                hit = Some(f);
            }
        })?;
        Ok(hit)
    }

    /// Captures (CARD-06) and reversals (PBS-03) refer to an earlier transaction and need no
    /// card: the terminal has what it needs in its journal.
    pub(super) fn follow_up(&mut self, kind: TxnKind, amount: Amount, reference: u32) -> Step<'_> {
        let original = match self.find(reference) {
            Ok(o) => o,
            Err(e) => return self.storage_fault(e),
        };
        let wanted = match kind {
            TxnKind::Capture => TxnKind::PreAuthorisation,
            _ => TxnKind::Purchase,
        };
        let usable = original.filter(|f| {
            f.record.kind == wanted
                && f.record.status != TxnStatus::Declined
                && !f.reversed
                && !f.host_declined
        });
        let Some(orig) = usable else {
            return self.abort(Reason::NoSuchTransaction);
        };
        // A pre-authorisation is captured once; a second capture would charge twice.
        let mut captured = false;
        if kind == TxnKind::Capture {
            let r = self.journal.for_each(|f| {
                captured |= f.record.kind == TxnKind::Capture
                    && f.record.related_seq == reference
                    && f.record.status != TxnStatus::Declined;
            });
            if let Err(e) = r {
                return self.storage_fault(e);
            }
        }
        if captured {
            return self.abort(Reason::NoSuchTransaction);
        }
        let r = orig.record;
        let card = Card {
            pan: r.pan,
            expiry: Expiry { year: 0, month: 0 },
            pan_seq: r.pan_seq,
            network: r.network,
            entry_mode: r.entry_mode,
            account: [b'0'; 11],
            has_account: false,
            fallback: false,
        };
        let amount = if kind == TxnKind::Reversal {
            r.amount
        } else {
            amount
        };
        let txn = Txn {
            seq: 0,
            kind,
            amount,
            tip_minor: 0,
            related_seq: reference,
            forced_offline: false,
            card,
            pin: None,
            pin_verified: false,
        };
        let txn = match self.claim_seq(txn) {
            Ok(t) => t,
            Err(why) => return self.refuse(why),
        };
        if kind == TxnKind::Capture && amount.minor > r.amount.minor {
            return self.finish(
                txn,
                Outcome::Declined,
                Reason::CaptureExceedsAuthorised,
                TxnStatus::Declined,
            );
        }
        if kind == TxnKind::Reversal
            && r.status == TxnStatus::ApprovedOffline
            && !orig.done
            && orig.sent
        {
            // Queued, but an advice may have reached the host before a cut: the original stays
            // out of the queue and a stored reversal follows it, which cancels it at the host
            // if it is there and is refused harmlessly if not.
            return self.store_follow_up(txn);
        }
        if kind == TxnKind::Reversal && r.status == TxnStatus::ApprovedOffline && !orig.done {
            // Still in the offline queue and never sent: the host never saw it, so it is voided
            // here and never forwarded; the cardholder is not charged (PBS-03).
            return match self.journal.mark_reversed(reference) {
                Ok(_) => {
                    self.set_auth("VOID");
                    self.finish(
                        txn,
                        Outcome::ApprovedOffline,
                        Reason::Approved,
                        TxnStatus::ApprovedOnline,
                    )
                }
                Err(e) => self.storage_fault(e),
            };
        }
        self.await_host(State::AwaitingHost(txn));
        let State::AwaitingHost(ref t) = self.state else {
            unreachable!()
        };
        Step::Host(HostRequest::Authorise(self.txn_data(t)))
    }

    /// A capture or reversal the host could not be told about now: stored and forwarded like an
    /// offline purchase. A stored reversal takes the original out of the settlement at once.
    pub(super) fn store_follow_up(&mut self, txn: Txn) -> Step<'_> {
        self.set_auth("STORED");
        if self.journal.pending_len() == 0 {
            self.next_forward_at = self.now + i64::from(self.cfg.forward_retry_s);
        }
        if txn.kind == TxnKind::Reversal {
            // The reversal record first: if power is cut before the mark, the stored reversal
            // still reaches the host.
            let rec = self.record_of(&txn, TxnStatus::ApprovedOffline, Reason::Approved);
            match self.journal_record(&rec) {
                Ok(()) => {}
                Err(JournalError::Full | JournalError::TooManyPending) => {
                    return self.abort(Reason::OfflineQueueFull);
                }
                Err(e) => return self.storage_fault(e),
            }
            if let Err(e) = self.journal.mark_reversed(txn.related_seq) {
                return self.storage_fault(e);
            }
            return self.render_and_reply(txn, Outcome::ApprovedOffline, Reason::Approved, None);
        }
        self.finish(
            txn,
            Outcome::ApprovedOffline,
            Reason::Approved,
            TxnStatus::ApprovedOffline,
        )
    }

    /// The host may have approved an authorisation whose answer never arrived, while the
    /// terminal ended the transaction declined: a reversal is stored and forwarded, so the
    /// cardholder is not charged (PBS-03). If the journal is full it cannot be stored; the
    /// host's own timeout reversal is then the only safeguard.
    pub(super) fn store_reversal_of(&mut self, original: &Txn) -> Result<(), ()> {
        self.store_reversal(
            original.seq,
            &self.record_of(original, TxnStatus::Sent, Reason::Approved),
        )
    }

    /// Stores a reversal of transaction `seq`, described by `original` (its card, amount and
    /// time), for forwarding (PBS-03). `Err` only when the power was lost.
    fn store_reversal(&mut self, seq: u32, original: &TxnRecord) -> Result<(), ()> {
        match self.journal.ensure_room() {
            Ok(()) => {}
            Err(JournalError::Flash(FlashError::PowerLost)) => return Err(()),
            Err(_) => return Ok(()),
        }
        if self.journal.pending_len() == 0 {
            self.next_forward_at = self.now + i64::from(self.cfg.forward_retry_s);
        }
        let rec = TxnRecord {
            seq: self.journal.take_seq(),
            kind: TxnKind::Reversal,
            related_seq: seq,
            status: TxnStatus::ApprovedOffline,
            auth_code: *b"UNRES ",
            reason: Reason::Approved,
            ..*original
        };
        match self.journal_record(&rec) {
            Err(JournalError::Flash(FlashError::PowerLost)) => Err(()),
            _ => Ok(()),
        }
    }
}

/// What a boot learns of the authorisations journaled as [`TxnStatus::Sent`] (PBS-03): the
/// latest one not marked unsent, and the highest number of any other record. Numbers only grow
/// and a boot resolves a trace before any new transaction, so the latest trace is resolved
/// exactly when a record of its number or a later one exists (its outcome, the reversal a
/// previous boot stored, or any later transaction).
#[derive(Default)]
pub(super) struct InFlight {
    sent: Option<TxnRecord>,
    highest_other: Option<u32>,
}

impl InFlight {
    /// Takes one journaled record into account.
    pub(super) fn see(&mut self, f: &crate::journal::Found) {
        let r = f.record;
        if r.status != TxnStatus::Sent {
            self.highest_other = self.highest_other.max(Some(r.seq));
        } else if !f.reversed && self.sent.is_none_or(|s| r.seq > s.seq) {
            // A trace marked reversed was resolved: its authorisation never left.
            self.sent = Some(r);
        }
    }

    /// The trace left unresolved, if any.
    pub(super) fn unresolved(&self) -> Option<TxnRecord> {
        self.sent
            .filter(|s| self.highest_other.is_none_or(|h| h < s.seq))
    }
}

impl<F: Flash> Terminal<'_, F> {
    /// At boot, for the authorisation `sent` that was on its way when the power went (see
    /// [`InFlight`]): the host may have approved it and the cardholder never saw the answer, so
    /// a reversal is stored and forwarded; one the host never had it answers "original not
    /// found". Dated when the authorisation was made (the clock is not set yet at boot).
    pub(super) fn reverse_in_flight(&mut self, sent: &TxnRecord) -> Result<(), JournalError> {
        let now = self.now;
        self.now = sent.local_time;
        let stored = self.store_reversal(sent.seq, sent);
        self.now = now;
        stored.map_err(|()| JournalError::Flash(FlashError::PowerLost))
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::super::test_support::*;
    use std::vec;

    #[test]
    fn card_07_a_refund_is_its_own_transaction_and_online_only() {
        let mut mem = vec![0xFFu8; 16 * 4096];
        let mut t = boot(&mut mem);
        let Step::Host(HostRequest::Authorise(d)) =
            start_dankort(&mut t, TxnKind::Refund, 80_00, 0)
        else {
            panic!("a refund needs no PIN and goes to the host")
        };
        assert_eq!(d.kind, TxnKind::Refund);
        let (o, _, receipt) = approve(&mut t, 2);
        assert_eq!(o, Outcome::ApprovedOnline);
        assert!(receipt.contains("REFUND"), "{receipt}");
        let tot = totals(&mut t);
        assert_eq!(
            (
                batch(&tot, Network::Dankort).count,
                batch(&tot, Network::Dankort).refund_count,
                batch(&tot, Network::Dankort).refund_minor
            ),
            (0, 1, 80_00)
        );
        // Host down: declined, not stored.
        start_dankort(&mut t, TxnKind::Refund, 80_00, 0);
        let Step::Reply(Response::Done(r)) = no_host(&mut t, HostUnreachable::NotSent) else {
            panic!()
        };
        assert_eq!(
            (r.outcome, r.reason),
            (Outcome::Declined, Reason::OnlineOnly)
        );
    }

    #[test]
    fn card_06_capture_at_most_the_approved_amount_and_only_once() {
        let mut mem = vec![0xFFu8; 16 * 4096];
        let mut t = boot(&mut mem);
        start_dankort(&mut t, TxnKind::PreAuthorisation, 500_00, 0);
        t.handle(&Request::EnterPin(PinText("1234")));
        assert_eq!(approve(&mut t, 2).0, Outcome::ApprovedOnline);
        assert_eq!(
            batch(&totals(&mut t), Network::Dankort).count,
            0,
            "a pre-authorisation is not settled"
        );
        let Step::Reply(Response::Done(r)) = txn(&mut t, TxnKind::Capture, 500_01, 0, 2) else {
            panic!()
        };
        assert_eq!(
            (r.outcome, r.reason),
            (Outcome::Declined, Reason::CaptureExceedsAuthorised)
        );
        assert!(matches!(
            txn(&mut t, TxnKind::Capture, 420_00, 0, 2),
            Step::Host(_)
        ));
        assert_eq!(approve(&mut t, 4).0, Outcome::ApprovedOnline);
        let tot = totals(&mut t);
        assert_eq!(
            (
                batch(&tot, Network::Dankort).count,
                batch(&tot, Network::Dankort).minor
            ),
            (1, 420_00)
        );
        let Step::Reply(Response::Done(r)) = txn(&mut t, TxnKind::Capture, 10_00, 0, 2) else {
            panic!()
        };
        assert_eq!(r.reason, Reason::NoSuchTransaction, "captured once");
    }

    #[test]
    fn pbs_03_a_queued_offline_purchase_is_voided_and_never_forwarded() {
        let mut mem = vec![0xFFu8; 16 * 4096];
        let mut t = boot(&mut mem);
        let (_, _, seq) = offline_purchase(&mut t, 100_00);
        let Step::Reply(Response::Done(r)) = txn(&mut t, TxnKind::Reversal, 0, 0, seq) else {
            panic!()
        };
        assert_eq!(r.outcome, Outcome::ApprovedOffline);
        let Step::Reply(Response::Queue(q)) = t.handle(&Request::QueueStatus) else {
            panic!()
        };
        assert_eq!(q.pending, 0, "nothing to forward");
        assert_eq!(
            batch(&totals(&mut t), Network::Dankort).count,
            0,
            "the cardholder is not charged"
        );
        let mut t = boot(&mut mem);
        let Step::Reply(Response::Queue(q)) = t.handle(&Request::QueueStatus) else {
            panic!()
        };
        assert_eq!(q.pending, 0, "still voided after a restart");
        let Step::Reply(Response::Done(r)) = txn(&mut t, TxnKind::Reversal, 0, 0, seq) else {
            panic!()
        };
        assert_eq!(r.reason, Reason::NoSuchTransaction, "reversed once");
    }

    #[test]
    fn pbs_03_reversal_of_an_online_purchase_is_stored_when_the_host_is_down() {
        let mut mem = vec![0xFFu8; 16 * 4096];
        let mut t = boot(&mut mem);
        assert!(
            start(
                &mut t,
                dkk(300_00),
                card(DANKORT, Network::Dankort, EntryMode::Chip),
                Some("1234")
            )
            .is_none()
        );
        assert_eq!(approve(&mut t, 2).0, Outcome::ApprovedOnline);
        assert!(matches!(
            txn(&mut t, TxnKind::Reversal, 0, 0, 2),
            Step::Host(_)
        ));
        let Step::Reply(Response::Done(r)) = no_host(&mut t, HostUnreachable::NotSent) else {
            panic!()
        };
        assert_eq!(r.outcome, Outcome::ApprovedOffline);
        assert_eq!(
            batch(&totals(&mut t), Network::Dankort).count,
            0,
            "taken out of the settlement at once"
        );
        // Forwarded later as an advice of kind Reversal.
        t.handle(&Request::ForwardQueue);
        let Step::Host(HostRequest::Advice(d)) =
            t.host_result(Ok(HostResponse::BlockList { pans: PanList("") }))
        else {
            panic!()
        };
        assert_eq!(
            (d.kind, d.related_seq, d.amount.minor),
            (TxnKind::Reversal, 2, 300_00)
        );
    }

    #[test]
    fn pbs_03_a_queued_purchase_that_may_have_reached_the_host_is_reversed_not_voided() {
        let mut mem = vec![0xFFu8; 16 * 4096];
        let mut t = boot(&mut mem);
        let (_, _, seq) = offline_purchase(&mut t, 100_00);
        // A forwarding round sends the advice, then the link drops before the answer.
        t.handle(&Request::ForwardQueue);
        assert!(matches!(
            t.host_result(Ok(HostResponse::BlockList { pans: PanList("") })),
            Step::Host(HostRequest::Advice(_))
        ));
        no_host(&mut t, HostUnreachable::NotSent);
        let Step::Reply(Response::Done(r)) = txn(&mut t, TxnKind::Reversal, 0, 0, seq) else {
            panic!()
        };
        assert_eq!(r.outcome, Outcome::ApprovedOffline);
        // The original is out of the queue; the stored reversal is what gets forwarded.
        t.handle(&Request::ForwardQueue);
        let Step::Host(HostRequest::Advice(d)) =
            t.host_result(Ok(HostResponse::BlockList { pans: PanList("") }))
        else {
            panic!()
        };
        assert_eq!((d.kind, d.related_seq), (TxnKind::Reversal, seq));
        let rev = d.txn_seq;
        t.host_result(Ok(HostResponse::AdviceAck {
            txn_seq: rev,
            response_code: response_code::APPROVED,
        }));
        assert_eq!(batch(&totals(&mut t), Network::Dankort).count, 0);
    }
}
