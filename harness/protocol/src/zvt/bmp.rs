//! ZVT bitmap fields ("BMPs"): a tag byte, then a value whose length the tag fixes, or an
//! `LLVAR` / `LLLVAR` value whose length comes first as two or three decimal digits written
//! `F0 | digit` (`F1 F5` is 15), or BMP `06`, a BER-TLV container with a BER length.
//!
//! A tag this table does not know cannot be skipped (its length is unknown), so it is an error:
//! [`BmpError::UnknownTag`] names it.

use crate::tlv;

/// How a BMP's value is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Exactly this many bytes.
    Fixed(usize),
    /// Two `Fx` length digits, then up to 99 bytes.
    LlVar,
    /// Three `Fx` length digits, then up to 999 bytes.
    LllVar,
    /// A BER length (`81 nn`, `82 nn nn` long forms), then the TLV objects.
    Tlv,
}

/// BMP tags payhil reads or writes (names as the ZVT specification gives them).
pub mod tag {
    /// Timeout in seconds (binary).
    pub const TIMEOUT: u8 = 0x01;
    /// Most status information messages wanted.
    pub const MAX_STATUS_INFOS: u8 = 0x02;
    /// Service byte.
    pub const SERVICE_BYTE: u8 = 0x03;
    /// Amount, 12 BCD digits in minor units.
    pub const AMOUNT: u8 = 0x04;
    /// The TLV container.
    pub const TLV: u8 = 0x06;
    /// Trace number, 6 BCD digits.
    pub const TRACE: u8 = 0x0B;
    /// Time `hhmmss`, BCD.
    pub const TIME: u8 = 0x0C;
    /// Date `MMDD`, BCD.
    pub const DATE: u8 = 0x0D;
    /// Card expiry `YYMM`, BCD.
    pub const EXPIRY: u8 = 0x0E;
    /// Card sequence number, BCD.
    pub const CARD_SEQUENCE: u8 = 0x17;
    /// Payment type (how the terminal decides: online, offline, its own choice).
    pub const PAYMENT_TYPE: u8 = 0x19;
    /// Card number, BCD, masked digits as `E`, padded with `F` (`LLVAR`).
    pub const PAN: u8 = 0x22;
    /// Result code (`00` success).
    pub const RESULT: u8 = 0x27;
    /// Terminal id, 8 BCD digits.
    pub const TERMINAL_ID: u8 = 0x29;
    /// Trace number of the original transaction (reversal).
    pub const ORIGINAL_TRACE: u8 = 0x37;
    /// Authorisation attribute (the approval code), 8 bytes.
    pub const AUTH_ATTRIBUTE: u8 = 0x3B;
    /// Additional text (`LLLVAR`).
    pub const ADDITIONAL_TEXT: u8 = 0x3C;
    /// Password, 6 BCD digits.
    pub const PASSWORD: u8 = 0x3D;
    /// Currency code, ISO 4217 numeric as 4 BCD digits.
    pub const CURRENCY: u8 = 0x49;
    /// Individual totals of an end of day (`LLLVAR`).
    pub const TOTALS: u8 = 0x60;
    /// Receipt number, 4 BCD digits.
    pub const RECEIPT: u8 = 0x87;
    /// Turnover record number, 6 BCD digits.
    pub const TURNOVER: u8 = 0x88;
    /// Card type (ZVT card id).
    pub const CARD_TYPE: u8 = 0x8A;
    /// Card name, ASCII (`LLVAR`).
    pub const CARD_NAME: u8 = 0x8B;
    /// Card type id of the network operator.
    pub const CARD_TYPE_ID: u8 = 0x8C;
    /// Result code of the authorisation system.
    pub const RESULT_AS: u8 = 0xA0;
}

/// How the value of BMP `tag` is delimited, if the tag is known.
pub fn format(tag: u8) -> Option<Format> {
    use Format::*;
    Some(match tag {
        0x01 | 0x02 | 0x03 | 0x05 | 0x19 | 0x27 | 0x8A | 0x8C | 0xA0 => Fixed(1),
        0xD0 | 0xD2 | 0xD3 | 0xE0 | 0xE9 | 0xEA | 0xF0 | 0xF9 | 0xFA | 0xFB | 0xFC => Fixed(1),
        0x0D | 0x0E | 0x17 | 0x3A | 0x49 | 0x87 => Fixed(2),
        0x0B | 0x0C | 0x37 | 0x3D | 0x88 => Fixed(3),
        0x29 => Fixed(4),
        0xBA => Fixed(5),
        0x04 => Fixed(6),
        0x3B | 0xEB => Fixed(8),
        0x2A => Fixed(15),
        0x22 | 0x23 | 0x2D | 0x8B | 0xA7 | 0xD1 => LlVar,
        0xE1..=0xE8 | 0xF1..=0xF8 => LlVar,
        0x24 | 0x2E | 0x3C | 0x60 | 0x9A | 0xAF => LllVar,
        0x06 => Tlv,
        _ => return None,
    })
}

/// Why bytes are not a run of BMPs, or a value does not fit its field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BmpError {
    /// A tag this table does not know (its length cannot be told).
    UnknownTag(u8),
    /// The input ends inside a field.
    Truncated {
        /// The field's tag.
        tag: u8,
    },
    /// A length digit that is not `F0..=F9`.
    BadLength {
        /// The field's tag.
        tag: u8,
    },
    /// A BCD field holds a nibble above 9 (where digits are expected).
    BadBcd {
        /// The field's tag.
        tag: u8,
    },
    /// The output buffer is too small, or a value is too long for its format.
    NoRoom,
}

/// One field: its tag and its value (without the length digits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field<'a> {
    /// The BMP tag.
    pub tag: u8,
    /// The value.
    pub value: &'a [u8],
}

/// The fields of `data` in order; stops at the first error (reported once).
pub fn fields(data: &[u8]) -> Fields<'_> {
    Fields { rest: data }
}

/// Iterator over BMP fields ([`fields`]).
#[derive(Debug, Clone)]
pub struct Fields<'a> {
    rest: &'a [u8],
}

fn var_len(tag: u8, digits: &[u8]) -> Result<usize, BmpError> {
    digits.iter().try_fold(0usize, |n, d| {
        if d & 0xF0 == 0xF0 && d & 0x0F <= 9 {
            Ok(n * 10 + usize::from(d & 0x0F))
        } else {
            Err(BmpError::BadLength { tag })
        }
    })
}

impl<'a> Fields<'a> {
    fn next_field(&mut self) -> Result<Field<'a>, BmpError> {
        let (&tag, rest) = self.rest.split_first().ok_or(BmpError::NoRoom)?;
        let fmt = format(tag).ok_or(BmpError::UnknownTag(tag))?;
        let (head, len) = match fmt {
            Format::Fixed(n) => (0, n),
            Format::LlVar | Format::LllVar => {
                let d = if fmt == Format::LlVar { 2 } else { 3 };
                let digits = rest.get(..d).ok_or(BmpError::Truncated { tag })?;
                (d, var_len(tag, digits)?)
            }
            Format::Tlv => {
                let (len, head) = tlv_len(rest).ok_or(BmpError::Truncated { tag })?;
                (head, len)
            }
        };
        let end = head.checked_add(len).ok_or(BmpError::Truncated { tag })?;
        let value = rest.get(head..end).ok_or(BmpError::Truncated { tag })?;
        self.rest = &rest[end..];
        Ok(Field { tag, value })
    }
}

/// A BER length at the start of `b`: the length and how many bytes it took.
fn tlv_len(b: &[u8]) -> Option<(usize, usize)> {
    match *b.first()? {
        n @ 0x00..=0x7F => Some((usize::from(n), 1)),
        0x81 => Some((usize::from(*b.get(1)?), 2)),
        0x82 => Some((usize::from(u16::from_be_bytes([*b.get(1)?, *b.get(2)?])), 3)),
        _ => None,
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<Field<'a>, BmpError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let r = self.next_field();
        if r.is_err() {
            self.rest = &[];
        }
        Some(r)
    }
}

/// Reads BCD digits as a number (every nibble must be a digit).
pub fn bcd_number(tag: u8, value: &[u8]) -> Result<u64, BmpError> {
    value.iter().try_fold(0u64, |n, b| {
        let (hi, lo) = (b >> 4, b & 0x0F);
        if hi > 9 || lo > 9 {
            return Err(BmpError::BadBcd { tag });
        }
        n.checked_mul(100)
            .and_then(|n| n.checked_add(u64::from(hi * 10 + lo)))
            .ok_or(BmpError::BadBcd { tag })
    })
}

/// Writes BMP fields into a caller's buffer.
#[derive(Debug)]
pub struct Writer<'o> {
    out: &'o mut [u8],
    len: usize,
}

impl<'o> Writer<'o> {
    /// Writes from the start of `out`.
    pub fn new(out: &'o mut [u8]) -> Self {
        Self { out, len: 0 }
    }

    /// The bytes written so far.
    pub fn written(self) -> &'o [u8] {
        &self.out[..self.len]
    }

    /// Appends raw bytes (a command's fixed leading fields, such as the password).
    pub fn raw(&mut self, b: &[u8]) -> Result<&mut Self, BmpError> {
        let end = self.len.checked_add(b.len()).ok_or(BmpError::NoRoom)?;
        self.out
            .get_mut(self.len..end)
            .ok_or(BmpError::NoRoom)?
            .copy_from_slice(b);
        self.len = end;
        Ok(self)
    }

    /// Appends `n` BCD bytes of `value` (the raw digits, no tag).
    pub fn raw_bcd(&mut self, value: u64, n: usize) -> Result<&mut Self, BmpError> {
        let mut digits = [0u8; 10];
        let d = digits.get_mut(..n).ok_or(BmpError::NoRoom)?;
        let mut v = value;
        for slot in d.iter_mut().rev() {
            let lo = (v % 10) as u8;
            let hi = ((v / 10) % 10) as u8;
            *slot = (hi << 4) | lo;
            v /= 100;
        }
        if v != 0 {
            return Err(BmpError::NoRoom);
        }
        let d: &[u8] = d;
        let mut copy = [0u8; 10];
        copy[..n].copy_from_slice(d);
        self.raw(&copy[..n])
    }

    /// Appends a fixed-length field as its tag and BCD digits (`04` amount, `49` currency).
    pub fn bcd(&mut self, tag: u8, value: u64) -> Result<&mut Self, BmpError> {
        let Some(Format::Fixed(n)) = format(tag) else {
            return Err(BmpError::UnknownTag(tag));
        };
        self.raw(&[tag])?.raw_bcd(value, n)
    }

    /// Appends a fixed-length field of raw bytes, which must be exactly its length.
    pub fn fixed(&mut self, tag: u8, value: &[u8]) -> Result<&mut Self, BmpError> {
        match format(tag) {
            Some(Format::Fixed(n)) if n == value.len() => self.raw(&[tag])?.raw(value),
            Some(_) => Err(BmpError::NoRoom),
            None => Err(BmpError::UnknownTag(tag)),
        }
    }

    /// Appends an `LLVAR` or `LLLVAR` field.
    pub fn var(&mut self, tag: u8, value: &[u8]) -> Result<&mut Self, BmpError> {
        let (digits, max) = match format(tag) {
            Some(Format::LlVar) => (2, 99),
            Some(Format::LllVar) => (3, 999),
            Some(_) => return Err(BmpError::NoRoom),
            None => return Err(BmpError::UnknownTag(tag)),
        };
        let n = value.len();
        if n > max {
            return Err(BmpError::NoRoom);
        }
        let all = [
            0xF0 | (n / 100) as u8,
            0xF0 | (n / 10 % 10) as u8,
            0xF0 | (n % 10) as u8,
        ];
        self.raw(&[tag])?.raw(&all[3 - digits..])?.raw(value)
    }

    /// Appends the TLV container (BMP `06`) holding `objects`, already BER-TLV encoded.
    pub fn tlv(&mut self, objects: &[u8]) -> Result<&mut Self, BmpError> {
        let n = objects.len();
        self.raw(&[tag::TLV])?;
        match n {
            0..=0x7F => self.raw(&[n as u8])?,
            0x80..=0xFF => self.raw(&[0x81, n as u8])?,
            _ => {
                let n16 = u16::try_from(n).map_err(|_| BmpError::NoRoom)?;
                let [hi, lo] = n16.to_be_bytes();
                self.raw(&[0x82, hi, lo])?
            }
        };
        self.raw(objects)
    }
}

/// The TLV objects of a BMP `06` value, read with the crate's BER-TLV decoder.
pub fn tlv_objects(value: &[u8]) -> tlv::Iter<'_> {
    tlv::iter(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_var_and_tlv_fields_round_trip() {
        let mut out = [0u8; 64];
        let mut w = Writer::new(&mut out);
        w.bcd(tag::AMOUNT, 1250).expect("room");
        w.bcd(tag::CURRENCY, 208).expect("room");
        w.var(tag::CARD_NAME, b"Dankort").expect("room");
        w.var(tag::ADDITIONAL_TEXT, b"hi").expect("room");
        w.tlv(&[0x1F, 0x10, 0x01, 0x00]).expect("room");
        let bytes = w.written();
        assert_eq!(&bytes[..7], &[0x04, 0x00, 0x00, 0x00, 0x00, 0x12, 0x50]);
        assert_eq!(&bytes[7..10], &[0x49, 0x02, 0x08]);
        assert_eq!(&bytes[10..13], &[0x8B, 0xF0, 0xF7]);
        let got: [Field<'_>; 5] = {
            let mut it = fields(bytes);
            core::array::from_fn(|_| it.next().expect("a field").expect("well-formed"))
        };
        assert_eq!(bcd_number(got[0].tag, got[0].value), Ok(1250));
        assert_eq!(bcd_number(got[1].tag, got[1].value), Ok(208));
        assert_eq!(got[2].value, b"Dankort");
        assert_eq!(got[3].value, b"hi");
        assert_eq!(
            (got[4].tag, got[4].value),
            (0x06, &[0x1F, 0x10, 0x01, 0x00][..])
        );
    }

    #[test]
    fn unknown_tags_bad_digits_and_short_input_are_named() {
        assert_eq!(
            fields(&[0x99, 0x00]).next(),
            Some(Err(BmpError::UnknownTag(0x99)))
        );
        assert_eq!(
            fields(&[0x8B, 0xF0, 0x3A]).next(),
            Some(Err(BmpError::BadLength { tag: 0x8B }))
        );
        assert_eq!(
            fields(&[0x04, 0x00, 0x01]).next(),
            Some(Err(BmpError::Truncated { tag: 0x04 }))
        );
        assert_eq!(
            bcd_number(0x04, &[0x1A]),
            Err(BmpError::BadBcd { tag: 0x04 })
        );
        let mut it = fields(&[0x99]);
        assert!(it.next().is_some_and(|r| r.is_err()));
        assert_eq!(it.next(), None);
    }

    #[test]
    fn a_value_too_large_for_its_digits_is_refused() {
        let mut out = [0u8; 16];
        let mut w = Writer::new(&mut out);
        assert_eq!(w.bcd(tag::RECEIPT, 10_000).err(), Some(BmpError::NoRoom));
        assert_eq!(w.bcd(tag::RECEIPT, 9_999).map(|_| ()), Ok(()));
    }
}
