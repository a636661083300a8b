//! Fault injection instruments: the network between terminal and acquirer host ([`net_proxy`]),
//! and the serial line between harness and terminal ([`serial`], carried out by the line relay
//! in `payhil-transport`).
#![warn(missing_docs)]

pub mod net_proxy;
mod peer_end;
pub mod serial;

pub use net_proxy::{DirectionFaults, Faults, LinkState, NetProxy};
pub use serial::{LineFault, SerialDirection, SerialFault, SerialPlan, When};
