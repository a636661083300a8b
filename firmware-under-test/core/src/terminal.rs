//! The terminal state machine (sans-IO).
//!
//! The emulator (or a vendor's test firmware) feeds it test-agent requests with
//! [`Terminal::handle`] and host results with [`Terminal::host_result`]; each returns a [`Step`]:
//! a response to send back, a message to send to the host (whose result comes back through
//! `host_result`), or `Halt` when the flash lost power.

use crate::flash::{Flash, FlashError};
use crate::journal::{Journal, JournalError, StoredPan, TxnRecord, TxnStatus};
use crate::limits::{OfflineAttempt, OfflineLimits, offline_decision};
use crate::receipt::{self, ReceiptData};
use crate::text::TextBuf;
use payhil_protocol::host_link::{HostRequest, HostResponse, TxnData, response_code};
use payhil_protocol::{
    Amount, Awaiting, CardData, DeviceInfo, EntryMode, Expiry, Identity, Network, Outcome,
    PROTOCOL_VERSION, PanText, QueueStatus, Reason, Request, RequestError, Response, TxnResult,
};

/// Capacity of the offline queue (pending index).
pub const MAX_PENDING: usize = 1024;

/// Static configuration of a terminal.
#[derive(Debug, Clone, Copy)]
pub struct Config<'a> {
    /// Model, serial, versions and acquirer ids, reported in Hello.
    pub identity: Identity<'a>,
    /// Merchant name printed on receipts.
    pub merchant_name: &'a str,
    /// Offline limits (NETS-03, NETS-04).
    pub offline: OfflineLimits,
    /// Seconds between attempts to forward the offline queue.
    pub forward_retry_s: u32,
}

/// What the caller must do next.
#[derive(Debug)]
pub enum Step<'s> {
    /// Send this response to the request being handled.
    Reply(Response<'s>),
    /// Send this to the host and pass its result to [`Terminal::host_result`].
    Host(HostRequest<'s>),
    /// The flash lost power: the terminal is dead until it boots again.
    Halt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NoRoom {
    Full,
    PowerLost,
}

/// The host exchange failed: no connection, reset, or no answer in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostUnreachable;

#[derive(Debug, Clone, Copy)]
struct Card {
    pan: StoredPan,
    expiry: Expiry,
    pan_seq: u8,
    network: Network,
    entry_mode: EntryMode,
}

#[derive(Debug, Clone, Copy)]
struct Txn {
    seq: u32,
    amount: Amount,
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
        amount: Amount,
        forced_offline: bool,
    },
    AwaitingPin(Txn),
    AwaitingHost(Txn),
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
    receipt: TextBuf<1024>,
    auth: [u8; 6],
    auth_len: usize,
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

impl<'a, F: Flash> Terminal<'a, F> {
    /// Boots: mounts the journal (recovering the offline queue) and starts idle.
    pub fn boot(cfg: Config<'a>, flash: F) -> Result<Self, JournalError> {
        Ok(Self {
            cfg,
            journal: Journal::mount(flash)?,
            now: 0,
            state: State::Idle,
            next_forward_at: 0,
            receipt: TextBuf::new(),
            auth: [b' '; 6],
            auth_len: 0,
        })
    }

    /// Power-ups since format, including this one.
    pub fn boot_count(&self) -> u32 {
        self.journal.boot_count()
    }

    /// What the terminal waits for.
    pub fn awaiting(&self) -> Awaiting {
        match self.state {
            State::AwaitingCard { .. } => Awaiting::Card,
            State::AwaitingPin(_) => Awaiting::Pin,
            _ => Awaiting::Nothing,
        }
    }

    fn wrong_state(&self) -> Step<'_> {
        Step::Reply(Response::Rejected(RequestError::WrongState {
            awaiting: self.awaiting(),
        }))
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
                self.now = unix_s;
                Step::Reply(Response::Clock { unix_s })
            }
            Request::AdvanceClock { secs } => {
                self.now += i64::from(secs);
                if self.now >= self.next_forward_at {
                    self.start_forwarding(After::Clock)
                } else {
                    Step::Reply(Response::Clock { unix_s: self.now })
                }
            }
            Request::StartPurchase {
                amount,
                forced_offline,
            } => {
                if !matches!(self.state, State::Idle) {
                    return self.wrong_state();
                }
                if amount.minor == 0 || amount.currency.alpha() == "XXX" {
                    return Step::Reply(Response::Rejected(RequestError::BadAmount));
                }
                self.state = State::AwaitingCard {
                    amount,
                    forced_offline,
                };
                Step::Reply(Response::Accepted {
                    awaiting: Awaiting::Card,
                })
            }
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
            Request::Cancel => match self.state {
                State::AwaitingCard { .. } | State::AwaitingPin(_) => {
                    self.state = State::Idle;
                    self.receipt.clear();
                    self.auth_len = 0;
                    Step::Reply(Response::Done(TxnResult {
                        outcome: Outcome::Aborted,
                        reason: Reason::Cancelled,
                        txn_seq: 0,
                        auth_code: "",
                        receipt: "",
                    }))
                }
                _ => self.wrong_state(),
            },
            Request::QueueStatus => self.queue_status(),
            Request::ForwardQueue => self.start_forwarding(After::Queue),
            Request::PowerCut => Step::Reply(Response::PoweringOff),
        }
    }

    fn present_card(&mut self, c: &CardData<'_>) -> Step<'_> {
        let State::AwaitingCard {
            amount,
            forced_offline,
        } = self.state
        else {
            return self.wrong_state();
        };
        let card = match StoredPan::from_ascii(c.pan.0) {
            Some(pan) if luhn_ok(pan.as_str()) && (1..=12).contains(&c.expiry.month) => Card {
                pan,
                expiry: c.expiry,
                pan_seq: c.pan_seq,
                network: c.network,
                entry_mode: c.entry_mode,
            },
            _ => {
                self.state = State::Idle;
                self.receipt.clear();
                self.auth_len = 0;
                return Step::Reply(Response::Done(TxnResult {
                    outcome: Outcome::Aborted,
                    reason: Reason::CardDataInvalid,
                    txn_seq: 0,
                    auth_code: "",
                    receipt: "",
                }));
            }
        };
        // The sequence number is taken when the transaction is decided (see `claim_seq`).
        let txn = Txn {
            seq: 0,
            amount,
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
        match c.entry_mode {
            EntryMode::Chip | EntryMode::Magstripe => {
                self.state = State::AwaitingPin(txn);
                Step::Reply(Response::Accepted {
                    awaiting: Awaiting::Pin,
                })
            }
            // Contactless and wallets go straight to authorisation (CVM on the device).
            EntryMode::Contactless | EntryMode::Wallet => self.authorise(txn),
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
            Err(JournalError::Flash(FlashError::PowerLost)) => Err(NoRoom::PowerLost),
            Err(_) => Err(NoRoom::Full),
        }
    }

    /// Nothing more can be journaled until the queue is forwarded: refuse before the host or
    /// the cardholder is involved.
    fn refuse(&mut self, why: NoRoom) -> Step<'_> {
        if why == NoRoom::PowerLost {
            return Step::Halt;
        }
        self.state = State::Idle;
        self.receipt.clear();
        self.auth_len = 0;
        Step::Reply(Response::Done(TxnResult {
            outcome: Outcome::Declined,
            reason: Reason::OfflineQueueFull,
            txn_seq: 0,
            auth_code: "",
            receipt: "",
        }))
    }

    fn authorise(&mut self, txn: Txn) -> Step<'_> {
        let txn = match self.claim_seq(txn) {
            Ok(t) => t,
            Err(why) => return self.refuse(why),
        };
        if txn.forced_offline {
            return self.offline(txn); // NETS-02
        }
        self.state = State::AwaitingHost(txn);
        let State::AwaitingHost(ref t) = self.state else {
            unreachable!()
        };
        Step::Host(HostRequest::Authorise(self.cfg_txn_data(t)))
    }

    fn cfg_txn_data<'s>(&'s self, t: &'s Txn) -> TxnData<'s> {
        TxnData {
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
                    if code == response_code::APPROVED {
                        self.finish(
                            txn,
                            Outcome::ApprovedOnline,
                            Reason::Approved,
                            TxnStatus::ApprovedOnline,
                        )
                    } else {
                        let reason = match code {
                            response_code::INSUFFICIENT_FUNDS => Reason::InsufficientFunds,
                            response_code::BLOCKED => Reason::CardBlocked,
                            response_code::EXPIRED => Reason::CardExpired,
                            response_code::ISSUER_UNAVAILABLE => Reason::IssuerUnavailable,
                            other => Reason::HostDeclined(other),
                        };
                        self.finish(txn, Outcome::Declined, reason, TxnStatus::Declined)
                    }
                }
                // No usable answer: the host is unreachable, so try offline (NETS-01).
                _ => self.offline(txn),
            },
            State::Forwarding { rec, after } => match result {
                Ok(HostResponse::AdviceAck {
                    txn_seq,
                    response_code: code,
                }) if txn_seq == rec.seq => {
                    let declined =
                        code != response_code::APPROVED && code != response_code::DUPLICATE;
                    match self.journal.acknowledge(rec.seq, declined) {
                        Ok(()) => self.forward_next(after),
                        Err(_) => Step::Halt,
                    }
                }
                _ => {
                    self.next_forward_at = self.now + i64::from(self.cfg.forward_retry_s);
                    self.state = State::Idle;
                    self.after(after)
                }
            },
            _ => self.wrong_state(),
        }
    }

    fn offline(&mut self, txn: Txn) -> Step<'_> {
        let exposure = match self.journal.pending_exposure(&txn.card.pan) {
            Ok(e) => e,
            Err(_) => return Step::Halt,
        };
        let attempt = OfflineAttempt {
            amount: txn.amount,
            network: txn.card.network,
            entry_mode: txn.card.entry_mode,
            pin_verified: txn.pin_verified,
            card_exposure_minor: exposure,
        };
        match offline_decision(&self.cfg.offline, &attempt) {
            Ok(()) => {
                // EMV offline approval codes: Y1 offline by choice, Y3 unable to go online.
                self.set_auth(if txn.forced_offline { "Y1" } else { "Y3" });
                if self.journal.pending_len() == 0 {
                    self.next_forward_at = self.now + i64::from(self.cfg.forward_retry_s);
                }
                self.finish(
                    txn,
                    Outcome::ApprovedOffline,
                    Reason::Approved,
                    TxnStatus::ApprovedOffline,
                )
            }
            Err(reason) => {
                self.auth_len = 0;
                self.finish(txn, Outcome::Declined, reason, TxnStatus::Declined)
            }
        }
    }

    fn set_auth(&mut self, code: &str) {
        let n = code.len().min(6);
        self.auth = [b' '; 6];
        self.auth[..n].copy_from_slice(&code.as_bytes()[..n]);
        self.auth_len = n;
    }

    /// Journals the transaction, then prints the receipt. The journal write comes first: an
    /// offline approval exists only once it is durable.
    fn finish(
        &mut self,
        txn: Txn,
        outcome: Outcome,
        reason: Reason,
        status: TxnStatus,
    ) -> Step<'_> {
        self.state = State::Idle;
        if outcome != Outcome::ApprovedOnline && outcome != Outcome::ApprovedOffline {
            self.auth_len = 0;
        }
        let rec = TxnRecord {
            seq: txn.seq,
            amount: txn.amount,
            status,
            network: txn.card.network,
            entry_mode: txn.card.entry_mode,
            pan: txn.card.pan,
            pan_seq: txn.card.pan_seq,
            local_time: self.now,
            auth_code: self.auth,
            reason,
        };
        let (outcome, reason) = match self.journal.record(&rec) {
            Ok(()) => (outcome, reason),
            Err(JournalError::Flash(FlashError::PowerLost)) => return Step::Halt,
            Err(_) if outcome == Outcome::ApprovedOffline => {
                (Outcome::Declined, Reason::OfflineQueueFull)
            }
            // The journal is only for history of online outcomes; the host has the authority.
            Err(_) => (outcome, reason),
        };
        if outcome == Outcome::Declined {
            self.auth_len = 0;
        }
        self.receipt.clear();
        let auth = core::str::from_utf8(&self.auth[..self.auth_len]).unwrap_or("");
        let data = ReceiptData {
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
        };
        if receipt::render(&mut self.receipt, &data).is_err() {
            self.receipt.clear();
        }
        Step::Reply(Response::Done(TxnResult {
            outcome,
            reason,
            txn_seq: txn.seq,
            auth_code: core::str::from_utf8(&self.auth[..self.auth_len]).unwrap_or(""),
            receipt: self.receipt.as_str(),
        }))
    }

    fn start_forwarding(&mut self, after: After) -> Step<'_> {
        if !matches!(self.state, State::Idle) {
            return self.after(after);
        }
        self.forward_next(after)
    }

    fn forward_next(&mut self, after: After) -> Step<'_> {
        match self.journal.pending(0) {
            Ok(Some(rec)) => {
                self.state = State::Forwarding { rec, after };
                let State::Forwarding { ref rec, .. } = self.state else {
                    unreachable!()
                };
                Step::Host(HostRequest::Advice(TxnData {
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
            Err(_) => Step::Halt,
        }
    }

    fn after(&mut self, after: After) -> Step<'_> {
        match after {
            After::Clock => Step::Reply(Response::Clock { unix_s: self.now }),
            After::Queue => self.queue_status(),
        }
    }

    fn queue_status(&mut self) -> Step<'_> {
        let Ok(total) = self.journal.pending_total() else {
            return Step::Halt;
        };
        Step::Reply(Response::Queue(QueueStatus {
            pending: self.journal.pending_len() as u32,
            forwarded: self.journal.forwarded(),
            declined_by_host: self.journal.declined_by_host(),
            capacity: self.journal.capacity() as u32,
            pending_minor: total,
        }))
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::flash::NorFlash;
    use payhil_protocol::{Currency, PinText};
    use std::vec;

    const CFG: Config<'static> = Config {
        identity: Identity {
            model: "T",
            serial: "S",
            firmware_version: "0",
            build_hash: "0",
            terminal_id: "TERM0001",
            merchant_id: "M1",
        },
        merchant_name: "SHOP",
        offline: OfflineLimits {
            currency: Currency::DKK,
            per_transaction_minor: 1_500_00,
            per_card_minor: 20_000_00,
        },
        forward_retry_s: 60,
    };

    fn card() -> CardData<'static> {
        CardData {
            entry_mode: EntryMode::Chip,
            network: Network::Dankort,
            pan: PanText("5019100000000006"),
            expiry: Expiry {
                year: 2030,
                month: 12,
            },
            pan_seq: 1,
        }
    }

    fn buy<F: Flash>(t: &mut Terminal<'_, F>, minor: u64) -> (Outcome, Reason, u32) {
        let amount = Amount {
            minor,
            currency: Currency::DKK,
        };
        assert!(matches!(
            t.handle(&Request::StartPurchase {
                amount,
                forced_offline: false
            }),
            Step::Reply(Response::Accepted { .. })
        ));
        assert!(matches!(
            t.handle(&Request::PresentCard(card())),
            Step::Reply(Response::Accepted {
                awaiting: Awaiting::Pin
            })
        ));
        assert!(matches!(
            t.handle(&Request::EnterPin(PinText("1234"))),
            Step::Host(HostRequest::Authorise(_))
        ));
        match t.host_result(Err(HostUnreachable)) {
            Step::Reply(Response::Done(r)) => {
                assert!(
                    !r.receipt.contains("5019100000000006"),
                    "receipt masks the PAN (PCI-01)"
                );
                (r.outcome, r.reason, r.txn_seq)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn nets_01_offline_approval_is_stored_and_forwarded_once_after_a_reboot() {
        let mut mem = vec![0xFFu8; 16 * 4096];
        let mut t = Terminal::boot(CFG, NorFlash::new(&mut mem[..], 4096)).unwrap();
        t.handle(&Request::SetClock {
            unix_s: 1_800_000_000,
        });
        let (outcome, _, seq) = buy(&mut t, 100_00);
        assert_eq!(outcome, Outcome::ApprovedOffline);
        assert_eq!(buy(&mut t, 1_500_01).1, Reason::OfflineAmountLimit);
        // Reboot on the same flash: the item is still pending.
        let flash = t.journal.into_flash();
        let mut t = Terminal::boot(CFG, flash).unwrap();
        let Step::Host(HostRequest::Advice(d)) = t.handle(&Request::ForwardQueue) else {
            panic!()
        };
        assert_eq!(d.txn_seq, seq);
        let step = t.host_result(Ok(HostResponse::AdviceAck {
            txn_seq: seq,
            response_code: 0,
        }));
        let Step::Reply(Response::Queue(q)) = step else {
            panic!("{step:?}")
        };
        assert_eq!((q.pending, q.forwarded), (0, 1));
    }
}
