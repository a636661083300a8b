//! The terminal <-> acquirer messages as the firmware core and the host simulator see them. On
//! the wire they are ISO 8583 (`crate::iso8583::mapping`) behind a 2-byte big-endian length.
//! They live here because both the firmware and the harness's host simulator speak them, and
//! the firmware may depend only on this crate.

use crate::message::{Amount, EntryMode, Expiry, Network, PanText, TxnKind};
use serde::{Deserialize, Serialize};

/// Largest body the host link carries.
pub const MAX_HOST_MESSAGE: usize = 1200;

/// Terminal to host.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostRequest<'a> {
    /// Online authorisation and capture of a purchase.
    Authorise(#[serde(borrow)] TxnData<'a>),
    /// Store-and-forward advice of an offline-approved purchase; `TxnData::txn_seq` is the
    /// stable id the host deduplicates on (PBS-02).
    Advice(#[serde(borrow)] TxnData<'a>),
    /// Asks for the current list of blocked cards (CARD-10); sent before each forwarding round.
    FetchBlockList {
        /// Terminal id.
        terminal_id: &'a str,
    },
    /// Reconciliation (ISO 8583 0500): the terminal's totals of what the host should have.
    Reconcile {
        /// Terminal id.
        terminal_id: &'a str,
        /// The totals.
        totals: ReconcileTotals,
    },
}

/// Reconciliation totals: debits are purchases and captures, credits are refunds.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReconcileTotals {
    /// Number of debits.
    pub debits: u32,
    /// Sum of debits, minor units.
    pub debits_minor: u64,
    /// Number of credits.
    pub credits: u32,
    /// Sum of credits, minor units.
    pub credits_minor: u64,
}

/// Fields common to authorisations and advices.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnData<'a> {
    /// Terminal id.
    pub terminal_id: &'a str,
    /// Merchant id.
    pub merchant_id: &'a str,
    /// Terminal transaction sequence number, unique per terminal.
    pub txn_seq: u32,
    /// Card number.
    #[serde(borrow)]
    pub pan: PanText<'a>,
    /// Expiry month (sent online; never stored in the offline queue: 0/0 in advices).
    pub expiry: Expiry,
    /// PAN sequence number.
    pub pan_seq: u8,
    /// Network used.
    pub network: Network,
    /// Entry mode.
    pub entry_mode: EntryMode,
    /// Amount.
    pub amount: Amount,
    /// Local time of the transaction (controlled clock), Unix seconds.
    pub local_time: i64,
    /// Whether the cardholder's PIN was verified.
    pub pin_verified: bool,
    /// Offline authorisation code (advices only), ASCII.
    pub auth_code: &'a str,
    /// What kind of transaction.
    pub kind: TxnKind,
    /// Captures and reversals: the sequence number of the transaction referred to.
    pub related_seq: u32,
    /// An advice sent again after a cut (ISO 8583 0221/0421 instead of 0220/0420).
    pub repeat: bool,
}

/// Host to terminal.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostResponse<'a> {
    /// Answer to an authorisation.
    AuthResult {
        /// The request's sequence number.
        txn_seq: u32,
        /// ISO 8583 response code as a number (0 = approved, 51 = insufficient funds, ...).
        response_code: u8,
        /// Authorisation code when approved, ASCII.
        auth_code: &'a str,
    },
    /// Answer to an advice: the item is in the host's books (now or already).
    AdviceAck {
        /// The advice's stable id.
        txn_seq: u32,
        /// ISO 8583 response code; non-zero means the host declined the forwarded item.
        response_code: u8,
    },
    /// Answer to a reconciliation: whether the host's books agree (0510, 00 or 95).
    ReconcileResult {
        /// The totals match the host's.
        in_balance: bool,
    },
    /// The blocked-card list (CARD-10): card numbers separated by commas, replacing the
    /// terminal's list.
    BlockList {
        /// Comma-separated card numbers.
        #[serde(borrow)]
        pans: PanList<'a>,
    },
}

/// Card numbers separated by commas. `Debug` shows only how many, never the numbers (PCI-01).
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq)]
pub struct PanList<'a>(#[serde(borrow)] pub &'a str);

impl core::fmt::Debug for PanList<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let n = self.0.split(',').filter(|p| !p.trim().is_empty()).count();
        write!(f, "PanList({n} cards)")
    }
}

/// ISO 8583 response codes used by the simulator and the firmware.
pub mod response_code {
    /// Approved.
    pub const APPROVED: u8 = 0;
    /// Pick up / restricted card (blocked).
    pub const BLOCKED: u8 = 62;
    /// Expired card.
    pub const EXPIRED: u8 = 54;
    /// Insufficient funds.
    pub const INSUFFICIENT_FUNDS: u8 = 51;
    /// Issuer or switch inoperative.
    pub const ISSUER_UNAVAILABLE: u8 = 91;
    /// Duplicate transmission (already in the books).
    pub const DUPLICATE: u8 = 94;
    /// Unable to locate the original (a reversal or capture of something the host never got).
    pub const NOT_FOUND: u8 = 25;
}
