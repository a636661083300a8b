//! The model's view of the link and of the offline queue: the clock, the network, which items
//! are certainly or possibly still unforwarded (NETS-01), their amounts and which are overdue.

use super::*;

impl Model {
    /// The clock was set.
    pub fn set_clock(&mut self, unix_s: i64) {
        self.now = unix_s;
    }

    /// The clock moved while the terminal waited for a host that could not answer (PROTOCOL.md
    /// 4.8): time passed, and nothing else happened (no forwarding: the wait is the only timer).
    pub fn pass_time(&mut self, secs: u32) {
        self.now += i64::from(secs);
    }

    /// The clock advanced. A terminal with the network up must forward once its retry interval
    /// has passed since the last attempt.
    pub fn advance_clock(&mut self, secs: u32) {
        self.now += i64::from(secs);
        let pending = !self.certain.is_empty() || !self.uncertain.is_empty();
        if pending && self.now - self.last_attempt >= i64::from(self.cfg.forward_retry_s) {
            self.forwarding_opportunity();
        }
    }

    /// The network between terminal and host changed.
    pub fn set_network(&mut self, up: bool) {
        self.just_cut = self.network_up && !up;
        self.network_up = up;
        self.blackhole = false;
        if up {
            // From now on the terminal may forward whenever it likes.
            self.uncertain.append(&mut self.certain);
        }
    }

    /// The link swallows everything (accepts, never answers).
    pub fn set_blackhole(&mut self) {
        self.just_cut = self.network_up;
        self.network_up = false;
        self.blackhole = true;
    }

    /// Faults are (or are no longer) active on the link.
    pub fn set_flaky(&mut self, flaky: bool) {
        self.flaky = flaky;
    }

    /// The terminal reported an empty queue after forwarding: what the host's books hold
    /// (`host_has`) has left the queue. An item the model knows by its sequence number and the
    /// host does not have stays certain, so the terminal's word alone never empties the model's
    /// queue; stored reversals of unanswered authorisations, whose numbers the model cannot
    /// know, are judged by the books at the end of the run instead.
    pub fn queue_reported_empty(&mut self, host_has: impl Fn(u32) -> bool) {
        let keep = |p: &Pending| p.seq != 0 && !host_has(p.seq);
        let mut kept: Vec<Pending> = self.certain.drain(..).filter(|p| keep(p)).collect();
        kept.extend(self.uncertain.drain(..).filter(|p| keep(p)));
        self.certain = kept;
    }

    /// Sets the terminal's offline queue capacity once it is known.
    pub fn set_queue_capacity(&mut self, capacity: u32) {
        self.cfg.queue_capacity = Some(capacity);
    }

    /// The operator asked the terminal to forward (or another moment it must try).
    pub fn forwarding_opportunity(&mut self) {
        self.last_attempt = self.now;
        if self.network_up && self.flaky {
            // Some may get through, some not.
            self.uncertain.append(&mut self.certain);
            return;
        }
        if self.network_up {
            // Each forwarding round starts by fetching the blocked-card list.
            self.block_list_known = true;
            self.certain.clear();
            self.uncertain.clear();
        }
    }

    /// The terminal restarted: nothing acknowledged is lost. Its timers did not survive the
    /// power: it may forward at once, and must once a retry interval has passed since it came
    /// up (the seeds set no interval; the harness configures it, PROTOCOL.md 4.9).
    pub fn restarted(&mut self) {
        self.events += 1;
        // The latest by the clock (see `enqueue`): a terminal may also keep the deadline it had.
        self.last_attempt = self.last_attempt.max(self.now);
    }

    /// The terminal lost power in the middle of a request, without warning: whatever it may
    /// have been forwarding may or may not have reached the host.
    pub fn power_lost(&mut self) {
        if self.network_up {
            self.uncertain.append(&mut self.certain);
        }
        self.just_cut = false;
    }

    /// A purchase was interrupted by a power cut before the terminal answered it: it may have
    /// been approved offline (and then it is in the terminal's queue) or not at all. Its
    /// sequence number is unknown, so the item is judged by the host's books at the end of the
    /// run, never by the terminal's word.
    pub fn interrupted(&mut self, p: &PurchaseInput) {
        // It may have been journaled before the cut: the journal may hold a transaction of
        // this time, and a clock set back before it is then one the terminal cannot trust
        // (CARD-03/clock-set-back).
        self.journaled(false);
        // The issuer and the card may have checked its PIN.
        self.pin_maybe_checked(p);
        // Its authorisation may have been on its way to the host: a terminal that cannot rule
        // out an approval stores a reversal after the restart (PBS-03/maybe-sent); one that
        // knows it never sent it stores none. What it leaves queued is queued now
        // (`enqueue`): it may start the retry interval, so the restart is no chance to
        // forward it at once.
        if self.reaches_for_host(p) {
            let reversal = Pending {
                seq: 0,
                pan: p.card.pan.clone(),
                amount: p.amount,
                at: self.now,
                network: p.network,
                purchase: false,
            };
            self.enqueue(reversal, false);
        }
        if p.kind == TxnKind::Purchase
            && self
                .predict(p)
                .allows(Outcome::ApprovedOffline, Reason::Approved)
        {
            let approval = Pending {
                seq: 0,
                pan: p.card.pan.clone(),
                amount: p.amount,
                at: self.now,
                network: p.network,
                purchase: true,
            };
            self.enqueue(approval, false);
        }
    }

    /// Expected number of pending offline items: `(min, max)`.
    pub fn queue_bounds(&self) -> (u32, u32) {
        (
            self.certain.len() as u32,
            (self.certain.len() + self.uncertain.len()) as u32,
        )
    }

    /// Expected sum of the pending items' amounts, minor units: `(min, max)` (what the terminal
    /// may already have forwarded is uncertain).
    pub fn queue_amount_bounds(&self) -> (u64, u64) {
        let sum = |v: &Vec<Pending>| {
            v.iter()
                .map(|p| p.amount.minor)
                .fold(0, u64::saturating_add)
        };
        let certain = sum(&self.certain);
        (certain, certain.saturating_add(sum(&self.uncertain)))
    }

    /// Expected number of overdue pending items (BAX-10): `(min, max)`.
    pub fn overdue_bounds(&self) -> (u32, u32) {
        let r = &self.cfg.readings;
        // A clock set back does not make an item younger (CARD-03/clock-set-back).
        let (lo, hi) = self.rule_time();
        let late = |v: &Vec<Pending>, now: i64| {
            v.iter()
                .filter(|p| {
                    let deadline = if p.network == Network::BankAxept {
                        r.reserve_deadline_s
                    } else {
                        r.nets_deadline_s
                    };
                    now.saturating_sub(p.at) > i64::from(deadline)
                })
                .count() as u32
        };
        (
            late(&self.certain, lo),
            late(&self.certain, hi) + late(&self.uncertain, hi),
        )
    }

    pub(super) fn pending(&self, include_uncertain: bool) -> impl Iterator<Item = &Pending> {
        self.certain
            .iter()
            .chain(self.uncertain.iter().filter(move |_| include_uncertain))
    }

    /// This card's unforwarded offline purchases, and the part within the split window.
    pub(super) fn exposure(&self, pan: &Pan, include_uncertain: bool) -> (u64, u64) {
        let since = self.now - i64::from(self.cfg.readings.split_window_s);
        let mine: Vec<&Pending> = self
            .pending(include_uncertain)
            .filter(|p| p.pan == *pan && p.purchase)
            .collect();
        (
            mine.iter().map(|p| p.amount.minor).sum(),
            mine.iter()
                .filter(|p| p.at >= since)
                .map(|p| p.amount.minor)
                .sum(),
        )
    }
}
