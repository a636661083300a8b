//! The numbers of ZVT: command bytes, result codes, intermediate status codes, the
//! registration's config bits and the status information's payment types, with the
//! specification's words for the codes a person reads (PA00P015 2, 3, 10).

/// Command bytes (class, instruction) of the messages.
pub mod code {
    /// ECR: registration (06 00).
    pub const REGISTRATION: [u8; 2] = [0x06, 0x00];
    /// ECR: authorisation, a payment (06 01).
    pub const AUTHORISATION: [u8; 2] = [0x06, 0x01];
    /// ECR: log off (06 02).
    pub const LOG_OFF: [u8; 2] = [0x06, 0x02];
    /// ECR: pre-authorisation, a reservation of an amount (06 22).
    pub const PRE_AUTHORISATION: [u8; 2] = [0x06, 0x22];
    /// ECR: book total, the booking of a pre-authorisation by its receipt number (06 24).
    pub const BOOK_TOTAL: [u8; 2] = [0x06, 0x24];
    /// ECR: repeat the last receipt (06 20).
    pub const REPEAT_RECEIPT: [u8; 2] = [0x06, 0x20];
    /// ECR: reversal of a payment by its receipt number (06 30).
    pub const REVERSAL: [u8; 2] = [0x06, 0x30];
    /// ECR: refund (06 31).
    pub const REFUND: [u8; 2] = [0x06, 0x31];
    /// ECR: end of day (06 50).
    pub const END_OF_DAY: [u8; 2] = [0x06, 0x50];
    /// ECR: abort the command in progress (06 B0).
    pub const ABORT: [u8; 2] = [0x06, 0xB0];
    /// ECR: status enquiry (05 01).
    pub const STATUS_ENQUIRY: [u8; 2] = [0x05, 0x01];
    /// PT: intermediate status (04 FF).
    pub const INTERMEDIATE_STATUS: [u8; 2] = [0x04, 0xFF];
    /// PT: status information, the result of a transaction (04 0F).
    pub const STATUS_INFORMATION: [u8; 2] = [0x04, 0x0F];
    /// PT: one print line (06 D1).
    pub const PRINT_LINE: [u8; 2] = [0x06, 0xD1];
    /// PT: a block of text to print, lines in a TLV container (06 D3).
    pub const PRINT_TEXT_BLOCK: [u8; 2] = [0x06, 0xD3];
    /// PT: completion, the master rights go back to the ECR (06 0F).
    pub const COMPLETION: [u8; 2] = [0x06, 0x0F];
    /// PT: the command was aborted, with a result code (06 1E).
    pub const PT_ABORT: [u8; 2] = [0x06, 0x1E];
}

/// Result codes (BMP `27`, and the code of an abort) payhil uses (PA00P015 10). Codes
/// `01..=63` are the authorisation system's own (ISO 8583 response codes as numbers).
pub mod result {
    /// Success.
    pub const SUCCESS: u8 = 0x00;
    /// The host declined: do not honour (ISO 8583 `05`).
    pub const DO_NOT_HONOUR: u8 = 0x05;
    /// The host refused: insufficient funds (ISO 8583 `51`).
    pub const INSUFFICIENT_FUNDS: u8 = 51;
    /// The PIN was wrong (ISO 8583 `55`).
    pub const PIN_WRONG: u8 = 55;
    /// The PIN's tries are used up (ISO 8583 `75`).
    pub const PIN_TRIES_EXCEEDED: u8 = 75;
    /// The card could not be read.
    pub const CARD_NOT_READABLE: u8 = 0x64;
    /// Card data not present.
    pub const CARD_DATA_MISSING: u8 = 0x65;
    /// Processing error.
    pub const PROCESSING_ERROR: u8 = 0x66;
    /// Aborted (timeout or abort key, or the ECR's abort).
    pub const ABORTED: u8 = 0x6C;
    /// The card is on the blocked list.
    pub const CARD_BLOCKED: u8 = 0x6E;
    /// Wrong currency.
    pub const WRONG_CURRENCY: u8 = 0x6F;
    /// Card data incorrect.
    pub const CARD_DATA_INCORRECT: u8 = 0x73;
    /// End of day not possible.
    pub const END_OF_DAY_NOT_POSSIBLE: u8 = 0x77;
    /// Card expired.
    pub const CARD_EXPIRED: u8 = 0x78;
    /// Card not yet valid.
    pub const CARD_NOT_YET_VALID: u8 = 0x79;
    /// Card unknown (not supported).
    pub const CARD_UNKNOWN: u8 = 0x7A;
    /// Communication error (no answer from the host).
    pub const COMMUNICATION_ERROR: u8 = 0x7D;
    /// Function not possible.
    pub const NOT_POSSIBLE: u8 = 0x83;
    /// Please wait (the terminal is busy).
    pub const PLEASE_WAIT: u8 = 0x9C;
    /// Memory full (the offline queue).
    pub const MEMORY_FULL: u8 = 0xB1;
    /// Already reversed.
    pub const ALREADY_REVERSED: u8 = 0xB4;
    /// Reversal not possible (no such transaction).
    pub const REVERSAL_NOT_POSSIBLE: u8 = 0xB5;
    /// Maximum amount exceeded (an offline limit).
    pub const MAX_AMOUNT_EXCEEDED: u8 = 0xC3;
    /// Payment method not supported.
    pub const METHOD_NOT_SUPPORTED: u8 = 0xC5;
    /// System error.
    pub const SYSTEM_ERROR: u8 = 0xFF;

    /// The specification's words for a result code (`01..=63` are the host's own).
    pub fn describe(code: u8) -> &'static str {
        match code {
            SUCCESS => "no error",
            0x01..=0x63 => "declined by the host (its own code)",
            CARD_NOT_READABLE => "card not readable",
            CARD_DATA_MISSING => "card data not present",
            PROCESSING_ERROR => "processing error",
            0x6B => "function deactivated (terminal not registered)",
            ABORTED => "aborted (timeout or abort key)",
            CARD_BLOCKED => "card in blocked list",
            WRONG_CURRENCY => "wrong currency",
            CARD_DATA_INCORRECT => "card data incorrect",
            END_OF_DAY_NOT_POSSIBLE => "end of day not possible",
            CARD_EXPIRED => "card expired",
            CARD_NOT_YET_VALID => "card not yet valid",
            CARD_UNKNOWN => "card unknown",
            COMMUNICATION_ERROR => "communication error",
            NOT_POSSIBLE => "function not possible",
            0x9A => "ZVT protocol error",
            PLEASE_WAIT => "please wait",
            0xA0 => "receiver not ready",
            0xA1 => "remote station does not respond",
            MEMORY_FULL => "memory full",
            ALREADY_REVERSED => "already reversed",
            REVERSAL_NOT_POSSIBLE => "reversal not possible",
            MAX_AMOUNT_EXCEEDED => "maximum amount exceeded",
            METHOD_NOT_SUPPORTED => "payment method not supported",
            0xCC => "printer not ready",
            SYSTEM_ERROR => "system error",
            _ => "(a code payhil does not name)",
        }
    }
}

/// Intermediate status codes (04 FF) payhil sends and names (PA00P015 3.7).
pub mod status {
    /// Watch the PIN pad (enter the PIN).
    pub const WATCH_PIN_PAD: u8 = 0x01;
    /// Waiting for the host.
    pub const WAITING_FOR_HOST: u8 = 0x04;
    /// Insert or present the card.
    pub const INSERT_CARD: u8 = 0x0A;
    /// Remove the card.
    pub const REMOVE_CARD: u8 = 0x0B;
    /// Card not readable.
    pub const CARD_NOT_READABLE: u8 = 0x0C;
    /// Please wait.
    pub const PLEASE_WAIT: u8 = 0x0E;
    /// Incorrect PIN.
    pub const INCORRECT_PIN: u8 = 0x15;
    /// Approved, please take the goods.
    pub const APPROVED: u8 = 0x1C;
    /// Declined.
    pub const DECLINED: u8 = 0x1D;
    /// Offline transaction.
    pub const OFFLINE_TRANSACTION: u8 = 0xF3;

    /// The specification's words for an intermediate status.
    pub fn describe(code: u8) -> &'static str {
        match code {
            0x00 => "waiting for amount confirmation",
            WATCH_PIN_PAD | 0x02 => "watch the PIN pad",
            0x03 => "not accepted",
            WAITING_FOR_HOST => "waiting for the host",
            0x05 => "sending auto-reversal",
            INSERT_CARD => "insert card",
            REMOVE_CARD => "remove card",
            CARD_NOT_READABLE => "card not readable",
            0x0D => "processing error",
            PLEASE_WAIT | 0x17 => "please wait",
            0x10 => "invalid card",
            INCORRECT_PIN => "incorrect PIN",
            0x18 => "PIN try limit exceeded",
            0x1B | APPROVED => "approved",
            DECLINED => "declined",
            0xF1 => "offline",
            0xF2 => "online",
            OFFLINE_TRANSACTION => "offline transaction",
            _ => "(a status payhil does not name)",
        }
    }
}

/// Registration config byte bits (PA00P015 2.1).
pub mod config {
    /// The ECR prints the payment receipts.
    pub const ECR_PRINTS_PAYMENT_RECEIPT: u8 = 0x02;
    /// The ECR prints the administration receipts.
    pub const ECR_PRINTS_ADMIN_RECEIPT: u8 = 0x04;
    /// The terminal sends intermediate statuses.
    pub const INTERMEDIATE_STATUS: u8 = 0x08;
    /// The ECR controls the payment (no amount entry on the terminal).
    pub const ECR_CONTROLS_PAYMENT: u8 = 0x10;
    /// The ECR controls administration functions.
    pub const ECR_CONTROLS_ADMIN: u8 = 0x20;
    /// Receipts come as print lines (06 D1) or text blocks (06 D3).
    pub const RECEIPTS_AS_PRINT_LINES: u8 = 0x80;
}

/// Status information's payment type (`19`, PA00P015 3.1.1): an offline payment.
pub const PAYMENT_OFFLINE: u8 = 0x40;
/// Status information's payment type: an online payment.
pub const PAYMENT_ONLINE: u8 = 0x60;
/// Status information's payment type: a PIN payment.
pub const PAYMENT_PIN: u8 = 0x70;

/// Repeat-receipt service byte: send the status information of the last transaction again.
pub const REPEAT_STATUS_INFORMATION: u8 = 0x01;
