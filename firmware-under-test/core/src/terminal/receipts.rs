//! The end of every transaction: its journal record, then the receipt (or the BankAxept debit
//! note, BAX-02) with the card number masked (PCI-01, CARD-08), then the answer.

use super::{State, Step, Terminal, Txn};
use crate::flash::{Flash, FlashError};
use crate::journal::{JournalError, TxnRecord, TxnStatus};
use crate::receipt::{self, ReceiptData};
use crate::text::TextBuf;
use payhil_protocol::{Outcome, Reason, ReserveDetails, Response, TxnKind, TxnResult};

impl<F: Flash> Terminal<'_, F> {
    pub(super) fn receipt_data<'s>(
        &'s self,
        txn: &'s Txn,
        outcome: Outcome,
        reason: Reason,
        auth: &'s str,
    ) -> ReceiptData<'s> {
        ReceiptData {
            kind: txn.kind,
            tip_minor: txn.tip_minor,
            merchant_name: self.cfg.merchant_name,
            merchant_id: self.cfg.identity.merchant_id,
            terminal_id: self.cfg.identity.terminal_id,
            time: self.now,
            amount: txn.amount,
            network: txn.card.network,
            entry_mode: txn.card.entry_mode,
            pan: &txn.card.pan,
            pin_verified: txn.pin_verified,
            outcome,
            reason,
            auth_code: auth,
            txn_seq: txn.seq,
        }
    }

    pub(super) fn finish(
        &mut self,
        txn: Txn,
        outcome: Outcome,
        reason: Reason,
        status: TxnStatus,
    ) -> Step<'_> {
        self.finish_with(txn, outcome, reason, status, None)
    }

    /// Journals the transaction, then prints the receipt, or the debit note of an approved
    /// reserve payment (BAX-02). The journal write comes first: an offline approval exists
    /// only once it is durable.
    pub(super) fn finish_with(
        &mut self,
        txn: Txn,
        outcome: Outcome,
        reason: Reason,
        status: TxnStatus,
        note: Option<&ReserveDetails<'_>>,
    ) -> Step<'_> {
        if !matches!(outcome, Outcome::ApprovedOnline | Outcome::ApprovedOffline) {
            self.auth_len = 0;
        }
        let rec = self.record_of(&txn, status, reason);
        let approved = matches!(outcome, Outcome::ApprovedOnline | Outcome::ApprovedOffline);
        let (outcome, reason) = match self.journal_record(&rec) {
            Ok(()) => (outcome, reason),
            Err(JournalError::Flash(FlashError::PowerLost)) => return Step::Halt,
            Err(JournalError::Full | JournalError::TooManyPending)
                if outcome == Outcome::ApprovedOffline =>
            {
                (Outcome::Declined, Reason::OfflineQueueFull)
            }
            // Not journaled, so not approved (issue 9): an approval exists only once it is
            // durable. The host may hold an online approval, so a reversal is stored for it if
            // the journal can still take one.
            Err(e) if approved => {
                self.storage_fault = Some(e);
                if outcome == Outcome::ApprovedOnline
                    && matches!(
                        txn.kind,
                        TxnKind::Purchase | TxnKind::Refund | TxnKind::PreAuthorisation
                    )
                {
                    self.unresolved = Some(txn.seq);
                }
                (Outcome::Declined, Reason::StorageFailure)
            }
            // A decline stays a decline; the fault is reported.
            Err(e) => {
                self.storage_fault = Some(e);
                (outcome, reason)
            }
        };
        if self.unresolved == Some(txn.seq) {
            self.unresolved = None;
            if !matches!(outcome, Outcome::ApprovedOnline | Outcome::ApprovedOffline)
                && self.store_reversal_of(&txn).is_err()
            {
                return Step::Halt;
            }
        }
        self.render_and_reply(txn, outcome, reason, note)
    }

    pub(super) fn record_of(&self, txn: &Txn, status: TxnStatus, reason: Reason) -> TxnRecord {
        TxnRecord {
            seq: txn.seq,
            kind: txn.kind,
            related_seq: txn.related_seq,
            amount: txn.amount,
            status,
            network: txn.card.network,
            entry_mode: txn.card.entry_mode,
            pan: txn.card.pan,
            pan_seq: txn.card.pan_seq,
            local_time: self.now,
            auth_code: self.auth,
            reason,
        }
    }

    /// Prints the receipt (or the debit note of an approved reserve payment, BAX-02) and
    /// answers; the transaction is over.
    pub(super) fn render_and_reply(
        &mut self,
        txn: Txn,
        outcome: Outcome,
        reason: Reason,
        note: Option<&ReserveDetails<'_>>,
    ) -> Step<'_> {
        self.state = State::Idle;
        if outcome == Outcome::Declined || outcome == Outcome::Aborted {
            self.auth_len = 0;
        }
        self.receipt.clear();
        let auth = core::str::from_utf8(&self.auth[..self.auth_len]).unwrap_or("");
        let data = self.receipt_data(&txn, outcome, reason, auth);
        let mut out = TextBuf::<1024>::new();
        let rendered = match note {
            Some(note) if outcome == Outcome::ApprovedOffline => {
                receipt::render_debit_note(&mut out, &data, note)
            }
            _ => receipt::render(&mut out, &data),
        };
        if rendered.is_ok() {
            self.receipt = out;
        }
        self.reply_done(txn, outcome, reason)
    }

    pub(super) fn reply_done(&self, txn: Txn, outcome: Outcome, reason: Reason) -> Step<'_> {
        Step::Reply(Response::Done(TxnResult {
            outcome,
            reason,
            txn_seq: txn.seq,
            auth_code: core::str::from_utf8(&self.auth[..self.auth_len]).unwrap_or(""),
            receipt: self.receipt.as_str(),
        }))
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::super::test_support::*;
    use std::vec;

    #[test]
    fn card_05_a_tip_shows_the_full_amount_charged() {
        let mut mem = vec![0xFFu8; 16 * 4096];
        let mut t = boot(&mut mem);
        start_dankort(&mut t, TxnKind::Purchase, 200_00, 25_00);
        let Step::Host(HostRequest::Authorise(d)) = t.handle(&Request::EnterPin(PinText("1234")))
        else {
            panic!()
        };
        assert_eq!(
            d.amount.minor, 225_00,
            "the host is asked for the full amount"
        );
        let (o, _, receipt) = approve(&mut t, 2);
        assert_eq!(o, Outcome::ApprovedOnline);
        for want in [
            "AMOUNT",
            "DKK 200.00",
            "TIP",
            "DKK 25.00",
            "TOTAL",
            "DKK 225.00",
        ] {
            assert!(receipt.contains(want), "{want}: {receipt}");
        }
        assert_eq!(batch(&totals(&mut t), Network::Dankort).minor, 225_00);
    }
}
