//! PIN blocks: the plaintext block a terminal sends its card for offline verification (EMV
//! VERIFY, ISO 9564 format 2), its ISO 9564 format 0 form for an online PIN (before it is
//! enciphered), and the card's verdict. `Debug` never shows a block's digits.

use core::fmt;
use serde::{Deserialize, Serialize};

/// An EMV plaintext-PIN VERIFY block (EMV Book 3, 6.5.12; ISO 9564 format 2): control nibble 2,
/// the PIN's length as one nibble, the PIN's digits, `F` padding; 8 bytes. The terminal sends it
/// to the card for offline PIN verification. `Debug` never shows it: its digits are the PIN.
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq)]
pub struct PinBlock(pub [u8; 8]);

impl PinBlock {
    /// The block of a PIN of 4 to 12 ASCII digits; `None` for anything else.
    pub fn format2(pin: &str) -> Option<Self> {
        let d = pin.as_bytes();
        if !(4..=12).contains(&d.len()) || !d.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let mut nibbles = [0xFu8; 16];
        nibbles[0] = 2;
        // 4..=12 fits a nibble.
        nibbles[1] = d.len() as u8;
        for (n, c) in nibbles[2..].iter_mut().zip(d) {
            *n = c - b'0';
        }
        let mut block = [0u8; 8];
        for (i, b) in block.iter_mut().enumerate() {
            *b = (nibbles[2 * i] << 4) | nibbles[2 * i + 1];
        }
        Some(Self(block))
    }

    /// Whether this is a well-formed format 2 block of exactly `pin` (a card's comparison with
    /// its reference PIN). A malformed block matches nothing.
    pub fn is_of(&self, pin: &str) -> bool {
        Self::format2(pin).is_some_and(|b| b == *self)
    }

    /// Whether the block is well formed: control 2, length 4..12, digits, then `F` padding.
    pub fn is_well_formed(&self) -> bool {
        let nib = |i: usize| (self.0[i / 2] >> (4 * (1 - i % 2))) & 0xF;
        let len = usize::from(nib(1));
        nib(0) == 2
            && (4..=12).contains(&len)
            && (2..2 + len).all(|i| nib(i) <= 9)
            && (2 + len..16).all(|i| nib(i) == 0xF)
    }
}

impl PinBlock {
    /// The ISO 9564 format 0 block of this PIN for card `pan` (12..19 ASCII digits), in clear:
    /// the PIN field (control nibble 0, length, digits, `F` padding) XOR the PAN field (four 0
    /// nibbles, then the 12 rightmost digits of the card number without its check digit).
    /// `None` for a malformed block or card number. What an online PIN is made of before it is
    /// encrypted (DE 52).
    pub fn iso0(&self, pan: &str) -> Option<[u8; 8]> {
        if !self.is_well_formed() {
            return None;
        }
        let field = pan_field(pan)?;
        let mut pin = self.0;
        // Format 0's control nibble is 0 where format 2's is 2; the rest is the same.
        pin[0] &= 0x0F;
        let mut out = [0u8; 8];
        for (o, (a, b)) in out.iter_mut().zip(pin.iter().zip(field.iter())) {
            *o = a ^ b;
        }
        Some(out)
    }

    /// The PIN inside a clear ISO 9564 format 0 block for card `pan`, as a format 2 block (to
    /// compare with [`PinBlock::is_of`]); `None` if it is not a well-formed format 0 block.
    pub fn from_iso0(clear: &[u8; 8], pan: &str) -> Option<Self> {
        let field = pan_field(pan)?;
        let mut b = [0u8; 8];
        for (o, (a, f)) in b.iter_mut().zip(clear.iter().zip(field.iter())) {
            *o = a ^ f;
        }
        if b[0] >> 4 != 0 {
            return None;
        }
        b[0] |= 0x20;
        let block = Self(b);
        block.is_well_formed().then_some(block)
    }
}

/// ISO 9564 format 0's PAN field: `0000` then the 12 rightmost digits of the card number
/// without its check digit, packed.
fn pan_field(pan: &str) -> Option<[u8; 8]> {
    let d = pan.as_bytes();
    if !(12..=19).contains(&d.len()) || !d.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let digits = &d[d.len() - 13..d.len() - 1];
    let mut nibbles = [0u8; 16];
    for (n, c) in nibbles[4..].iter_mut().zip(digits) {
        *n = c - b'0';
    }
    let mut out = [0u8; 8];
    for (i, o) in out.iter_mut().enumerate() {
        *o = (nibbles[2 * i] << 4) | nibbles[2 * i + 1];
    }
    Some(out)
}

impl fmt::Debug for PinBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PinBlock(<redacted>)")
    }
}

/// The card's answer to an offline PIN verification (EMV VERIFY: 9000, 63Cx, 6983).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinVerdict {
    /// 0: the PIN is the card's (9000); its try counter is back to its maximum.
    Verified,
    /// 1: the PIN is wrong (63Cx); the card has `tries_left` tries before it blocks the PIN.
    Wrong {
        /// Tries left after this one (0: the PIN is now blocked).
        tries_left: u8,
    },
    /// 2: the PIN was already blocked (6983): no try was made.
    Blocked,
}
