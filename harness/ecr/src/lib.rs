//! Drivers for the cash-register (ECR) interfaces of unmodified payment terminals.
//!
//! A terminal without payhil's test agent still speaks to its cash register: the harness then
//! plays the cash register. What such an interface cannot express (presenting a card, entering
//! a PIN, moving the clock) is left to the other instruments of the bench.
//!
//! * [`zvt`]: ZVT over serial (tokio-serial, RFC 2217) or TCP.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod zvt;
