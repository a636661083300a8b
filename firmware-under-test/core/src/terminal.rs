//! The terminal state machine (sans-IO).
//!
//! The emulator (or a vendor's test firmware) feeds it test-agent requests with
//! [`Terminal::handle`] and host results with [`Terminal::host_result`]; each returns a [`Step`]:
//! a response to send back, a message to send to the host (whose result comes back through
//! `host_result`), or `Halt` when the flash lost power.
//!
//! A purchase: StartPurchase -> PresentCard (or ChipUnreadable, then a fallback card) ->
//! EnterPin when a PIN is required -> the limit engine routes it online, offline or to the
//! BankAxept reserve solution (EnterReserveDetails) -> journaled -> Done with the receipt.

use crate::flash::{Flash, FlashError};
use crate::journal::{Journal, JournalError, PanKey, StoredPan, TxnRecord, TxnStatus};
use crate::limits::{self, Attempt, Limits, Route};
use crate::receipt::{self, ReceiptData};
use crate::reserve;
use crate::text::TextBuf;
#[cfg(test)]
use payhil_protocol::host_link::PanList;
use payhil_protocol::host_link::{HostRequest, HostResponse, TxnData, response_code};
use payhil_protocol::{
    Amount, Awaiting, CardData, DeviceInfo, EntryMode, Expiry, Identity, Network, Outcome,
    PROTOCOL_VERSION, PanText, QueueStatus, Reason, Request, RequestError, ReserveDetails,
    Response, TxnKind, TxnResult,
};

/// Capacity of the offline queue (pending index).
pub const MAX_PENDING: usize = 1024;
/// Capacity of the blocked-card list.
pub const MAX_BLOCKED: usize = 64;

/// Static configuration of a terminal.
#[derive(Debug, Clone, Copy)]
pub struct Config<'a> {
    /// Model, serial, versions and acquirer ids, reported in Hello.
    pub identity: Identity<'a>,
    /// Merchant name printed on receipts.
    pub merchant_name: &'a str,
    /// Limits (NETS-03, NETS-04, CARD-02, CARD-04, PBS-05, BAX-*).
    pub limits: Limits,
    /// Seconds between attempts to forward the offline queue.
    pub forward_retry_s: u32,
    /// Offline items must reach the acquirer within this many seconds (Nets; configuration).
    pub forward_deadline_s: u32,
    /// BankAxept reserve items must reach the acquirer within this many seconds (BAX-10).
    pub reserve_deadline_s: u32,
}

/// Two weeks, the BankAxept deadline (BAX-10).
pub const TWO_WEEKS_S: u32 = 14 * 86_400;

/// What the caller must do next.
#[derive(Debug)]
pub enum Step<'s> {
    /// Send this response to the request being handled.
    Reply(Response<'s>),
    /// Send this to the host and pass its result to [`Terminal::host_result`].
    Host(HostRequest<'s>),
    /// The flash lost power: the terminal is dead until it boots again. (Other storage faults
    /// are answered: see [`Terminal::take_storage_fault`].)
    Halt,
}

/// The host exchange failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostUnreachable {
    /// Nothing reached the host (no connection, or the request could not be sent).
    NotSent,
    /// The request was sent but no usable answer came back: the host may have acted on it.
    NoAnswer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NoRoom {
    Full,
    /// Anything else, a power loss included (see [`Terminal::storage_fault`]).
    Fault(JournalError),
}

#[derive(Debug, Clone, Copy)]
struct Card {
    pan: StoredPan,
    expiry: Expiry,
    pan_seq: u8,
    network: Network,
    entry_mode: EntryMode,
    account: [u8; 11],
    has_account: bool,
    fallback: bool,
}

impl Card {
    fn account(&self) -> &str {
        if self.has_account {
            core::str::from_utf8(&self.account).unwrap_or("")
        } else {
            ""
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Txn {
    seq: u32,
    kind: TxnKind,
    /// The full amount charged, tip included (CARD-05).
    amount: Amount,
    tip_minor: u64,
    related_seq: u32,
    forced_offline: bool,
    card: Card,
    pin_verified: bool,
}

#[derive(Debug, Clone, Copy)]
enum After {
    Clock,
    Queue,
}

#[derive(Debug, Clone, Copy)]
enum State {
    Idle,
    AwaitingCard {
        kind: TxnKind,
        amount: Amount,
        tip_minor: u64,
        forced_offline: bool,
        fallback: bool,
    },
    AwaitingPin(Txn),
    AwaitingHost(Txn),
    AwaitingReserve(Txn),
    FetchingBlockList {
        after: After,
    },
    Reconciling {
        totals: payhil_protocol::SettlementTotals,
    },
    Forwarding {
        rec: TxnRecord,
        after: After,
    },
}

/// A terminal: configuration, journal on flash, controlled clock and transaction state.
pub struct Terminal<'a, F: Flash> {
    cfg: Config<'a>,
    journal: Journal<F, MAX_PENDING>,
    now: i64,
    state: State,
    next_forward_at: i64,
    blocked: [StoredPan; MAX_BLOCKED],
    blocked_len: usize,
    receipt: TextBuf<1024>,
    auth: [u8; 6],
    auth_len: usize,
    /// The transaction whose authorisation may have reached the host without its answer
    /// reaching the terminal: if it ends declined, a reversal is stored for it.
    unresolved: Option<u32>,
    /// The last storage fault that was not a power loss, until the platform takes it to log it.
    storage_fault: Option<JournalError>,
}

fn luhn_ok(digits: &str) -> bool {
    let mut sum = 0u32;
    for (i, d) in digits.bytes().rev().enumerate() {
        let mut v = u32::from(d - b'0');
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum % 10 == 0
}

/// A card is valid through the last day of its expiry month (CARD-03).
fn expired(expiry: Expiry, now: i64) -> bool {
    let t = crate::calendar::from_unix(now);
    (t.year, t.month) > (i32::from(expiry.year), expiry.month)
}

fn clock_out_of_range() -> Step<'static> {
    Step::Reply(Response::Rejected(RequestError::ClockOutOfRange {
        min: *crate::journal::TIME_RANGE.start(),
        max: *crate::journal::TIME_RANGE.end(),
    }))
}

fn done(outcome: Outcome, reason: Reason) -> Response<'static> {
    Response::Done(TxnResult {
        outcome,
        reason,
        txn_seq: 0,
        auth_code: "",
        receipt: "",
    })
}

impl<'a, F: Flash> Terminal<'a, F> {
    /// Boots: mounts the journal (recovering the offline queue) and starts idle. Card numbers
    /// in the journal are encrypted under the device's test key, derived from its serial number
    /// ([`PanKey::test_key`]); a real terminal passes its secure element's key to
    /// [`Terminal::boot_with_key`] instead.
    pub fn boot(cfg: Config<'a>, flash: F) -> Result<Self, JournalError> {
        let key = PanKey::test_key(cfg.identity.serial);
        Self::boot_with_key(cfg, flash, key)
    }

    /// Erases the flash and boots on a new journal whose sequence numbers continue above
    /// `seq_floor` (see [`Journal::format`]). Only on an explicit request, never as a fallback.
    pub fn boot_formatted(cfg: Config<'a>, flash: F, seq_floor: u32) -> Result<Self, JournalError> {
        let key = PanKey::test_key(cfg.identity.serial);
        let journal = Journal::format(flash, key, seq_floor)?;
        Ok(Self::with_journal(cfg, journal))
    }

    /// Slots of the journal that did not read back at boot (see
    /// [`Journal::unreadable_slots`]).
    pub fn unreadable_slots(&self) -> u32 {
        self.journal.unreadable_slots()
    }

    /// Boots with the key card numbers are kept under in the journal (PCI-02).
    pub fn boot_with_key(cfg: Config<'a>, flash: F, key: PanKey) -> Result<Self, JournalError> {
        Ok(Self::with_journal(cfg, Journal::mount(flash, key)?))
    }

    fn with_journal(cfg: Config<'a>, journal: Journal<F, MAX_PENDING>) -> Self {
        Self {
            cfg,
            journal,
            now: 0,
            state: State::Idle,
            next_forward_at: 0,
            blocked: [StoredPan::EMPTY; MAX_BLOCKED],
            blocked_len: 0,
            receipt: TextBuf::new(),
            auth: [b' '; 6],
            auth_len: 0,
            unresolved: None,
            storage_fault: None,
        }
    }

    /// The controlled clock, Unix seconds: the host link's transmission time (ISO 8583 DE 7).
    pub fn now(&self) -> i64 {
        self.now
    }

    /// Power-ups since format, including this one.
    pub fn boot_count(&self) -> u32 {
        self.journal.boot_count()
    }

    /// The last storage fault (a failed write, an inconsistent journal; never a power loss),
    /// taken so that the platform logs each once. The request it happened in was answered with
    /// `Rejected(StorageFault)` or `Done(Declined, StorageFailure)`.
    pub fn take_storage_fault(&mut self) -> Option<JournalError> {
        self.storage_fault.take()
    }

    /// A journal error ends what the terminal was doing. A power loss halts it (the device is
    /// dead until it boots again); anything else, a failed write or a journal found inconsistent,
    /// is its own error: a transaction in progress ends declined (it is not approved without its
    /// record), any other request is refused, and the terminal goes on serving.
    fn storage_fault(&mut self, e: JournalError) -> Step<'_> {
        if e == JournalError::Flash(FlashError::PowerLost) {
            return Step::Halt;
        }
        self.storage_fault = Some(e);
        let in_txn = matches!(
            self.state,
            State::AwaitingCard { .. }
                | State::AwaitingPin(_)
                | State::AwaitingHost(_)
                | State::AwaitingReserve(_)
        );
        self.state = State::Idle;
        self.receipt.clear();
        self.auth_len = 0;
        if in_txn {
            Step::Reply(done(Outcome::Declined, Reason::StorageFailure))
        } else {
            Step::Reply(Response::Rejected(RequestError::StorageFault))
        }
    }

    /// What the terminal waits for.
    pub fn awaiting(&self) -> Awaiting {
        match self.state {
            State::AwaitingCard { .. } => Awaiting::Card,
            State::AwaitingPin(_) => Awaiting::Pin,
            State::AwaitingReserve(_) => Awaiting::ReserveDetails,
            _ => Awaiting::Nothing,
        }
    }

    /// Replaces the blocked-card list (CARD-10) with comma-separated card numbers; malformed
    /// entries are skipped, entries past the capacity dropped. Kept in RAM: the host sends it
    /// again before every forwarding round.
    pub fn set_blocked(&mut self, pans: &str) {
        self.blocked_len = 0;
        for p in pans
            .split(',')
            .filter_map(|p| StoredPan::from_ascii(p.trim()))
        {
            if self.blocked_len == MAX_BLOCKED {
                break;
            }
            self.blocked[self.blocked_len] = p;
            self.blocked_len += 1;
        }
    }

    fn is_blocked(&self, pan: &StoredPan) -> bool {
        self.blocked[..self.blocked_len].contains(pan)
    }

    fn wrong_state(&self) -> Step<'_> {
        Step::Reply(Response::Rejected(RequestError::WrongState {
            awaiting: self.awaiting(),
        }))
    }

    fn abort(&mut self, reason: Reason) -> Step<'_> {
        self.state = State::Idle;
        self.receipt.clear();
        self.auth_len = 0;
        Step::Reply(done(Outcome::Aborted, reason))
    }

    /// Handles one request from the test agent.
    pub fn handle(&mut self, req: &Request<'_>) -> Step<'_> {
        match *req {
            Request::Hello { protocol_version } => {
                if protocol_version != PROTOCOL_VERSION {
                    return Step::Reply(Response::Rejected(RequestError::VersionMismatch {
                        terminal: PROTOCOL_VERSION,
                    }));
                }
                Step::Reply(Response::Hello(DeviceInfo {
                    protocol_version: PROTOCOL_VERSION,
                    identity: self.cfg.identity,
                    boot_count: self.journal.boot_count(),
                }))
            }
            Request::Ping { nonce } => Step::Reply(Response::Pong { nonce }),
            Request::SetClock { unix_s } => {
                // Only times the journal can store: anything else would be journaled wrong.
                if !crate::journal::TIME_RANGE.contains(&unix_s) {
                    return clock_out_of_range();
                }
                self.now = unix_s;
                Step::Reply(Response::Clock { unix_s })
            }
            Request::AdvanceClock { secs } => {
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
            Request::StartPurchase {
                amount,
                forced_offline,
            } => self.start(TxnKind::Purchase, amount, 0, forced_offline, 0),
            Request::StartTransaction {
                kind,
                amount,
                tip_minor,
                forced_offline,
                reference,
            } => self.start(kind, amount, tip_minor, forced_offline, reference),
            Request::ChipUnreadable => match self.state {
                // SUPPORT-03: the chip failed; a fallback card read may follow, online only.
                State::AwaitingCard {
                    kind,
                    amount,
                    tip_minor,
                    forced_offline,
                    ..
                } => {
                    self.state = State::AwaitingCard {
                        kind,
                        amount,
                        tip_minor,
                        forced_offline,
                        fallback: true,
                    };
                    Step::Reply(Response::Accepted {
                        awaiting: Awaiting::Card,
                    })
                }
                _ => self.wrong_state(),
            },
            Request::PresentCard(card) => self.present_card(&card),
            Request::EnterPin(pin) => {
                let State::AwaitingPin(mut txn) = self.state else {
                    return self.wrong_state();
                };
                // An empty PIN is a bypass: the cardholder pressed OK without entering one.
                let p = pin.0.as_bytes();
                txn.pin_verified = (4..=12).contains(&p.len()) && p.iter().all(u8::is_ascii_digit);
                self.authorise(txn)
            }
            Request::EnterReserveDetails(details) => {
                let State::AwaitingReserve(txn) = self.state else {
                    return self.wrong_state();
                };
                self.reserve(txn, &details)
            }
            Request::Cancel => match self.state {
                State::AwaitingCard { .. } | State::AwaitingPin(_) => self.abort(Reason::Cancelled),
                // The reserve checks could not be done: the payment is reversed (BAX-07).
                State::AwaitingReserve(txn) => self.finish(
                    txn,
                    Outcome::Declined,
                    Reason::Cancelled,
                    TxnStatus::Declined,
                ),
                _ => self.wrong_state(),
            },
            Request::QueueStatus => self.queue_status(),
            Request::ForwardQueue => self.start_forwarding(After::Queue),
            Request::PowerCut => Step::Reply(Response::PoweringOff),
            Request::Reconcile => {
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
                self.state = State::Reconciling { totals };
                Step::Host(HostRequest::Reconcile {
                    terminal_id: self.cfg.identity.terminal_id,
                    totals: host_view,
                })
            }
        }
    }

    fn start(
        &mut self,
        kind: TxnKind,
        amount: Amount,
        tip_minor: u64,
        forced_offline: bool,
        reference: u32,
    ) -> Step<'_> {
        if !matches!(self.state, State::Idle) {
            return self.wrong_state();
        }
        let Some(total) = amount.minor.checked_add(tip_minor) else {
            return Step::Reply(Response::Rejected(RequestError::BadAmount));
        };
        if (amount.minor == 0 && kind != TxnKind::Reversal) || amount.currency.alpha() == "XXX" {
            return Step::Reply(Response::Rejected(RequestError::BadAmount));
        }
        let amount = Amount {
            minor: total,
            currency: amount.currency,
        };
        match kind {
            TxnKind::Purchase | TxnKind::Refund | TxnKind::PreAuthorisation => {
                self.state = State::AwaitingCard {
                    kind,
                    amount,
                    tip_minor,
                    forced_offline,
                    fallback: false,
                };
                Step::Reply(Response::Accepted {
                    awaiting: Awaiting::Card,
                })
            }
            TxnKind::Capture | TxnKind::Reversal => self.follow_up(kind, amount, reference),
        }
    }

    /// The journaled transaction `seq`, if it is still on flash.
    fn find(&mut self, seq: u32) -> Result<Option<crate::journal::Found>, JournalError> {
        let mut hit = None;
        self.journal.for_each(|f| {
            if f.record.seq == seq {
                hit = Some(f);
            }
        })?;
        Ok(hit)
    }

    /// Captures (CARD-06) and reversals (PBS-03) refer to an earlier transaction and need no
    /// card: the terminal has what it needs in its journal.
    fn follow_up(&mut self, kind: TxnKind, amount: Amount, reference: u32) -> Step<'_> {
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
        self.state = State::AwaitingHost(txn);
        let State::AwaitingHost(ref t) = self.state else {
            unreachable!()
        };
        Step::Host(HostRequest::Authorise(self.txn_data(t)))
    }

    /// A capture or reversal the host could not be told about now: stored and forwarded like an
    /// offline purchase. A stored reversal takes the original out of the settlement at once.
    fn store_follow_up(&mut self, txn: Txn) -> Step<'_> {
        self.set_auth("STORED");
        if self.journal.pending_len() == 0 {
            self.next_forward_at = self.now + i64::from(self.cfg.forward_retry_s);
        }
        if txn.kind == TxnKind::Reversal {
            // The reversal record first: if power is cut before the mark, the stored reversal
            // still reaches the host.
            let rec = self.record_of(&txn, TxnStatus::ApprovedOffline, Reason::Approved);
            match self.journal.record(&rec) {
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

    fn present_card(&mut self, c: &CardData<'_>) -> Step<'_> {
        let State::AwaitingCard {
            kind,
            amount,
            tip_minor,
            forced_offline,
            fallback,
        } = self.state
        else {
            return self.wrong_state();
        };
        let account = c.account.as_bytes();
        let card = match StoredPan::from_ascii(c.pan.0) {
            Some(pan)
                if luhn_ok(pan.as_str())
                    && (1..=12).contains(&c.expiry.month)
                    && (account.is_empty()
                        || (account.len() == 11 && account.iter().all(u8::is_ascii_digit))) =>
            {
                let mut acc = [b'0'; 11];
                acc[..account.len()].copy_from_slice(account);
                Card {
                    pan,
                    expiry: c.expiry,
                    pan_seq: c.pan_seq,
                    network: c.network,
                    entry_mode: c.entry_mode,
                    account: acc,
                    has_account: !account.is_empty(),
                    // A chip card read another way after the chip failed (SUPPORT-03).
                    fallback: fallback && c.entry_mode != EntryMode::Chip,
                }
            }
            _ => return self.abort(Reason::CardDataInvalid),
        };
        let txn = Txn {
            seq: 0,
            kind,
            amount,
            tip_minor,
            related_seq: 0,
            forced_offline,
            card,
            pin_verified: false,
        };
        if expired(card.expiry, self.now) {
            return match self.claim_seq(txn) {
                Ok(txn) => self.finish(
                    txn,
                    Outcome::Declined,
                    Reason::CardExpired,
                    TxnStatus::Declined,
                ),
                Err(why) => self.refuse(why),
            };
        }
        // A refund credits the cardholder: no PIN needed (CARD-07).
        if kind != TxnKind::Refund && limits::pin_required(&self.cfg.limits, amount, c.entry_mode) {
            self.state = State::AwaitingPin(txn);
            Step::Reply(Response::Accepted {
                awaiting: Awaiting::Pin,
            })
        } else {
            self.authorise(txn)
        }
    }

    /// Gives the transaction its sequence number, once the journal is sure to have room for its
    /// record: a number that went to the host is always journaled before the next is taken.
    fn claim_seq(&mut self, mut txn: Txn) -> Result<Txn, NoRoom> {
        match self.journal.ensure_room() {
            Ok(()) => {
                txn.seq = self.journal.take_seq();
                Ok(txn)
            }
            Err(JournalError::Full | JournalError::TooManyPending) => Err(NoRoom::Full),
            Err(e) => Err(NoRoom::Fault(e)),
        }
    }

    /// Nothing more can be journaled until the queue is forwarded: refuse before the host or
    /// the cardholder is involved.
    fn refuse(&mut self, why: NoRoom) -> Step<'_> {
        if let NoRoom::Fault(e) = why {
            return self.storage_fault(e);
        }
        self.state = State::Idle;
        self.receipt.clear();
        self.auth_len = 0;
        Step::Reply(done(Outcome::Declined, Reason::OfflineQueueFull))
    }

    /// The facts the limit engine needs, from the card, the journal and the clock.
    fn attempt(&mut self, txn: &Txn, host_reachable: bool) -> Result<Attempt, JournalError> {
        let mut a = Attempt {
            amount: txn.amount,
            network: txn.card.network,
            entry_mode: txn.card.entry_mode,
            fallback: txn.card.fallback,
            pin_verified: txn.pin_verified,
            blocked: self.is_blocked(&txn.card.pan),
            host_reachable,
            forced_offline: txn.forced_offline,
            card_exposure_minor: 0,
            card_recent_offline_minor: 0,
            card_today_minor: 0,
            reserve_pending_minor: 0,
        };
        let window_start = self.now - i64::from(self.cfg.limits.split_window_s);
        for i in 0..self.journal.pending_len() {
            let Some(r) = self.journal.pending(i)? else {
                continue;
            };
            if r.network == Network::BankAxept {
                a.reserve_pending_minor = a.reserve_pending_minor.saturating_add(r.amount.minor);
            }
            // Only purchases are offline exposure; stored captures and reversals were authorised.
            if r.pan == txn.card.pan && r.kind == TxnKind::Purchase {
                a.card_exposure_minor = a.card_exposure_minor.saturating_add(r.amount.minor);
                if r.local_time >= window_start {
                    a.card_recent_offline_minor =
                        a.card_recent_offline_minor.saturating_add(r.amount.minor);
                }
            }
        }
        if self.cfg.limits.gambling_daily_max_minor.is_some() {
            // CARD-04: this card's approved purchases on the same (UTC) day.
            let day = self.now.div_euclid(86_400);
            let mut today = 0u64;
            self.journal.for_each(|f| {
                let r = f.record;
                let approved = matches!(
                    r.status,
                    TxnStatus::ApprovedOnline | TxnStatus::ApprovedOffline
                ) && matches!(r.kind, TxnKind::Purchase | TxnKind::Capture)
                    && !f.reversed;
                if approved
                    && r.pan == txn.card.pan
                    && r.local_time.div_euclid(86_400) == day
                    && !f.host_declined
                {
                    today = today.saturating_add(r.amount.minor);
                }
            })?;
            a.card_today_minor = today;
        }
        Ok(a)
    }

    fn authorise(&mut self, txn: Txn) -> Step<'_> {
        // Card-level and merchant-level refusals come before anything is sent (CARD-04, CARD-10).
        let facts = match self.attempt(&txn, true) {
            Ok(f) => f,
            Err(e) => return self.storage_fault(e),
        };
        let pre = match txn.kind {
            TxnKind::Purchase => limits::route(&self.cfg.limits, &facts),
            // Refunds and pre-authorisations need the host: never offline.
            _ if txn.forced_offline => Err(Reason::OnlineOnly),
            TxnKind::Refund => Ok(Route::Online),
            _ => limits::card_check(&facts).map(|()| Route::Online),
        };
        let txn = match self.claim_seq(txn) {
            Ok(t) => t,
            Err(why) => return self.refuse(why),
        };
        match pre {
            Err(reason) => self.finish(txn, Outcome::Declined, reason, TxnStatus::Declined),
            Ok(Route::Online) => {
                self.state = State::AwaitingHost(txn);
                let State::AwaitingHost(ref t) = self.state else {
                    unreachable!()
                };
                Step::Host(HostRequest::Authorise(self.txn_data(t)))
            }
            // Forced offline (NETS-02), which the limit engine routed without the host.
            Ok(_) => self.offline(txn, true),
        }
    }

    fn txn_data<'s>(&'s self, t: &'s Txn) -> TxnData<'s> {
        TxnData {
            repeat: false,
            kind: t.kind,
            related_seq: t.related_seq,
            terminal_id: self.cfg.identity.terminal_id,
            merchant_id: self.cfg.identity.merchant_id,
            txn_seq: t.seq,
            pan: PanText(t.card.pan.as_str()),
            expiry: t.card.expiry,
            pan_seq: t.card.pan_seq,
            network: t.card.network,
            entry_mode: t.card.entry_mode,
            amount: t.amount,
            local_time: self.now,
            pin_verified: t.pin_verified,
            auth_code: "",
        }
    }

    /// Takes the result of the host exchange requested by the last [`Step::Host`].
    pub fn host_result(&mut self, result: Result<HostResponse<'_>, HostUnreachable>) -> Step<'_> {
        match self.state {
            State::AwaitingHost(txn) => match result {
                Ok(HostResponse::AuthResult {
                    txn_seq,
                    response_code: code,
                    auth_code,
                }) if txn_seq == txn.seq => {
                    self.set_auth(auth_code);
                    if code.is_approved() {
                        if txn.kind == TxnKind::Reversal {
                            match self.journal.mark_reversed(txn.related_seq) {
                                Ok(true) => {}
                                // The original was found when the reversal started.
                                Ok(false) => return self.storage_fault(JournalError::Inconsistent),
                                Err(e) => return self.storage_fault(e),
                            }
                        }
                        self.finish(
                            txn,
                            Outcome::ApprovedOnline,
                            Reason::Approved,
                            TxnStatus::ApprovedOnline,
                        )
                    } else {
                        // Every answer is understood (issue 9): a code with a reason of its own
                        // gets it; any other code is a decline that shows the code, never a
                        // fallback to offline (PROTOCOL.md, "Host response codes").
                        let reason = match code {
                            response_code::INSUFFICIENT_FUNDS => Reason::InsufficientFunds,
                            response_code::BLOCKED => Reason::CardBlocked,
                            response_code::EXPIRED => Reason::CardExpired,
                            response_code::ISSUER_UNAVAILABLE => Reason::IssuerUnavailable,
                            other => Reason::HostDeclined(other),
                        };
                        // An approval with a condition this terminal cannot meet (partial
                        // amount, identification): the host may hold the funds, so the decline
                        // is followed by a stored reversal (PBS-03), as for a lost answer.
                        if response_code::CONDITIONAL_APPROVALS.contains(&code)
                            && matches!(
                                txn.kind,
                                TxnKind::Purchase | TxnKind::Refund | TxnKind::PreAuthorisation
                            )
                        {
                            self.unresolved = Some(txn.seq);
                        }
                        self.finish(txn, Outcome::Declined, reason, TxnStatus::Declined)
                    }
                }
                // No usable answer: the host is unreachable, so try offline (NETS-01). If the
                // request may have reached the host, the outcome must be resolved with it.
                other => {
                    if !matches!(other, Err(HostUnreachable::NotSent))
                        && matches!(
                            txn.kind,
                            TxnKind::Purchase | TxnKind::Refund | TxnKind::PreAuthorisation
                        )
                    {
                        self.unresolved = Some(txn.seq);
                    }
                    self.after_no_answer(txn)
                }
            },
            State::Reconciling { mut totals } => {
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
            State::FetchingBlockList { after } => match result {
                Ok(HostResponse::BlockList { pans }) => {
                    self.set_blocked(pans.0);
                    self.forward_next(after)
                }
                _ => self.forwarding_failed(after),
            },
            State::Forwarding { rec, after } => match result {
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
            },
            _ => self.wrong_state(),
        }
    }

    /// The host gave no usable answer: purchases try offline (NETS-01); captures and reversals
    /// were authorised already and are stored; refunds and pre-authorisations need the host.
    fn after_no_answer(&mut self, txn: Txn) -> Step<'_> {
        match txn.kind {
            TxnKind::Purchase => self.offline(txn, false),
            // Already authorised: store and forward (CARD-06, PBS-03).
            TxnKind::Capture | TxnKind::Reversal => self.store_follow_up(txn),
            TxnKind::Refund | TxnKind::PreAuthorisation => self.finish(
                txn,
                Outcome::Declined,
                Reason::OnlineOnly,
                TxnStatus::Declined,
            ),
        }
    }

    /// The offline decision once the host is known unreachable (or forced offline).
    fn offline(&mut self, txn: Txn, forced: bool) -> Step<'_> {
        let facts = match self.attempt(&txn, forced && !txn.forced_offline) {
            Ok(f) => f,
            Err(e) => return self.storage_fault(e),
        };
        match limits::route(&self.cfg.limits, &facts) {
            Ok(Route::Reserve) => {
                self.state = State::AwaitingReserve(txn);
                Step::Reply(Response::Accepted {
                    awaiting: Awaiting::ReserveDetails,
                })
            }
            Ok(_) => {
                // EMV offline approval codes: Y1 offline by choice, Y3 unable to go online.
                self.set_auth(if txn.forced_offline { "Y1" } else { "Y3" });
                self.approve_stored(txn, None)
            }
            Err(reason) => self.finish(txn, Outcome::Declined, reason, TxnStatus::Declined),
        }
    }

    fn approve_stored(&mut self, txn: Txn, note: Option<&ReserveDetails<'_>>) -> Step<'_> {
        if self.journal.pending_len() == 0 {
            self.next_forward_at = self.now + i64::from(self.cfg.forward_retry_s);
        }
        self.finish_with(
            txn,
            Outcome::ApprovedOffline,
            Reason::Approved,
            TxnStatus::ApprovedOffline,
            note,
        )
    }

    /// BankAxept reserve: the debit-note checks, then store or reverse (BAX-02..08).
    fn reserve(&mut self, txn: Txn, note: &ReserveDetails<'_>) -> Step<'_> {
        match reserve::check_note(&self.cfg.limits, txn.amount, note, txn.card.account()) {
            Ok(()) => {
                self.set_auth(if note.phone_auth_code.is_empty() {
                    "R"
                } else {
                    note.phone_auth_code
                });
                self.approve_stored(txn, Some(note))
            }
            // BAX-07: a check failed or could not be done; the payment is reversed.
            Err(reason) => self.finish(txn, Outcome::Declined, reason, TxnStatus::Declined),
        }
    }

    fn set_auth(&mut self, code: &str) {
        let n = code.len().min(6);
        self.auth = [b' '; 6];
        self.auth[..n].copy_from_slice(&code.as_bytes()[..n]);
        self.auth_len = n;
    }

    fn receipt_data<'s>(
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

    fn finish(
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
    fn finish_with(
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
        let (outcome, reason) = match self.journal.record(&rec) {
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

    /// The host may have approved an authorisation whose answer never arrived, while the
    /// terminal ended the transaction declined: a reversal is stored and forwarded, so the
    /// cardholder is not charged (PBS-03). If the journal is full it cannot be stored; the
    /// host's own timeout reversal is then the only safeguard.
    fn store_reversal_of(&mut self, original: &Txn) -> Result<(), ()> {
        match self.journal.ensure_room() {
            Ok(()) => {}
            Err(JournalError::Flash(FlashError::PowerLost)) => return Err(()),
            Err(_) => return Ok(()),
        }
        if self.journal.pending_len() == 0 {
            self.next_forward_at = self.now + i64::from(self.cfg.forward_retry_s);
        }
        let reversal = Txn {
            seq: self.journal.take_seq(),
            kind: TxnKind::Reversal,
            related_seq: original.seq,
            tip_minor: 0,
            forced_offline: false,
            pin_verified: false,
            ..*original
        };
        let mut rec = self.record_of(&reversal, TxnStatus::ApprovedOffline, Reason::Approved);
        rec.auth_code = *b"UNRES ";
        match self.journal.record(&rec) {
            Err(JournalError::Flash(FlashError::PowerLost)) => Err(()),
            _ => Ok(()),
        }
    }

    fn record_of(&self, txn: &Txn, status: TxnStatus, reason: Reason) -> TxnRecord {
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
    fn render_and_reply(
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

    fn reply_done(&self, txn: Txn, outcome: Outcome, reason: Reason) -> Step<'_> {
        Step::Reply(Response::Done(TxnResult {
            outcome,
            reason,
            txn_seq: txn.seq,
            auth_code: core::str::from_utf8(&self.auth[..self.auth_len]).unwrap_or(""),
            receipt: self.receipt.as_str(),
        }))
    }

    /// A forwarding round: fetch the blocked-card list (CARD-10), then send every pending item.
    fn start_forwarding(&mut self, after: After) -> Step<'_> {
        if !matches!(self.state, State::Idle) {
            return self.after(after);
        }
        self.state = State::FetchingBlockList { after };
        Step::Host(HostRequest::FetchBlockList {
            terminal_id: self.cfg.identity.terminal_id,
        })
    }

    fn forwarding_failed(&mut self, after: After) -> Step<'_> {
        self.next_forward_at = self.now + i64::from(self.cfg.forward_retry_s);
        self.state = State::Idle;
        self.after(after)
    }

    fn forward_next(&mut self, after: After) -> Step<'_> {
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
                self.state = State::Forwarding { rec, after };
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
                }))
            }
            Ok(None) => {
                self.state = State::Idle;
                self.after(after)
            }
            Err(e) => self.storage_fault(e),
        }
    }

    fn after(&mut self, after: After) -> Step<'_> {
        match after {
            After::Clock => Step::Reply(Response::Clock { unix_s: self.now }),
            After::Queue => self.queue_status(),
        }
    }

    fn queue_status(&mut self) -> Step<'_> {
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
            if self.now - r.local_time > i64::from(deadline) {
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
}
#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::flash::NorFlash;
    use payhil_protocol::{Currency, IdType, PinText};
    use std::vec;

    fn cfg() -> Config<'static> {
        Config {
            identity: Identity {
                model: "T",
                serial: "S",
                firmware_version: "0",
                build_hash: "0",
                terminal_id: "TERM0001",
                merchant_id: "M1",
            },
            merchant_name: "SHOP",
            limits: Limits::default(),
            forward_retry_s: 60,
            forward_deadline_s: TWO_WEEKS_S,
            reserve_deadline_s: TWO_WEEKS_S,
        }
    }

    const DANKORT: &str = "5019100000000006";
    const BANKAXEPT: &str = "7000000000000005";
    const ACCOUNT: &str = "12345678903";

    fn card(pan: &'static str, network: Network, entry_mode: EntryMode) -> CardData<'static> {
        let account = if network == Network::BankAxept {
            ACCOUNT
        } else {
            ""
        };
        CardData {
            entry_mode,
            network,
            pan: PanText(pan),
            expiry: Expiry {
                year: 2030,
                month: 12,
            },
            pan_seq: 1,
            account,
        }
    }

    type T<'m> = Terminal<'static, NorFlash<&'m mut [u8]>>;

    fn boot(mem: &mut [u8]) -> T<'_> {
        boot_with(cfg(), mem)
    }

    fn boot_with<'m>(c: Config<'static>, mem: &'m mut [u8]) -> T<'m> {
        let mut t = Terminal::boot(c, NorFlash::new(mem, 4096)).unwrap();
        t.handle(&Request::SetClock {
            unix_s: 1_800_000_000,
        });
        t
    }

    /// Drives a purchase up to the point where the terminal wants the host or has finished.
    fn start(
        t: &mut T<'_>,
        amount: Amount,
        c: CardData<'static>,
        pin: Option<&'static str>,
    ) -> Option<Response<'static>> {
        assert!(matches!(
            t.handle(&Request::StartPurchase {
                amount,
                forced_offline: false
            }),
            Step::Reply(Response::Accepted { .. })
        ));
        let step = t.handle(&Request::PresentCard(c));
        let step = match (step, pin) {
            (
                Step::Reply(Response::Accepted {
                    awaiting: Awaiting::Pin,
                }),
                Some(p),
            ) => t.handle(&Request::EnterPin(PinText(p))),
            (other, _) => other,
        };
        match step {
            Step::Host(_) => None,
            Step::Reply(r) => Some(strip(r)),
            Step::Halt => panic!("halt"),
        }
    }

    /// Keeps what the tests look at, without the borrow of the terminal.
    fn strip(r: Response<'_>) -> Response<'static> {
        match r {
            Response::Done(d) => {
                assert!(
                    !d.receipt.contains(DANKORT) && !d.receipt.contains(BANKAXEPT),
                    "PCI-01: {}",
                    d.receipt
                );
                assert!(
                    !d.receipt.contains("2030-12") && !d.receipt.contains("12/30"),
                    "BAX-05: no expiry"
                );
                Response::Done(TxnResult {
                    receipt: "",
                    auth_code: "",
                    ..d
                })
            }
            Response::Accepted { awaiting } => Response::Accepted { awaiting },
            Response::Queue(q) => Response::Queue(q),
            other => panic!("{other:?}"),
        }
    }

    fn outcome(r: Option<Response<'_>>) -> (Outcome, Reason) {
        match r {
            Some(Response::Done(d)) => (d.outcome, d.reason),
            other => panic!("{other:?}"),
        }
    }

    fn dkk(minor: u64) -> Amount {
        Amount {
            minor,
            currency: Currency::DKK,
        }
    }

    fn offline_purchase(t: &mut T<'_>, minor: u64) -> (Outcome, Reason, u32) {
        assert!(
            start(
                t,
                dkk(minor),
                card(DANKORT, Network::Dankort, EntryMode::Chip),
                Some("1234")
            )
            .is_none()
        );
        match t.host_result(Err(HostUnreachable::NotSent)) {
            Step::Reply(Response::Done(r)) => (r.outcome, r.reason, r.txn_seq),
            other => panic!("{other:?}"),
        }
    }

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

    #[test]
    fn card_02_contactless_above_the_cvm_limit_asks_for_the_pin() {
        let mut mem = vec![0xFFu8; 16 * 4096];
        let mut t = boot(&mut mem);
        let tap = card(DANKORT, Network::Dankort, EntryMode::Contactless);
        assert_eq!(
            start(&mut t, dkk(350_00), tap, None),
            None,
            "below the limit: straight to the host"
        );
        t.host_result(Ok(HostResponse::AuthResult {
            txn_seq: 2,
            response_code: response_code::APPROVED,
            auth_code: "1",
        }));
        assert_eq!(
            start(&mut t, dkk(350_01), tap, None),
            Some(Response::Accepted {
                awaiting: Awaiting::Pin
            })
        );
    }

    #[test]
    fn card_03_valid_through_the_last_day_of_the_expiry_month() {
        let mut mem = vec![0xFFu8; 16 * 4096];
        let mut t = boot(&mut mem);
        let mut c = card(DANKORT, Network::Dankort, EntryMode::Chip);
        c.expiry = Expiry {
            year: 2027,
            month: 2,
        };
        t.handle(&Request::SetClock {
            unix_s: 1_803_859_199,
        }); // 2027-02-28T23:59:59Z
        assert_eq!(start(&mut t, dkk(100), c, Some("1234")), None);
        t.host_result(Ok(HostResponse::AuthResult {
            txn_seq: 2,
            response_code: response_code::APPROVED,
            auth_code: "1",
        }));
        t.handle(&Request::SetClock {
            unix_s: 1_803_859_200,
        }); // 2027-03-01T00:00:00Z
        assert_eq!(
            outcome(start(&mut t, dkk(100), c, Some("1234"))),
            (Outcome::Declined, Reason::CardExpired)
        );
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
    fn support_03_unreadable_chip_then_fallback_only_online() {
        let mut mem = vec![0xFFu8; 16 * 4096];
        let mut t = boot(&mut mem);
        t.handle(&Request::StartPurchase {
            amount: dkk(100_00),
            forced_offline: false,
        });
        assert!(matches!(
            t.handle(&Request::ChipUnreadable),
            Step::Reply(Response::Accepted {
                awaiting: Awaiting::Card
            })
        ));
        t.handle(&Request::PresentCard(card(
            DANKORT,
            Network::Dankort,
            EntryMode::Magstripe,
        )));
        assert!(matches!(
            t.handle(&Request::EnterPin(PinText("1234"))),
            Step::Host(_)
        ));
        let Step::Reply(Response::Done(r)) = t.host_result(Err(HostUnreachable::NotSent)) else {
            panic!()
        };
        assert_eq!(
            (r.outcome, r.reason),
            (Outcome::Declined, Reason::FallbackOnlineOnly)
        );
    }

    fn reserve_until_details(t: &mut T<'_>, minor: u64) {
        let nok = Amount {
            minor,
            currency: Currency::NOK,
        };
        assert!(
            start(
                t,
                nok,
                card(BANKAXEPT, Network::BankAxept, EntryMode::Chip),
                Some("1234")
            )
            .is_none()
        );
        assert!(matches!(
            t.host_result(Err(HostUnreachable::NotSent)),
            Step::Reply(Response::Accepted {
                awaiting: Awaiting::ReserveDetails
            })
        ));
    }

    #[test]
    fn bax_02_reserve_payment_prints_a_debit_note_and_is_stored() {
        let mut mem = vec![0xFFu8; 16 * 4096];
        let mut t = boot(&mut mem);
        reserve_until_details(&mut t, 300_00);
        let note = ReserveDetails {
            attendant_present: true,
            id_type: IdType::DriversLicence,
            id_reference: "12345678901",
            note_account: ACCOUNT,
            phone_auth_code: "",
        };
        let Step::Reply(Response::Done(r)) = t.handle(&Request::EnterReserveDetails(note)) else {
            panic!()
        };
        assert_eq!(r.outcome, Outcome::ApprovedOffline);
        for want in [
            "DEBIT NOTE",
            "DRIVING LICENCE",
            "12345678901",
            ACCOUNT,
            "NOK 300.00",
            "SIGNATURE",
            "700000******0005",
        ] {
            assert!(
                r.receipt.contains(want),
                "{want} missing from\n{}",
                r.receipt
            );
        }
        assert!(!r.receipt.contains("2030"), "BAX-05: no expiry on the note");
        let Step::Reply(Response::Queue(q)) = t.handle(&Request::QueueStatus) else {
            panic!()
        };
        assert_eq!(q.pending, 1);
        // BAX-10: two weeks later the item is overdue.
        t.handle(&Request::SetClock {
            unix_s: 1_800_000_000 + i64::from(TWO_WEEKS_S) + 1,
        });
        let Step::Reply(Response::Queue(q)) = t.handle(&Request::QueueStatus) else {
            panic!()
        };
        assert_eq!(q.overdue, 1);
    }

    #[test]
    fn bax_07_a_failed_note_check_reverses_the_payment() {
        let mut mem = vec![0xFFu8; 16 * 4096];
        let mut t = boot(&mut mem);
        reserve_until_details(&mut t, 3_000_00);
        let note = ReserveDetails {
            attendant_present: true,
            id_type: IdType::Passport,
            id_reference: "12345678",
            note_account: ACCOUNT,
            phone_auth_code: "",
        };
        let Step::Reply(Response::Done(r)) = t.handle(&Request::EnterReserveDetails(note)) else {
            panic!()
        };
        assert_eq!(
            (r.outcome, r.reason),
            (Outcome::Declined, Reason::ReserveAuthCodeRequired)
        );
        let Step::Reply(Response::Queue(q)) = t.handle(&Request::QueueStatus) else {
            panic!()
        };
        assert_eq!(q.pending, 0, "nothing stored");
    }

    fn txn(t: &mut T<'_>, kind: TxnKind, minor: u64, tip: u64, reference: u32) -> Step<'static> {
        let step = t.handle(&Request::StartTransaction {
            kind,
            amount: dkk(minor),
            tip_minor: tip,
            forced_offline: false,
            reference,
        });
        match step {
            Step::Reply(r) => Step::Reply(strip(r)),
            Step::Host(HostRequest::Authorise(d)) => {
                assert_eq!((d.kind, d.related_seq), (kind, reference));
                Step::Host(HostRequest::FetchBlockList { terminal_id: "" })
            }
            other => panic!("{other:?}"),
        }
    }

    /// Starts a card transaction (no reference) and presents the Dankort chip.
    fn start_dankort<'t>(t: &'t mut T<'_>, kind: TxnKind, minor: u64, tip: u64) -> Step<'t> {
        t.handle(&Request::StartTransaction {
            kind,
            amount: dkk(minor),
            tip_minor: tip,
            forced_offline: false,
            reference: 0,
        });
        t.handle(&Request::PresentCard(card(
            DANKORT,
            Network::Dankort,
            EntryMode::Chip,
        )))
    }

    fn approve(t: &mut T<'_>, seq: u32) -> (Outcome, Reason, std::string::String) {
        match t.host_result(Ok(HostResponse::AuthResult {
            txn_seq: seq,
            response_code: response_code::APPROVED,
            auth_code: "123456",
        })) {
            Step::Reply(Response::Done(d)) => (d.outcome, d.reason, d.receipt.into()),
            other => panic!("{other:?}"),
        }
    }

    fn totals(t: &mut T<'_>) -> payhil_protocol::SettlementTotals {
        assert!(matches!(
            t.handle(&Request::Reconcile),
            Step::Host(HostRequest::Reconcile { .. })
        ));
        match t.host_result(Err(HostUnreachable::NotSent)) {
            Step::Reply(Response::Totals(x)) => x,
            other => panic!("{other:?}"),
        }
    }

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
        assert_eq!(totals(&mut t).dankort.minor, 225_00);
    }

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
                tot.dankort.count,
                tot.dankort.refund_count,
                tot.dankort.refund_minor
            ),
            (0, 1, 80_00)
        );
        // Host down: declined, not stored.
        start_dankort(&mut t, TxnKind::Refund, 80_00, 0);
        let Step::Reply(Response::Done(r)) = t.host_result(Err(HostUnreachable::NotSent)) else {
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
            totals(&mut t).dankort.count,
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
        assert_eq!((tot.dankort.count, tot.dankort.minor), (1, 420_00));
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
            totals(&mut t).dankort.count,
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
        let Step::Reply(Response::Done(r)) = t.host_result(Err(HostUnreachable::NotSent)) else {
            panic!()
        };
        assert_eq!(r.outcome, Outcome::ApprovedOffline);
        assert_eq!(
            totals(&mut t).dankort.count,
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
    fn card_01_a_co_badged_card_is_paid_on_the_chosen_network() {
        let mut mem = vec![0xFFu8; 16 * 4096];
        let mut t = boot(&mut mem);
        let mut c = card("4571100000000009", Network::Visa, EntryMode::Chip);
        assert!(start(&mut t, dkk(100_00), c, Some("1234")).is_none());
        let (_, _, receipt) = approve(&mut t, 2);
        assert!(receipt.contains("VISA"), "{receipt}");
        c.network = Network::Dankort;
        assert!(start(&mut t, dkk(100_00), c, Some("1234")).is_none());
        let (_, _, receipt) = approve(&mut t, 3);
        assert!(receipt.contains("DANKORT"), "{receipt}");
        let tot = totals(&mut t);
        assert_eq!(
            (tot.visa.count, tot.dankort.count),
            (1, 1),
            "batches kept apart (CARD-09)"
        );
    }

    #[test]
    fn card_04_gambling_daily_maximum_counts_the_days_purchases() {
        let mut mem = vec![0xFFu8; 16 * 4096];
        let mut c = cfg();
        c.limits.gambling_daily_max_minor = Some(1_000_00);
        let mut t = boot_with(c, &mut mem);
        let k = card(DANKORT, Network::Dankort, EntryMode::Chip);
        assert!(start(&mut t, dkk(600_00), k, Some("1234")).is_none());
        assert_eq!(approve(&mut t, 2).0, Outcome::ApprovedOnline);
        assert_eq!(
            outcome(start(&mut t, dkk(400_01), k, Some("1234"))),
            (Outcome::Declined, Reason::GamblingDailyLimit)
        );
        assert!(
            start(&mut t, dkk(400_00), k, Some("1234")).is_none(),
            "exactly at the maximum"
        );
        assert_eq!(approve(&mut t, 4).0, Outcome::ApprovedOnline);
        // The next day the card may play again.
        t.handle(&Request::AdvanceClock { secs: 86_400 });
        assert!(start(&mut t, dkk(900_00), k, Some("1234")).is_none());
    }

    #[test]
    fn a_card_number_failing_luhn_is_unreadable_card_data() {
        let mut mem = vec![0xFFu8; 16 * 4096];
        let mut t = boot(&mut mem);
        let bad = card("5019100000000007", Network::Dankort, EntryMode::Chip);
        assert_eq!(
            outcome(start(&mut t, dkk(100), bad, None)),
            (Outcome::Aborted, Reason::CardDataInvalid)
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
        t.host_result(Err(HostUnreachable::NotSent));
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
        assert_eq!(totals(&mut t).dankort.count, 0);
    }

    fn declined_by(t: &mut T<'_>, code: &[u8; 2]) -> (Outcome, Reason, std::string::String) {
        assert!(
            start(
                t,
                dkk(100_00),
                card(DANKORT, Network::Dankort, EntryMode::Chip),
                Some("1234")
            )
            .is_none()
        );
        let seq = t.journal.next_seq() - 1;
        match t.host_result(Ok(HostResponse::AuthResult {
            txn_seq: seq,
            response_code: payhil_protocol::host_link::ResponseCode(*code),
            auth_code: "",
        })) {
            Step::Reply(Response::Done(d)) => (d.outcome, d.reason, d.receipt.into()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn issue_9_an_unknown_host_code_is_a_decline_showing_the_code_never_offline() {
        let mut mem = vec![0xFFu8; 16 * 4096];
        let mut t = boot(&mut mem);
        for code in [b"N7", b"05", b"94", b"Z1"] {
            let (outcome, reason, receipt) = declined_by(&mut t, code);
            let text = core::str::from_utf8(code).unwrap();
            assert_eq!(
                (outcome, reason),
                (
                    Outcome::Declined,
                    Reason::HostDeclined(payhil_protocol::host_link::ResponseCode(*code))
                ),
                "{text}"
            );
            assert!(
                receipt.contains(&std::format!("RESPONSE CODE {text}")),
                "{receipt}"
            );
        }
        let Step::Reply(Response::Queue(q)) = t.handle(&Request::QueueStatus) else {
            panic!()
        };
        assert_eq!(q.pending, 0, "no offline approval, nothing to reverse");
        // The code is journaled with the decline (SUPPORT-02).
        let mut reasons = std::vec::Vec::new();
        t.journal
            .for_each(|f| reasons.push(f.record.reason))
            .unwrap();
        assert!(reasons.contains(&Reason::HostDeclined(
            payhil_protocol::host_link::ResponseCode(*b"N7")
        )));
    }

    #[test]
    fn issue_9_a_conditional_approval_is_declined_and_reversed() {
        let mut mem = vec![0xFFu8; 16 * 4096];
        let mut t = boot(&mut mem);
        let (outcome, reason, _) = declined_by(&mut t, b"10");
        assert_eq!(outcome, Outcome::Declined);
        assert_eq!(
            reason,
            Reason::HostDeclined(payhil_protocol::host_link::ResponseCode(*b"10"))
        );
        t.handle(&Request::ForwardQueue);
        let Step::Host(HostRequest::Advice(d)) =
            t.host_result(Ok(HostResponse::BlockList { pans: PanList("") }))
        else {
            panic!()
        };
        assert_eq!((d.kind, d.related_seq), (TxnKind::Reversal, 2));
    }

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
        let Step::Reply(Response::Done(r)) = t.host_result(Err(HostUnreachable::NotSent)) else {
            panic!()
        };
        assert_eq!(r.outcome, Outcome::ApprovedOffline);
        let mut times = std::vec::Vec::new();
        t.journal
            .for_each(|f| times.push(f.record.local_time))
            .unwrap();
        assert_eq!(times, [*range.end()]);
    }

    /// A flash whose reads come back damaged once armed: the journal then contradicts itself.
    struct Damaging<'m> {
        inner: NorFlash<&'m mut [u8]>,
        armed: std::rc::Rc<core::cell::Cell<bool>>,
    }

    impl Flash for Damaging<'_> {
        fn size(&self) -> u32 {
            self.inner.size()
        }
        fn page_size(&self) -> u32 {
            self.inner.page_size()
        }
        fn read(&mut self, addr: u32, buf: &mut [u8]) -> Result<(), FlashError> {
            self.inner.read(addr, buf)?;
            if self.armed.get() {
                buf.iter_mut().for_each(|b| *b ^= 0x5A);
            }
            Ok(())
        }
        fn program(&mut self, addr: u32, data: &[u8]) -> Result<(), FlashError> {
            self.inner.program(addr, data)
        }
        fn erase_page(&mut self, page: u32) -> Result<(), FlashError> {
            self.inner.erase_page(page)
        }
    }

    #[test]
    fn issue_9_an_inconsistent_journal_is_its_own_error_not_a_power_loss() {
        let mut mem = vec![0xFFu8; 16 * 4096];
        let armed = std::rc::Rc::new(core::cell::Cell::new(false));
        let flash = Damaging {
            inner: NorFlash::new(&mut mem[..], 4096),
            armed: armed.clone(),
        };
        let mut t = Terminal::boot(cfg(), flash).unwrap();
        t.handle(&Request::SetClock {
            unix_s: 1_800_000_000,
        });
        t.handle(&Request::StartPurchase {
            amount: dkk(100_00),
            forced_offline: false,
        });
        t.handle(&Request::PresentCard(card(
            DANKORT,
            Network::Dankort,
            EntryMode::Chip,
        )));
        t.handle(&Request::EnterPin(PinText("1234")));
        let Step::Reply(Response::Done(r)) = t.host_result(Err(HostUnreachable::NotSent)) else {
            panic!()
        };
        assert_eq!(r.outcome, Outcome::ApprovedOffline);
        armed.set(true);
        match t.handle(&Request::QueueStatus) {
            Step::Reply(Response::Rejected(RequestError::StorageFault)) => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(t.take_storage_fault(), Some(JournalError::Inconsistent));
        // The terminal is still alive and says so when asked.
        armed.set(false);
        assert!(matches!(
            t.handle(&Request::Ping { nonce: 1 }),
            Step::Reply(Response::Pong { nonce: 1 })
        ));
    }

    /// RAM storage whose writes fail once armed (a flash file that cannot be written).
    struct FailingWrites {
        mem: std::vec::Vec<u8>,
        fail: std::rc::Rc<core::cell::Cell<bool>>,
    }

    impl crate::flash::Storage for FailingWrites {
        fn bytes(&self) -> &[u8] {
            &self.mem
        }
        fn write(&mut self, offset: usize, data: &[u8]) -> Result<(), FlashError> {
            if self.fail.get() {
                return Err(FlashError::WriteFailed);
            }
            self.mem[offset..offset + data.len()].copy_from_slice(data);
            Ok(())
        }
    }

    #[test]
    fn issue_9_a_flash_write_error_reaches_the_core_and_nothing_is_approved() {
        let fail = std::rc::Rc::new(core::cell::Cell::new(false));
        let storage = FailingWrites {
            mem: vec![0xFFu8; 16 * 4096],
            fail: fail.clone(),
        };
        let mut t = Terminal::boot(cfg(), NorFlash::new(storage, 4096)).unwrap();
        t.handle(&Request::SetClock {
            unix_s: 1_800_000_000,
        });
        let c = card(DANKORT, Network::Dankort, EntryMode::Chip);
        for online in [false, true] {
            t.handle(&Request::StartPurchase {
                amount: dkk(100_00),
                forced_offline: false,
            });
            t.handle(&Request::PresentCard(c));
            let Step::Host(HostRequest::Authorise(d)) =
                t.handle(&Request::EnterPin(PinText("1234")))
            else {
                panic!()
            };
            let seq = d.txn_seq;
            fail.set(true);
            let answer = if online {
                Ok(HostResponse::AuthResult {
                    txn_seq: seq,
                    response_code: response_code::APPROVED,
                    auth_code: "123456",
                })
            } else {
                Err(HostUnreachable::NotSent)
            };
            let Step::Reply(Response::Done(r)) = t.host_result(answer) else {
                panic!("a write error is not a power loss")
            };
            assert_eq!(
                (r.outcome, r.reason),
                (Outcome::Declined, Reason::StorageFailure),
                "online: {online}"
            );
            assert_eq!(
                t.take_storage_fault(),
                Some(JournalError::Flash(FlashError::WriteFailed))
            );
            fail.set(false);
        }
        let Step::Reply(Response::Queue(q)) = t.handle(&Request::QueueStatus) else {
            panic!()
        };
        assert_eq!(q.pending, 0, "nothing was approved offline");
    }

    #[test]
    fn footprint() {
        use core::mem::size_of;
        let state = size_of::<Terminal<'static, NorFlash<&'static mut [u8]>>>();
        // Reported in the issue note; a generous bound keeps it from growing unnoticed.
        assert!(state < 8 * 1024, "terminal state is {state} bytes");
        std::println!(
            "size_of Terminal: {state} bytes; flash per queued transaction: {} bytes",
            crate::journal::SLOT
        );
    }
}
