//! ZVT: the ECR protocol of most terminals in German, Austrian and Nordic retail.
//!
//! * [`link`]: one APDU at a time over serial (framed, ACK/NAK, repeats) or TCP (bare).
//! * [`driver`]: the ECR's side of a command: send it, take the terminal's acknowledgement,
//!   follow it through intermediate statuses, status information and print lines while the
//!   terminal holds the master rights, and acknowledge each, until completion or abort.
//!
//! The codec (framing, APDU, bitmaps, messages) is `payhil_protocol::zvt`, shared with the
//! reference terminal; what each side does with it is written separately.

pub mod connect;
pub mod driver;
pub mod link;

pub use connect::{ZvtStream, open};
pub use driver::{Driver, Ended, Outcome, Progress, Timeouts, TxnStatus};
pub use link::{Framing, Link};
pub use payhil_protocol::zvt::message::Password;

use payhil_protocol::zvt::message::MessageError;
use payhil_protocol::zvt::serial::LinkError;
use std::time::Duration;

/// How a ZVT exchange failed. Each names what arrived (or that nothing did) and within what
/// bound, so a lab can tell a dead cable from a confused terminal.
#[derive(Debug, thiserror::Error)]
pub enum ZvtError {
    /// Nothing complete arrived before the deadline.
    #[error(
        "no {waiting_for} from the terminal within {after:?}{}",
        if *partial { " (a frame began and was cut off)" } else { " (nothing arrived)" }
    )]
    Timeout {
        /// What was awaited.
        waiting_for: &'static str,
        /// How long the wait lasted.
        after: Duration,
        /// Part of a frame or APDU had arrived.
        partial: bool,
    },
    /// Every send of a frame was NAKed.
    #[error("the terminal NAKed the frame {sends} times in a row (a NAK storm); gave up")]
    NakStorm {
        /// Sends made.
        sends: u32,
    },
    /// A frame was sent as often as allowed without an ACK.
    #[error(
        "the terminal did not acknowledge the frame at link level after {sends} sends ({naks} NAKs, the rest silence)"
    )]
    NoLinkAck {
        /// Sends made.
        sends: u32,
        /// How many of them were NAKed.
        naks: u32,
    },
    /// The terminal's frames kept arriving damaged (wrong CRC, bad escape, too long).
    #[error("{frames} damaged frames in a row from the terminal (last: {last:?}); gave up")]
    Garbled {
        /// Damaged frames in a row.
        frames: u32,
        /// What was wrong with the last.
        last: LinkError,
    },
    /// Too many bytes outside any frame.
    #[error("{count} bytes of garbage from the terminal outside any frame (first: {sample:02X?})")]
    Garbage {
        /// Bytes counted.
        count: usize,
        /// The first of them.
        sample: Vec<u8>,
    },
    /// The terminal kept sending messages without ending the command.
    #[error("the terminal sent {count} messages without completing the command (a flood); gave up")]
    Flood {
        /// Messages taken.
        count: usize,
    },
    /// The terminal refused the command (`84 xx`).
    #[error(
        "the terminal refused the command: 84 {code:02X} ({})",
        payhil_protocol::zvt::message::result::describe(*code)
    )]
    Refused {
        /// Its result code.
        code: u8,
    },
    /// A message that does not belong where it came.
    #[error("unexpected {got} from the terminal while waiting for {waiting_for}")]
    Unexpected {
        /// The APDU, as hex.
        got: String,
        /// What was awaited.
        waiting_for: &'static str,
    },
    /// A message that could not be decoded.
    #[error("malformed message from the terminal ({why:?}): {apdu}")]
    Malformed {
        /// Why.
        why: MessageError,
        /// The APDU, as hex.
        apdu: String,
    },
    /// An APDU too long for the link.
    #[error("an APDU longer than {} bytes", link::MAX_APDU)]
    TooLong,
    /// The harness cut the link at the terminal's result, as asked
    /// ([`Driver::cut_at_next_result`]): the result arrived and was not acknowledged.
    #[error("the link was cut at the terminal's result, before acknowledging it (as asked)")]
    CutAtResult {
        /// The result the terminal sent.
        result: Box<TxnStatus>,
    },
    /// The terminal closed the connection, or the serial device went away (EOF).
    #[error("the terminal closed the connection (EOF)")]
    Closed,
    /// Reading or writing failed.
    #[error("I/O error on the ZVT link: {0}")]
    Io(#[from] std::io::Error),
}
