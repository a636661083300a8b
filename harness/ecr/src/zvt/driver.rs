//! The ECR's side of a ZVT command (PA00P015 2.2): send it, take the terminal's `80 00 00`
//! within T3, then, while the terminal holds the master rights, acknowledge every intermediate
//! status (04 FF), status information (04 0F) and print line (06 D1) until completion (06 0F)
//! or abort (06 1E); T4 bounds the gap between two of them and is restarted by each.
//!
//! The driver keeps what the terminal said and hands it back as an [`Outcome`]; it judges
//! nothing. Progress (a status, a line) is also sent as it happens, so a caller can present the
//! card when the terminal asks for it.

use super::ZvtError;
use super::link::{Link, hex};
use payhil_protocol::zvt::apdu::Apdu;
use payhil_protocol::zvt::bmp::{BmpError, tag};
use payhil_protocol::zvt::message::{
    Ack, Command, MessageError, Password, PtMessage, StatusInfo, result,
};
use payhil_protocol::zvt::text_block;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

/// The bounds of one command (PA00P016 3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// T3: the command to the terminal's acknowledgement (5 s).
    pub ack: Duration,
    /// T4: the longest gap between two messages while the terminal holds the master rights
    /// (180 s; a cardholder may take that long to find a card).
    pub master: Duration,
    /// The whole command, however many messages the terminal sends (a flood guard).
    pub command: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            ack: Duration::from_secs(5),
            master: Duration::from_secs(180),
            command: Duration::from_secs(600),
        }
    }
}

/// Most messages one command may bring before it is a flood.
pub const MAX_MESSAGES: usize = 2_000;

/// What happened, as it happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// The terminal took the command (`80 00 00`).
    Accepted,
    /// An intermediate status (04 FF).
    Status(u8),
    /// The transaction's result (04 0F).
    Result(TxnStatus),
    /// A print line (06 D1).
    Line(String),
}

/// A transaction's result as the terminal reported it (04 0F), owned.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TxnStatus {
    /// Result code (`27`); `Some(0)` is success.
    pub result: Option<u8>,
    /// Amount, minor units.
    pub amount_minor: Option<u64>,
    /// Currency, ISO 4217 numeric.
    pub currency: Option<u16>,
    /// Trace number.
    pub trace: Option<u32>,
    /// Time `hhmmss`.
    pub time: Option<u32>,
    /// Date `MMDD`.
    pub date: Option<u16>,
    /// Receipt number: what a reversal names.
    pub receipt: Option<u16>,
    /// How the terminal decided (`19`: 40 offline, 60 online, 70 PIN).
    pub payment_type: Option<u8>,
    /// Terminal id.
    pub terminal_id: Option<u32>,
    /// Card number as the terminal masked it (`E` digits shown as `*`).
    pub masked_pan: Option<String>,
    /// Card name.
    pub card_name: Option<String>,
    /// Approval code.
    pub auth_code: Option<String>,
    /// Additional text.
    pub text: Option<String>,
}

fn text(b: &[u8]) -> String {
    // ZVT text is CP437/ISO 8859-1; payhil's terminal sends ASCII. Trailing NUL and padding
    // are not part of the text.
    let end = b
        .iter()
        .rposition(|c| *c != 0 && *c != b' ')
        .map_or(0, |i| i + 1);
    b[..end].iter().map(|&c| char::from(c)).collect()
}

/// BMP 22's BCD nibbles as digits, masked ones (`E`) as `*`, padding (`F`) dropped.
fn masked_digits(b: &[u8]) -> String {
    b.iter()
        .flat_map(|x| [x >> 4, x & 0x0F])
        .filter_map(|n| match n {
            0..=9 => Some(char::from(b'0' + n)),
            0x0E => Some('*'),
            _ => None,
        })
        .collect()
}

impl From<&StatusInfo<'_>> for TxnStatus {
    fn from(s: &StatusInfo<'_>) -> Self {
        Self {
            result: s.result,
            amount_minor: s.amount_minor,
            currency: s.currency,
            trace: s.trace,
            time: s.time,
            date: s.date,
            receipt: s.receipt,
            payment_type: s.payment_type,
            terminal_id: s.terminal_id,
            masked_pan: s.pan.map(masked_digits),
            card_name: s.card_name.map(text),
            auth_code: s.auth_attribute.map(text),
            text: s.text.map(text),
        }
    }
}

/// How the command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// 06 0F: completed (its data as sent).
    Completed {
        /// The completion's data.
        data: Vec<u8>,
    },
    /// 06 1E: aborted, with the result code.
    Aborted {
        /// The result code.
        result: u8,
    },
    /// The command has no master-rights phase (abort, log off): the acknowledgement was all.
    Acknowledged,
}

/// Everything the terminal said during one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Intermediate statuses in order.
    pub statuses: Vec<u8>,
    /// The last status information (04 0F), if one came.
    pub result: Option<TxnStatus>,
    /// Print lines in order (a receipt, or several), from 06 D1 and 06 D3 alike.
    pub receipt: Vec<String>,
    /// Messages the terminal sent that this ECR does not take, refused with 84 83 (their
    /// command bytes, in order).
    pub refused: Vec<[u8; 2]>,
    /// How it ended.
    pub ended: Ended,
}

impl Outcome {
    /// Whether the terminal reported success: a result code 00 and a completion.
    pub fn succeeded(&self) -> bool {
        matches!(self.ended, Ended::Completed { .. })
            && self.result.as_ref().is_none_or(|r| r.result == Some(0))
    }
}

/// A ZVT ECR: drives one terminal over one link.
pub struct Driver<S> {
    link: Link<S>,
    password: Password,
    timeouts: Timeouts,
    cut_at_result: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Driver<S> {
    /// A driver over `link`, using `password` for the commands that carry one.
    pub fn new(link: Link<S>, password: Password, timeouts: Timeouts) -> Self {
        Self {
            link,
            password,
            timeouts,
            cut_at_result: false,
        }
    }

    /// The next command stops at the terminal's result (04 0F) without acknowledging it, with
    /// [`ZvtError::CutAtResult`]: a cash register that lost the result (the caller then closes
    /// the link). Once.
    pub fn cut_at_next_result(&mut self) {
        self.cut_at_result = true;
    }

    /// The password the commands carry.
    pub fn password(&self) -> Password {
        self.password
    }

    /// The transcript lines a buffered link kept since the last call ([`Link::buffered`]).
    pub fn take_lines(&mut self) -> Vec<(payhil_transport::Source, String)> {
        self.link.take_lines()
    }

    /// The link, e.g. to forget a terminal that lost power
    /// ([`Link::forget_terminal`]).
    pub fn link_mut(&mut self) -> &mut Link<S> {
        &mut self.link
    }

    /// The link, e.g. to close it.
    pub fn into_link(self) -> Link<S> {
        self.link
    }

    /// Sends `cmd` and follows it to its end. `progress` hears each message as it comes;
    /// `abort`, when notified, sends an abort (06 B0) once, and the command ends as the
    /// terminal ends it.
    pub async fn execute(
        &mut self,
        cmd: Command,
        progress: Option<&mpsc::UnboundedSender<Progress>>,
        abort: Option<Arc<Notify>>,
    ) -> Result<Outcome, ZvtError> {
        let (mut scratch, mut out) = ([0u8; 256], [0u8; 300]);
        let bytes = cmd
            .encode(&mut scratch, &mut out)
            .map_err(|why| ZvtError::Malformed {
                why,
                apdu: "(the command itself)".into(),
            })?
            .to_vec();
        let started = Instant::now();
        let end_by = started + self.timeouts.command;
        self.link.send(&bytes).await?;
        let ack = self
            .link
            .recv(
                Instant::now() + self.timeouts.ack,
                "acknowledgement (80 00 00) of the command",
            )
            .await?;
        match Apdu::decode(&ack).ok().as_ref().and_then(Ack::from_apdu) {
            Some(Ack::Positive) => {}
            Some(Ack::Negative(code)) => return Err(ZvtError::Refused { code }),
            None => {
                return Err(ZvtError::Unexpected {
                    got: hex(&ack),
                    waiting_for: "acknowledgement (80 00 00) of the command",
                });
            }
        }
        let tell = |p: Progress| {
            if let Some(tx) = progress {
                let _ = tx.send(p);
            }
        };
        tell(Progress::Accepted);
        let mut outcome = Outcome {
            statuses: Vec::new(),
            result: None,
            receipt: Vec::new(),
            refused: Vec::new(),
            ended: Ended::Acknowledged,
        };
        if matches!(cmd, Command::Abort | Command::LogOff) {
            return Ok(outcome);
        }
        let mut abort_sent = false;
        let mut messages = 0usize;
        const WAITING: &str =
            "the terminal's next message (status, result, print line, completion)";
        loop {
            let deadline = (Instant::now() + self.timeouts.master).min(end_by);
            let apdu = match (&abort, abort_sent) {
                (Some(signal), false) => {
                    tokio::select! {
                        r = self.link.recv(deadline, WAITING) => r?,
                        () = signal.notified() => {
                            abort_sent = true;
                            self.send_abort(&mut scratch, &mut out).await?;
                            continue;
                        }
                    }
                }
                _ => self.link.recv(deadline, WAITING).await?,
            };
            messages += 1;
            if messages > MAX_MESSAGES {
                return Err(ZvtError::Flood { count: messages });
            }
            let decoded = Apdu::decode(&apdu).map_err(|e| ZvtError::Malformed {
                why: e.into(),
                apdu: hex(&apdu),
            })?;
            // The acknowledgement of our own abort.
            if Ack::from_apdu(&decoded).is_some() && abort_sent {
                continue;
            }
            let msg = match PtMessage::decode(&decoded) {
                Ok(m) => m,
                // A message this ECR does not take (a display text, a date for the ECR's
                // clock, ...): refused as the specification has an ECR refuse a command it
                // does not support (84 83), and the command goes on; the flood bound still
                // holds.
                Err(MessageError::Unexpected(cmd)) => {
                    outcome.refused.push(cmd);
                    self.link
                        .send(&Ack::Negative(result::NOT_POSSIBLE).bytes())
                        .await?;
                    continue;
                }
                Err(why) => {
                    return Err(ZvtError::Malformed {
                        why,
                        apdu: hex(&apdu),
                    });
                }
            };
            if let (true, PtMessage::StatusInformation(info)) = (self.cut_at_result, &msg) {
                self.cut_at_result = false;
                return Err(ZvtError::CutAtResult {
                    result: Box::new(TxnStatus::from(info)),
                });
            }
            self.link.send(&Ack::Positive.bytes()).await?;
            match msg {
                PtMessage::IntermediateStatus { status } => {
                    outcome.statuses.push(status);
                    tell(Progress::Status(status));
                }
                PtMessage::StatusInformation(info) => {
                    let s = TxnStatus::from(&info);
                    tell(Progress::Result(s.clone()));
                    outcome.result = Some(s);
                }
                PtMessage::PrintLine { attribute, text: t } => {
                    // FF is a line feed (a count follows), not text.
                    if attribute != 0xFF {
                        let line = text(t);
                        tell(Progress::Line(line.clone()));
                        outcome.receipt.push(line);
                    }
                }
                PtMessage::PrintTextBlock { objects } => {
                    for l in text_block::lines(objects) {
                        // A text block whose TLV breaks off is a malformed message.
                        let l = l.map_err(|_| ZvtError::Malformed {
                            why: MessageError::Bmp(BmpError::Truncated { tag: tag::TLV }),
                            apdu: hex(&apdu),
                        })?;
                        let line = text(l);
                        tell(Progress::Line(line.clone()));
                        outcome.receipt.push(line);
                    }
                }
                PtMessage::Completion { data } => {
                    outcome.ended = Ended::Completed {
                        data: data.to_vec(),
                    };
                    return Ok(outcome);
                }
                PtMessage::Abort { result } => {
                    outcome.ended = Ended::Aborted { result };
                    return Ok(outcome);
                }
            }
        }
    }

    async fn send_abort(&mut self, scratch: &mut [u8], out: &mut [u8]) -> Result<(), ZvtError> {
        let bytes = Command::Abort
            .encode(scratch, out)
            .map_err(|why| ZvtError::Malformed {
                why,
                apdu: "(abort)".into(),
            })?
            .to_vec();
        self.link.send(&bytes).await
    }
}

#[cfg(test)]
mod tests;
