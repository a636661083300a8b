//! Reference terminal firmware core: the terminal as a pure state machine (sans-IO).
//!
//! Requests from the test agent and results of host exchanges go in; responses and host
//! requests come out ([`terminal::Step`]); [`Terminal::poll_timeout`] says when it must next act
//! on its own. Persistent state lives on a [`flash::Flash`] so that a power cut at any write can
//! be emulated. `no_std` and no `alloc`: every capacity is fixed.
//!
//! This is the walking skeleton's subset of RULES.md: online purchase, offline Dankort/credit
//! chip+PIN purchase within limits (NETS-01, NETS-03..08), store and forward with stable ids
//! (PBS-02), masked receipts (PCI-01, CARD-08). The full rule set is the firmware issue.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod block_list;
pub mod calendar;
pub mod card_read;
pub mod flash;
pub mod journal;
pub mod limits;
pub mod receipt;
pub mod reserve;
pub mod settlement;
pub mod terminal;
mod text;

pub use terminal::{Config, Step, Terminal};

/// CRC-32/ISO-HDLC over journal records (the same CRC the wire protocol uses), computed 16
/// bytes at a time: a boot checks every slot of the journal, and the byte-wise table made the
/// CRC a quarter of a boot. The 16 KiB of tables are constants, in flash on a device.
pub(crate) fn flash_crc(bytes: &[u8]) -> u32 {
    const FLASH_CRC: crc::Crc<u32, crc::Table<16>> =
        crc::Crc::<u32, crc::Table<16>>::new(&crc::CRC_32_ISO_HDLC);
    FLASH_CRC.checksum(bytes)
}
