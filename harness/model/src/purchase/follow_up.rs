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
        let held = if amount.minor > pre.amount.minor {
            declined(Reason::CaptureExceedsAuthorised)
        } else {
            // Already authorised: online if the host answers, stored for forwarding if not.
            let o = if self.network_up {
                Outcome::ApprovedOnline
            } else {
                Outcome::ApprovedOffline
            };
            Prediction::exact(o, Reason::Approved)
        };
        self.or_forgotten(pre, held)
    }

    /// `held`, or also a refusal as NoSuchTransaction once the terminal may no longer hold the
    /// original (`ModelConfig::follow_up_window`).
    fn or_forgotten(&self, original: &Done, held: Prediction) -> Prediction {
        let forgotten = self
            .cfg
            .follow_up_window
            .is_some_and(|w| self.events.saturating_sub(original.event) > u64::from(w));
        if forgotten {
            held.or(Prediction::exact(
                Outcome::Aborted,
                Reason::NoSuchTransaction,
            ))
        } else {
            held
        }
    }

    /// Predicts the reversal of purchase `of` (PBS-03).
    pub fn predict_reversal(&self, of: Option<u32>) -> Prediction {
        let orig = of
            .and_then(|s| self.done.get(&s).map(|d| (s, d)))
            .filter(|(_, d)| d.kind == TxnKind::Purchase && !d.reversed);
        let Some((seq, original)) = orig else {
            return Prediction::exact(Outcome::Aborted, Reason::NoSuchTransaction);
        };
        let held = if self.certain.iter().any(|p| p.seq == seq) || !self.network_up {
            // Voided in the queue, or stored until the host can be told: both offline.
            Prediction::exact(Outcome::ApprovedOffline, Reason::Approved)
        } else if self.uncertain.iter().any(|p| p.seq == seq) {
            Prediction::exact(Outcome::ApprovedOffline, Reason::Approved)
                .or(Prediction::exact(Outcome::ApprovedOnline, Reason::Approved))
        } else {
            Prediction::exact(Outcome::ApprovedOnline, Reason::Approved)
        };
        // An item certainly still queued is never forgotten: the terminal must forward it.
        // (One that may have been forwarded may be done, and then it may be.)
        if self.pending(false).any(|p| p.seq == seq) {
            return held;
        }
        self.or_forgotten(original, held)
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
        self.events += 1;
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
                event: self.events,
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
