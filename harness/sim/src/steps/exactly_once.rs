//! The exactly-once oracle in process: the harness's ledger against the host's books and
//! delivery log (PBS-02), and the drain that ends a window.

use super::{Driver, End};
use crate::bench::{self, Checkpoint, InFlight};
use fut_core::flash::Flash;
use payhil_model::ledger::{Answered, Booked, Phase, exactly_once};
use payhil_protocol::TxnKind;
use payhil_scenario::format::LinkSpec;

impl<F: Flash, C: Checkpoint> Driver<'_, F, C> {
    /// The ledger against the host's books and delivery log (PBS-02). The transactions power
    /// cuts interrupted may be in the books once or not at all.
    pub fn check_exactly_once(&mut self, phase: Phase) -> Result<(), End> {
        // The host deduplicates on the stable id (PBS-02) and takes a repeat flag as "you may
        // have this one already": a resend must say so, a first send must not.
        if let Some(f) = self.seen.repeat_findings.first() {
            return Err(End::Failed(format!("PBS-02 advice repeat flag: {f}")));
        }
        let verdict = self.exactly_once(phase);
        if verdict.ok() {
            Ok(())
        } else {
            Err(End::Failed(format!(
                "PBS-02 exactly-once: {}",
                verdict.findings.join("; ")
            )))
        }
    }

    /// The exactly-once verdict of the ledger against the host's books and delivery log.
    pub fn exactly_once(&self, phase: Phase) -> payhil_model::ledger::ExactlyOnce {
        let booked = self.seen.books.booked(bench::TERMINAL_ID);
        let mut ledger = self.seen.ledger.clone();
        for f in &self.seen.excused {
            excuse_in_flight(&mut ledger, &booked, f);
        }
        let deliveries = self.seen.books.deliveries(bench::TERMINAL_ID);
        exactly_once(&ledger, &booked, &deliveries, phase)
    }

    /// The end of a run: the link is made clean, the terminal forwards until its queue is
    /// empty, and every approval must then be in the books exactly once, with the host's count
    /// of declined items (NETS-10).
    pub fn drain_and_check(&mut self) -> Result<(), End> {
        self.seen.link = LinkSpec::Up;
        self.seen.new_epoch();
        if let Some(m) = &mut self.model {
            m.set_flaky(false);
            m.set_network(true);
        }
        for _ in 0..DRAIN_ROUNDS {
            let q = self.forward()?;
            if q.pending == 0 {
                self.check_declined(q.declined_by_host, None)?;
                return self.check_exactly_once(Phase::Drained);
            }
        }
        Err(End::Failed(format!(
            "the terminal still has items pending after {DRAIN_ROUNDS} forwarding rounds on a clean link"
        )))
    }
}

/// Forwarding rounds a drain allows (in process every round on a clean link empties the queue;
/// more than one covers a round that ended on a storage fault).
const DRAIN_ROUNDS: u32 = 3;

/// A booked item as the ledger keeps an approval the harness learnt from the books.
fn answered(b: &Booked) -> Answered {
    Answered {
        seq: b.seq,
        kind: b.kind,
        offline: b.offline,
        amount: b.amount,
        pan: b.pan.clone(),
        network: b.network,
        entry: b.entry,
        at: b.local_time,
    }
}

/// The interrupted transaction may have been kept and reached the host (or, for a reversal,
/// taken effect): what the books show of it is taken into the ledger, once. Only an item the
/// host approved: one it declined is no approval the terminal may have given (and one in the
/// books declined earlier with the same card and amount is not the interrupted one). Anything
/// else the ledger does not hold stays a finding.
fn excuse_in_flight(ledger: &mut payhil_model::ledger::Ledger, booked: &[Booked], f: &InFlight) {
    match f {
        InFlight::Purchase(spec) => {
            let pan = spec.card.pan.masked();
            // The ledger lookup last: it is the dearest test, and most items fail an earlier one.
            let total = spec.total();
            if let Some(b) = booked.iter().find(|b| {
                b.approved
                    && b.kind == spec.kind
                    && b.amount == total
                    && b.network == spec.network
                    && b.pan == pan
                    && ledger.get(b.seq).is_none()
            }) {
                ledger.approved(answered(b));
                // The terminal could not know the host's answer and reversed it after the
                // restart (PBS-03/maybe-sent): reversed at the host is what it should be.
                if b.reversed {
                    ledger.reversed(b.seq);
                }
            }
        }
        InFlight::Capture(spec, amount) => {
            let pan = spec.card.pan.masked();
            if let Some(b) = booked.iter().find(|b| {
                b.approved
                    && b.kind == TxnKind::Capture
                    && b.amount == *amount
                    && b.pan == pan
                    && ledger.get(b.seq).is_none()
            }) {
                ledger.approved(answered(b));
            }
        }
        InFlight::Reversal(of) => {
            // Voided at the terminal (never forwarded) or reversed at the host: either way it
            // took effect; not at all is as allowed.
            let at_host = booked.iter().find(|b| b.seq == *of);
            if at_host.is_none_or(|b| b.reversed) {
                ledger.reversed(*of);
            }
        }
    }
}
