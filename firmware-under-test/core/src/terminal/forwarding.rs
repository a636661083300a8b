//! Store and forward: a forwarding round fetches the blocked-card list (CARD-10), then sends
//! each pending item as an advice, oldest first, until the queue is empty or the host is lost
//! (NETS-01, PBS-02, NETS-10).

use super::{After, HostUnreachable, MAX_BLOCKED, State, Step, Terminal};
use crate::block_list::CardTag;
use crate::flash::Flash;
use crate::journal::{JournalError, StoredPan, TxnRecord};
use payhil_protocol::host_link::{HostRequest, HostResponse, TxnData, response_code};
use payhil_protocol::{Expiry, PanText, Response, TxnKind};

impl<F: Flash> Terminal<'_, F> {
    /// Replaces the host's blocked-card list (CARD-10) with comma-separated card numbers;
    /// malformed entries are skipped, entries past [`MAX_BLOCKED`] dropped. Kept in flash (as
    /// keyed hashes, never card numbers) when it differs from the list kept, so that a card stays
    /// blocked across power cycles until a later list drops it; the host sends it again before
    /// every forwarding round. Cards learned from host answers are kept.
    pub fn set_blocked(&mut self, pans: &str) -> Result<(), JournalError> {
        let mut tags = [CardTag::EMPTY; MAX_BLOCKED];
        let mut n = 0;
        for p in pans
            .split(',')
            .filter_map(|p| StoredPan::from_ascii(p.trim()))
        {
            if n == MAX_BLOCKED {
                break;
            }
            tags[n] = CardTag::of(&self.key, &p);
            n += 1;
        }
        if self.blocks.replace_listed(&tags[..n], self.now) {
            self.blocks.save(self.journal.flash_mut())?;
        }
        Ok(())
    }

    /// A forwarding round: fetch the blocked-card list (CARD-10), then send every pending item.
    pub(super) fn start_forwarding(&mut self, after: After) -> Step<'_> {
        if !matches!(self.state, State::Idle) {
            return self.after(after);
        }
        self.await_host(State::FetchingBlockList { after });
        Step::Host(HostRequest::FetchBlockList {
            terminal_id: self.cfg.identity.terminal_id,
        })
    }

    pub(super) fn forwarding_failed(&mut self, after: After) -> Step<'_> {
        self.next_forward_at = self.now + i64::from(self.cfg.forward_retry_s);
        self.state = State::Idle;
        self.after(after)
    }

    pub(super) fn forward_next(&mut self, after: After) -> Step<'_> {
        match self.journal.pending(0) {
            Ok(Some(rec)) => {
                // A second send of the same item is a repeat advice (0221/0421).
                let repeat = match self.journal.pending_was_sent(0) {
                    Ok(r) => r,
                    Err(e) => return self.storage_fault(e),
                };
                // Durably "sent" before it is sent: the host may have it from now on.
                if let Err(e) = self.journal.mark_sent(rec.seq) {
                    return self.storage_fault(e);
                }
                self.await_host(State::Forwarding { rec, after });
                let State::Forwarding { ref rec, .. } = self.state else {
                    unreachable!()
                };
                Step::Host(HostRequest::Advice(TxnData {
                    repeat,
                    kind: rec.kind,
                    related_seq: rec.related_seq,
                    terminal_id: self.cfg.identity.terminal_id,
                    merchant_id: self.cfg.identity.merchant_id,
                    txn_seq: rec.seq,
                    pan: PanText(rec.pan.as_str()),
                    // Expiry is not kept in the offline queue: it is not needed to settle.
                    expiry: Expiry { year: 0, month: 0 },
                    pan_seq: rec.pan_seq,
                    network: rec.network,
                    entry_mode: rec.entry_mode,
                    amount: rec.amount,
                    local_time: rec.local_time,
                    pin_verified: true,
                    auth_code: core::str::from_utf8(&rec.auth_code)
                        .unwrap_or("")
                        .trim_end(),
                    // The PIN was verified offline and is not kept: an advice has none.
                    pin_block: None,
                }))
            }
            Ok(None) => {
                self.state = State::Idle;
                self.after(after)
            }
            Err(e) => self.storage_fault(e),
        }
    }

    pub(super) fn after(&mut self, after: After) -> Step<'_> {
        match after {
            After::Clock => Step::Reply(Response::Clock { unix_s: self.now }),
            After::Queue => self.queue_status(),
        }
    }

    /// The blocked-card list came (or did not): forward the queue, or try again later.
    pub(super) fn block_list_result(
        &mut self,
        after: After,
        result: Result<HostResponse<'_>, HostUnreachable>,
    ) -> Step<'_> {
        match result {
            Ok(HostResponse::BlockList { pans }) => match self.set_blocked(pans.0) {
                Ok(()) => self.forward_next(after),
                // Not kept: the round ends with the fault (a power loss halts), and the next
                // round fetches the list again.
                Err(e) => self.storage_fault(e),
            },
            _ => self.forwarding_failed(after),
        }
    }

    /// The host's answer to an advice: acknowledged (perhaps as declined, NETS-10), then the next
    /// item; no answer ends the round.
    pub(super) fn advice_result(
        &mut self,
        rec: TxnRecord,
        after: After,
        result: Result<HostResponse<'_>, HostUnreachable>,
    ) -> Step<'_> {
        match result {
            Ok(HostResponse::AdviceAck {
                txn_seq,
                response_code: code,
            }) if txn_seq == rec.seq => {
                let declined = code != response_code::APPROVED
                        && code != response_code::DUPLICATE
                        // A reversal of an authorisation the host never got: nothing to undo.
                        && !(rec.kind == TxnKind::Reversal && code == response_code::NOT_FOUND);
                match self.journal.acknowledge(rec.seq, declined) {
                    Ok(()) => self.forward_next(after),
                    Err(e) => self.storage_fault(e),
                }
            }
            _ => self.forwarding_failed(after),
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::super::test_support::*;
    use std::vec;

    #[test]
    fn nets_01_offline_approval_is_stored_and_forwarded_once_after_a_reboot() {
        let mut mem = vec![0xFFu8; 16 * 4096];
        let mut t = boot(&mut mem);
        let (outcome, _, seq) = offline_purchase(&mut t, 100_00);
        assert_eq!(outcome, Outcome::ApprovedOffline);
        assert_eq!(
            offline_purchase(&mut t, 1_500_01).1,
            Reason::OfflineAmountLimit
        );
        let mut t = boot(&mut mem);
        let Step::Host(HostRequest::FetchBlockList { .. }) = t.handle(&Request::ForwardQueue)
        else {
            panic!()
        };
        let Step::Host(HostRequest::Advice(d)) =
            t.host_result(Ok(HostResponse::BlockList { pans: PanList("") }))
        else {
            panic!()
        };
        assert_eq!(d.txn_seq, seq);
        assert_eq!(
            d.pan.0, DANKORT,
            "the advice carries the decrypted card number"
        );
        let step = t.host_result(Ok(HostResponse::AdviceAck {
            txn_seq: seq,
            response_code: response_code::APPROVED,
        }));
        let Step::Reply(Response::Queue(q)) = step else {
            panic!("{step:?}")
        };
        assert_eq!((q.pending, q.forwarded), (0, 1));
        // PCI-02: the card number was stored, but not readably.
        let digits = DANKORT.as_bytes();
        assert!(!mem.windows(digits.len()).any(|w| w == digits));
        let bcd = [0x50, 0x19, 0x10, 0x00, 0x00, 0x00, 0x00, 0x06];
        assert!(!mem.windows(bcd.len()).any(|w| w == bcd));
    }

    /// CARD-03/clock-set-back: the journal's latest time survives a power cut, so a clock set
    /// behind it after the restart (a flat clock battery) takes no payment until set right.
    #[test]
    fn a_clock_behind_the_journal_takes_no_payment_until_set_right() {
        let mut mem = vec![0xFFu8; 16 * 4096];
        let mut t = boot(&mut mem);
        assert_eq!(offline_purchase(&mut t, 100_00).0, Outcome::ApprovedOffline);
        let mut t = boot(&mut mem);
        t.handle(&Request::SetClock {
            unix_s: 1_800_000_000 - 1,
        });
        let refused = start(
            &mut t,
            dkk(100_00),
            card(DANKORT, Network::Dankort, EntryMode::Chip),
            Some("1234"),
        );
        assert_eq!(
            outcome(refused),
            (Outcome::Declined, Reason::ClockNotTrusted),
            "one second behind the journal: refused before the host is asked"
        );
        t.handle(&Request::SetClock {
            unix_s: 1_800_000_000,
        });
        assert_eq!(offline_purchase(&mut t, 100_00).0, Outcome::ApprovedOffline);
    }

    #[test]
    fn card_10_the_host_pushes_the_blocked_list_before_forwarding() {
        let mut mem = vec![0xFFu8; 16 * 4096];
        let mut t = boot(&mut mem);
        offline_purchase(&mut t, 100_00);
        t.handle(&Request::ForwardQueue);
        t.host_result(Ok(HostResponse::BlockList {
            pans: PanList("4111111111111111, 5019100000000006"),
        }));
        t.host_result(Ok(HostResponse::AdviceAck {
            txn_seq: 2,
            response_code: response_code::APPROVED,
        }));
        let c = card(DANKORT, Network::Dankort, EntryMode::Chip);
        assert_eq!(
            outcome(start(&mut t, dkk(100), c, Some("1234"))),
            (Outcome::Declined, Reason::CardBlocked)
        );
    }

    #[test]
    fn card_10_the_blocked_list_survives_a_power_cycle() {
        let mut mem = vec![0xFFu8; 16 * 4096];
        let mut t = boot(&mut mem);
        t.handle(&Request::ForwardQueue);
        let step = t.host_result(Ok(HostResponse::BlockList {
            pans: PanList("4111111111111111, 5019100000000006"),
        }));
        assert!(matches!(step, Step::Reply(Response::Queue(_))), "{step:?}");
        // Power cycle, then the host cannot be reached: the terminal still knows the block.
        let mut t = boot(&mut mem);
        let c = card(DANKORT, Network::Dankort, EntryMode::Chip);
        assert_eq!(
            outcome(start(&mut t, dkk(100), c, Some("1234"))),
            (Outcome::Declined, Reason::CardBlocked)
        );
        // Kept, but not readably (PCI-02): neither the digits nor packed BCD are in the flash.
        for pan in [DANKORT, "4111111111111111"] {
            let digits = pan.as_bytes();
            assert!(!mem.windows(digits.len()).any(|w| w == digits), "{pan}");
        }
        let bcd = [0x50, 0x19, 0x10, 0x00, 0x00, 0x00, 0x00, 0x06];
        assert!(!mem.windows(bcd.len()).any(|w| w == bcd));
        let bcd = [0x41, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11];
        assert!(!mem.windows(bcd.len()).any(|w| w == bcd));
    }

    #[test]
    fn card_10_a_new_list_replaces_the_old_one_across_power_cycles() {
        let mut mem = vec![0xFFu8; 16 * 4096];
        let mut t = boot(&mut mem);
        for list in [DANKORT, "4111111111111111", ""] {
            t.handle(&Request::ForwardQueue);
            t.host_result(Ok(HostResponse::BlockList {
                pans: PanList(list),
            }));
            t = boot(&mut mem);
            // The host is down for every purchase below: only the terminal's list decides.
            for (pan, network) in [
                (DANKORT, Network::Dankort),
                ("4111111111111111", Network::Visa),
            ] {
                let c = card(pan, network, EntryMode::Chip);
                let got = match start(&mut t, dkk(100), c, Some("1234")) {
                    Some(r) => outcome(Some(r)),
                    None => match no_host(&mut t, HostUnreachable::NotSent) {
                        Step::Reply(Response::Done(d)) => (d.outcome, d.reason),
                        other => panic!("{other:?}"),
                    },
                };
                let want = if pan == list {
                    (Outcome::Declined, Reason::CardBlocked)
                } else {
                    (Outcome::ApprovedOffline, Reason::Approved)
                };
                assert_eq!(got, want, "list {list:?}, card {pan}");
            }
        }
    }
}

/// Sequence numbers never repeat, whatever write a power cut lands on (issue 9 item 5): for a
/// cut at every write of a boot and an online purchase the host declines, the next purchase
/// after the restart gets a number above every number the host has seen.
#[cfg(test)]
mod seq_after_cut_tests {
    extern crate std;
    use super::super::test_support::*;
    use crate::Step;
    use crate::flash::{NorFlash, PowerCut};
    use crate::terminal::Terminal;
    use payhil_protocol::host_link::{HostRequest, HostResponse, ResponseCode};
    use payhil_protocol::{EntryMode, Network, Request, Response};
    use std::vec;

    /// Runs a boot and one declined online purchase on `mem` with the power cut at write
    /// `at`; returns the highest number sent to the host.
    fn declined_purchase_cut_at(mem: &mut [u8], at: u32, tear: bool) -> u32 {
        online_purchase_cut_at(mem, at, tear, *b"51")
    }

    /// As [`declined_purchase_cut_at`], the host answering `code`.
    fn online_purchase_cut_at(mem: &mut [u8], at: u32, tear: bool, code: [u8; 2]) -> u32 {
        let mut flash = NorFlash::new(mem, 4096);
        flash.cut_power_at(Some(PowerCut { at, tear }));
        let Ok(mut t) = Terminal::boot(cfg(), flash) else {
            return 0;
        };
        t.handle(&Request::SetClock {
            unix_s: 1_800_000_000,
        });
        let _ = t.handle(&Request::StartPurchase {
            amount: dkk(100_00),
            forced_offline: false,
        });
        let mut step = t.handle(&Request::PresentCard(card(
            DANKORT,
            Network::Dankort,
            EntryMode::Chip,
        )));
        if matches!(step, Step::Reply(Response::Accepted { .. })) {
            step = t.handle(&Request::EnterPin(payhil_protocol::PinText("1234")));
        }
        let Step::Host(HostRequest::Authorise(d)) = step else {
            return 0;
        };
        let sent = d.txn_seq;
        let _ = t.host_result(Ok(HostResponse::AuthResult {
            txn_seq: sent,
            response_code: ResponseCode(code),
            auth_code: if code == *b"00" { "A1B2C3" } else { "" },
        }));
        sent
    }

    /// PBS-03: the host approved, and the power went before the approval was journaled (the
    /// terminal never answered): after the restart a reversal of it is queued for the host.
    #[test]
    fn an_approval_the_power_cut_before_it_was_journaled_is_reversed_after_the_restart() {
        let mut reversed_once = false;
        for tear in [false, true] {
            for at in 1..=8 {
                let mut mem = vec![0xFFu8; 16 * 4096];
                let sent = online_purchase_cut_at(&mut mem, at, tear, *b"00");
                let mut t = boot(&mut mem);
                let mut approved = false;
                let mut reversals = 0;
                t.journal
                    .for_each(|f| {
                        let r = f.record;
                        approved |=
                            r.seq == sent && r.status == crate::journal::TxnStatus::ApprovedOnline;
                        if r.kind == payhil_protocol::TxnKind::Reversal && r.related_seq == sent {
                            reversals += 1;
                        }
                    })
                    .unwrap();
                if sent == 0 {
                    continue;
                }
                assert!(
                    approved || reversals == 1,
                    "cut at write {at} (torn: {tear}): #{sent} went to the host, neither its approval nor one reversal is journaled ({reversals})"
                );
                assert!(reversals <= 1, "cut at write {at}: {reversals} reversals");
                reversed_once |= reversals == 1;
                // A second boot stores no second reversal.
                let mut t = boot(&mut mem);
                let mut again = 0;
                t.journal
                    .for_each(|f| {
                        if f.record.kind == payhil_protocol::TxnKind::Reversal {
                            again += 1;
                        }
                    })
                    .unwrap();
                assert_eq!(again, reversals, "cut at write {at}: a reboot adds none");
            }
        }
        assert!(
            reversed_once,
            "some cut falls between the host's approval and its record"
        );
    }

    #[test]
    fn no_number_the_host_saw_is_given_again_after_a_cut_at_any_write() {
        for tear in [false, true] {
            for at in 1..=8 {
                let mut mem = vec![0xFFu8; 16 * 4096];
                let sent = declined_purchase_cut_at(&mut mem, at, tear);
                let t = boot(&mut mem);
                let next = t.journal.next_seq();
                assert!(
                    next > sent,
                    "cut at write {at} (torn: {tear}): the host saw #{sent}, the next is #{next}"
                );
            }
        }
    }
}
