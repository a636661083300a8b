//! What the terminal reports and keeps time by: the offline queue's status (BAX-10, NETS-10),
//! reconciliation with the host, and the controlled clock.

use super::{After, HOST_ANSWER_S, HostUnreachable, State, Step, Terminal};
use crate::block_list::BlockList;
use crate::flash::Flash;
use crate::journal::JournalError;
use payhil_protocol::host_link::{HostRequest, HostResponse};
use payhil_protocol::{
    Network, QueueStatus, RequestError, ResetSettings, Response, SettlementTotals,
};

fn clock_out_of_range() -> Step<'static> {
    Step::Reply(Response::Rejected(RequestError::ClockOutOfRange {
        min: *crate::journal::TIME_RANGE.start(),
        max: *crate::journal::TIME_RANGE.end(),
    }))
}

impl<F: Flash> Terminal<'_, F> {
    /// The next instant, in the controlled clock (Unix seconds, as set by SetClock), at which the
    /// terminal must act without a new request, or `None` when nothing is due:
    /// * while a host exchange is in progress (the last [`Step`] was [`Step::Host`]), the
    ///   deadline of the host's answer, [`HOST_ANSWER_S`] after the request: a platform whose
    ///   answer has not come by then passes `Err(HostUnreachable::NoAnswer)` to
    ///   [`Terminal::host_result`] (or `NotSent` if nothing was sent). Nothing else can start
    ///   before the exchange ends, so this is the only timer then;
    /// * otherwise, while the offline queue holds items, the next attempt to forward it (which
    ///   may already be past, e.g. after a boot with items pending); AdvanceClock to or past it
    ///   forwards.
    ///
    /// As in quinn-proto, the platform sleeps until then or until the next input, whichever
    /// comes first. The reference emulator announces the host's deadline to the harness
    /// (`Event::AwaitingHost`) and waits for the host's answer or for the harness to move the
    /// clock there (`Request::AdvanceClockInWait`, PROTOCOL.md 4.8), so a host that never
    /// answers costs no real time; the queue is forwarded when the harness moves the clock.
    pub fn poll_timeout(&self) -> Option<i64> {
        if self.exchanging() {
            Some(self.host_deadline)
        } else {
            (self.journal.pending_len() > 0).then_some(self.next_forward_at)
        }
    }

    /// Whether a host exchange is under way (the last [`Step`] was [`Step::Host`]).
    fn exchanging(&self) -> bool {
        matches!(
            self.state,
            State::AwaitingHost(_)
                | State::FetchingBlockList { .. }
                | State::Forwarding { .. }
                | State::Reconciling { .. }
        )
    }

    /// Whether the host's answer to the exchange under way is overdue on the controlled clock:
    /// the platform then stops waiting and passes `Err(HostUnreachable::NoAnswer)` to
    /// [`Terminal::host_result`].
    pub fn host_answer_overdue(&self) -> bool {
        self.exchanging() && self.now >= self.host_deadline
    }

    /// AdvanceClockInWait: the clock moves while the host's answer is awaited. Nothing else
    /// runs (the exchange under way is the only timer: see [`Terminal::poll_timeout`]); the
    /// platform asks [`Terminal::host_answer_overdue`] next.
    pub(super) fn advance_in_wait(&mut self, secs: u32) -> Step<'_> {
        if !self.exchanging() {
            return self.wrong_state();
        }
        match self.now.checked_add(i64::from(secs)) {
            Some(t) if crate::journal::TIME_RANGE.contains(&t) => self.now = t,
            _ => return clock_out_of_range(),
        }
        Step::Reply(Response::Clock { unix_s: self.now })
    }

    /// Enters a state that waits for the host: its answer is due [`HOST_ANSWER_S`] from now.
    pub(super) fn await_host(&mut self, state: State) {
        self.host_deadline = self.now.saturating_add(i64::from(HOST_ANSWER_S));
        self.state = state;
    }

    /// SetClock: the harness's clock is the terminal's only time source.
    pub(super) fn set_clock(&mut self, unix_s: i64) -> Step<'_> {
        // Only times the journal can store: anything else would be journaled wrong.
        if !crate::journal::TIME_RANGE.contains(&unix_s) {
            return clock_out_of_range();
        }
        self.now = unix_s;
        Step::Reply(Response::Clock { unix_s })
    }

    /// Reset (a test agent's request, never a fallback): the journal formatted in place, its
    /// numbers continuing above every one used (PBS-02: the host never sees one again), the
    /// blocked-card list cleared, the settings and clock given, nothing in progress; answered
    /// as Hello. A clock out of range changes nothing.
    pub(super) fn reset(&mut self, s: &ResetSettings) -> Step<'_> {
        if !crate::journal::TIME_RANGE.contains(&s.unix_s) {
            return clock_out_of_range();
        }
        let wiped = BlockList::erase(self.journal.flash_mut())
            .map_err(JournalError::from)
            .and_then(|()| self.journal.format_in_place());
        if let Err(e) = wiped {
            return self.storage_fault(e);
        }
        let limits = &mut self.cfg.limits;
        limits.offline_per_transaction_minor = s.offline_limit_minor;
        limits.offline_per_card_minor = s.card_limit_minor;
        limits.contactless_cvm_limit_minor = s.cvm_limit_minor;
        limits.gambling_daily_max_minor = s.gambling_daily_max_minor;
        limits.self_service = s.self_service;
        limits.reserve.phone_auth_above_minor = s.reserve_phone_auth_above_minor;
        limits.reserve.aggregate_cap_minor =
            (s.reserve_cap_minor > 0).then_some(s.reserve_cap_minor);
        self.cfg.forward_retry_s = s.forward_retry_s;
        // Everything `with_journal` starts a booted terminal with.
        self.now = s.unix_s;
        self.time_floor = 0;
        self.state = State::Idle;
        self.next_forward_at = 0;
        self.blocks = BlockList::new();
        self.receipt.clear();
        self.auth = [b' '; 6];
        self.auth_len = 0;
        self.unresolved = None;
        self.storage_fault = None;
        self.host_deadline = 0;
        self.hello()
    }

    /// AdvanceClock: moves the clock, then runs what fell due (forwarding the offline queue).
    pub(super) fn advance_clock(&mut self, secs: u32) -> Step<'_> {
        // Checked: the clock may sit at the top of the range when a large step comes.
        match self.now.checked_add(i64::from(secs)) {
            Some(t) if crate::journal::TIME_RANGE.contains(&t) => self.now = t,
            _ => return clock_out_of_range(),
        }
        if self.now >= self.next_forward_at && self.journal.pending_len() > 0 {
            self.start_forwarding(After::Clock)
        } else {
            Step::Reply(Response::Clock { unix_s: self.now })
        }
    }

    pub(super) fn queue_status(&mut self) -> Step<'_> {
        // A clock set back must not make a stored item look younger than it is (BAX-10).
        let mut total = 0u64;
        let mut overdue = 0u32;
        for i in 0..self.journal.pending_len() {
            let r = match self.journal.pending(i) {
                Ok(Some(r)) => r,
                Ok(None) => return self.storage_fault(JournalError::Inconsistent),
                Err(e) => return self.storage_fault(e),
            };
            total = total.saturating_add(r.amount.minor);
            let deadline = if r.network == Network::BankAxept {
                self.cfg.reserve_deadline_s
            } else {
                self.cfg.forward_deadline_s
            };
            if self.rule_time() - r.local_time > i64::from(deadline) {
                overdue += 1; // BAX-10, NETS-10: the merchant must see these
            }
        }
        Step::Reply(Response::Queue(QueueStatus {
            pending: self.journal.pending_len() as u32,
            forwarded: self.journal.forwarded(),
            declined_by_host: self.journal.declined_by_host(),
            capacity: self.journal.capacity() as u32,
            pending_minor: total,
            overdue,
        }))
    }

    /// Reconcile: the journal's totals, then the host's verdict on them (ISO 8583 0500).
    pub(super) fn reconcile(&mut self) -> Step<'_> {
        if !matches!(self.state, State::Idle) {
            return self.wrong_state();
        }
        let totals = match crate::settlement::totals(&mut self.journal) {
            Ok(t) => t,
            Err(e) => return self.storage_fault(e),
        };
        let host_view = match crate::settlement::host_view(&mut self.journal) {
            Ok(v) => v,
            Err(e) => return self.storage_fault(e),
        };
        // Reconcile with the host (ISO 8583 0500); its verdict goes into the answer.
        self.await_host(State::Reconciling { totals });
        Step::Host(HostRequest::Reconcile {
            terminal_id: self.cfg.identity.terminal_id,
            totals: host_view,
        })
    }

    /// The host's verdict on the reconciliation; no answer is `NotChecked`, never a balance.
    pub(super) fn reconcile_result(
        &mut self,
        mut totals: SettlementTotals,
        result: Result<HostResponse<'_>, HostUnreachable>,
    ) -> Step<'_> {
        totals.host = match result {
            Ok(HostResponse::ReconcileResult { in_balance: true }) => {
                payhil_protocol::HostBalance::InBalance
            }
            Ok(HostResponse::ReconcileResult { in_balance: false }) => {
                payhil_protocol::HostBalance::OutOfBalance
            }
            _ => payhil_protocol::HostBalance::NotChecked,
        };
        self.state = State::Idle;
        Step::Reply(Response::Totals(totals))
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::super::test_support::*;
    use payhil_protocol::ResetSettings;
    use std::vec;

    #[test]
    fn issue_9_the_clock_never_leaves_what_the_journal_can_store() {
        let mut mem = vec![0xFFu8; 16 * 4096];
        let mut t = boot(&mut mem);
        let range = crate::journal::TIME_RANGE;
        let refused = Response::Rejected(RequestError::ClockOutOfRange {
            min: *range.start(),
            max: *range.end(),
        });
        for unix_s in [i64::MAX, i64::MIN, -1, i64::from(u32::MAX) + 1] {
            let Step::Reply(r) = t.handle(&Request::SetClock { unix_s }) else {
                panic!()
            };
            assert_eq!(r, refused, "{unix_s}");
        }
        let Step::Reply(r) = t.handle(&Request::SetClock {
            unix_s: *range.end(),
        }) else {
            panic!()
        };
        assert_eq!(
            r,
            Response::Clock {
                unix_s: *range.end()
            }
        );
        for secs in [1, u32::MAX] {
            let Step::Reply(r) = t.handle(&Request::AdvanceClock { secs }) else {
                panic!()
            };
            assert_eq!(r, refused, "+{secs}");
        }
        // A purchase at the last second still journals its true time.
        let mut c = card(DANKORT, Network::Dankort, EntryMode::Chip);
        c.expiry = Expiry {
            year: 2106,
            month: 12,
        };
        assert!(start(&mut t, dkk(10_00), c, Some("1234")).is_none());
        let Step::Reply(Response::Done(r)) = no_host(&mut t, HostUnreachable::NotSent) else {
            panic!()
        };
        assert_eq!(r.outcome, Outcome::ApprovedOffline);
        let mut times = std::vec::Vec::new();
        t.journal
            .for_each(|f| times.push(f.record.local_time))
            .unwrap();
        // The authorisation's trace before it was sent, then the offline approval.
        assert_eq!(times, [*range.end(), *range.end()]);
    }

    #[test]
    fn poll_timeout_names_the_host_deadline_and_the_next_forward_attempt() {
        let mut mem = vec![0xFFu8; 16 * 4096];
        let mut t = boot(&mut mem);
        let t0 = 1_800_000_000;
        assert_eq!(
            t.poll_timeout(),
            None,
            "idle with an empty queue: nothing due"
        );
        // An authorisation in progress: the host's answer is due.
        assert!(
            start(
                &mut t,
                dkk(100_00),
                card(DANKORT, Network::Dankort, EntryMode::Chip),
                Some("1234")
            )
            .is_none()
        );
        assert_eq!(t.poll_timeout(), Some(t0 + i64::from(HOST_ANSWER_S)));
        // No answer: approved offline, and the queue is forwarded after the retry interval.
        no_host(&mut t, HostUnreachable::NoAnswer);
        let retry = i64::from(cfg().forward_retry_s);
        assert_eq!(t.poll_timeout(), Some(t0 + retry));
        // A forwarding round in progress: the host's answer is what is due.
        t.handle(&Request::AdvanceClock { secs: 60 });
        assert_eq!(
            t.poll_timeout(),
            Some(t0 + 60 + i64::from(HOST_ANSWER_S)),
            "the block list is being fetched"
        );
        // The round fails: the next attempt is one retry interval later.
        t.host_result(Err(HostUnreachable::NotSent));
        assert_eq!(t.poll_timeout(), Some(t0 + 60 + retry));
    }

    /// The host's deadline runs on the controlled clock: the clock moved during the wait ends
    /// it, and nothing but the exchange waits on it.
    #[test]
    fn the_clock_moved_during_a_host_wait_ends_the_wait_at_its_deadline() {
        let mut mem = vec![0xFFu8; 16 * 4096];
        let mut t = boot(&mut mem);
        let t0 = 1_800_000_000;
        let wait = |t: &mut T<'_>, secs: u32| match t.handle(&Request::AdvanceClockInWait { secs })
        {
            Step::Reply(r) => std::format!("{r:?}"),
            Step::Host(_) | Step::Halt => std::string::String::from("not a reply"),
        };
        assert_eq!(
            wait(&mut t, 1),
            "Rejected(WrongState { awaiting: Nothing })",
            "no host exchange: nothing to move the clock for"
        );
        assert_eq!(t.now(), t0);
        assert!(
            start(
                &mut t,
                dkk(100_00),
                card(DANKORT, Network::Dankort, EntryMode::Chip),
                Some("1234")
            )
            .is_none()
        );
        assert!(!t.host_answer_overdue());
        assert_eq!(
            wait(&mut t, HOST_ANSWER_S - 1),
            std::format!("Clock {{ unix_s: {} }}", t0 + i64::from(HOST_ANSWER_S) - 1)
        );
        assert!(!t.host_answer_overdue(), "one second before the deadline");
        assert_eq!(
            wait(&mut t, 1),
            std::format!("Clock {{ unix_s: {} }}", t0 + i64::from(HOST_ANSWER_S))
        );
        assert!(t.host_answer_overdue(), "at the deadline");
        assert_eq!(
            wait(&mut t, u32::MAX),
            std::format!(
                "Rejected(ClockOutOfRange {{ min: {}, max: {} }})",
                crate::journal::TIME_RANGE.start(),
                crate::journal::TIME_RANGE.end()
            ),
            "the clock stays in range"
        );
        no_host(&mut t, HostUnreachable::NoAnswer);
        assert!(!t.host_answer_overdue(), "the exchange ended");
    }

    fn settings(unix_s: i64, offline_limit_minor: u64) -> ResetSettings {
        ResetSettings {
            unix_s,
            offline_limit_minor,
            card_limit_minor: 20_000_00,
            cvm_limit_minor: 350_00,
            gambling_daily_max_minor: None,
            self_service: false,
            reserve_phone_auth_above_minor: 2_500_00,
            reserve_cap_minor: 0,
            forward_retry_s: 60,
            host_timeout_ms: 2_000,
        }
    }

    #[test]
    fn reset_empties_the_queue_keeps_numbers_rising_and_takes_the_settings() {
        let mut mem = vec![0xFFu8; 64 * 1024];
        let mut t = boot(&mut mem);
        let (o, _, first) = offline_purchase(&mut t, 100_00);
        assert_eq!(o, Outcome::ApprovedOffline);
        let (_, _, second) = offline_purchase(&mut t, 100_00);
        assert_eq!(t.journal.pending_len(), 2);
        // A clock the terminal cannot keep is refused and changes nothing.
        assert!(matches!(
            t.handle(&Request::Reset(settings(-1, 50_00))),
            Step::Reply(Response::Rejected(RequestError::ClockOutOfRange { .. }))
        ));
        assert_eq!(t.journal.pending_len(), 2);
        let Step::Reply(Response::Hello(info)) =
            t.handle(&Request::Reset(settings(1_700_000_000, 50_00)))
        else {
            panic!("a reset is answered as Hello")
        };
        assert_eq!(
            info.boot_count, 1,
            "a formatted journal counts boots from one"
        );
        assert_eq!(t.journal.pending_len(), 0);
        assert_eq!(
            t.now(),
            1_700_000_000,
            "the clock given, earlier than the journal's"
        );
        // The new offline limit is in force, and no clock distrust is left from the old journal.
        assert!(
            start(
                &mut t,
                dkk(60_00),
                card(DANKORT, Network::Dankort, EntryMode::Chip),
                Some("1234")
            )
            .is_none()
        );
        let Step::Reply(Response::Done(r)) = no_host(&mut t, HostUnreachable::NotSent) else {
            panic!()
        };
        assert_eq!(r.reason, Reason::OfflineAmountLimit);
        assert!(
            r.txn_seq > second && second > first,
            "numbers never repeat: {r:?}"
        );
        // What the reset wrote survives a power-up.
        let seq = r.txn_seq;
        let flash = t.into_flash();
        let t = Terminal::boot(cfg(), flash).unwrap();
        assert_eq!(t.journal.pending_len(), 0);
        assert!(t.journal.next_seq() > seq);
    }
}
