//! The harness's own understanding of the rules: it predicts what a correct terminal does, and
//! the oracle checks invariants over a whole run. Written from `RULES.md`, never from the
//! firmware, so a bug in one is unlikely to be mirrored in the other. This crate must not
//! depend on `fut-core` (checked in CI).
//!
//! Walking-skeleton scope: purchases online and offline under NETS-01..08 and CARD-03, the
//! offline queue's expected size, and exactly-once settlement (PBS-02). The full catalogue is
//! the model issue.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod banking;
pub mod card_data;
pub mod ledger;
pub mod oracle;
pub mod purchase;
pub mod readings;
pub mod receipt;
pub mod reserve;

pub use purchase::{FollowUp, Model, ModelConfig, PinPrompt, Prediction, PurchaseInput};
pub use readings::Readings;
