//! The ZVT messages of a payment, typed: what an ECR sends ([`Command`]), what a terminal sends
//! while it holds the master rights ([`PtMessage`]), and the application acknowledgement both
//! use ([`Ack`]).

use super::apdu::{Apdu, ApduError};
use super::bmp::{self, BmpError, Writer, tag};

/// Command bytes (class, instruction) of the messages below.
pub mod code {
    /// ECR: registration (06 00).
    pub const REGISTRATION: [u8; 2] = [0x06, 0x00];
    /// ECR: authorisation, a payment (06 01).
    pub const AUTHORISATION: [u8; 2] = [0x06, 0x01];
    /// ECR: log off (06 02).
    pub const LOG_OFF: [u8; 2] = [0x06, 0x02];
    /// ECR: repeat the last receipt (06 20).
    pub const REPEAT_RECEIPT: [u8; 2] = [0x06, 0x20];
    /// ECR: reversal of a payment by its receipt number (06 30).
    pub const REVERSAL: [u8; 2] = [0x06, 0x30];
    /// ECR: refund (06 31).
    pub const REFUND: [u8; 2] = [0x06, 0x31];
    /// ECR: end of day (06 50).
    pub const END_OF_DAY: [u8; 2] = [0x06, 0x50];
    /// ECR: abort the command in progress (06 B0).
    pub const ABORT: [u8; 2] = [0x06, 0xB0];
    /// ECR: status enquiry (05 01).
    pub const STATUS_ENQUIRY: [u8; 2] = [0x05, 0x01];
    /// PT: intermediate status (04 FF).
    pub const INTERMEDIATE_STATUS: [u8; 2] = [0x04, 0xFF];
    /// PT: status information, the result of a transaction (04 0F).
    pub const STATUS_INFORMATION: [u8; 2] = [0x04, 0x0F];
    /// PT: one print line (06 D1).
    pub const PRINT_LINE: [u8; 2] = [0x06, 0xD1];
    /// PT: completion, the master rights go back to the ECR (06 0F).
    pub const COMPLETION: [u8; 2] = [0x06, 0x0F];
    /// PT: the command was aborted, with a result code (06 1E).
    pub const PT_ABORT: [u8; 2] = [0x06, 0x1E];
}

/// Result codes (BMP `27`, and the code of an abort) payhil uses (PA00P015 10). Codes
/// `01..=63` are the authorisation system's own (ISO 8583 response codes as numbers).
pub mod result {
    /// Success.
    pub const SUCCESS: u8 = 0x00;
    /// The host declined: do not honour (ISO 8583 `05`).
    pub const DO_NOT_HONOUR: u8 = 0x05;
    /// The host refused: insufficient funds (ISO 8583 `51`).
    pub const INSUFFICIENT_FUNDS: u8 = 51;
    /// The PIN was wrong (ISO 8583 `55`).
    pub const PIN_WRONG: u8 = 55;
    /// The PIN's tries are used up (ISO 8583 `75`).
    pub const PIN_TRIES_EXCEEDED: u8 = 75;
    /// The card could not be read.
    pub const CARD_NOT_READABLE: u8 = 0x64;
    /// Card data not present.
    pub const CARD_DATA_MISSING: u8 = 0x65;
    /// Processing error.
    pub const PROCESSING_ERROR: u8 = 0x66;
    /// Aborted (timeout or abort key, or the ECR's abort).
    pub const ABORTED: u8 = 0x6C;
    /// The card is on the blocked list.
    pub const CARD_BLOCKED: u8 = 0x6E;
    /// Wrong currency.
    pub const WRONG_CURRENCY: u8 = 0x6F;
    /// Card data incorrect.
    pub const CARD_DATA_INCORRECT: u8 = 0x73;
    /// End of day not possible.
    pub const END_OF_DAY_NOT_POSSIBLE: u8 = 0x77;
    /// Card expired.
    pub const CARD_EXPIRED: u8 = 0x78;
    /// Card not yet valid.
    pub const CARD_NOT_YET_VALID: u8 = 0x79;
    /// Card unknown (not supported).
    pub const CARD_UNKNOWN: u8 = 0x7A;
    /// Communication error (no answer from the host).
    pub const COMMUNICATION_ERROR: u8 = 0x7D;
    /// Function not possible.
    pub const NOT_POSSIBLE: u8 = 0x83;
    /// Please wait (the terminal is busy).
    pub const PLEASE_WAIT: u8 = 0x9C;
    /// Memory full (the offline queue).
    pub const MEMORY_FULL: u8 = 0xB1;
    /// Already reversed.
    pub const ALREADY_REVERSED: u8 = 0xB4;
    /// Reversal not possible (no such transaction).
    pub const REVERSAL_NOT_POSSIBLE: u8 = 0xB5;
    /// Maximum amount exceeded (an offline limit).
    pub const MAX_AMOUNT_EXCEEDED: u8 = 0xC3;
    /// Payment method not supported.
    pub const METHOD_NOT_SUPPORTED: u8 = 0xC5;
    /// System error.
    pub const SYSTEM_ERROR: u8 = 0xFF;

    /// The specification's words for a result code (`01..=63` are the host's own).
    pub fn describe(code: u8) -> &'static str {
        match code {
            SUCCESS => "no error",
            0x01..=0x63 => "declined by the host (its own code)",
            CARD_NOT_READABLE => "card not readable",
            CARD_DATA_MISSING => "card data not present",
            PROCESSING_ERROR => "processing error",
            0x6B => "function deactivated (terminal not registered)",
            ABORTED => "aborted (timeout or abort key)",
            CARD_BLOCKED => "card in blocked list",
            WRONG_CURRENCY => "wrong currency",
            CARD_DATA_INCORRECT => "card data incorrect",
            END_OF_DAY_NOT_POSSIBLE => "end of day not possible",
            CARD_EXPIRED => "card expired",
            CARD_NOT_YET_VALID => "card not yet valid",
            CARD_UNKNOWN => "card unknown",
            COMMUNICATION_ERROR => "communication error",
            NOT_POSSIBLE => "function not possible",
            0x9A => "ZVT protocol error",
            PLEASE_WAIT => "please wait",
            0xA0 => "receiver not ready",
            0xA1 => "remote station does not respond",
            MEMORY_FULL => "memory full",
            ALREADY_REVERSED => "already reversed",
            REVERSAL_NOT_POSSIBLE => "reversal not possible",
            MAX_AMOUNT_EXCEEDED => "maximum amount exceeded",
            METHOD_NOT_SUPPORTED => "payment method not supported",
            0xCC => "printer not ready",
            SYSTEM_ERROR => "system error",
            _ => "(a code payhil does not name)",
        }
    }
}

/// Intermediate status codes (04 FF) payhil sends and names (PA00P015 3.7).
pub mod status {
    /// Watch the PIN pad (enter the PIN).
    pub const WATCH_PIN_PAD: u8 = 0x01;
    /// Waiting for the host.
    pub const WAITING_FOR_HOST: u8 = 0x04;
    /// Insert or present the card.
    pub const INSERT_CARD: u8 = 0x0A;
    /// Remove the card.
    pub const REMOVE_CARD: u8 = 0x0B;
    /// Card not readable.
    pub const CARD_NOT_READABLE: u8 = 0x0C;
    /// Please wait.
    pub const PLEASE_WAIT: u8 = 0x0E;
    /// Incorrect PIN.
    pub const INCORRECT_PIN: u8 = 0x15;
    /// Approved, please take the goods.
    pub const APPROVED: u8 = 0x1C;
    /// Declined.
    pub const DECLINED: u8 = 0x1D;
    /// Offline transaction.
    pub const OFFLINE_TRANSACTION: u8 = 0xF3;

    /// The specification's words for an intermediate status.
    pub fn describe(code: u8) -> &'static str {
        match code {
            0x00 => "waiting for amount confirmation",
            WATCH_PIN_PAD | 0x02 => "watch the PIN pad",
            0x03 => "not accepted",
            WAITING_FOR_HOST => "waiting for the host",
            0x05 => "sending auto-reversal",
            INSERT_CARD => "insert card",
            REMOVE_CARD => "remove card",
            CARD_NOT_READABLE => "card not readable",
            0x0D => "processing error",
            PLEASE_WAIT | 0x17 => "please wait",
            0x10 => "invalid card",
            INCORRECT_PIN => "incorrect PIN",
            0x18 => "PIN try limit exceeded",
            0x1B | APPROVED => "approved",
            DECLINED => "declined",
            0xF1 => "offline",
            0xF2 => "online",
            OFFLINE_TRANSACTION => "offline transaction",
            _ => "(a status payhil does not name)",
        }
    }
}

/// Registration config byte bits (PA00P015 2.1).
pub mod config {
    /// The ECR prints the payment receipts.
    pub const ECR_PRINTS_PAYMENT_RECEIPT: u8 = 0x02;
    /// The ECR prints the administration receipts.
    pub const ECR_PRINTS_ADMIN_RECEIPT: u8 = 0x04;
    /// The terminal sends intermediate statuses.
    pub const INTERMEDIATE_STATUS: u8 = 0x08;
    /// The ECR controls the payment (no amount entry on the terminal).
    pub const ECR_CONTROLS_PAYMENT: u8 = 0x10;
    /// The ECR controls administration functions.
    pub const ECR_CONTROLS_ADMIN: u8 = 0x20;
    /// Receipts come as print lines (06 D1) or text blocks (06 D3).
    pub const RECEIPTS_AS_PRINT_LINES: u8 = 0x80;
}

/// Status information's payment type (`19`, PA00P015 3.1.1): an offline payment.
pub const PAYMENT_OFFLINE: u8 = 0x40;
/// Status information's payment type: an online payment.
pub const PAYMENT_ONLINE: u8 = 0x60;
/// Status information's payment type: a PIN payment.
pub const PAYMENT_PIN: u8 = 0x70;

/// Repeat-receipt service byte: send the status information of the last transaction again.
pub const REPEAT_STATUS_INFORMATION: u8 = 0x01;

/// A message that is not one of these, or a field that does not fit its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageError {
    /// The APDU is malformed.
    Apdu(ApduError),
    /// A field is malformed.
    Bmp(BmpError),
    /// Command bytes this side does not take.
    Unexpected([u8; 2]),
    /// A required field is missing.
    Missing(&'static str),
}

impl From<ApduError> for MessageError {
    fn from(e: ApduError) -> Self {
        Self::Apdu(e)
    }
}

impl From<BmpError> for MessageError {
    fn from(e: BmpError) -> Self {
        Self::Bmp(e)
    }
}

/// The application acknowledgement: `80 00 00`, or `84 <code> 00` when the receiver refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ack {
    /// `80 00 00`.
    Positive,
    /// `84 <code> 00`: refused, with a result code ([`result`]).
    Negative(u8),
}

impl Ack {
    /// The APDU bytes.
    pub fn bytes(self) -> [u8; 3] {
        match self {
            Self::Positive => [0x80, 0x00, 0x00],
            Self::Negative(code) => [0x84, code, 0x00],
        }
    }

    /// An acknowledgement, if `apdu` is one (`80 ..` or `84 ..`).
    pub fn from_apdu(apdu: &Apdu<'_>) -> Option<Self> {
        match apdu.class {
            0x80 => Some(Self::Positive),
            0x84 => Some(Self::Negative(apdu.instr)),
            _ => None,
        }
    }
}

/// A password: 6 decimal digits, sent as 3 BCD bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Password(pub u32);

/// What an ECR asks of a terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// 06 00: the ECR logs on; `config` says who prints and what the ECR wants to see.
    Registration {
        /// The terminal's password.
        password: Password,
        /// The config byte (bit 1: ECR prints the payment receipt, bit 2: the administration
        /// receipt, bit 3: intermediate status wanted, ...).
        config: u8,
        /// The ECR's currency, ISO 4217 numeric.
        currency: Option<u16>,
    },
    /// 06 01: a payment of `amount_minor`.
    Authorisation {
        /// Amount in minor units.
        amount_minor: u64,
        /// Currency, ISO 4217 numeric; the terminal's own when absent.
        currency: Option<u16>,
        /// Payment type (BMP `19`): how the terminal may decide.
        payment_type: Option<u8>,
    },
    /// 06 30: reverses the payment with this receipt number.
    Reversal {
        /// The terminal's password.
        password: Password,
        /// The receipt number of the payment to reverse.
        receipt: Option<u16>,
    },
    /// 06 31: a refund of `amount_minor`.
    Refund {
        /// The terminal's password.
        password: Password,
        /// Amount in minor units.
        amount_minor: u64,
        /// Currency, ISO 4217 numeric.
        currency: Option<u16>,
    },
    /// 06 50: end of day (the terminal settles with its host).
    EndOfDay {
        /// The terminal's password.
        password: Password,
    },
    /// 05 01: the terminal's status (and, from payhil's reference terminal, its last result).
    StatusEnquiry {
        /// The terminal's password.
        password: Password,
    },
    /// 06 20: repeat the last receipt; with `status_information`, the status information of
    /// the last transaction first (service byte 01), so an ECR that lost a result learns it.
    RepeatReceipt {
        /// The terminal's password.
        password: Password,
        /// Ask for the last status information too.
        status_information: bool,
    },
    /// 06 B0: abort the command in progress.
    Abort,
    /// 06 02: log off.
    LogOff,
}

fn password_from(data: &[u8]) -> Result<(Password, &[u8]), MessageError> {
    let (pw, rest) = data
        .split_at_checked(3)
        .ok_or(MessageError::Missing("password"))?;
    let n = bmp::bcd_number(tag::PASSWORD, pw)?;
    Ok((
        Password(u32::try_from(n).map_err(|_| BmpError::BadBcd { tag: tag::PASSWORD })?),
        rest,
    ))
}

fn bcd_u16(tag: u8, v: &[u8]) -> Result<u16, MessageError> {
    Ok(u16::try_from(bmp::bcd_number(tag, v)?).map_err(|_| BmpError::BadBcd { tag })?)
}

impl Command {
    /// Decodes an ECR's command.
    pub fn decode(apdu: &Apdu<'_>) -> Result<Self, MessageError> {
        let d = apdu.data;
        Ok(match apdu.command() {
            code::REGISTRATION => {
                let (password, rest) = password_from(d)?;
                let (&config, rest) = rest.split_first().ok_or(MessageError::Missing("config"))?;
                // The currency has no tag: the two bytes after the config byte, present whenever
                // anything follows it (a service byte or TLV container requires it).
                let currency = match rest {
                    [a, b, ..] => Some(bcd_u16(tag::CURRENCY, &[*a, *b])?),
                    _ => None,
                };
                Self::Registration {
                    password,
                    config,
                    currency,
                }
            }
            code::AUTHORISATION => {
                let (mut amount, mut currency, mut payment_type) = (None, None, None);
                for f in bmp::fields(d) {
                    let f = f?;
                    match f.tag {
                        tag::AMOUNT => amount = Some(bmp::bcd_number(f.tag, f.value)?),
                        tag::CURRENCY => currency = Some(bcd_u16(f.tag, f.value)?),
                        tag::PAYMENT_TYPE => payment_type = f.value.first().copied(),
                        _ => {}
                    }
                }
                Self::Authorisation {
                    amount_minor: amount.ok_or(MessageError::Missing("amount (04)"))?,
                    currency,
                    payment_type,
                }
            }
            code::REVERSAL => {
                let (password, rest) = password_from(d)?;
                let mut receipt = None;
                for f in bmp::fields(rest) {
                    let f = f?;
                    if f.tag == tag::RECEIPT {
                        receipt = Some(bcd_u16(f.tag, f.value)?);
                    }
                }
                Self::Reversal { password, receipt }
            }
            code::REFUND => {
                let (password, rest) = password_from(d)?;
                let (mut amount, mut currency) = (None, None);
                for f in bmp::fields(rest) {
                    let f = f?;
                    match f.tag {
                        tag::AMOUNT => amount = Some(bmp::bcd_number(f.tag, f.value)?),
                        tag::CURRENCY => currency = Some(bcd_u16(f.tag, f.value)?),
                        _ => {}
                    }
                }
                Self::Refund {
                    password,
                    amount_minor: amount.ok_or(MessageError::Missing("amount (04)"))?,
                    currency,
                }
            }
            code::END_OF_DAY => Self::EndOfDay {
                password: password_from(d)?.0,
            },
            code::STATUS_ENQUIRY => Self::StatusEnquiry {
                password: password_from(d)?.0,
            },
            code::REPEAT_RECEIPT => {
                let (password, rest) = password_from(d)?;
                let mut status_information = false;
                for f in bmp::fields(rest) {
                    let f = f?;
                    if f.tag == tag::SERVICE_BYTE {
                        status_information = f
                            .value
                            .first()
                            .is_some_and(|b| b & REPEAT_STATUS_INFORMATION != 0);
                    }
                }
                Self::RepeatReceipt {
                    password,
                    status_information,
                }
            }
            code::ABORT => Self::Abort,
            code::LOG_OFF => Self::LogOff,
            other => return Err(MessageError::Unexpected(other)),
        })
    }

    /// Encodes the command as an APDU into `out`; `scratch` holds its data meanwhile.
    pub fn encode<'o>(
        &self,
        scratch: &mut [u8],
        out: &'o mut [u8],
    ) -> Result<&'o [u8], MessageError> {
        let mut w = Writer::new(scratch);
        let cmd = match *self {
            Self::Registration {
                password,
                config,
                currency,
            } => {
                w.raw_bcd(u64::from(password.0), 3)?.raw(&[config])?;
                if let Some(c) = currency {
                    w.raw_bcd(u64::from(c), 2)?;
                }
                code::REGISTRATION
            }
            Self::Authorisation {
                amount_minor,
                currency,
                payment_type,
            } => {
                w.bcd(tag::AMOUNT, amount_minor)?;
                if let Some(c) = currency {
                    w.bcd(tag::CURRENCY, u64::from(c))?;
                }
                if let Some(p) = payment_type {
                    w.fixed(tag::PAYMENT_TYPE, &[p])?;
                }
                code::AUTHORISATION
            }
            Self::Reversal { password, receipt } => {
                w.raw_bcd(u64::from(password.0), 3)?;
                if let Some(r) = receipt {
                    w.bcd(tag::RECEIPT, u64::from(r))?;
                }
                code::REVERSAL
            }
            Self::Refund {
                password,
                amount_minor,
                currency,
            } => {
                w.raw_bcd(u64::from(password.0), 3)?
                    .bcd(tag::AMOUNT, amount_minor)?;
                if let Some(c) = currency {
                    w.bcd(tag::CURRENCY, u64::from(c))?;
                }
                code::REFUND
            }
            Self::EndOfDay { password } => {
                w.raw_bcd(u64::from(password.0), 3)?;
                code::END_OF_DAY
            }
            Self::StatusEnquiry { password } => {
                w.raw_bcd(u64::from(password.0), 3)?;
                code::STATUS_ENQUIRY
            }
            Self::RepeatReceipt {
                password,
                status_information,
            } => {
                w.raw_bcd(u64::from(password.0), 3)?;
                if status_information {
                    w.fixed(tag::SERVICE_BYTE, &[REPEAT_STATUS_INFORMATION])?;
                }
                code::REPEAT_RECEIPT
            }
            Self::Abort => code::ABORT,
            Self::LogOff => code::LOG_OFF,
        };
        let data = w.written();
        Ok(Apdu::new(cmd[0], cmd[1], data).encode(out)?)
    }
}

/// The result of a transaction as a terminal reports it (04 0F); every field is optional on
/// the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatusInfo<'a> {
    /// Result code (`27`); `00` is success.
    pub result: Option<u8>,
    /// Amount, minor units (`04`).
    pub amount_minor: Option<u64>,
    /// Currency, ISO 4217 numeric (`49`).
    pub currency: Option<u16>,
    /// Trace number (`0B`).
    pub trace: Option<u32>,
    /// Time `hhmmss` as a number (`0C`).
    pub time: Option<u32>,
    /// Date `MMDD` as a number (`0D`).
    pub date: Option<u16>,
    /// Receipt number (`87`): what a reversal names.
    pub receipt: Option<u16>,
    /// How the terminal decided (`19`): [`PAYMENT_OFFLINE`] (40), [`PAYMENT_ONLINE`] (60),
    /// [`PAYMENT_PIN`] (70).
    pub payment_type: Option<u8>,
    /// Terminal id (`29`).
    pub terminal_id: Option<u32>,
    /// Card number as BCD nibbles, masked digits `E`, padding `F` (`22`).
    pub pan: Option<&'a [u8]>,
    /// Card name, ASCII (`8B`).
    pub card_name: Option<&'a [u8]>,
    /// Approval code, 8 bytes (`3B`).
    pub auth_attribute: Option<&'a [u8]>,
    /// Additional text (`3C`).
    pub text: Option<&'a [u8]>,
}

impl<'a> StatusInfo<'a> {
    fn decode(d: &'a [u8]) -> Result<Self, MessageError> {
        let mut s = Self::default();
        for f in bmp::fields(d) {
            let f = f?;
            match f.tag {
                tag::RESULT => s.result = f.value.first().copied(),
                tag::AMOUNT => s.amount_minor = Some(bmp::bcd_number(f.tag, f.value)?),
                tag::CURRENCY => s.currency = Some(bcd_u16(f.tag, f.value)?),
                tag::TRACE => {
                    s.trace = Some(bmp::bcd_number(f.tag, f.value)? as u32);
                }
                tag::TIME => s.time = Some(bmp::bcd_number(f.tag, f.value)? as u32),
                tag::DATE => s.date = Some(bcd_u16(f.tag, f.value)?),
                tag::RECEIPT => s.receipt = Some(bcd_u16(f.tag, f.value)?),
                tag::PAYMENT_TYPE => s.payment_type = f.value.first().copied(),
                tag::TERMINAL_ID => {
                    s.terminal_id = Some(bmp::bcd_number(f.tag, f.value)? as u32);
                }
                tag::PAN => s.pan = Some(f.value),
                tag::CARD_NAME => s.card_name = Some(f.value),
                tag::AUTH_ATTRIBUTE => s.auth_attribute = Some(f.value),
                tag::ADDITIONAL_TEXT => s.text = Some(f.value),
                _ => {}
            }
        }
        Ok(s)
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<(), BmpError> {
        if let Some(r) = self.result {
            w.fixed(tag::RESULT, &[r])?;
        }
        if let Some(a) = self.amount_minor {
            w.bcd(tag::AMOUNT, a)?;
        }
        if let Some(c) = self.currency {
            w.bcd(tag::CURRENCY, u64::from(c))?;
        }
        if let Some(t) = self.trace {
            w.bcd(tag::TRACE, u64::from(t))?;
        }
        if let Some(t) = self.time {
            w.bcd(tag::TIME, u64::from(t))?;
        }
        if let Some(d) = self.date {
            w.bcd(tag::DATE, u64::from(d))?;
        }
        if let Some(r) = self.receipt {
            w.bcd(tag::RECEIPT, u64::from(r))?;
        }
        if let Some(p) = self.payment_type {
            w.fixed(tag::PAYMENT_TYPE, &[p])?;
        }
        if let Some(t) = self.terminal_id {
            w.bcd(tag::TERMINAL_ID, u64::from(t))?;
        }
        if let Some(p) = self.pan {
            w.var(tag::PAN, p)?;
        }
        if let Some(n) = self.card_name {
            w.var(tag::CARD_NAME, n)?;
        }
        if let Some(a) = self.auth_attribute {
            w.fixed(tag::AUTH_ATTRIBUTE, a)?;
        }
        if let Some(t) = self.text {
            w.var(tag::ADDITIONAL_TEXT, t)?;
        }
        Ok(())
    }
}

/// What a terminal sends while it holds the master rights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PtMessage<'a> {
    /// 04 FF: what the terminal is doing ([`status`]).
    IntermediateStatus {
        /// The status code.
        status: u8,
    },
    /// 04 0F: the transaction's result.
    StatusInformation(StatusInfo<'a>),
    /// 06 D1: one line to print.
    PrintLine {
        /// Attribute byte (`FF` ends the receipt; `00` a normal line).
        attribute: u8,
        /// The text (ISO 8859-1 in the specification; ASCII from payhil's terminal).
        text: &'a [u8],
    },
    /// 06 0F: completion; the ECR has the master rights again. After a status enquiry its
    /// data hold the software version (`LLLVAR`) and the terminal's status byte; after a
    /// registration, optional BMPs. Kept raw: its layout depends on the command it ends.
    Completion {
        /// The data as sent.
        data: &'a [u8],
    },
    /// 06 1E: the command ended without success, with a result code ([`result`]).
    Abort {
        /// The result code.
        result: u8,
    },
}

impl<'a> PtMessage<'a> {
    /// Decodes a terminal's message.
    pub fn decode(apdu: &Apdu<'a>) -> Result<Self, MessageError> {
        let d = apdu.data;
        Ok(match apdu.command() {
            code::INTERMEDIATE_STATUS => Self::IntermediateStatus {
                status: *d.first().ok_or(MessageError::Missing("status"))?,
            },
            code::STATUS_INFORMATION => Self::StatusInformation(StatusInfo::decode(d)?),
            code::PRINT_LINE => {
                let (&attribute, text) =
                    d.split_first().ok_or(MessageError::Missing("attribute"))?;
                Self::PrintLine { attribute, text }
            }
            code::COMPLETION => Self::Completion { data: d },
            code::PT_ABORT => Self::Abort {
                result: d.first().copied().unwrap_or(result::SYSTEM_ERROR),
            },
            other => return Err(MessageError::Unexpected(other)),
        })
    }

    /// Encodes the message as an APDU into `out`; `scratch` holds its data meanwhile.
    pub fn encode<'o>(
        &self,
        scratch: &mut [u8],
        out: &'o mut [u8],
    ) -> Result<&'o [u8], MessageError> {
        let mut w = Writer::new(scratch);
        let cmd = match self {
            Self::IntermediateStatus { status } => {
                w.raw(&[*status])?;
                code::INTERMEDIATE_STATUS
            }
            Self::StatusInformation(s) => {
                s.write(&mut w)?;
                code::STATUS_INFORMATION
            }
            Self::PrintLine { attribute, text } => {
                w.raw(&[*attribute])?.raw(text)?;
                code::PRINT_LINE
            }
            Self::Completion { data } => {
                w.raw(data)?;
                code::COMPLETION
            }
            Self::Abort { result } => {
                w.raw(&[*result])?;
                code::PT_ABORT
            }
        };
        let data = w.written();
        Ok(Apdu::new(cmd[0], cmd[1], data).encode(out)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip_command(c: Command) {
        let (mut scratch, mut out) = ([0u8; 64], [0u8; 80]);
        let bytes = c.encode(&mut scratch, &mut out).expect("encodes");
        let apdu = Apdu::decode(bytes).expect("an APDU");
        assert_eq!(Command::decode(&apdu), Ok(c), "{bytes:02X?}");
    }

    #[test]
    fn every_command_round_trips() {
        let pw = Password(123_456);
        for c in [
            Command::Registration {
                password: pw,
                config: 0x8E,
                currency: Some(208),
            },
            Command::Registration {
                password: pw,
                config: 0x8E,
                currency: None,
            },
            Command::Authorisation {
                amount_minor: 1250,
                currency: Some(208),
                payment_type: Some(0x40),
            },
            Command::Authorisation {
                amount_minor: 999_999_999_999,
                currency: None,
                payment_type: None,
            },
            Command::Reversal {
                password: pw,
                receipt: Some(42),
            },
            Command::Refund {
                password: pw,
                amount_minor: 500,
                currency: Some(578),
            },
            Command::EndOfDay { password: pw },
            Command::StatusEnquiry { password: pw },
            Command::RepeatReceipt {
                password: pw,
                status_information: true,
            },
            Command::RepeatReceipt {
                password: pw,
                status_information: false,
            },
            Command::Abort,
            Command::LogOff,
        ] {
            round_trip_command(c);
        }
    }

    #[test]
    fn an_authorisation_is_laid_out_as_the_spec_shows() {
        // 06 01 07 04 000000001250: 12.50 in a 6-byte BCD amount.
        let (mut scratch, mut out) = ([0u8; 64], [0u8; 80]);
        let c = Command::Authorisation {
            amount_minor: 1250,
            currency: None,
            payment_type: None,
        };
        let bytes = c.encode(&mut scratch, &mut out).expect("encodes");
        assert_eq!(bytes, &[0x06, 0x01, 0x07, 0x04, 0, 0, 0, 0, 0x12, 0x50]);
    }

    #[test]
    fn terminal_messages_round_trip() {
        let info = StatusInfo {
            result: Some(0),
            amount_minor: Some(1250),
            currency: Some(208),
            trace: Some(17),
            time: Some(101_502),
            date: Some(1207),
            receipt: Some(17),
            payment_type: Some(PAYMENT_ONLINE),
            terminal_id: Some(1),
            pan: Some(&[0x45, 0x71, 0x23, 0xEE, 0xEE, 0xEE, 0x12, 0x34]),
            card_name: Some(b"Dankort"),
            auth_attribute: Some(b"A1B2C3  "),
            text: Some(b"offline"),
        };
        for m in [
            PtMessage::IntermediateStatus {
                status: status::INSERT_CARD,
            },
            PtMessage::StatusInformation(info),
            PtMessage::PrintLine {
                attribute: 0,
                text: b"PAYHIL TEST SHOP",
            },
            PtMessage::Completion { data: &[] },
            PtMessage::Completion {
                data: &[0xF0, 0xF0, 0xF3, b'1', b'.', b'0', 0x00],
            },
            PtMessage::Abort {
                result: result::ABORTED,
            },
        ] {
            let (mut scratch, mut out) = ([0u8; 128], [0u8; 160]);
            let bytes = m.encode(&mut scratch, &mut out).expect("encodes");
            let apdu = Apdu::decode(bytes).expect("an APDU");
            assert_eq!(PtMessage::decode(&apdu), Ok(m));
        }
    }

    #[test]
    fn acknowledgements_are_told_from_messages() {
        let pos = Ack::Positive.bytes();
        let neg = Ack::Negative(result::NOT_POSSIBLE).bytes();
        assert_eq!(
            Ack::from_apdu(&Apdu::decode(&pos).expect("apdu")),
            Some(Ack::Positive)
        );
        assert_eq!(
            Ack::from_apdu(&Apdu::decode(&neg).expect("apdu")),
            Some(Ack::Negative(result::NOT_POSSIBLE))
        );
        assert_eq!(Ack::from_apdu(&Apdu::new(0x06, 0x0F, &[])), None);
    }

    #[test]
    fn a_missing_amount_and_an_unknown_command_are_named() {
        assert_eq!(
            Command::decode(&Apdu::new(0x06, 0x01, &[0x49, 0x02, 0x08])),
            Err(MessageError::Missing("amount (04)"))
        );
        assert_eq!(
            Command::decode(&Apdu::new(0x06, 0x99, &[])),
            Err(MessageError::Unexpected([0x06, 0x99]))
        );
    }
}
