//! Messages carried in frame payloads, encoded with postcard (see PROTOCOL.md for the bytes).
//!
//! Enum variants and struct fields are encoded by position: never reorder them, only append,
//! and bump [`crate::PROTOCOL_VERSION`] when a change is not backwards compatible.
//!
//! Card numbers and PINs travel in [`PanText`] and [`PinText`], whose `Debug` output is masked,
//! so that a transcript built from `{:?}` never holds a full PAN or a PIN (PCI-01, PBS-01).

use core::fmt;
use serde::{Deserialize, Serialize};

mod money;
mod pin;
pub use money::{Amount, Currency};
pub use pin::{PinBlock, PinVerdict};

/// How the card was presented to the terminal.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryMode {
    /// Chip inserted (EMV contact).
    Chip,
    /// Contactless card.
    Contactless,
    /// A mobile wallet (Apple Pay, Google Pay, ...), always contactless.
    Wallet,
    /// Magnetic stripe swipe.
    Magstripe,
}

/// The payment application (card network) selected on the card.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Network {
    /// Dankort (Danish domestic debit).
    Dankort,
    /// Visa credit.
    Visa,
    /// Visa Debit with balance control.
    VisaDebit,
    /// Mastercard.
    Mastercard,
    /// BankAxept (Norwegian domestic debit).
    BankAxept,
}

impl Network {
    /// Name printed on receipts and settlement files.
    pub const fn label(self) -> &'static str {
        match self {
            Network::Dankort => "DANKORT",
            Network::Visa => "VISA",
            Network::VisaDebit => "VISA DEBIT",
            Network::Mastercard => "MASTERCARD",
            Network::BankAxept => "BANKAXEPT",
        }
    }
}

/// A full card number as ASCII digits. `Debug` shows only the first six and last four digits.
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq)]
pub struct PanText<'a>(#[serde(borrow)] pub &'a str);

impl fmt::Debug for PanText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        if s.len() < 10 || !s.is_ascii() {
            return f.write_str("PanText(<masked>)");
        }
        write!(f, "PanText({}", &s[..6])?;
        for _ in 0..s.len() - 10 {
            f.write_str("*")?;
        }
        write!(f, "{})", &s[s.len() - 4..])
    }
}

/// A PIN as ASCII digits. `Debug` never shows it.
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq)]
pub struct PinText<'a>(#[serde(borrow)] pub &'a str);

impl fmt::Debug for PinText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PinText(<redacted>)")
    }
}

/// Card expiry month.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Expiry {
    /// Four-digit year.
    pub year: u16,
    /// Month, 1..=12.
    pub month: u8,
}

/// What the card gives the terminal when presented. No CVC and no track data: the test agent
/// never needs them, so they cannot leak from it.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct CardData<'a> {
    /// How the card was presented.
    pub entry_mode: EntryMode,
    /// The application the cardholder (or the terminal) selected.
    pub network: Network,
    /// The card number.
    #[serde(borrow)]
    pub pan: PanText<'a>,
    /// Expiry month.
    pub expiry: Expiry,
    /// PAN sequence number (EMV tag 5F34).
    pub pan_seq: u8,
    /// Bank account number the card carries (BankAxept: 11 digits), empty if none.
    pub account: &'a str,
}

/// Kind of identification checked for a BankAxept reserve payment (BAX-04).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdType {
    /// Bank card with photo: control number, letters and digits.
    BankCardWithPhoto,
    /// Driving licence: licence number, 11 digits.
    DriversLicence,
    /// National ID card: document number, letters and digits.
    NationalIdCard,
    /// Passport: passport number, 8 digits.
    Passport,
}

/// What the merchant enters for a BankAxept reserve payment (BAX-03..08).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReserveDetails<'a> {
    /// An attendant is present (required on self-service terminals, BAX-03).
    pub attendant_present: bool,
    /// The ID checked.
    pub id_type: IdType,
    /// The ID's reference as written on the note.
    pub id_reference: &'a str,
    /// The account number written on the note (11 digits).
    pub note_account: &'a str,
    /// Authorisation code obtained by phone, empty if none (BAX-08).
    pub phone_auth_code: &'a str,
}

/// Requests from the harness; each is answered by exactly one [`Response`] with the same id.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request<'a> {
    /// 0: opens a session; answered by [`Response::Hello`].
    Hello {
        /// The harness's [`crate::PROTOCOL_VERSION`].
        protocol_version: u16,
    },
    /// 1: liveness and latency probe; answered by [`Response::Pong`].
    Ping {
        /// Echoed back.
        nonce: u32,
    },
    /// 2: sets the terminal's clock (seconds since the Unix epoch, UTC).
    SetClock {
        /// New time.
        unix_s: i64,
    },
    /// 3: moves the clock forward; the terminal runs any timers that fall due (e.g. forwarding
    /// its offline queue) before it answers.
    AdvanceClock {
        /// Seconds to advance.
        secs: u32,
    },
    /// 4: the operator starts a purchase.
    StartPurchase {
        /// Amount to charge.
        amount: Amount,
        /// Operator chose forced offline (NETS-02).
        forced_offline: bool,
    },
    /// 5: a card is presented.
    PresentCard(#[serde(borrow)] CardData<'a>),
    /// 6: the cardholder enters the PIN.
    EnterPin(#[serde(borrow)] PinText<'a>),
    /// 7: the operator cancels the transaction in progress.
    Cancel,
    /// 8: asks for the offline queue's state.
    QueueStatus,
    /// 9: the operator asks the terminal to forward its offline queue now.
    ForwardQueue,
    /// 10: cuts power; answered by [`Response::PoweringOff`], then the terminal stops.
    PowerCut,
    /// 11: the card was inserted but its chip could not be read (SUPPORT-03).
    ChipUnreadable,
    /// 12: the merchant enters the debit-note details of a BankAxept reserve payment.
    EnterReserveDetails(#[serde(borrow)] ReserveDetails<'a>),
    /// 13: asks for the settlement totals per network (reconciliation).
    Reconcile,
    /// 14: the operator starts a transaction of any kind. Purchases, refunds and
    /// pre-authorisations continue with PresentCard; captures and reversals refer to an earlier
    /// transaction and are carried out at once.
    StartTransaction {
        /// What kind.
        kind: TxnKind,
        /// Amount (for a purchase without the tip; for a capture the amount to capture).
        amount: Amount,
        /// Tip added by the cardholder, minor units, same currency (CARD-05).
        tip_minor: u64,
        /// Operator chose forced offline (NETS-02).
        forced_offline: bool,
        /// For captures and reversals: the sequence number of the transaction referred to.
        reference: u32,
    },
    /// 15: the card's verdict on the PIN block the terminal sent ([`Response::VerifyPin`]);
    /// the harness plays the card.
    CardVerdict(PinVerdict),
    /// 16: a card is presented with its data as EMV BER-TLV (PROTOCOL.md 4.7); answered as
    /// [`Request::PresentCard`]. The harness sends this one; 5 is still decoded.
    PresentCardTlv {
        /// How the card was presented (a terminal fact, not card data).
        entry_mode: EntryMode,
        /// The application the cardholder (or the terminal) selected.
        network: Network,
        /// The card's data objects ([`crate::card_tlv`]).
        #[serde(borrow)]
        tlv: crate::card_tlv::CardTlv<'a>,
    },
    /// 17: the controlled clock moves `secs` while the terminal waits for its host's answer
    /// (after an [`Event::AwaitingHost`], during the request that caused it: PROTOCOL.md 4.8).
    /// Answered at once with [`Response::Clock`]; a clock at or past the announced deadline ends
    /// the wait (no answer), and the waiting request goes on to its own response. Runs no other
    /// timer. `Rejected(WrongState)` when the terminal is not waiting for its host.
    AdvanceClockInWait {
        /// Seconds to move the clock.
        secs: u32,
    },
    /// 18: whether the terminal announces its host waits ([`Event::AwaitingHost`]) from now
    /// on; off at every start (PROTOCOL.md 4.8). The harness turns it on only while its link
    /// swallows requests: an announcement sent while the host answers would race the host's
    /// records and the serial line's faults. Answered [`Response::Clock`] with the terminal's
    /// time.
    AnnounceHostWaits {
        /// Announce (true) or not.
        on: bool,
    },
    /// 19: puts the terminal in a known state before a test (PROTOCOL.md 4.9): its journal and
    /// offline queue emptied (sequence numbers continue above every one it used), its blocked
    /// card list cleared, the configuration and clock given here, nothing in progress.
    /// Answered [`Response::Hello`] with its identity after the reset. Optional: a terminal
    /// without it answers `Rejected(Malformed)`; the lab then resets it by its own procedure.
    Reset(ResetSettings),
}

/// The configuration a [`Request::Reset`] gives the terminal: what a scenario assumes.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResetSettings {
    /// The clock after the reset, Unix seconds (UTC).
    pub unix_s: i64,
    /// Offline limit per transaction, minor units of the terminal's currency (NETS-03).
    pub offline_limit_minor: u64,
    /// Offline limit per card, minor units (NETS-04).
    pub card_limit_minor: u64,
    /// Contactless CVM limit, minor units (CARD-02).
    pub cvm_limit_minor: u64,
    /// A gambling merchant's daily maximum per card, minor units (CARD-04); none if `None`.
    pub gambling_daily_max_minor: Option<u64>,
    /// Self-service terminal (BAX-03).
    pub self_service: bool,
    /// BankAxept reserve: phone authorisation above this, minor units NOK (BAX-08).
    pub reserve_phone_auth_above_minor: u64,
    /// BankAxept reserve: aggregate cap, minor units NOK; 0 for none (BAX-09).
    pub reserve_cap_minor: u64,
    /// Seconds on the controlled clock between two attempts to forward the offline queue.
    pub forward_retry_s: u32,
    /// The terminal's real-time bound on a host answer it does not announce, milliseconds.
    pub host_timeout_ms: u64,
}

/// Kinds of transaction.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxnKind {
    /// A purchase.
    Purchase,
    /// A refund to the card, a credit (CARD-07).
    Refund,
    /// A pre-authorisation (reservation), not settled until captured (CARD-06).
    PreAuthorisation,
    /// Capture of a pre-authorisation, at most the amount approved (CARD-06).
    Capture,
    /// Reversal (annulment) of an authorised purchase (PBS-03).
    Reversal,
}

/// What the terminal waits for next.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Awaiting {
    /// Idle, ready for a new transaction.
    Nothing,
    /// A card.
    Card,
    /// The PIN.
    Pin,
    /// The debit-note details of a BankAxept reserve payment.
    ReserveDetails,
    /// The card's verdict on the PIN the terminal asked it to verify offline
    /// ([`Response::VerifyPin`], answered by [`Request::CardVerdict`]).
    CardVerdict,
}

/// How a transaction ended.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Authorised by the host.
    ApprovedOnline,
    /// Approved by the terminal and stored for forwarding (NETS-01).
    ApprovedOffline,
    /// Declined; see the reason.
    Declined,
    /// Ended without a decision (cancelled, unreadable card, ...); see the reason.
    Aborted,
}

/// A specific reason for an outcome (NETS-09, SUPPORT-01): never a bare "error".
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// Approved; no reason needed.
    Approved,
    /// The host declined: insufficient funds.
    InsufficientFunds,
    /// The card is blocked (CARD-10).
    CardBlocked,
    /// The card has expired (CARD-03).
    CardExpired,
    /// The issuer could not be reached by the host.
    IssuerUnavailable,
    /// Protocol 1's form of [`Reason::HostDeclined`], with the response code as a number, which
    /// cannot carry codes such as "N7". Still decoded, so that terminals written against it keep
    /// working; the reference terminal sends [`Reason::HostDeclined`].
    HostDeclinedNumeric(u8),
    /// Offline: amount above the merchant's per-transaction offline limit (NETS-03).
    OfflineAmountLimit,
    /// Offline: the card's cumulative offline limit would be passed (NETS-04).
    OfflineCardLimit,
    /// Offline: this card type may not be used offline (NETS-05).
    OfflineCardTypeNotAllowed,
    /// Offline: contactless cannot be used offline (NETS-07).
    OfflineContactlessNotAllowed,
    /// Offline: wallets cannot be used offline (NETS-06).
    OfflineWalletNotAllowed,
    /// Offline: a PIN is required (NETS-08).
    OfflinePinRequired,
    /// Offline: the queue is full, nothing more can be stored.
    OfflineQueueFull,
    /// The host could not be reached and the payment could not be taken offline.
    CommunicationFailure,
    /// The card data could not be read or was malformed.
    CardDataInvalid,
    /// The operator cancelled.
    Cancelled,
    /// The chip could not be read (SUPPORT-03); a fallback may be tried online.
    ChipUnreadable,
    /// A fallback presentation (after an unreadable chip) can only be authorised online
    /// (SUPPORT-03).
    FallbackOnlineOnly,
    /// The gambling merchant's daily maximum for this card would be passed (CARD-04).
    GamblingDailyLimit,
    /// The payment looks split to stay under a limit (PBS-05, BAX-09).
    SplitSuspected,
    /// The BankAxept reserve solution may not be used here and now (BAX-01).
    ReserveNotAllowed,
    /// Reserve on a self-service terminal needs an attendant present (BAX-03).
    ReserveAttendantRequired,
    /// The ID reference on the debit note is missing or malformed (BAX-04, BAX-07).
    ReserveIdInvalid,
    /// The account number on the note fails MOD-11 or differs from the card's (BAX-06, BAX-07).
    ReserveAccountInvalid,
    /// Above the threshold a phone authorisation code is needed (BAX-08).
    ReserveAuthCodeRequired,
    /// The aggregate cap on reserve transactions would be passed (BAX-09).
    ReserveAggregateLimit,
    /// This kind of transaction needs the host, which cannot be reached.
    OnlineOnly,
    /// A capture above the amount the cardholder approved (CARD-06).
    CaptureExceedsAuthorised,
    /// The referenced transaction does not exist, or cannot be captured or reversed (again).
    NoSuchTransaction,
    /// The host declined with a response code the terminal has no specific reason for, or one
    /// it cannot honour; the code (ISO 8583 DE 39, two letters or digits) is given and printed.
    HostDeclined(crate::host_link::ResponseCode),
    /// The terminal could not journal the transaction (its storage failed or is inconsistent),
    /// so it did not approve it.
    StorageFailure,
    /// The PIN was wrong: the card (offline) or the issuer (online) said so.
    PinIncorrect,
    /// The PIN's tries are used up: the card (offline) or the issuer (online) blocked it.
    PinTriesExceeded,
    /// The PIN is required and the cardholder skipped it (CARD-02: contactless above the CVM
    /// limit).
    PinRequired,
    /// The terminal's clock is behind the latest time it has journaled (set back by hand, by a
    /// time server's step, or lost with the battery): the dates that expiry (CARD-03), the
    /// gambling day (CARD-04) and the deadlines (BAX-10) are judged by cannot be trusted, so
    /// no transaction is taken until the clock is set right.
    ClockNotTrusted,
    /// 35: the card's data is not well-formed BER-TLV (truncated, a length that does not fit,
    /// an object longer than its format allows, garbage inside a template).
    CardDataMalformed,
    /// 36: the card gave one data object twice (EMV: redundant data is an error).
    CardDataDuplicated,
    /// 37: a data object the terminal needs is missing (PROTOCOL.md 4.7).
    CardDataMissing,
    /// 38: the card's data objects contradict each other (track 2's card number or expiry
    /// against 5A and 5F24).
    CardDataInconsistent,
    /// 39: the card number is not one: a digit is not a digit, or the Luhn check fails.
    CardNumberInvalid,
    /// 40: the card number's issuer range (BIN) is not one the selected application takes.
    CardNotSupported,
    /// 41: the card's effective date (5F25) has not come yet.
    CardNotYetValid,
    /// 42: the card's application currency (9F42) is not the transaction's.
    CurrencyMismatch,
}

/// Who a terminal is: fixed by its build and configuration.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity<'a> {
    /// Device model.
    pub model: &'a str,
    /// Serial number.
    pub serial: &'a str,
    /// Firmware version string.
    pub firmware_version: &'a str,
    /// Hash of the firmware build (e.g. SHA-256 of the image), hex.
    pub build_hash: &'a str,
    /// Terminal id used towards the acquirer.
    pub terminal_id: &'a str,
    /// Merchant id used towards the acquirer.
    pub merchant_id: &'a str,
}

/// What the terminal reports in Hello. Postcard inlines `identity`, so on the wire this is
/// protocol_version, the six identity strings, boot_count, queue_capacity, flash_bytes
/// (PROTOCOL.md 4.3).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceInfo<'a> {
    /// The terminal's [`crate::PROTOCOL_VERSION`].
    pub protocol_version: u16,
    /// Model, serial, versions and acquirer ids.
    #[serde(borrow)]
    pub identity: Identity<'a>,
    /// Power-ups since the flash was formatted.
    pub boot_count: u32,
    /// How many offline items the terminal can hold before it must refuse offline payments
    /// (NETS-01): a device property the harness's model needs (protocol 2).
    pub queue_capacity: u32,
    /// Size of the terminal's transaction storage in bytes; what a storage dump must cover
    /// (protocol 2).
    pub flash_bytes: u32,
}

/// A finished transaction.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnResult<'a> {
    /// How it ended.
    pub outcome: Outcome,
    /// Why.
    pub reason: Reason,
    /// Terminal's transaction sequence number; offline items keep it as their stable id.
    pub txn_seq: u32,
    /// Authorisation code (host's online, terminal-made offline), ASCII, may be empty.
    pub auth_code: &'a str,
    /// The receipt as printed (lines separated by '\n'); empty if none was printed.
    pub receipt: &'a str,
}

/// The offline queue as the terminal reports it (NETS-10: the merchant can see what is
/// still unforwarded).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueStatus {
    /// Stored, not yet acknowledged by the host.
    pub pending: u32,
    /// Acknowledged by the host since boot.
    pub forwarded: u32,
    /// Forwarded and declined by the host (the merchant's loss, NETS-10).
    pub declined_by_host: u32,
    /// How many items fit.
    pub capacity: u32,
    /// Total amount pending, minor units (all currencies added: informational only).
    pub pending_minor: u64,
    /// Pending items older than their forwarding deadline (BAX-10: two weeks for BankAxept
    /// reserve; the Nets deadline is configuration).
    pub overdue: u32,
}

/// Why a request could not be carried out.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestError {
    /// Not valid in the terminal's current state (e.g. a PIN with no transaction).
    WrongState {
        /// What the terminal was waiting for.
        awaiting: Awaiting,
    },
    /// The payload did not decode as a request of this protocol version.
    Malformed,
    /// The protocol versions do not match.
    VersionMismatch {
        /// The terminal's version.
        terminal: u16,
    },
    /// The amount is zero or its currency is not supported.
    BadAmount,
    /// SetClock or AdvanceClock asked for a time the terminal cannot keep (its journal stores
    /// times in a fixed range); the clock is unchanged.
    ClockOutOfRange {
        /// Earliest time the terminal keeps, Unix seconds.
        min: i64,
        /// Latest time the terminal keeps, Unix seconds.
        max: i64,
    },
    /// The terminal's storage failed or was found inconsistent (not a power loss): the request
    /// was not carried out.
    StorageFault,
}

/// Answers to [`Request`]s.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Response<'a> {
    /// 0: answer to Hello.
    Hello(#[serde(borrow)] DeviceInfo<'a>),
    /// 1: answer to Ping.
    Pong {
        /// The request's nonce.
        nonce: u32,
    },
    /// 2: the clock after SetClock / AdvanceClock.
    Clock {
        /// Current time.
        unix_s: i64,
    },
    /// 3: the request was taken; the terminal now waits for this.
    Accepted {
        /// Next input expected.
        awaiting: Awaiting,
    },
    /// 4: the transaction finished.
    Done(#[serde(borrow)] TxnResult<'a>),
    /// 5: the offline queue's state.
    Queue(QueueStatus),
    /// 6: the request was refused.
    Rejected(RequestError),
    /// 7: power is being cut; nothing more will be sent before the next boot.
    PoweringOff,
    /// 8: settlement totals per network.
    Totals(SettlementTotals),
    /// 9: the terminal decided offline and asks the card to verify the PIN (EMV VERIFY,
    /// plaintext PIN); it now waits for [`Request::CardVerdict`] ([`Awaiting::CardVerdict`]).
    VerifyPin(PinBlock),
}

/// One batch: a network's transactions in one currency, how many and their sum in minor units
/// of that currency (amounts in two currencies are never added together).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchTotal {
    /// The network (CARD-09 keeps the networks apart).
    pub network: Network,
    /// The currency of every amount in the batch.
    pub currency: Currency,
    /// Purchases and captures in the batch.
    pub count: u32,
    /// Their sum, minor units.
    pub minor: u64,
    /// Refunds in the batch (CARD-07).
    pub refund_count: u32,
    /// Their sum, minor units (credited to cardholders).
    pub refund_minor: u64,
}

/// At most this many batches (network and currency pairs) in [`SettlementTotals`]: five
/// networks, and the international ones in a second currency (protocol 2).
pub const MAX_BATCHES: usize = 8;

/// Settlement totals, one batch per network and currency (protocol 2: protocol 1 had one
/// figure per network, which added a NOK purchase to a DKK one).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SettlementTotals {
    /// The batches with at least one transaction, in the order first met; `None` after the
    /// last.
    pub batches: [Option<BatchTotal>; MAX_BATCHES],
    /// What the host said when the terminal reconciled with it.
    pub host: HostBalance,
}

/// More batches than [`MAX_BATCHES`], or a count that would overflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchesFull;

impl SettlementTotals {
    /// The batch of `network` in `currency`, if it has transactions.
    pub fn batch(&self, network: Network, currency: Currency) -> Option<&BatchTotal> {
        self.batches
            .iter()
            .flatten()
            .find(|b| b.network == network && b.currency == currency)
    }

    /// Counts a transaction of `amount` on `network`: a refund (`credit`) or a purchase or
    /// capture.
    pub fn add(
        &mut self,
        network: Network,
        amount: Amount,
        credit: bool,
    ) -> Result<(), BatchesFull> {
        let at = self
            .batches
            .iter()
            .position(|b| b.is_none_or(|b| b.network == network && b.currency == amount.currency));
        let slot = at
            .and_then(|i| self.batches.get_mut(i))
            .ok_or(BatchesFull)?;
        let b = slot.get_or_insert(BatchTotal {
            network,
            currency: amount.currency,
            count: 0,
            minor: 0,
            refund_count: 0,
            refund_minor: 0,
        });
        let (count, minor) = if credit {
            (&mut b.refund_count, &mut b.refund_minor)
        } else {
            (&mut b.count, &mut b.minor)
        };
        // Both checked before either changes: a refused item leaves the batch as it was.
        let next = (
            count.checked_add(1).ok_or(BatchesFull)?,
            minor.checked_add(amount.minor).ok_or(BatchesFull)?,
        );
        (*count, *minor) = next;
        Ok(())
    }
}

/// The host's verdict on a reconciliation (ISO 8583 0510).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HostBalance {
    /// The host could not be asked.
    #[default]
    NotChecked,
    /// The host's books agree with the terminal's.
    InBalance,
    /// They differ.
    OutOfBalance,
}

/// Unsolicited terminal events; informational, numbered so that a gap is noticed.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// 0: the terminal has booted and is ready for Hello.
    Boot {
        /// Power-ups since format.
        boot_count: u32,
    },
    /// 1: text shown on the display.
    Display(&'a str),
    /// 2: the terminal prompts for input.
    Prompt(Awaiting),
    /// 3: the terminal sent its host a message and waits for the answer until `deadline_unix_s`
    /// on the controlled clock (PROTOCOL.md 4.8). A harness that knows no answer will come moves
    /// the clock there with [`Request::AdvanceClockInWait`]; a terminal that does not send this
    /// event times out on its own clock.
    AwaitingHost {
        /// When the terminal gives up on the answer (Unix seconds, its controlled clock).
        deadline_unix_s: i64,
    },
}

/// Longest strings, in bytes, each side sends (PROTOCOL.md 4.5): a terminal without an
/// allocator sizes its buffers from these. The harness never sends a longer string than its
/// limits here (it refuses to send such a request); a valid value is often shorter, and the
/// harness sends invalid ones up to the limit to see them refused.
pub mod limits {
    /// `CardData::pan` (12..19 digits).
    pub const PAN: usize = 19;
    /// `CardData::account` (a BankAxept card's 11 digits; scenarios may give up to 20).
    pub const CARD_ACCOUNT: usize = 20;
    /// `PresentCardTlv::tlv`, bytes (a well-formed card's data is about 90).
    pub const CARD_TLV: usize = 256;
    /// `EnterPin` (4..12 digits, or empty).
    pub const PIN: usize = 12;
    /// `ReserveDetails::id_reference`.
    pub const ID_REFERENCE: usize = 32;
    /// `ReserveDetails::note_account`.
    pub const NOTE_ACCOUNT: usize = 32;
    /// `ReserveDetails::phone_auth_code`.
    pub const PHONE_AUTH_CODE: usize = 16;
    /// Terminal to harness: `DeviceInfo` model, serial, firmware version.
    pub const DEVICE_TEXT: usize = 32;
    /// Terminal to harness: `DeviceInfo::build_hash` (hex of a SHA-256: 64).
    pub const BUILD_HASH: usize = 64;
    /// Terminal to harness: `DeviceInfo::terminal_id` (ISO 8583 DE 41, ans8).
    pub const TERMINAL_ID: usize = 8;
    /// Terminal to harness: `DeviceInfo::merchant_id` (ISO 8583 DE 42, ans15).
    pub const MERCHANT_ID: usize = 15;
    /// Terminal to harness: `TxnResult::auth_code`.
    pub const AUTH_CODE: usize = 6;
    /// Terminal to harness: `TxnResult::receipt` (what fits one frame with the rest of Done).
    pub const RECEIPT: usize = 1000;
    /// Terminal to harness: `Event::Display`.
    pub const DISPLAY: usize = 64;
}

impl Request<'_> {
    /// The first string longer than its [`limits`] entry, by name; `None` if all fit.
    pub fn over_limit(&self) -> Option<&'static str> {
        let fields: &[(&str, usize, &'static str)] = match self {
            Request::PresentCard(c) => &[
                (c.pan.0, limits::PAN, "pan"),
                (c.account, limits::CARD_ACCOUNT, "account"),
            ],
            Request::EnterPin(p) => &[(p.0, limits::PIN, "pin")],
            Request::PresentCardTlv { tlv, .. } if tlv.0.len() > limits::CARD_TLV => {
                return Some("tlv");
            }
            Request::EnterReserveDetails(n) => &[
                (n.id_reference, limits::ID_REFERENCE, "id_reference"),
                (n.note_account, limits::NOTE_ACCOUNT, "note_account"),
                (
                    n.phone_auth_code,
                    limits::PHONE_AUTH_CODE,
                    "phone_auth_code",
                ),
            ],
            _ => &[],
        };
        fields
            .iter()
            .find(|(text, max, _)| text.len() > *max)
            .map(|(_, _, name)| *name)
    }
}

/// Decodes a frame's payload as exactly one message: bytes left over after it make the
/// payload malformed (PROTOCOL.md 4), as a missing byte does.
pub fn from_payload<'a, T: Deserialize<'a>>(payload: &'a [u8]) -> Result<T, postcard::Error> {
    // postcard::from_bytes ignores what follows the message; the protocol does not, so that a
    // sender's encoding bug or a damaged payload that still passes the CRC is not half-read.
    match postcard::take_from_bytes(payload)? {
        (message, []) => Ok(message),
        _ => Err(postcard::Error::DeserializeBadEncoding),
    }
}

#[cfg(test)]
mod tests;
