//! Fault injection instruments. Today: the network between terminal and acquirer host.
#![warn(missing_docs)]

pub mod net_proxy;
mod peer_end;

pub use net_proxy::{DirectionFaults, Faults, LinkState, NetProxy};
