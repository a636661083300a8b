//! Fault injection instruments. Today: the network between terminal and acquirer host.
#![warn(missing_docs)]

pub mod net_proxy;

pub use net_proxy::{DirectionFaults, Faults, LinkState, NetProxy};
