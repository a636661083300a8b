//! What a transaction record holds and how its 44 bytes are laid out (in the journal's
//! current layout version): the card number packed as BCD and encrypted under the device's
//! [`PanKey`] (PCI-02), amount, kind, outcome and the codes each field is stored as. The
//! journal ([`super::Journal`]) keeps these records in its ring.

use chacha20::ChaCha20;
use chacha20::cipher::{KeyIvInit, StreamCipher};
use payhil_protocol::host_link::{ResponseCode, response_code};
use payhil_protocol::{Amount, Currency, EntryMode, Network, Reason, TxnKind};

/// The key card numbers are encrypted under in the journal (PCI-02). `Debug` never shows it.
///
/// A real terminal keeps this key in a secure element (or derives it there from a device-unique
/// secret) and never lets it leave; the reference terminal derives a **test key** from a published
/// constant and its serial number ([`PanKey::test_key`]), which protects nothing against someone
/// who knows this source, but keeps card numbers out of the raw flash bytes, which is what the
/// harness checks, and exercises the same code a real key would.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PanKey([u8; 32]);

impl core::fmt::Debug for PanKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("PanKey(..)")
    }
}

/// The published constant the test keys are derived from (not a secret: see [`PanKey`]).
const TEST_MASTER_KEY: [u8; 32] = *b"payhil reference terminal TESTKY";

impl PanKey {
    /// A key given by the platform (e.g. read from a secure element).
    pub const fn new(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The reference terminal's per-device test key: ChaCha20 under [`TEST_MASTER_KEY`], chained
    /// over the serial number in 32-byte chunks (the chunk index and the serial's length in the
    /// nonce), so that every serial gets its own key. Documented in PROTOCOL.md as a test key.
    pub fn test_key(serial: &str) -> Self {
        let s = serial.as_bytes();
        let mut key = TEST_MASTER_KEY;
        let chunks = s.len().div_ceil(32).max(1);
        for i in 0..chunks {
            let mut block = [0u8; 32];
            let part = s.get(i * 32..).unwrap_or(&[]);
            let n = part.len().min(32);
            block[..n].copy_from_slice(&part[..n]);
            let mut nonce = [0u8; 12];
            nonce[..4].copy_from_slice(&(i as u32).to_le_bytes());
            nonce[4..8].copy_from_slice(&(s.len() as u32).to_le_bytes());
            nonce[8..].copy_from_slice(b"KDF\0");
            ChaCha20::new(&key.into(), &nonce.into()).apply_keystream(&mut block);
            key = block;
        }
        Self(key)
    }

    /// XORs `buf` with the keystream for `nonce` (encrypts and decrypts).
    pub(crate) fn apply(&self, nonce: [u8; 12], buf: &mut [u8]) {
        ChaCha20::new(&self.0.into(), &nonce.into()).apply_keystream(buf);
    }

    /// The nonce of a transaction record's card number: its sequence number and its log sequence
    /// number. No two records share both (a sequence number is journaled once; an lsn names one
    /// append), so no keystream ever covers two card numbers.
    pub(super) fn pan_nonce(seq: u32, lsn: u32) -> [u8; 12] {
        let mut n = [0u8; 12];
        n[..4].copy_from_slice(&seq.to_le_bytes());
        n[4..8].copy_from_slice(&lsn.to_le_bytes());
        n[8..].copy_from_slice(b"PAN\0");
        n
    }

    /// Four bytes that tell this key from another (the keystream under a nonce no record uses).
    pub(super) fn check_value(&self) -> [u8; 4] {
        let mut kcv = [0u8; 4];
        let mut n = [0u8; 12];
        n[8..].copy_from_slice(b"KCV\0");
        self.apply(n, &mut kcv);
        kcv
    }
}

/// How a journaled transaction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxnStatus {
    /// Approved online; nothing to forward.
    ApprovedOnline,
    /// Approved offline; pending until the host acknowledges it.
    ApprovedOffline,
    /// Declined (by the host or the terminal).
    Declined,
    /// An online authorisation about to be sent to the host: journaled before it is sent, so
    /// that a power cut before its outcome is journaled leaves a trace. A later record of the
    /// same sequence number (its outcome), or a reversal of it, resolves it; at boot one left
    /// unresolved gets a stored reversal (PBS-03: the host may have approved it).
    Sent,
}

/// A card number stored as packed BCD (no CVC, no track data, no PIN: PCI-02, PBS-01).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredPan {
    len: u8,
    digits: [u8; 19],
}

impl StoredPan {
    /// A placeholder for fixed-size tables (matches no real card: length 0).
    pub const EMPTY: StoredPan = StoredPan {
        len: 0,
        digits: [b'0'; 19],
    };

    /// From ASCII digits; `None` unless 12..=19 digits.
    pub fn from_ascii(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if !(12..=19).contains(&b.len()) || !b.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let mut digits = [b'0'; 19];
        digits[..b.len()].copy_from_slice(b);
        Some(Self {
            len: b.len() as u8,
            digits,
        })
    }

    /// The digits as text.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.digits[..self.len as usize]).unwrap_or("")
    }

    /// First six digits.
    pub fn first6(&self) -> &str {
        &self.as_str()[..6]
    }

    /// Last four digits.
    pub fn last4(&self) -> &str {
        let s = self.as_str();
        &s[s.len() - 4..]
    }

    fn pack(&self, out: &mut [u8; 10]) {
        *out = [0xFF; 10];
        for (i, d) in self.digits[..self.len as usize].iter().enumerate() {
            let nib = d - b'0';
            let byte = &mut out[i / 2];
            *byte = if i % 2 == 0 {
                (nib << 4) | 0x0F
            } else {
                (*byte & 0xF0) | nib
            };
        }
    }

    fn unpack(len: u8, packed: &[u8]) -> Option<Self> {
        if !(12..=19).contains(&len) {
            return None;
        }
        let mut digits = [b'0'; 19];
        for (i, d) in digits.iter_mut().take(len as usize).enumerate() {
            let byte = packed[i / 2];
            let nib = if i % 2 == 0 { byte >> 4 } else { byte & 0x0F };
            if nib > 9 {
                return None;
            }
            *d = b'0' + nib;
        }
        Some(Self { len, digits })
    }
}

/// One journaled transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnRecord {
    /// Stable id, the transaction sequence number.
    pub seq: u32,
    /// What kind of transaction.
    pub kind: TxnKind,
    /// Captures and reversals: the transaction referred to (0 otherwise).
    pub related_seq: u32,
    /// Amount.
    pub amount: Amount,
    /// Outcome.
    pub status: TxnStatus,
    /// Network used.
    pub network: Network,
    /// Entry mode.
    pub entry_mode: EntryMode,
    /// Card number.
    pub pan: StoredPan,
    /// PAN sequence number.
    pub pan_seq: u8,
    /// Local time, Unix seconds (stored as u32: 1970..2106).
    pub local_time: i64,
    /// Authorisation code, ASCII, space padded.
    pub auth_code: [u8; 6],
    /// Decline reason (Approved for approvals).
    pub reason: Reason,
}

fn network_code(n: Network) -> u8 {
    match n {
        Network::Dankort => 1,
        Network::Visa => 2,
        Network::VisaDebit => 3,
        Network::Mastercard => 4,
        Network::BankAxept => 5,
    }
}

fn network_from(c: u8) -> Option<Network> {
    Some(match c {
        1 => Network::Dankort,
        2 => Network::Visa,
        3 => Network::VisaDebit,
        4 => Network::Mastercard,
        5 => Network::BankAxept,
        _ => return None,
    })
}

fn entry_code(e: EntryMode) -> u8 {
    match e {
        EntryMode::Chip => 1,
        EntryMode::Contactless => 2,
        EntryMode::Wallet => 3,
        EntryMode::Magstripe => 4,
    }
}

fn entry_from(c: u8) -> Option<EntryMode> {
    Some(match c {
        1 => EntryMode::Chip,
        2 => EntryMode::Contactless,
        3 => EntryMode::Wallet,
        4 => EntryMode::Magstripe,
        _ => return None,
    })
}

/// Reasons are stored as their postcard variant index. Of the variants with data, only
/// `HostDeclined` is journaled with it: its code goes in the authorisation code field, which a
/// decline has no use for (see [`TxnRecord::encode`]).
fn reason_code(r: Reason) -> u8 {
    let mut buf = [0u8; 4];
    postcard::to_slice(&r, &mut buf)
        .map(|b| b[0])
        .unwrap_or(0xFF)
}

/// `auth` is the record's authorisation code field (the response code of a `HostDeclined`).
fn reason_from(c: u8, auth: &[u8; 6]) -> Reason {
    if c == reason_code(Reason::HostDeclined(response_code::APPROVED)) {
        if let Some(code) = ResponseCode::new([auth[0], auth[1]]) {
            return Reason::HostDeclined(code);
        }
    }
    postcard::from_bytes(&[c]).unwrap_or(Reason::HostDeclinedNumeric(0))
}

impl TxnRecord {
    /// Body layout (44 bytes): 0..4 seq, 4..12 amount minor, 12..14 currency, 14 kind << 4 |
    /// status, 15 network, 16 entry mode, 17 PAN length, 18..28 PAN packed BCD encrypted under
    /// `key` with the nonce of (`seq`, `lsn`) (PCI-02), 28 PAN sequence number, 29..33 local
    /// time (u32), 33..37 related seq, 37..43 auth code (a `HostDeclined` decline: its response
    /// code, space padded), 43 reason.
    pub(super) fn encode(&self, body: &mut [u8; 44], key: &PanKey, lsn: u32) {
        body[0..4].copy_from_slice(&self.seq.to_le_bytes());
        body[4..12].copy_from_slice(&self.amount.minor.to_le_bytes());
        body[12..14].copy_from_slice(&self.amount.currency.0.to_le_bytes());
        let status = match self.status {
            TxnStatus::ApprovedOnline => 1,
            TxnStatus::ApprovedOffline => 2,
            TxnStatus::Declined => 3,
            TxnStatus::Sent => 4,
        };
        body[14] = kind_code(self.kind) << 4 | status;
        body[15] = network_code(self.network);
        body[16] = entry_code(self.entry_mode);
        body[17] = self.pan.len;
        let mut packed = [0u8; 10];
        self.pan.pack(&mut packed);
        key.apply(PanKey::pan_nonce(self.seq, lsn), &mut packed);
        body[18..28].copy_from_slice(&packed);
        body[28] = self.pan_seq;
        let time = u32::try_from(self.local_time).unwrap_or(0);
        body[29..33].copy_from_slice(&time.to_le_bytes());
        body[33..37].copy_from_slice(&self.related_seq.to_le_bytes());
        body[37..43].copy_from_slice(&self.auth_code);
        if let Reason::HostDeclined(code) = self.reason {
            body[37..43].copy_from_slice(&[code.0[0], code.0[1], b' ', b' ', b' ', b' ']);
        }
        body[43] = reason_code(self.reason);
    }

    /// Reads a body written by [`TxnRecord::encode`] with the same key and `lsn`.
    pub(super) fn decode(body: &[u8], key: &PanKey, lsn: u32) -> Option<Self> {
        let u32_at =
            |i: usize| u32::from_le_bytes([body[i], body[i + 1], body[i + 2], body[i + 3]]);
        let mut packed = [0u8; 10];
        packed.copy_from_slice(body.get(18..28)?);
        key.apply(PanKey::pan_nonce(u32_at(0), lsn), &mut packed);
        let mut minor = [0u8; 8];
        minor.copy_from_slice(&body[4..12]);
        let mut auth_code = [0u8; 6];
        auth_code.copy_from_slice(&body[37..43]);
        Some(Self {
            seq: u32_at(0),
            kind: kind_from(body[14] >> 4)?,
            related_seq: u32_at(33),
            amount: Amount {
                minor: u64::from_le_bytes(minor),
                currency: Currency(u16::from_le_bytes([body[12], body[13]])),
            },
            status: match body[14] & 0x0F {
                1 => TxnStatus::ApprovedOnline,
                2 => TxnStatus::ApprovedOffline,
                3 => TxnStatus::Declined,
                4 => TxnStatus::Sent,
                _ => return None,
            },
            network: network_from(body[15])?,
            entry_mode: entry_from(body[16])?,
            pan: StoredPan::unpack(body[17], &packed)?,
            pan_seq: body[28],
            local_time: i64::from(u32_at(29)),
            auth_code,
            reason: reason_from(body[43], &auth_code),
        })
    }
}

fn kind_code(k: TxnKind) -> u8 {
    match k {
        TxnKind::Purchase => 0,
        TxnKind::Refund => 1,
        TxnKind::PreAuthorisation => 2,
        TxnKind::Capture => 3,
        TxnKind::Reversal => 4,
    }
}

fn kind_from(c: u8) -> Option<TxnKind> {
    Some(match c {
        0 => TxnKind::Purchase,
        1 => TxnKind::Refund,
        2 => TxnKind::PreAuthorisation,
        3 => TxnKind::Capture,
        4 => TxnKind::Reversal,
        _ => return None,
    })
}
