//! ISO 8583 (1987 numbering) between terminal and acquirer: a binary bitmap, a documented field
//! subset, and a 2-byte big-endian length prefix on TCP. `no_std`, no allocation: decoding
//! borrows field values from the input; encoding writes into a caller's buffer.
//!
//! Field encodings (all ASCII except the bitmaps and DE 55):
//!
//! | DE | name | format |
//! |---|---|---|
//! | 2 | primary account number | LLVAR n..19 |
//! | 3 | processing code | n6 (000000 purchase, 200000 refund) |
//! | 4 | amount, transaction | n12, minor units |
//! | 7 | transmission date and time | n10 MMDDhhmmss, UTC (the terminal's controlled clock); every request |
//! | 11 | system trace audit number | n6: authorisations and advices, the sequence number mod 1,000,000 (a repeat keeps it); 0800 and 0500, the terminal's own counter mod 1,000,000 |
//! | 12 | local transaction date and time | n12 YYMMDDhhmmss (the 1993 layout: 1987's DE 12/13 carry no year) |
//! | 14 | expiry date | n4 YYMM |
//! | 15 | settlement date | n4 MMDD (0500: the day the terminal reconciles, UTC); required in 0500 |
//! | 22 | POS entry mode | n3: 05x chip, 07x contactless, 81x wallet, 90x magstripe; x = PIN entry capability (ISO 8583:1987): 1 can accept PINs (always, from the reference terminal), 2 cannot. Whether the PIN was verified is tag 9F34 in DE 55 |
//! | 23 | PAN sequence number | n3 |
//! | 37 | retrieval reference number | an12: the terminal's full sequence number, zero padded |
//! | 38 | authorisation identification response | an6 (space padded): authorisation codes only, from a host or issuer (a reserve payment's phone code). Never a terminal's marker: an offline approval's "Y1"/"Y3" is tag 8A in DE 55, the reserve marker DE 60 |
//! | 39 | response code | an2 |
//! | 41 | card acceptor terminal id | ans8 (space padded) |
//! | 42 | card acceptor id | ans15 (space padded) |
//! | 48 | additional data, private | LLLVAR ans..999 (0810: the blocked-card list) |
//! | 49 | currency code, transaction | n3 |
//! | 50 | currency code, settlement | n3 (0500 with totals in exactly one currency) |
//! | 55 | ICC data | LLLVAR b..255, BER-TLV (multi-byte tags, long-form lengths: `crate::tlv`): 4F AID, 9F02 amount, 5F2A currency, 9A date, 9C type, 5F34 PAN sequence, 9F34 CVM Results (`01 00 02` PIN verified by the card, `02 00 00` PIN enciphered for the issuer in DE 52, `3F 00 01` none); advices of offline approvals: 8A authorisation response code "Y1" or "Y3"; last, 9F26 application cryptogram (8 bytes) |
//! | 60 | reserved national: the terminal's marker | LLLVAR ans..999 in advices: `R` a BankAxept reserve payment approved without a phone authorisation code (with one, the code is DE 38); `STORED` a capture or reversal stored to be forwarded; `UNRES` a reversal stored because an online request went unanswered |
//! | 63 | reserved private: totals per currency | LLLVAR n..999 (0500, required): per currency one group of 55 digits: currency n3, credits count n10, debits count n10, credits amount n16, debits amount n16; each currency at most once, at most 4. Amounts in different currencies are never added |
//! | 70 | network management information code | n3 (301: blocked-card list) |
//! | 74/76/86/88 | reconciliation counts and amounts | n10 / n10 / n16 / n16: credits, debits, credits amount, debits amount; only when DE 63 has exactly one group (with DE 50, and equal to it) or none (zeros, no DE 50) |
//! | 90 | original data elements | n42: original MTI (4), original sequence number (10), zeros (28) |
//!
//! **Required fields.** The decoders reject a message without one ([`Iso8583Error::Missing`]):
//!
//! | MTI | required |
//! |---|---|
//! | 0100, 0200, 0220, 0221, 0400, 0420, 0421 | 2, 3, 4, 7, 11, 12, 22, 23, 37, 41, 42, 49, 55; in DE 55 the tags 4F, 9F02, 5F2A, 9A, 9C, 5F34, 9F34, 9F26 |
//! | 0800 | 7, 11, 41, 70 |
//! | 0500 | 7, 11, 15, 41, 63 |
//! | 0110, 0210, 0410, 0230, 0430 | 37, 39; and, for the terminal, 11 and 41 echoed |
//! | 0510, 0810 | 39; and, for the terminal, 11 and 41 echoed |
//!
//! DE 55 tag 9F26 (application cryptogram, 8 bytes) is the card's cryptogram; the reference
//! terminal has no card and sends [`mapping::test_cryptogram`], a deterministic checksum of the
//! transaction that is **not** a real ARQC (no key, no MAC) and that the host does not verify.
//!
//! Every answer (0110, 0210, 0230, 0410, 0430, 0510, 0810) echoes DE 3, 4, 11 and 41 of its
//! request, those the request has. The terminal takes an answer as its own only if its MTI is
//! the request's plus 10 and its DE 11 and DE 41 are the request's ([`mapping::decode_answer`]);
//! any other is no answer (the request may have reached the host).
//!
//! Malformed input is an error, never a panic (fuzzed by `fuzz/fuzz_targets/iso8583_decode`).

/// Message type indicator, e.g. `0200`.
pub type Mti = u16;

/// Highest field number handled (secondary bitmap).
pub const MAX_FIELD: usize = 128;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    /// Fixed length, ASCII.
    Fixed(usize),
    /// 2-digit ASCII length, then that many bytes.
    LlVar(usize),
    /// 3-digit ASCII length, then that many bytes.
    LllVar(usize),
}

/// The format of each supported field; `None` for fields outside the subset.
const fn format(de: usize) -> Option<Format> {
    Some(match de {
        2 => Format::LlVar(19),
        3 | 11 => Format::Fixed(6),
        4 | 12 | 37 => Format::Fixed(12),
        7 => Format::Fixed(10),
        14 => Format::Fixed(4),
        22 | 23 | 49 | 50 | 70 => Format::Fixed(3),
        15 => Format::Fixed(4),
        63 => Format::LllVar(999),
        38 => Format::Fixed(6),
        39 => Format::Fixed(2),
        // b64: the encrypted PIN block, 8 binary bytes.
        52 => Format::Fixed(8),
        41 => Format::Fixed(8),
        42 => Format::Fixed(15),
        48 | 60 => Format::LllVar(999),
        55 => Format::LllVar(255),
        74 | 76 => Format::Fixed(10),
        86 | 88 => Format::Fixed(16),
        90 => Format::Fixed(42),
        _ => return None,
    })
}

/// Why bytes are not a message of the subset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Iso8583Error {
    /// Fewer bytes than the structure needs.
    Truncated,
    /// The MTI is not four ASCII digits.
    BadMti,
    /// A field outside the documented subset is present.
    UnsupportedField(u8),
    /// A length prefix is not digits, or exceeds the field's maximum.
    BadLength(u8),
    /// A numeric field holds something other than digits.
    NotNumeric(u8),
    /// Bytes left over after the last field.
    TrailingBytes,
    /// The output buffer is too small, or a value does not fit its field.
    TooLarge(u8),
    /// An alphanumeric field (DE 39, an2) holds something other than letters and digits.
    NotAlphanumeric(u8),
    /// A field the message type requires is absent (for DE 55: a required tag is absent).
    Missing(u8),
    /// A response whose field (or MTI, 0) does not echo the request's: it answers another
    /// request, not this one.
    NotItsAnswer(u8),
}

/// A message: its type and the fields present, borrowed from the decoded bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    /// Message type indicator.
    pub mti: Mti,
    fields: [Option<&'a [u8]>; MAX_FIELD + 1],
}

fn numeric(de: usize) -> bool {
    matches!(
        de,
        2 | 3 | 4 | 7 | 11 | 12 | 14 | 15 | 22 | 23 | 49 | 50 | 63 | 70 | 74 | 76 | 86 | 88 | 90
    )
}

impl<'a> Message<'a> {
    /// An empty message of type `mti`.
    pub const fn new(mti: Mti) -> Self {
        Self {
            mti,
            fields: [None; MAX_FIELD + 1],
        }
    }

    /// Sets field `de` (the value is written as given: ASCII digits for numeric fields).
    pub fn set(&mut self, de: usize, value: &'a [u8]) -> &mut Self {
        if de <= MAX_FIELD {
            self.fields[de] = Some(value);
        }
        self
    }

    /// Field `de`, if present.
    pub fn get(&self, de: usize) -> Option<&'a [u8]> {
        self.fields.get(de).copied().flatten()
    }

    /// Field `de` as text (ASCII fields), trailing spaces trimmed.
    pub fn text(&self, de: usize) -> Option<&'a str> {
        self.get(de)
            .and_then(|v| core::str::from_utf8(v).ok())
            .map(|s| s.trim_end())
    }

    /// Field `de` as a number (numeric fields).
    pub fn number(&self, de: usize) -> Option<u64> {
        let v = self.get(de)?;
        if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
            return None;
        }
        v.iter().try_fold(0u64, |acc, d| {
            acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        })
    }

    /// Encodes `len(2, BE) | MTI | bitmap(s) | fields` into `out`; returns the bytes to send.
    pub fn encode<'o>(&self, out: &'o mut [u8]) -> Result<&'o [u8], Iso8583Error> {
        let secondary = self.fields[65..].iter().any(Option::is_some);
        let mut bitmap = [0u8; 16];
        for (de, v) in self.fields.iter().enumerate().skip(2) {
            if v.is_some() {
                if format(de).is_none() {
                    return Err(Iso8583Error::UnsupportedField(de as u8));
                }
                bitmap[(de - 1) / 8] |= 0x80 >> ((de - 1) % 8);
            }
        }
        if secondary {
            bitmap[0] |= 0x80;
        }
        let mut w = Writer { out, at: 2 };
        let mti = [
            b'0' + (self.mti / 1000 % 10) as u8,
            b'0' + (self.mti / 100 % 10) as u8,
            b'0' + (self.mti / 10 % 10) as u8,
            b'0' + (self.mti % 10) as u8,
        ];
        w.put(&mti, 0)?;
        w.put(&bitmap[..if secondary { 16 } else { 8 }], 0)?;
        for de in 2..=MAX_FIELD {
            let Some(v) = self.fields[de] else { continue };
            let tag = de as u8;
            match format(de) {
                Some(Format::Fixed(n)) => {
                    if v.len() != n {
                        return Err(Iso8583Error::TooLarge(tag));
                    }
                    w.put(v, tag)?;
                }
                Some(Format::LlVar(max)) => {
                    if v.len() > max {
                        return Err(Iso8583Error::TooLarge(tag));
                    }
                    w.put(
                        &[b'0' + (v.len() / 10) as u8, b'0' + (v.len() % 10) as u8],
                        tag,
                    )?;
                    w.put(v, tag)?;
                }
                Some(Format::LllVar(max)) => {
                    if v.len() > max {
                        return Err(Iso8583Error::TooLarge(tag));
                    }
                    let l = v.len();
                    w.put(
                        &[
                            b'0' + (l / 100) as u8,
                            b'0' + (l / 10 % 10) as u8,
                            b'0' + (l % 10) as u8,
                        ],
                        tag,
                    )?;
                    w.put(v, tag)?;
                }
                None => return Err(Iso8583Error::UnsupportedField(tag)),
            }
        }
        let body = w.at - 2;
        let len = u16::try_from(body).map_err(|_| Iso8583Error::TooLarge(0))?;
        w.out[..2].copy_from_slice(&len.to_be_bytes());
        Ok(&w.out[..w.at])
    }

    /// Decodes one message body (without the length prefix).
    pub fn decode(b: &'a [u8]) -> Result<Self, Iso8583Error> {
        let mut r = Reader { b, at: 0 };
        let mti = r.take(4)?;
        if !mti.iter().all(u8::is_ascii_digit) {
            return Err(Iso8583Error::BadMti);
        }
        let mut m = Message::new(mti.iter().fold(0u16, |a, d| a * 10 + u16::from(d - b'0')));
        let primary = r.take(8)?;
        let mut bitmap = [0u8; 16];
        bitmap[..8].copy_from_slice(primary);
        if primary[0] & 0x80 != 0 {
            bitmap[8..].copy_from_slice(r.take(8)?);
        }
        for de in 2..=MAX_FIELD {
            if bitmap[(de - 1) / 8] & (0x80 >> ((de - 1) % 8)) == 0 || de == 65 {
                continue;
            }
            let tag = de as u8;
            let v = match format(de) {
                None => return Err(Iso8583Error::UnsupportedField(tag)),
                Some(Format::Fixed(n)) => r.take(n)?,
                Some(Format::LlVar(max)) => {
                    let n = digits(r.take(2)?).ok_or(Iso8583Error::BadLength(tag))?;
                    if n > max {
                        return Err(Iso8583Error::BadLength(tag));
                    }
                    r.take(n)?
                }
                Some(Format::LllVar(max)) => {
                    let n = digits(r.take(3)?).ok_or(Iso8583Error::BadLength(tag))?;
                    if n > max {
                        return Err(Iso8583Error::BadLength(tag));
                    }
                    r.take(n)?
                }
            };
            if numeric(de) && !v.iter().all(u8::is_ascii_digit) {
                return Err(Iso8583Error::NotNumeric(tag));
            }
            m.fields[de] = Some(v);
        }
        if r.at != b.len() {
            return Err(Iso8583Error::TrailingBytes);
        }
        Ok(m)
    }
}

fn digits(b: &[u8]) -> Option<usize> {
    b.iter().try_fold(0usize, |acc, d| {
        d.is_ascii_digit().then(|| acc * 10 + usize::from(d - b'0'))
    })
}

struct Writer<'o> {
    out: &'o mut [u8],
    at: usize,
}

impl Writer<'_> {
    fn put(&mut self, v: &[u8], tag: u8) -> Result<(), Iso8583Error> {
        let end = self.at + v.len();
        if end > self.out.len() {
            return Err(Iso8583Error::TooLarge(tag));
        }
        self.out[self.at..end].copy_from_slice(v);
        self.at = end;
        Ok(())
    }
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Iso8583Error> {
        let end = self.at.checked_add(n).ok_or(Iso8583Error::Truncated)?;
        let v = self.b.get(self.at..end).ok_or(Iso8583Error::Truncated)?;
        self.at = end;
        Ok(v)
    }
}

/// Writes `value` as `width` ASCII digits (zero padded) into `out`; `None` if it does not fit.
pub fn num<const N: usize>(value: u64) -> Option<[u8; N]> {
    let mut out = [b'0'; N];
    let mut v = value;
    for d in out.iter_mut().rev() {
        *d = b'0' + (v % 10) as u8;
        v /= 10;
    }
    (v == 0).then_some(out)
}

/// Writes `text` left-aligned and space padded into `N` bytes; `None` if it is longer.
pub fn padded<const N: usize>(text: &str) -> Option<[u8; N]> {
    let b = text.as_bytes();
    if b.len() > N {
        return None;
    }
    let mut out = [b' '; N];
    out[..b.len()].copy_from_slice(b);
    Some(out)
}

#[cfg(test)]
mod tests;

/// The terminal <-> acquirer messages of `host_link` as ISO 8583.
pub mod mapping;
