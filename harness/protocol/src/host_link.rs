//! The terminal <-> acquirer messages as the firmware core and the host simulator see them. On
//! the wire they are ISO 8583 (`crate::iso8583::mapping`) behind a 2-byte big-endian length.
//! They live here because both the firmware and the harness's host simulator speak them, and
//! the firmware may depend only on this crate.

use crate::message::{Amount, Currency, EntryMode, Expiry, Network, PanText, TxnKind};
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

/// Most currencies one reconciliation carries (ISO 8583 0500, DE 63 groups).
pub const MAX_RECONCILE_CURRENCIES: usize = 4;

/// Reconciliation totals, one entry per currency: amounts in different currencies are never
/// added together (a DKK and a NOK purchase are two totals, not one figure).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReconcileTotals {
    /// The totals of each currency present, in the order first met; `None` after the last.
    pub per_currency: [Option<CurrencyTotals>; MAX_RECONCILE_CURRENCIES],
}

/// One currency's reconciliation totals: debits are purchases and captures, credits refunds.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct CurrencyTotals {
    /// The currency of every amount here.
    pub currency: Currency,
    /// Number of debits.
    pub debits: u32,
    /// Sum of debits, minor units.
    pub debits_minor: u64,
    /// Number of credits.
    pub credits: u32,
    /// Sum of credits, minor units.
    pub credits_minor: u64,
}

/// Why an item cannot be added to [`ReconcileTotals`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TotalsError {
    /// More currencies than [`MAX_RECONCILE_CURRENCIES`].
    TooManyCurrencies,
    /// A count or sum would overflow.
    Overflow,
}

impl CurrencyTotals {
    /// Nothing yet, in `currency`.
    pub const fn new(currency: Currency) -> Self {
        Self {
            currency,
            debits: 0,
            debits_minor: 0,
            credits: 0,
            credits_minor: 0,
        }
    }
}

impl ReconcileTotals {
    /// Adds one item: a credit (refund) or a debit of `amount`, to its currency's totals.
    pub fn add(&mut self, amount: Amount, credit: bool) -> Result<(), TotalsError> {
        let slot = self
            .per_currency
            .iter_mut()
            .find(|t| t.is_none_or(|t| t.currency == amount.currency))
            .ok_or(TotalsError::TooManyCurrencies)?;
        let t = slot.get_or_insert(CurrencyTotals::new(amount.currency));
        let (count, sum) = if credit {
            (&mut t.credits, &mut t.credits_minor)
        } else {
            (&mut t.debits, &mut t.debits_minor)
        };
        *count = count.checked_add(1).ok_or(TotalsError::Overflow)?;
        *sum = sum.checked_add(amount.minor).ok_or(TotalsError::Overflow)?;
        Ok(())
    }

    /// The totals of `currency`, if any item was in it.
    pub fn get(&self, currency: Currency) -> Option<&CurrencyTotals> {
        self.currencies().find(|t| t.currency == currency)
    }

    /// The totals of each currency present.
    pub fn currencies(&self) -> impl Iterator<Item = &CurrencyTotals> {
        self.per_currency.iter().flatten()
    }

    /// The same totals per currency, whatever order the currencies were met in.
    pub fn same_as(&self, other: &ReconcileTotals) -> bool {
        self.currencies().count() == other.currencies().count()
            && self.currencies().all(|t| other.get(t.currency) == Some(t))
    }
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
    /// Authorisation code or the terminal's offline marker (advices only), ASCII: see
    /// [`AuthMark`] for which is which.
    pub auth_code: &'a str,
    /// What kind of transaction.
    pub kind: TxnKind,
    /// Captures and reversals: the sequence number of the transaction referred to.
    pub related_seq: u32,
    /// An advice sent again after a cut (ISO 8583 0221/0421 instead of 0220/0420).
    pub repeat: bool,
    /// Online PIN (ISO 8583 DE 52): the ISO 9564 format 0 PIN block encrypted under the PIN
    /// key; only in an authorisation for which the cardholder entered a PIN.
    pub pin_block: Option<EncryptedPinBlock>,
}

/// An encrypted ISO 9564 format 0 PIN block (ISO 8583 DE 52, 8 bytes). `Debug` does not show
/// it: encrypted under a test key, it is as good as the PIN to anyone with the source.
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq)]
pub struct EncryptedPinBlock(pub [u8; 8]);

impl core::fmt::Debug for EncryptedPinBlock {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("EncryptedPinBlock(<redacted>)")
    }
}

/// The documented **test** PIN key (PROTOCOL.md section 8): a double-length TDES key (2-key
/// TDES, EDE) under which the terminal encrypts the format 0 PIN block of an online PIN and the
/// host simulator decrypts it. A test key protects nothing against a reader of the source; a
/// real terminal has a PIN key injected into its PIN pad (DUKPT or master/session keys).
pub const TEST_PIN_KEY: [u8; 16] = [
    0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF, 0xFE, 0xDC, 0xBA, 0x98, 0x76, 0x54, 0x32, 0x10,
];

/// What the `auth_code` of a transaction is: the terminal journals one six-character field for
/// the host's code and its own markers, and the ISO 8583 mapping puts each where its users
/// expect it (DE 38 is for authorisation codes only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMark<'a> {
    /// Nothing (an online request before its answer).
    None,
    /// Approved offline by the terminal: the EMV authorisation response code it generated,
    /// "Y1" (offline approved) or "Y3" (unable to go online, offline approved): tag 8A.
    Offline([u8; 2]),
    /// One of the terminal's own [`TERMINAL_MARKERS`]: "R" (a BankAxept reserve payment
    /// approved without a phone authorisation code), "STORED" (a capture or reversal stored to
    /// be forwarded), "UNRES" (a reversal stored because an online request went unanswered),
    /// "VOID" (an offline item voided before it was sent).
    Marker(&'a str),
    /// An authorisation code from a host or issuer (for a reserve payment, the phone code).
    Code(&'a str),
}

/// The terminal's own markers in an `auth_code` field (ISO 8583 DE 60, never DE 38).
pub const TERMINAL_MARKERS: [&str; 4] = ["R", "STORED", "UNRES", "VOID"];

impl<'a> TxnData<'a> {
    /// What [`TxnData::auth_code`] is.
    pub fn auth_mark(&self) -> AuthMark<'a> {
        match self.auth_code {
            "" => AuthMark::None,
            "Y1" => AuthMark::Offline(*b"Y1"),
            "Y3" => AuthMark::Offline(*b"Y3"),
            m if TERMINAL_MARKERS.contains(&m) => AuthMark::Marker(m),
            code => AuthMark::Code(code),
        }
    }
}

/// Host to terminal.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostResponse<'a> {
    /// Answer to an authorisation.
    AuthResult {
        /// The request's sequence number.
        txn_seq: u32,
        /// ISO 8583 response code (DE 39, two letters or digits: "00" approved, "51"
        /// insufficient funds, ...; see PROTOCOL.md for what the terminal does with each).
        response_code: ResponseCode,
        /// Authorisation code when approved, ASCII.
        auth_code: &'a str,
    },
    /// Answer to an advice: the item is in the host's books (now or already).
    AdviceAck {
        /// The advice's stable id.
        txn_seq: u32,
        /// ISO 8583 response code; anything but "00", "94" (duplicate) and, for a reversal, "25"
        /// (original not found) means the host declined the forwarded item.
        response_code: ResponseCode,
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

/// An ISO 8583 response code (DE 39): exactly two ASCII letters or digits (format an2), so
/// "N7" and "A1" are codes as much as "00" and "51". Kept as the two characters, never as a
/// number, so no answer a host may give is lost in a conversion (issue 9).
///
/// On the test-agent wire (postcard) it is its two bytes, no length.
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResponseCode(pub [u8; 2]);

impl ResponseCode {
    /// The code from its two characters; `None` unless both are ASCII letters or digits.
    pub const fn new(code: [u8; 2]) -> Option<Self> {
        if code[0].is_ascii_alphanumeric() && code[1].is_ascii_alphanumeric() {
            Some(Self(code))
        } else {
            None
        }
    }

    /// The code for a number below 100 (`51` is "51"); `None` above.
    pub const fn numeric(n: u8) -> Option<Self> {
        if n < 100 {
            Some(Self([b'0' + n / 10, b'0' + n % 10]))
        } else {
            None
        }
    }

    /// The two characters; "??" if they are not text (only a code decoded without checks, e.g.
    /// from a terminal's reason, can be).
    pub fn as_str(&self) -> &str {
        match core::str::from_utf8(&self.0) {
            Ok(s) => s,
            Err(_) => "??",
        }
    }

    /// "00": approved.
    pub fn is_approved(&self) -> bool {
        *self == response_code::APPROVED
    }
}

impl core::fmt::Debug for ResponseCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl core::fmt::Display for ResponseCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A code equals a number when it is that number's two digits ("05" == 5; "N7" equals no
/// number), so that code written against numeric response codes keeps its meaning.
impl PartialEq<u8> for ResponseCode {
    fn eq(&self, n: &u8) -> bool {
        ResponseCode::numeric(*n) == Some(*self)
    }
}

/// ISO 8583 response codes used by the simulator and the firmware.
pub mod response_code {
    use super::ResponseCode;

    /// Approved.
    pub const APPROVED: ResponseCode = ResponseCode(*b"00");
    /// Invalid amount.
    pub const INVALID_AMOUNT: ResponseCode = ResponseCode(*b"13");
    /// Invalid card number.
    pub const INVALID_CARD: ResponseCode = ResponseCode(*b"14");
    /// Pick up / restricted card (blocked).
    pub const BLOCKED: ResponseCode = ResponseCode(*b"62");
    /// Expired card.
    pub const EXPIRED: ResponseCode = ResponseCode(*b"54");
    /// Insufficient funds.
    pub const INSUFFICIENT_FUNDS: ResponseCode = ResponseCode(*b"51");
    /// Declined: incorrect PIN (the issuer compared the online PIN).
    pub const INCORRECT_PIN: ResponseCode = ResponseCode(*b"55");
    /// Declined: allowable number of PIN tries exceeded.
    pub const PIN_TRIES_EXCEEDED: ResponseCode = ResponseCode(*b"75");
    /// Issuer or switch inoperative.
    pub const ISSUER_UNAVAILABLE: ResponseCode = ResponseCode(*b"91");
    /// Duplicate transmission (already in the books).
    pub const DUPLICATE: ResponseCode = ResponseCode(*b"94");
    /// Unable to locate the original (a reversal or capture of something the host never got).
    pub const NOT_FOUND: ResponseCode = ResponseCode(*b"25");
    /// Reconciliation out of balance (0510).
    pub const OUT_OF_BALANCE: ResponseCode = ResponseCode(*b"95");
    /// Codes that mean the host approved, with a condition the reference terminal cannot meet
    /// (08 honour with identification, 10 partial approval, 11 VIP approval, 16 approved and
    /// update track 3): the terminal declines, and because the host may hold the funds it also
    /// stores a reversal (PBS-03).
    pub const CONDITIONAL_APPROVALS: [ResponseCode; 4] = [
        ResponseCode(*b"08"),
        ResponseCode(*b"10"),
        ResponseCode(*b"11"),
        ResponseCode(*b"16"),
    ];
}
