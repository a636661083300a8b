//! Reading the card's data objects (EMV BER-TLV, PROTOCOL.md 4.7) strictly: every length is
//! checked against what is left and against its object's format, every template is read to its
//! end, a data object given twice is an error (EMV Book 3, 10.2: redundant data), and the card
//! number in 5A must be the one in track 2 with track 2's expiry that of 5F24. Anything else is
//! refused with the reason that says what is wrong (SUPPORT-01), before the card number is kept
//! anywhere: a refused card's number is never stored or logged.
//!
//! No allocation: values are borrowed from the request, digits copied into fixed buffers.

use payhil_protocol::card_tlv as tag;
use payhil_protocol::tlv::{self, Tag};
use payhil_protocol::{Currency, Expiry, Network, Reason};

/// What the terminal takes from a well-formed presentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CardRead {
    digits: [u8; 19],
    len: usize,
    /// Expiry month (5F24; track 2 says the same).
    pub expiry: Expiry,
    /// Effective date (5F24's day is ignored, as CARD-03 counts whole months): year, month,
    /// day; `None` if the card gives none.
    pub effective: Option<(u16, u8, u8)>,
    /// PAN sequence number (5F34).
    pub pan_seq: u8,
    /// The application's currency (9F42), if the card gives it.
    pub currency: Option<Currency>,
    /// The bank account number the card carries (DF01), if any.
    pub account: Option<[u8; 11]>,
}

impl CardRead {
    /// The card number as ASCII digits.
    pub fn pan(&self) -> &str {
        core::str::from_utf8(&self.digits[..self.len]).unwrap_or("")
    }
}

/// The objects found, each at most once.
#[derive(Default)]
struct Found<'a> {
    pan: Option<&'a [u8]>,
    expiry: Option<&'a [u8]>,
    effective: Option<&'a [u8]>,
    track2: Option<&'a [u8]>,
    pan_seq: Option<&'a [u8]>,
    currency: Option<&'a [u8]>,
    aip: Option<&'a [u8]>,
    atc: Option<&'a [u8]>,
    cid: Option<&'a [u8]>,
    cryptogram: Option<&'a [u8]>,
    account: Option<&'a [u8]>,
}

impl<'a> Found<'a> {
    /// Where an object of `t` goes and the lengths its format allows; `None`: not one the
    /// terminal reads (EMV: unknown objects are skipped).
    fn slot(&mut self, t: Tag) -> Option<(&mut Option<&'a [u8]>, usize, usize)> {
        Some(match t {
            tag::PAN => (&mut self.pan, 6, 10),
            tag::EXPIRY => (&mut self.expiry, 3, 3),
            tag::EFFECTIVE => (&mut self.effective, 3, 3),
            tag::TRACK2 => (&mut self.track2, 9, 19),
            tag::PAN_SEQ => (&mut self.pan_seq, 1, 1),
            tag::CURRENCY => (&mut self.currency, 2, 2),
            tag::AIP => (&mut self.aip, 2, 2),
            tag::ATC => (&mut self.atc, 2, 2),
            tag::CID => (&mut self.cid, 1, 1),
            tag::CRYPTOGRAM => (&mut self.cryptogram, 8, 8),
            tag::ACCOUNT => (&mut self.account, 11, 11),
            _ => return None,
        })
    }

    /// Takes every object of `b`; templates 70 and 77 are read inside, to their end.
    fn collect(&mut self, b: &'a [u8], in_template: bool) -> Result<(), Reason> {
        for item in tlv::iter(b) {
            let (t, v) = item.map_err(|_| Reason::CardDataMalformed)?;
            if t.constructed() {
                // Only the two templates, and only at the top: anything else constructed is
                // not card data this terminal knows how to read.
                if in_template || !(t == tag::RECORD_TEMPLATE || t == tag::RESPONSE_TEMPLATE) {
                    return Err(Reason::CardDataMalformed);
                }
                self.collect(v, true)?;
                continue;
            }
            let Some((slot, min, max)) = self.slot(t) else {
                continue;
            };
            if !(min..=max).contains(&v.len()) {
                return Err(Reason::CardDataMalformed);
            }
            if slot.is_some() {
                return Err(Reason::CardDataDuplicated);
            }
            *slot = Some(v);
        }
        Ok(())
    }
}

/// The nibbles of `b`, high first.
fn nibbles(b: &[u8]) -> impl Iterator<Item = u8> + '_ {
    b.iter().flat_map(|x| [x >> 4, x & 0x0F])
}

/// A BCD number of `b` (every nibble a digit).
fn bcd(b: &[u8]) -> Option<u32> {
    nibbles(b).try_fold(0u32, |acc, n| {
        (n <= 9).then(|| acc.checked_mul(10)?.checked_add(u32::from(n)))?
    })
}

/// YYMMDD as year, month, day; the month 1..=12 and the day 1..=31.
fn date(b: &[u8]) -> Result<(u16, u8, u8), Reason> {
    let v = bcd(b).ok_or(Reason::CardDataMalformed)?;
    let (y, m, d) = (v / 10_000, (v / 100) % 100, v % 100);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(Reason::CardDataMalformed);
    }
    // Two-digit years are this century's: cards are valid for a few years at most.
    Ok((2000 + y as u16, m as u8, d as u8))
}

/// Luhn (mod 10) over ASCII digits.
pub(crate) fn luhn_ok(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(d.wrapping_sub(b'0'));
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum % 10 == 0
}

/// The card number in 5A: digits, then `F` padding only at the end; 12..=19 digits.
fn pan_digits(b: &[u8], out: &mut [u8; 19]) -> Result<usize, Reason> {
    let mut n = 0;
    let mut padded = false;
    for x in nibbles(b) {
        match x {
            0..=9 if !padded => {
                *out.get_mut(n).ok_or(Reason::CardDataMalformed)? = b'0' + x;
                n += 1;
            }
            0xF => padded = true,
            _ => return Err(Reason::CardNumberInvalid),
        }
    }
    if !(12..=19).contains(&n) {
        return Err(Reason::CardNumberInvalid);
    }
    Ok(n)
}

/// Track 2 equivalent data: the card number before `D`, then YYMM; `F` only as padding.
fn track2_pan_and_expiry<'d>(
    b: &[u8],
    digits: &'d mut [u8; 19],
) -> Result<(&'d [u8], u32), Reason> {
    let mut n = 0;
    let mut it = nibbles(b);
    loop {
        match it.next() {
            Some(x @ 0..=9) => {
                *digits.get_mut(n).ok_or(Reason::CardDataMalformed)? = b'0' + x;
                n += 1;
            }
            Some(0xD) => break,
            Some(_) => return Err(Reason::CardNumberInvalid),
            None => return Err(Reason::CardDataMalformed),
        }
    }
    let mut yymm = 0u32;
    for _ in 0..4 {
        match it.next() {
            Some(x @ 0..=9) => yymm = yymm * 10 + u32::from(x),
            _ => return Err(Reason::CardDataMalformed),
        }
    }
    // Service code and discretionary data are digits; one `F` pads the last byte, and
    // nothing follows it.
    let (mut tail, mut padded) = (0usize, false);
    for x in it {
        match x {
            0..=9 if !padded => tail += 1,
            0xF if !padded => padded = true,
            _ => return Err(Reason::CardDataMalformed),
        }
    }
    if tail < 3 {
        return Err(Reason::CardDataMalformed);
    }
    Ok((&digits[..n], yymm))
}

/// Whether the selected application takes cards of this number (its issuer ranges, ISO/IEC
/// 7812): the acquirer's table as a terminal receives it with its parameters, the test ranges
/// of PROTOCOL.md section 9 included.
pub fn bin_accepted(network: Network, pan: &str) -> bool {
    let p = pan.as_bytes();
    let prefix = |n: usize| {
        p.get(..n)
            .and_then(|d| core::str::from_utf8(d).ok())
            .and_then(|s| s.parse::<u32>().ok())
            .unwrap_or(0)
    };
    match network {
        Network::Dankort => matches!(prefix(4), 5019 | 4571),
        Network::Visa | Network::VisaDebit => prefix(1) == 4,
        Network::Mastercard => (51..=55).contains(&prefix(2)) || (2221..=2720).contains(&prefix(4)),
        // 9578: Norway's national range; 7000: the test range.
        Network::BankAxept => matches!(prefix(4), 9578 | 7000),
    }
}

/// Reads a presentation strictly; `Err` is the reason the card is refused.
pub fn read(b: &[u8]) -> Result<CardRead, Reason> {
    let mut f = Found::default();
    f.collect(b, false)?;
    let (Some(pan), Some(expiry), Some(track2), Some(pan_seq)) =
        (f.pan, f.expiry, f.track2, f.pan_seq)
    else {
        return Err(Reason::CardDataMissing);
    };
    if f.aip.is_none() || f.atc.is_none() || f.cryptogram.is_none() {
        return Err(Reason::CardDataMissing);
    }
    let mut digits = [0u8; 19];
    let len = pan_digits(pan, &mut digits)?;
    let (y, m, _) = date(expiry)?;
    let mut t2 = [0u8; 19];
    let (t2_pan, t2_yymm) = track2_pan_and_expiry(track2, &mut t2)?;
    if t2_pan != &digits[..len] || t2_yymm != u32::from(y % 100) * 100 + u32::from(m) {
        return Err(Reason::CardDataInconsistent);
    }
    if !luhn_ok(&digits[..len]) {
        return Err(Reason::CardNumberInvalid);
    }
    let effective = f.effective.map(date).transpose()?;
    let pan_seq = bcd(pan_seq).ok_or(Reason::CardDataMalformed)? as u8;
    let currency = match f.currency {
        Some(c) => {
            let code = bcd(c).ok_or(Reason::CardDataMalformed)?;
            Some(Currency(code as u16))
        }
        None => None,
    };
    let account = match f.account {
        Some(a) if a.iter().all(u8::is_ascii_digit) => {
            let mut acc = [0u8; 11];
            acc.copy_from_slice(a);
            Some(acc)
        }
        Some(_) => return Err(Reason::CardDataMalformed),
        None => None,
    };
    Ok(CardRead {
        digits,
        len,
        expiry: Expiry { year: y, month: m },
        effective,
        pan_seq,
        currency,
        account,
    })
}

#[cfg(test)]
mod tests;
