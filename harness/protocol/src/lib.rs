//! The payhil test-agent wire protocol, shared by the harness and every terminal.
//!
//! `no_std` and allocation-free so that a terminal vendor can link it into test firmware.
//! The byte-level specification that a C implementation follows is `PROTOCOL.md` beside this
//! crate; the tests here pin the layout it describes.
//!
//! * [`frame`]: COBS framing, CRC-32 and the frame header (version, kind, sequence number).
//! * [`message`]: requests, responses and events carried inside frames (postcard encoding).
//! * [`card_tlv`]: the card's data as EMV BER-TLV (tags, formats, a masked `Debug`).
//! * [`tlv`]: BER-TLV for ISO 8583 DE 55 (multi-byte tags, long-form lengths).
//! * [`zvt`]: the ZVT cash-register protocol (serial framing, APDUs, bitmaps, messages).
//! * [`host_link`]: the interim terminal <-> acquirer message set (replaced by ISO 8583 later).
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod card_tlv;
pub mod civil;
pub mod frame;
pub mod host_link;
pub mod iso8583;
pub mod message;
pub mod tlv;
pub mod zvt;

pub use frame::{Frame, FrameDecoder, FrameError, FrameKind};
pub use message::*;

/// Version of the message set; sent in Hello by both sides. Bumped on any incompatible change.
/// 2: Hello's `DeviceInfo` gains `queue_capacity` and `flash_bytes` (device properties the
/// harness reads instead of assuming), and `SettlementTotals` holds one batch per network and
/// currency (protocol 1 added amounts in different currencies).
pub const PROTOCOL_VERSION: u16 = 2;
