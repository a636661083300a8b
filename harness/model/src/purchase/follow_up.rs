//! Captures (CARD-06) and reversals (PBS-03) of earlier transactions: predicted from what the
//! model recorded of the original, and recorded in turn.

use super::*;

impl Model {
    /// Predicts the capture of pre-authorisation `of` (CARD-06).
    pub fn predict_capture(&self, of: Option<u32>, amount: Amount) -> Prediction {
        let pre = of
            .and_then(|s| self.done.get(&s))
            .filter(|d| d.kind == TxnKind::PreAuthorisation && !d.captured);
        let Some(pre) = pre else {
            return Prediction::exact(Outcome::Aborted, Reason::NoSuchTransaction);
        };
        if amount.minor > pre.amount.minor {
            return declined(Reason::CaptureExceedsAuthorised);
        }
        // Already authorised: online if the host answers, stored for forwarding if not.
        let o = if self.network_up {
            Outcome::ApprovedOnline
        } else {
            Outcome::ApprovedOffline
        };
        Prediction::exact(o, Reason::Approved)
    }

    /// Predicts the reversal of purchase `of` (PBS-03).
    pub fn predict_reversal(&self, of: Option<u32>) -> Prediction {
        let orig = of
            .and_then(|s| self.done.get(&s).map(|d| (s, d)))
            .filter(|(_, d)| d.kind == TxnKind::Purchase && !d.reversed);
        let Some((seq, _)) = orig else {
            return Prediction::exact(Outcome::Aborted, Reason::NoSuchTransaction);
        };
        if self.certain.iter().any(|p| p.seq == seq) || !self.network_up {
            // Voided in the queue, or stored until the host can be told: both offline.
            return Prediction::exact(Outcome::ApprovedOffline, Reason::Approved);
        }
        if self.uncertain.iter().any(|p| p.seq == seq) {
            return Prediction::exact(Outcome::ApprovedOffline, Reason::Approved)
                .or(Prediction::exact(Outcome::ApprovedOnline, Reason::Approved));
        }
        Prediction::exact(Outcome::ApprovedOnline, Reason::Approved)
    }

    /// Records a capture or reversal the terminal answered with `outcome`.
    pub fn observe_follow_up(&mut self, f: &FollowUp<'_>, outcome: Outcome) {
        let FollowUp {
            kind,
            of,
            seq,
            amount,
            pan,
            network,
        } = *f;
        let approved = matches!(outcome, Outcome::ApprovedOnline | Outcome::ApprovedOffline);
        self.journaled(approved);
        if !approved {
            return;
        }
        if let Some(d) = self.done.get_mut(&of) {
            if kind == TxnKind::Capture {
                d.captured = true
            } else {
                d.reversed = true
            }
        }
        let r = self.cfg.readings;
        match kind {
            TxnKind::Capture if r.captures_count_today => {
                let day = self.day();
                self.charged.push((seq, pan.clone(), day, amount.minor));
            }
            TxnKind::Reversal if !r.reversed_counts_today => self.charged.retain(|c| c.0 != of),
            _ => {}
        }
        let was_certain = self.certain.iter().any(|p| p.seq == of);
        let was_uncertain = self.uncertain.iter().any(|p| p.seq == of);
        if kind == TxnKind::Reversal {
            self.certain.retain(|p| p.seq != of);
            self.uncertain.retain(|p| p.seq != of);
        }
        self.done.insert(
            seq,
            Done {
                kind,
                amount,
                captured: false,
                reversed: false,
            },
        );
        if outcome != Outcome::ApprovedOffline {
            return;
        }
        let item = Pending {
            seq,
            pan: pan.clone(),
            amount,
            at: self.now,
            network,
            purchase: false,
        };
        match kind {
            // A reversal of an item never sent voids it: nothing to forward.
            TxnKind::Reversal if was_certain => {}
            // Voided or stored, depending on whether the original had been forwarded.
            TxnKind::Reversal if was_uncertain => self.enqueue(item, false),
            // A stored capture or reversal waits in the queue for the host.
            _ => self.queue(item),
        }
    }
}
