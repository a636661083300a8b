//! The ZVT messages of a payment, typed: what an ECR sends ([`Command`]), what a terminal sends
//! while it holds the master rights ([`PtMessage`]), and the application acknowledgement both
//! use ([`Ack`]).

use super::apdu::{Apdu, ApduError};
use super::bmp::{self, BmpError, Writer, tag};

pub use super::codes::*;

mod command_fields;
use command_fields::CommandFields;

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
    /// 06 22: a pre-authorisation (reservation) of `amount_minor`, booked later by
    /// [`Command::BookTotal`] (PA00P015 2.8).
    PreAuthorisation {
        /// Amount in minor units.
        amount_minor: u64,
        /// Currency, ISO 4217 numeric; the terminal's own when absent.
        currency: Option<u16>,
        /// Payment type (BMP `19`).
        payment_type: Option<u8>,
    },
    /// 06 24: books the pre-authorisation with this receipt number, for `amount_minor`
    /// (PA00P015 2.9).
    BookTotal {
        /// The receipt number of the pre-authorisation (`87`).
        receipt: u16,
        /// Amount to book, minor units (`04`); the reserved amount when absent.
        amount_minor: Option<u64>,
        /// Currency, ISO 4217 numeric (`49`).
        currency: Option<u16>,
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
                let f = CommandFields::read(d)?;
                Self::Authorisation {
                    amount_minor: f.required_amount()?,
                    currency: f.currency()?,
                    payment_type: f.payment_type,
                }
            }
            code::PRE_AUTHORISATION => {
                let f = CommandFields::read(d)?;
                Self::PreAuthorisation {
                    amount_minor: f.required_amount()?,
                    currency: f.currency()?,
                    payment_type: f.payment_type,
                }
            }
            code::BOOK_TOTAL => {
                let f = CommandFields::read(d)?;
                Self::BookTotal {
                    receipt: f
                        .receipt()?
                        .ok_or(MessageError::Missing("receipt number (87)"))?,
                    amount_minor: f.amount()?,
                    currency: f.currency()?,
                }
            }
            code::REVERSAL => {
                let (password, rest) = password_from(d)?;
                Self::Reversal {
                    password,
                    receipt: CommandFields::read(rest)?.receipt()?,
                }
            }
            code::REFUND => {
                let (password, rest) = password_from(d)?;
                let f = CommandFields::read(rest)?;
                Self::Refund {
                    password,
                    amount_minor: f.required_amount()?,
                    currency: f.currency()?,
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
                Self::RepeatReceipt {
                    password,
                    status_information: CommandFields::read(rest)?
                        .service_byte
                        .is_some_and(|b| b & REPEAT_STATUS_INFORMATION != 0),
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
                write_payment(&mut w, amount_minor, currency, payment_type)?;
                code::AUTHORISATION
            }
            Self::PreAuthorisation {
                amount_minor,
                currency,
                payment_type,
            } => {
                write_payment(&mut w, amount_minor, currency, payment_type)?;
                code::PRE_AUTHORISATION
            }
            Self::BookTotal {
                receipt,
                amount_minor,
                currency,
            } => {
                w.bcd(tag::RECEIPT, u64::from(receipt))?;
                if let Some(a) = amount_minor {
                    w.bcd(tag::AMOUNT, a)?;
                }
                if let Some(c) = currency {
                    w.bcd(tag::CURRENCY, u64::from(c))?;
                }
                code::BOOK_TOTAL
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

fn write_payment(
    w: &mut Writer<'_>,
    amount_minor: u64,
    currency: Option<u16>,
    payment_type: Option<u8>,
) -> Result<(), MessageError> {
    w.bcd(tag::AMOUNT, amount_minor)?;
    if let Some(c) = currency {
        w.bcd(tag::CURRENCY, u64::from(c))?;
    }
    if let Some(p) = payment_type {
        w.fixed(tag::PAYMENT_TYPE, &[p])?;
    }
    Ok(())
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
    /// 06 D3: a block of lines to print ([`super::text_block`]): the TLV container's objects.
    PrintTextBlock {
        /// The BER-TLV objects of BMP `06`.
        objects: &'a [u8],
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
            code::PRINT_TEXT_BLOCK => {
                let mut objects = None;
                for f in bmp::fields(d) {
                    let f = f?;
                    if f.tag == tag::TLV {
                        objects = Some(f.value);
                    }
                }
                Self::PrintTextBlock {
                    objects: objects.ok_or(MessageError::Missing("TLV container (06)"))?,
                }
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
            Self::PrintTextBlock { objects } => {
                w.tlv(objects)?;
                code::PRINT_TEXT_BLOCK
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
mod tests;
