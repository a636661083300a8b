//! The payhil test-agent wire protocol, shared by the harness and every terminal.
//!
//! `no_std` and allocation-free so that a terminal vendor can link it into test firmware.
//! The byte-level specification that a C implementation follows is `PROTOCOL.md` beside this
//! crate; the tests here pin the layout it describes.
//!
//! * [`frame`]: COBS framing, CRC-32 and the frame header (version, kind, sequence number).
//! * [`message`]: requests, responses and events carried inside frames (postcard encoding).
//! * [`host_link`]: the interim terminal <-> acquirer message set (replaced by ISO 8583 later).
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod civil;
pub mod frame;
pub mod host_link;
pub mod iso8583;
pub mod message;

pub use frame::{Frame, FrameDecoder, FrameError, FrameKind};
pub use message::*;

/// Version of the message set; sent in Hello by both sides. Bumped on any incompatible change.
pub const PROTOCOL_VERSION: u16 = 1;
