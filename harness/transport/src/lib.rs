//! How the harness reaches a terminal's test agent, and the record of everything that passed.
//!
//! * [`serial`]: PTY pairs for emulated terminals, real serial ports for physical ones, and
//!   ports exported over the network ([`rfc2217`]); all are a [`serial::Port`], so everything
//!   above is the same code for each.
//! * [`link`]: framed request/response with ids, retries, NAKs and a bound on every wait.
//! * [`host_wait`]: the terminal's host waits on the controlled clock, moved by the harness when
//!   no answer can come.
//! * [`relay`]: the serial line relay in front of the port, which injects line faults frame by
//!   frame (bit flips, drops, truncation, duplicates, garbage, split writes, floods, silence).
//! * [`transcript`]: a timestamped, card-data-free log of frames, faults, host messages and
//!   terminal diagnostics.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod host_wait;
pub mod link;
pub mod relay;
pub mod rfc2217;
pub mod serial;
pub mod transcript;

pub use host_wait::HostWaits;
pub use link::{FrameLink, LinkError, LinkSettings, ResponseBytes};
pub use relay::{
    Direction, LineControl, LineFaults, NoiseSource, Piece, Relay, RelayStats, Verdict,
};
pub use transcript::{Source, Transcript};
