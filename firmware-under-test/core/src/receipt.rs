//! Receipts rendered to text for a 32-column printer. The card number is always masked to the
//! first six and last four digits (PCI-01); no expiry, CVC or PIN is ever printed (BAX-05).
//! Fields required by CARD-08: amount, currency, date and time, merchant, network, masked PAN.

use crate::calendar;
use crate::journal::StoredPan;
use core::fmt::{self, Write};
use payhil_protocol::{
    Amount, EntryMode, IdType, Network, Outcome, Reason, ReserveDetails, TxnKind,
};

/// What a receipt shows.
pub struct ReceiptData<'a> {
    /// What kind of transaction.
    pub kind: TxnKind,
    /// Tip included in `amount`, minor units (CARD-05).
    pub tip_minor: u64,
    /// Merchant name.
    pub merchant_name: &'a str,
    /// Merchant id.
    pub merchant_id: &'a str,
    /// Terminal id.
    pub terminal_id: &'a str,
    /// Local time, Unix seconds.
    pub time: i64,
    /// Amount charged, tip included.
    pub amount: Amount,
    /// Network used (CARD-01).
    pub network: Network,
    /// Entry mode.
    pub entry_mode: EntryMode,
    /// Card number; only its masked form is printed.
    pub pan: &'a StoredPan,
    /// Whether the PIN was verified.
    pub pin_verified: bool,
    /// Outcome.
    pub outcome: Outcome,
    /// Reason (printed on declines, SUPPORT-02).
    pub reason: Reason,
    /// Authorisation code.
    pub auth_code: &'a str,
    /// Transaction sequence number.
    pub txn_seq: u32,
}

fn line(out: &mut impl Write, left: &str, right: fmt::Arguments<'_>) -> fmt::Result {
    // Right-align `right` in 32 columns; formatting into a small buffer first measures it.
    let mut r = crate::text::TextBuf::<32>::new();
    r.write_fmt(right)?;
    let pad = 32usize.saturating_sub(left.len() + r.as_str().len()).max(1);
    // The padding as one slice of spaces: `{:pad$}` writes it a character at a time.
    out.write_str(left)?;
    out.write_str(SPACES.get(..pad).unwrap_or(SPACES))?;
    out.write_str(r.as_str())?;
    out.write_char('\n')
}

/// A line's worth of spaces (the most `line` pads with).
const SPACES: &str = "                                ";

/// Human text for a reason (what the display and the receipt say).
pub fn reason_text(r: Reason) -> &'static str {
    match r {
        Reason::Approved => "APPROVED",
        Reason::InsufficientFunds => "INSUFFICIENT FUNDS",
        Reason::CardBlocked => "CARD BLOCKED",
        Reason::CardExpired => "CARD EXPIRED",
        Reason::IssuerUnavailable => "ISSUER UNAVAILABLE",
        Reason::HostDeclined(_) | Reason::HostDeclinedNumeric(_) => "DECLINED BY HOST",
        Reason::StorageFailure => "TERMINAL STORAGE FAULT",
        Reason::OfflineAmountLimit => "OVER OFFLINE AMOUNT LIMIT",
        Reason::OfflineCardLimit => "OVER CARD OFFLINE LIMIT",
        Reason::OfflineCardTypeNotAllowed => "CARD NOT ACCEPTED OFFLINE",
        Reason::OfflineContactlessNotAllowed => "OFFLINE: INSERT CHIP CARD",
        Reason::OfflineWalletNotAllowed => "NO WALLET PAYMENTS OFFLINE",
        Reason::OfflinePinRequired => "PIN REQUIRED OFFLINE",
        Reason::OfflineQueueFull => "OFFLINE STORE FULL",
        Reason::CommunicationFailure => "COMMUNICATION FAILURE",
        Reason::CardDataInvalid => "CARD UNREADABLE",
        Reason::Cancelled => "CANCELLED",
        Reason::ChipUnreadable => "CHIP UNREADABLE",
        Reason::FallbackOnlineOnly => "FALLBACK ONLY ONLINE",
        Reason::GamblingDailyLimit => "DAILY CARD LIMIT REACHED",
        Reason::SplitSuspected => "SPLIT PAYMENT NOT ALLOWED",
        Reason::ReserveNotAllowed => "RESERVE NOT ALLOWED",
        Reason::ReserveAttendantRequired => "ATTENDANT REQUIRED",
        Reason::ReserveIdInvalid => "ID REFERENCE INVALID",
        Reason::ReserveAccountInvalid => "ACCOUNT NUMBER INVALID",
        Reason::ReserveAuthCodeRequired => "PHONE AUTH CODE REQUIRED",
        Reason::ReserveAggregateLimit => "RESERVE LIMIT REACHED",
        Reason::OnlineOnly => "HOST NEEDED: TRY AGAIN LATER",
        Reason::CaptureExceedsAuthorised => "OVER APPROVED AMOUNT",
        Reason::NoSuchTransaction => "NO SUCH TRANSACTION",
        Reason::PinIncorrect => "INCORRECT PIN",
        Reason::PinTriesExceeded => "PIN TRIES EXCEEDED",
        Reason::PinRequired => "PIN REQUIRED",
        Reason::ClockNotTrusted => "CLOCK WRONG: SET TIME",
        Reason::CardDataMalformed => "CARD DATA MALFORMED",
        Reason::CardDataDuplicated => "CARD DATA DUPLICATED",
        Reason::CardDataMissing => "CARD DATA MISSING",
        Reason::CardDataInconsistent => "CARD DATA INCONSISTENT",
        Reason::CardNumberInvalid => "CARD NUMBER INVALID",
        Reason::CardNotSupported => "CARD NOT SUPPORTED",
        Reason::CardNotYetValid => "CARD NOT YET VALID",
        Reason::CurrencyMismatch => "CURRENCY NOT ACCEPTED",
    }
}

/// Merchant, terminal and the date and time: the top of every receipt and debit note.
fn header(out: &mut impl Write, r: &ReceiptData<'_>) -> fmt::Result {
    let t = calendar::from_unix(r.time);
    writeln!(out, "{}", r.merchant_name)?;
    line(out, "MERCHANT", format_args!("{}", r.merchant_id))?;
    line(out, "TERMINAL", format_args!("{}", r.terminal_id))?;
    let (y, mo, d, h, mi, se) = (t.year, t.month, t.day, t.hour, t.minute, t.second);
    line(
        out,
        "",
        format_args!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{se:02}"),
    )
}

/// An amount in major units with its currency code (PBS-04), right-aligned.
fn amount_line(
    out: &mut impl Write,
    label: &str,
    currency: payhil_protocol::Currency,
    minor: u64,
) -> fmt::Result {
    let scale = 10u64.pow(currency.exponent());
    line(
        out,
        label,
        format_args!(
            "{} {}.{:02}",
            currency.alpha(),
            minor / scale,
            minor % scale
        ),
    )
}

/// The card number, first six and last four digits only (PCI-01).
fn masked_card(out: &mut impl Write, r: &ReceiptData<'_>) -> fmt::Result {
    let pan = r.pan.as_str();
    let stars = "*********";
    line(
        out,
        "CARD",
        format_args!("{}{}{}", &pan[..6], &stars[..pan.len() - 10], r.pan.last4()),
    )
}

/// Renders a purchase receipt.
pub fn render(out: &mut impl Write, r: &ReceiptData<'_>) -> fmt::Result {
    header(out, r)?;
    writeln!(
        out,
        "{}",
        match r.kind {
            TxnKind::Purchase => "PURCHASE",
            TxnKind::Refund => "REFUND",
            TxnKind::PreAuthorisation => "PRE-AUTHORISATION",
            TxnKind::Capture => "CAPTURE",
            TxnKind::Reversal => "REVERSAL",
        }
    )?;
    let mode = match r.entry_mode {
        EntryMode::Chip => "CHIP",
        EntryMode::Contactless => "CONTACTLESS",
        EntryMode::Wallet => "WALLET",
        EntryMode::Magstripe => "MAGSTRIPE",
    };
    line(out, r.network.label(), format_args!("{mode}"))?;
    masked_card(out, r)?;
    if r.tip_minor > 0 {
        // CARD-05: the purchase, the tip and the full amount charged.
        amount_line(
            out,
            "AMOUNT",
            r.amount.currency,
            r.amount.minor - r.tip_minor,
        )?;
        amount_line(out, "TIP", r.amount.currency, r.tip_minor)?;
        amount_line(out, "TOTAL", r.amount.currency, r.amount.minor)?;
    } else {
        amount_line(out, "AMOUNT", r.amount.currency, r.amount.minor)?;
    }
    if r.pin_verified {
        writeln!(out, "PIN VERIFIED")?;
    }
    match r.outcome {
        Outcome::ApprovedOnline => line(out, "APPROVED", format_args!("AUTH {}", r.auth_code))?,
        Outcome::ApprovedOffline => {
            line(out, "APPROVED", format_args!("AUTH {}", r.auth_code))?;
            writeln!(out, "OFFLINE - STORED FOR FORWARDING")?;
        }
        Outcome::Declined | Outcome::Aborted => {
            writeln!(out, "DECLINED")?;
            writeln!(out, "{}", reason_text(r.reason))?;
            // The host's own code, whatever it is, for support (SUPPORT-01/02, issue 9).
            match r.reason {
                Reason::HostDeclined(code) => writeln!(out, "RESPONSE CODE {code}")?,
                Reason::HostDeclinedNumeric(n) => writeln!(out, "RESPONSE CODE {n:02}")?,
                _ => {}
            }
        }
    }
    line(out, "TXN", format_args!("{:06}", r.txn_seq))
}

/// Renders a BankAxept reserve debit note (BAX-02, BAX-04, BAX-08). Never the card's expiry
/// date or CVC (BAX-05); the card number masked (PCI-01).
pub fn render_debit_note(
    out: &mut impl Write,
    r: &ReceiptData<'_>,
    note: &ReserveDetails<'_>,
) -> fmt::Result {
    header(out, r)?;
    writeln!(out, "BANKAXEPT RESERVE")?;
    writeln!(out, "DEBITERINGSNOTA / DEBIT NOTE")?;
    masked_card(out, r)?;
    line(out, "ACCOUNT", format_args!("{}", note.note_account))?;
    amount_line(out, "AMOUNT", r.amount.currency, r.amount.minor)?;
    let id = match note.id_type {
        IdType::BankCardWithPhoto => "BANK CARD PHOTO",
        IdType::DriversLicence => "DRIVING LICENCE",
        IdType::NationalIdCard => "NATIONAL ID",
        IdType::Passport => "PASSPORT",
    };
    line(out, "ID", format_args!("{id}"))?;
    line(out, "ID REF", format_args!("{}", note.id_reference))?;
    if !note.phone_auth_code.is_empty() {
        line(out, "PHONE AUTH", format_args!("{}", note.phone_auth_code))?;
    }
    line(out, "TXN", format_args!("{:06}", r.txn_seq))?;
    writeln!(out, "PAYER SIGNATURE")?;
    writeln!(out, "________________________________")?;
    writeln!(out, "MERCHANT KEEPS THIS NOTE 12 MONTHS")
}
