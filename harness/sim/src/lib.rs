//! The whole bench in process: the reference terminal's core (`fut-core`) on emulated RAM flash,
//! the acquirer host simulator's books called as plain functions, the network as a flag. No PTY,
//! no TCP, no clock but the controlled one, so a scenario runs in microseconds and can be cut at
//! every single flash write ([`powerloss`]).
//!
//! This is the one harness crate that links firmware code (ARCHITECTURE.md: `sim` and `fuzz`
//! may). It still never takes the terminal's word: every run is judged by the reference model
//! (`payhil_model`), the harness's own ledger of what it saw approved, and the host's books. The
//! model, the runner, the bench and the acquirer do not depend on this crate.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod bench;
mod flash;
pub mod powerloss;
mod replay;
pub mod soak;
mod steps;

pub use flash::{Fuse, FusedChip, Geometry};
pub use powerloss::{Options, Report, powerloss};

/// Why an in-process run could not be made at all (a failing cut is a finding, not this).
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The scenario uses a step the in-process bench cannot play.
    #[error("{file}: step {step} (line {line}): {what} cannot run in process")]
    Unsupported {
        /// The scenario file.
        file: String,
        /// Step index.
        step: usize,
        /// Line in the file.
        line: usize,
        /// What it is.
        what: String,
    },
    /// The scenario failed without any power cut: its own expectations, the model or the oracle.
    #[error("the scenario fails without a power cut, at step {step} (line {line}): {message}")]
    Baseline {
        /// Step index (0: boot or end of run).
        step: usize,
        /// Line in the file.
        line: usize,
        /// What went wrong.
        message: String,
    },
    /// The scenario's run made more flash writes than a cut point can name.
    #[error("the scenario makes more than {0} flash writes")]
    TooManyWrites(u32),
}
