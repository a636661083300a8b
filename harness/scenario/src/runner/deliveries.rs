//! What the terminal sent its host, as the host saw it, against what the terminal says about
//! its sends: the repeat flag on every advice and the queue report's count of forwarded items;
//! and, from the same log, each card's exposure (approved offline, not at the host yet).
//! The host's delivery log is the truth here; the terminal's flags and counts are checked
//! against it, never taken from it.

use super::Run;
use payhil_protocol::QueueStatus;

/// What the harness knows about the terminal's sends since the run began.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct SendHistory {
    /// The fault epoch of the terminal's last power-up made by the harness (0: the run's
    /// start). The queue report counts forwarded items since boot, so deliveries from earlier
    /// epochs are not in it.
    pub(super) boot_epoch: u64,
    /// The terminal's forwarded count when the harness first asked (a physical terminal may
    /// have forwarded before the run began); 0 after a power-up the harness made.
    pub(super) forwarded_at_boot: u32,
    /// The first fault epoch from which a send may have reached no one: the link was down or
    /// swallowing requests, faults were on it, or power was cut. From then on an advice the
    /// host sees for the first time may rightly be flagged a repeat.
    pub(super) hidden_from: Option<u64>,
}

impl Run {
    /// Records each card's exposure after `step` where it changed: the offline approvals the
    /// harness saw that the host has not received yet.
    pub(super) fn note_exposure(&mut self, step: usize) {
        if self.last_exposure.is_empty() && self.invariants.exposure(|_| false).is_empty() {
            // No offline approval yet: nothing to ask the host's books.
            return;
        }
        let books = self.bench.host.books();
        let tid = &self.bench.device.terminal_id;
        let received: std::collections::BTreeSet<u32> = books
            .advice_deliveries
            .iter()
            .filter(|d| &d.terminal_id == tid)
            .map(|d| d.seq)
            .collect();
        let now = self.invariants.exposure(|seq| received.contains(&seq));
        let gone: Vec<String> = self
            .last_exposure
            .keys()
            .filter(|c| !now.contains_key(*c))
            .cloned()
            .collect();
        let changes = now
            .iter()
            .filter(|(c, m)| self.last_exposure.get(*c) != Some(m))
            .map(|(c, m)| (c.clone(), *m))
            .chain(gone.into_iter().map(|c| (c, 0)))
            .collect::<Vec<_>>();
        for (card, minor) in changes {
            self.exposure.push(super::ExposurePoint {
                step,
                clock: self.now,
                card,
                minor,
            });
        }
        self.last_exposure = now;
    }

    /// From the current fault epoch on, a send may have been lost before the host saw it.
    pub(super) fn sends_may_be_hidden(&mut self) {
        if self.sends.hidden_from.is_none() {
            self.sends.hidden_from = Some(self.fault_epoch);
        }
    }

    /// The terminal has just powered up under the harness: its forwarded count starts again.
    pub(super) fn booted(&mut self) {
        self.sends.boot_epoch = self.fault_epoch;
        self.sends.forwarded_at_boot = 0;
    }

    /// PBS-02 (exactly once) on the terminal's side: an advice the host receives again must be
    /// flagged a repeat (0221 / 0421), so a host that does not keep every answer can tell it
    /// from a new one; a first one must not be, unless a send may have been lost before it.
    /// The host deduplicates either way, so only this check sees a wrong flag.
    pub(super) fn check_advice_repeats(&self) -> Result<(), String> {
        let books = self.bench.host.books();
        let tid = &self.bench.device.terminal_id;
        let mut seen = std::collections::BTreeSet::new();
        for d in books
            .advice_deliveries
            .iter()
            .filter(|d| &d.terminal_id == tid)
        {
            let first = seen.insert(d.seq);
            if !first && !d.repeat {
                return Err(format!(
                    "PBS-02: #{} reached the host again without the repeat flag (0221/0421)",
                    d.seq
                ));
            }
            let may_be_hidden = self.sends.hidden_from.is_some_and(|e| d.epoch >= e);
            if first && d.repeat && !may_be_hidden {
                return Err(format!(
                    "PBS-02: #{}'s first advice was flagged a repeat (0221/0421), though no \
                     link fault or power cut could have hidden an earlier send",
                    d.seq
                ));
            }
        }
        Ok(())
    }

    /// The queue report's `forwarded` (items the host acknowledged since boot) against the
    /// host's log of advices since the terminal's last power-up: never more than the host
    /// answered, and no fewer than it answered on a link without faults (an answer the proxy
    /// may have dropped need not have reached the terminal).
    pub(super) fn check_forwarded(&self, q: &QueueStatus) -> Result<(), String> {
        let books = self.bench.host.books();
        let tid = &self.bench.device.terminal_id;
        let since_boot = books
            .advice_deliveries
            .iter()
            .filter(|d| &d.terminal_id == tid && d.epoch >= self.sends.boot_epoch);
        let (mut all, mut clean) = (0u64, 0u64);
        for d in since_boot {
            all += 1;
            clean += u64::from(!d.faulty);
        }
        let base = u64::from(self.sends.forwarded_at_boot);
        let (lo, hi) = (base + clean, base + all);
        let reported = u64::from(q.forwarded);
        if reported < lo || reported > hi {
            return Err(format!(
                "offline queue: terminal reports {reported} items forwarded since boot; the host \
                 answered {}{}",
                if lo == hi {
                    format!("{lo}")
                } else {
                    format!("{lo}..={hi} (some on a faulty link)")
                },
                if base > 0 {
                    format!(", counting the {base} it reported before the run")
                } else {
                    String::new()
                }
            ));
        }
        Ok(())
    }
}
