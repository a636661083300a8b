//! The reference terminal's ZVT interface (`--ecr zvt`): the cash register's commands carried
//! out by the same firmware core the test agent drives.
//!
//! With it, the serial port of `--port` is the bench's instruments only (card, PIN, clock,
//! power, reset), as on a lab bench where a card robot presents the card, and the cash register
//! speaks ZVT on `--ecr-port` (serial) or `--ecr-listen` (TCP). A payment runs as the
//! specification has it (PA00P015 2.2): the command is acknowledged (`80 00 00`), the terminal
//! asks for the card (04 FF), the card comes through the instrument port, the result goes to the
//! cash register as status information (04 0F), the receipt as print lines (06 D1), then
//! completion (06 0F) or abort (06 1E). The cash register's acknowledgement of the status
//! information commits the payment: without it the terminal reverses the payment itself (the
//! specification's auto-reversal), so a result the cash register never heard is never charged.
//! Repeat receipt (06 20) with service byte 01 sends the last result again.

mod port;
mod results;

pub use port::{Lost, ZvtPort};

use payhil_protocol::zvt::apdu::Apdu;
use payhil_protocol::zvt::message::{
    Ack, Command, Password, PtMessage, StatusInfo, config, result, status,
};
use payhil_protocol::{
    Amount, Awaiting, Currency, Outcome, Reason, Request, RequestError, SettlementTotals, TxnKind,
};
use std::time::Duration;

/// T3: how long the terminal waits for the cash register's acknowledgement.
const T3: Duration = Duration::from_secs(5);
/// The terminal's currency as ZVT writes it (ISO 4217 numeric): DKK.
const CURRENCY: u16 = 208;

/// A finished transaction as the core answered it (owned: the core's answer borrows it).
#[derive(Debug, Clone)]
pub struct Done {
    /// How it ended.
    pub outcome: Outcome,
    /// Why.
    pub reason: Reason,
    /// The terminal's sequence number.
    pub txn_seq: u32,
    /// Approval code.
    pub auth_code: String,
    /// The receipt, lines separated by `\n`.
    pub receipt: String,
}

/// What the core answered to a request, as far as ZVT needs it.
#[derive(Debug, Clone)]
pub enum Answer {
    /// Taken; the terminal waits for this next.
    Accepted(Awaiting),
    /// Finished.
    Done(Done),
    /// Settlement totals.
    Totals(Box<SettlementTotals>),
    /// Refused.
    Rejected(RequestError),
    /// Anything else (a PIN for the card to verify, a clock).
    Other,
}

/// The core's answer in a response frame the emulator encoded, as ZVT needs it.
pub fn answer_of(frame_bytes: &[u8]) -> Answer {
    let mut decoder = payhil_protocol::FrameDecoder::new();
    let (_, decoded) = decoder.feed(frame_bytes);
    let Some(payhil_protocol::frame::Decoded::Frame(f)) = decoded else {
        return Answer::Other;
    };
    match payhil_protocol::from_payload::<payhil_protocol::Response<'_>>(f.payload) {
        Ok(payhil_protocol::Response::Accepted { awaiting }) => Answer::Accepted(awaiting),
        Ok(payhil_protocol::Response::Done(r)) => Answer::Done(Done {
            outcome: r.outcome,
            reason: r.reason,
            txn_seq: r.txn_seq,
            auth_code: r.auth_code.to_string(),
            receipt: r.receipt.to_string(),
        }),
        Ok(payhil_protocol::Response::Totals(t)) => Answer::Totals(Box::new(t)),
        Ok(payhil_protocol::Response::Rejected(e)) => Answer::Rejected(e),
        _ => Answer::Other,
    }
}

/// The core stopped: power was lost or cut. The emulator exits.
#[derive(Debug)]
pub struct Halted;

/// How a ZVT command reaches the core: the request carried out as the test agent's would be,
/// its answer, and the terminal's clock after it.
pub type Run<'r> = dyn FnMut(&Request<'_>) -> Result<(Answer, i64), Halted> + 'r;

/// A payment or refund the cash register started, waiting for the core to finish it.
#[derive(Debug, Clone, Copy)]
struct Open {
    amount_minor: u64,
}

/// The last result, for a repeat receipt.
#[derive(Debug, Clone)]
struct Last {
    /// The status information.
    status: results::Status,
    /// The receipt lines.
    lines: Vec<String>,
}

/// The terminal's ZVT side.
pub struct ZvtSide {
    port: ZvtPort,
    /// Deliberate bugs of this interface (`--inject-bug zvt-...`), for testing the harness.
    bugs: Vec<crate::bugs::Bug>,
    password: Password,
    /// The registration's config byte; `None` before a registration (then statuses and print
    /// lines are sent, as most cash registers want).
    config: Option<u8>,
    open: Option<Open>,
    last: Option<Last>,
    /// The highest sequence number seen (to find a transaction from its receipt number).
    last_seq: u32,
}

impl ZvtSide {
    /// Serves ZVT on `port`, with `password` for the commands that carry one.
    pub fn new(port: ZvtPort, password: u32, bugs: &[crate::bugs::Bug]) -> Self {
        Self {
            port,
            bugs: bugs.to_vec(),
            password: Password(password),
            config: None,
            open: None,
            last: None,
            last_seq: 0,
        }
    }

    /// Whether a command of the cash register's waits for the core (a card, a PIN).
    pub fn has_open(&self) -> bool {
        self.open.is_some()
    }

    /// Whether the cash register's bytes wait in the terminal's buffer, already read: they are
    /// served without waiting for the descriptor (which will not signal them again).
    pub fn has_buffered(&self) -> bool {
        self.port.has_buffered()
    }

    /// The descriptors the main loop polls.
    pub fn fds(&self) -> Vec<std::os::fd::RawFd> {
        self.port.fds()
    }

    fn wants(&self, bit: u8) -> bool {
        self.config.is_none_or(|c| c & bit != 0)
    }

    fn ack(&mut self, a: Ack) -> Result<(), Lost> {
        self.port.send(&a.bytes())
    }

    /// Sends a message while holding the master rights and waits for the cash register's
    /// acknowledgement; a negative one is reported as `Ok(Some(code))`.
    fn tell(&mut self, m: &PtMessage<'_>) -> Result<Option<u8>, Lost> {
        let (mut scratch, mut out) = (vec![0u8; 1100], vec![0u8; 1200]);
        let bytes = m
            .encode(&mut scratch, &mut out)
            .map_err(|_| Lost::Gone)?
            .to_vec();
        self.port.send(&bytes)?;
        let reply = self.port.recv(T3)?;
        match Apdu::decode(&reply).ok().as_ref().and_then(Ack::from_apdu) {
            Some(Ack::Positive) | Some(Ack::Negative(0)) => Ok(None),
            Some(Ack::Negative(code)) => Ok(Some(code)),
            None => {
                diag!("fut-emulator: ZVT: {reply:02X?} where an acknowledgement was due");
                Ok(Some(result::NOT_POSSIBLE))
            }
        }
    }

    /// Handles whatever the cash register sent; returns `Err` when the core halted.
    pub fn serve_ready(&mut self, run: &mut Run<'_>) -> Result<(), Halted> {
        let commands = match self.port.poll_commands() {
            Ok(c) => c,
            Err(_) => return Ok(()),
        };
        for apdu in commands {
            if let Err(Lost::Gone | Lost::Silent) = self.command(&apdu, run)? {
                diag!("fut-emulator: ZVT: the cash register's link was lost mid-command");
            }
        }
        Ok(())
    }

    fn command(&mut self, bytes: &[u8], run: &mut Run<'_>) -> Result<Result<(), Lost>, Halted> {
        let cmd = match Apdu::decode(bytes)
            .map_err(Into::into)
            .and_then(|a| Command::decode(&a))
        {
            Ok(c) => c,
            Err(e) => {
                diag!("fut-emulator: ZVT: command not taken ({e:?}): {bytes:02X?}");
                return Ok(self.ack(Ack::Negative(result::NOT_POSSIBLE)));
            }
        };
        let password_ok = |p: Password| p == self.password;
        Ok(match cmd {
            Command::Abort => {
                if self.open.is_none() {
                    return Ok(self.ack(Ack::Positive));
                }
                if let Err(e) = self.ack(Ack::Positive) {
                    return Ok(Err(e));
                }
                let (answer, now) = run(&Request::Cancel)?;
                self.after(answer, now, run)?
            }
            Command::LogOff => {
                self.config = None;
                self.ack(Ack::Positive)
            }
            _ if self.open.is_some() => self.ack(Ack::Negative(result::PLEASE_WAIT)),
            Command::Registration {
                password, config, ..
            } => {
                if !password_ok(password) {
                    return Ok(self.ack(Ack::Negative(result::NOT_POSSIBLE)));
                }
                self.config = Some(config);
                self.ack(Ack::Positive)
                    .and_then(|()| self.tell(&PtMessage::Completion { data: &[] }).map(drop))
            }
            Command::Authorisation {
                amount_minor,
                currency,
                ..
            } => self.start(TxnKind::Purchase, amount_minor, currency, 0, run)?,
            Command::PreAuthorisation {
                amount_minor,
                currency,
                ..
            } => self.start(TxnKind::PreAuthorisation, amount_minor, currency, 0, run)?,
            Command::BookTotal {
                receipt,
                amount_minor,
                currency,
            } => {
                // The reference terminal books the amount the cash register names; it keeps
                // no reservation's amount outside its journal to book "the rest" from.
                let Some(amount_minor) = amount_minor else {
                    diag!("fut-emulator: ZVT: a book total without an amount is not supported");
                    return Ok(self.ack(Ack::Negative(result::NOT_POSSIBLE)));
                };
                let reference = self.seq_of_receipt(receipt);
                self.start(TxnKind::Capture, amount_minor, currency, reference, run)?
            }
            Command::Refund {
                password,
                amount_minor,
                currency,
            } => {
                if !password_ok(password) {
                    return Ok(self.ack(Ack::Negative(result::NOT_POSSIBLE)));
                }
                self.start(TxnKind::Refund, amount_minor, currency, 0, run)?
            }
            Command::Reversal { password, receipt } => {
                if !password_ok(password) {
                    return Ok(self.ack(Ack::Negative(result::NOT_POSSIBLE)));
                }
                let Some(receipt) = receipt else {
                    return Ok(self.ack(Ack::Negative(result::REVERSAL_NOT_POSSIBLE)));
                };
                let reference = self.seq_of_receipt(receipt);
                self.start(TxnKind::Reversal, 0, None, reference, run)?
            }
            Command::EndOfDay { password } => {
                if !password_ok(password) {
                    return Ok(self.ack(Ack::Negative(result::NOT_POSSIBLE)));
                }
                if let Err(e) = self.ack(Ack::Positive) {
                    return Ok(Err(e));
                }
                let (answer, now) = run(&Request::Reconcile)?;
                self.end_of_day(answer, now)
            }
            Command::StatusEnquiry { password } => {
                if !password_ok(password) {
                    return Ok(self.ack(Ack::Negative(result::NOT_POSSIBLE)));
                }
                // Software version (LLLVAR) and the terminal's status: 00, ready.
                let v = crate::FIRMWARE_VERSION.as_bytes();
                let n = v.len().min(99);
                let mut data = vec![0xF0, 0xF0 | (n / 10) as u8, 0xF0 | (n % 10) as u8];
                data.extend_from_slice(&v[..n]);
                data.push(0x00);
                self.ack(Ack::Positive)
                    .and_then(|()| self.tell(&PtMessage::Completion { data: &data }).map(drop))
            }
            Command::RepeatReceipt {
                password,
                status_information,
            } => {
                if !password_ok(password) {
                    return Ok(self.ack(Ack::Negative(result::NOT_POSSIBLE)));
                }
                self.repeat(status_information)
            }
        })
    }

    /// Finds the transaction a receipt number (its sequence number's last four digits) names:
    /// the latest one with those digits.
    fn seq_of_receipt(&self, receipt: u16) -> u32 {
        let r = u32::from(receipt);
        let top = self.last_seq;
        if top >= r {
            top - (top - r) % 10_000
        } else {
            r
        }
    }

    fn start(
        &mut self,
        kind: TxnKind,
        amount_minor: u64,
        currency: Option<u16>,
        reference: u32,
        run: &mut Run<'_>,
    ) -> Result<Result<(), Lost>, Halted> {
        if currency.is_some_and(|c| c != CURRENCY) {
            return Ok(self.ack(Ack::Negative(result::WRONG_CURRENCY)));
        }
        let req = Request::StartTransaction {
            kind,
            amount: Amount {
                minor: amount_minor,
                currency: Currency::DKK,
            },
            tip_minor: 0,
            forced_offline: false,
            reference,
        };
        let (answer, now) = run(&req)?;
        if let Answer::Rejected(e) = answer {
            if e == RequestError::BadAmount
                && amount_minor == 0
                && self
                    .bugs
                    .contains(&crate::bugs::Bug::ZvtZeroAmountCompleted)
            {
                return Ok(self
                    .ack(Ack::Positive)
                    .and_then(|()| self.tell(&PtMessage::Completion { data: &[] }).map(drop)));
            }
            diag!("fut-emulator: ZVT: the core refused the command ({e:?})");
            let code = match e {
                RequestError::BadAmount => result::NOT_POSSIBLE,
                RequestError::StorageFault => result::PROCESSING_ERROR,
                _ => result::NOT_POSSIBLE,
            };
            return Ok(self.ack(Ack::Negative(code)));
        }
        if let Err(e) = self.ack(Ack::Positive) {
            // The cash register is gone before the command was taken: nothing may go on.
            if matches!(answer, Answer::Accepted(_)) {
                let _ = run(&Request::Cancel)?;
            }
            return Ok(Err(e));
        }
        self.open = Some(Open { amount_minor });
        self.after(answer, now, run)
    }

    /// Moves the open command on after the core answered (a request of the cash register's or
    /// of the instruments'): a status for what the terminal now waits for, or the result.
    pub fn after(
        &mut self,
        answer: Answer,
        now: i64,
        run: &mut Run<'_>,
    ) -> Result<Result<(), Lost>, Halted> {
        let Some(open) = self.open else {
            return Ok(Ok(()));
        };
        let code = match answer {
            Answer::Accepted(Awaiting::Card) => status::INSERT_CARD,
            Answer::Accepted(Awaiting::Pin | Awaiting::CardVerdict) => status::WATCH_PIN_PAD,
            Answer::Done(done) => return self.finish(open, done, now, run),
            _ => return Ok(Ok(())),
        };
        if !self.wants(config::INTERMEDIATE_STATUS) {
            return Ok(Ok(()));
        }
        Ok(self
            .tell(&PtMessage::IntermediateStatus { status: code })
            .map(drop))
    }

    fn finish(
        &mut self,
        open: Open,
        done: Done,
        now: i64,
        run: &mut Run<'_>,
    ) -> Result<Result<(), Lost>, Halted> {
        self.open = None;
        self.last_seq = self.last_seq.max(done.txn_seq);
        let approved = matches!(
            done.outcome,
            Outcome::ApprovedOnline | Outcome::ApprovedOffline
        );
        let mut code = results::code_of(&done);
        if self.bugs.contains(&crate::bugs::Bug::ZvtDeclineAsApproved) {
            code = result::SUCCESS;
        }
        let mut status = results::status_info(&done, open.amount_minor, code, now);
        if self.bugs.contains(&crate::bugs::Bug::ZvtWrongAmount) && approved {
            status.amount_minor = status.amount_minor.map(|a| a.saturating_add(100));
        }
        if self.bugs.contains(&crate::bugs::Bug::ZvtOfflineAsOnline)
            && done.outcome == Outcome::ApprovedOffline
        {
            status.payment_type = Some(payhil_protocol::zvt::message::PAYMENT_ONLINE);
        }
        let lines: Vec<String> = done.receipt.lines().map(str::to_string).collect();
        // The cash register's acknowledgement of the result commits the payment.
        let committed = self.tell(&PtMessage::StatusInformation(status.as_info()));
        self.last = Some(Last {
            status,
            lines: lines.clone(),
        });
        if approved
            && !matches!(committed, Ok(None))
            && !self.bugs.contains(&crate::bugs::Bug::ZvtNoAutoReversal)
        {
            diag!(
                "fut-emulator: ZVT: the cash register did not take the result of transaction {} \
                 ({committed:?}): reversing it (auto-reversal)",
                done.txn_seq
            );
            return self.auto_reverse(done.txn_seq, run).map(|()| Ok(()));
        }
        if let Err(e) = committed {
            return Ok(Err(e));
        }
        let end = if code == result::SUCCESS {
            Ok(())
        } else {
            Err(code)
        };
        Ok(self.print_and_end(&lines, end))
    }

    fn print_and_end(&mut self, lines: &[String], end: Result<(), u8>) -> Result<(), Lost> {
        if self.wants(config::RECEIPTS_AS_PRINT_LINES) {
            for (i, line) in lines.iter().enumerate() {
                // The last line of a receipt is marked (attribute 1xxx xxxx, not 80 or FF).
                let attribute = if i + 1 == lines.len() { 0x81 } else { 0x00 };
                self.tell(&PtMessage::PrintLine {
                    attribute,
                    text: line.as_bytes(),
                })?;
            }
        }
        match end {
            Ok(()) => self.tell(&PtMessage::Completion { data: &[] }).map(drop),
            Err(code) => self.tell(&PtMessage::Abort { result: code }).map(drop),
        }
    }

    fn auto_reverse(&mut self, seq: u32, run: &mut Run<'_>) -> Result<(), Halted> {
        let req = Request::StartTransaction {
            kind: TxnKind::Reversal,
            amount: Amount {
                minor: 0,
                currency: Currency::DKK,
            },
            tip_minor: 0,
            forced_offline: false,
            reference: seq,
        };
        let (answer, now) = run(&req)?;
        if let Answer::Done(d) = answer {
            self.last_seq = self.last_seq.max(d.txn_seq);
            let code = results::code_of(&d);
            let mut status = results::status_info(&d, 0, code, now);
            status.text = Some(format!(
                "auto-reversal of transaction {seq}: {}",
                status.text.take().unwrap_or_default()
            ));
            self.last = Some(Last {
                status,
                lines: d.receipt.lines().map(str::to_string).collect(),
            });
            diag!(
                "fut-emulator: ZVT: auto-reversal of {seq}: {:?} {:?}",
                d.outcome,
                d.reason
            );
        } else {
            diag!("fut-emulator: ZVT: auto-reversal of {seq} not carried out: {answer:?}");
        }
        Ok(())
    }

    fn end_of_day(&mut self, answer: Answer, now: i64) -> Result<(), Lost> {
        let Answer::Totals(t) = answer else {
            return self
                .tell(&PtMessage::Abort {
                    result: result::END_OF_DAY_NOT_POSSIBLE,
                })
                .map(drop);
        };
        let (code, lines, total) = results::totals(&t);
        let status = results::Status {
            result: code,
            amount_minor: Some(total),
            ..results::Status::at(now)
        };
        self.tell(&PtMessage::StatusInformation(status.as_info()))?;
        self.print_and_end(
            &lines,
            if code == result::SUCCESS {
                Ok(())
            } else {
                Err(code)
            },
        )
    }

    fn repeat(&mut self, status_information: bool) -> Result<(), Lost> {
        self.ack(Ack::Positive)?;
        let Some(last) = self.last.clone() else {
            return self
                .tell(&PtMessage::Abort {
                    result: result::NOT_POSSIBLE,
                })
                .map(drop);
        };
        if status_information {
            self.tell(&PtMessage::StatusInformation(last.status.as_info()))?;
        }
        self.print_and_end(&last.lines, Ok(()))
    }
}

impl results::Status {
    fn as_info(&self) -> StatusInfo<'_> {
        StatusInfo {
            result: Some(self.result),
            amount_minor: self.amount_minor,
            currency: Some(CURRENCY),
            trace: self.trace,
            time: Some(self.time),
            date: Some(self.date),
            receipt: self.receipt,
            payment_type: self.payment_type,
            terminal_id: None,
            pan: None,
            card_name: None,
            auth_attribute: self.auth.as_ref().map(|a| &a[..]),
            text: self.text.as_deref().map(str::as_bytes),
        }
    }
}
