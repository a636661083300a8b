//! How the harness reaches a terminal's test agent, and the record of everything that passed.
//!
//! * [`serial`]: PTY pairs for emulated terminals, real serial ports for physical ones; both are
//!   `tokio_serial::SerialStream`s, so everything above is the same code for both.
//! * [`link`]: framed request/response with ids, retries, NAKs and a bound on every wait.
//! * [`transcript`]: a timestamped, card-data-free log of frames, faults, host messages and
//!   terminal diagnostics.
#![warn(missing_docs)]

pub mod link;
pub mod serial;
pub mod transcript;

pub use link::{FrameLink, LinkError, LinkSettings, ResponseBytes};
pub use transcript::{Source, Transcript};
