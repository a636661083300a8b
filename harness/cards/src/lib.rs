//! Card data on the harness side.
//!
//! * [`Pan`] is a full, Luhn-valid card number. Its `Debug` and `Display` are masked, so that
//!   one can't reach a log by accident; the digits come out only through [`Pan::reveal`], which
//!   is called where the number must go onto the wire to the terminal.
//! * [`Pin`] and [`Cvc`] never print; their digits come out only through `reveal`.
//! * [`MaskedPan`] is what may be shown anywhere: first six and last four digits (PCI-01).
//! * [`catalogue`] holds the test cards that scenarios name and the host simulator knows.
//! * [`emv`] builds a test card's data as EMV BER-TLV; [`faults`] corrupts it one class at a
//!   time.
//! * [`instrument`] plays the card when the terminal asks it to verify the PIN offline.
//! * [`pci`] scans artifacts for anything that looks like a full card number, a mask that shows
//!   too much, or a known PIN or CVC, and redacts them.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod catalogue;
pub mod emv;
pub mod faults;
pub mod instrument;
pub mod pci;

use std::fmt;

/// A full primary account number: 12 to 19 digits with a valid Luhn check digit.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Pan(String);

/// Why a string is not a PAN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PanError {
    /// Not 12 to 19 ASCII digits.
    #[error("a card number has 12 to 19 digits")]
    Format,
    /// The Luhn check digit is wrong.
    #[error("the card number's check digit is wrong (Luhn)")]
    Luhn,
}

/// True if the digits pass the Luhn (mod 10) check.
pub fn luhn_valid(digits: &str) -> bool {
    let mut sum = 0u32;
    for (i, c) in digits.bytes().rev().enumerate() {
        if !c.is_ascii_digit() {
            return false;
        }
        let mut v = u32::from(c - b'0');
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    !digits.is_empty() && sum % 10 == 0
}

impl Pan {
    /// Parses and validates a card number.
    pub fn parse(s: &str) -> Result<Self, PanError> {
        if !(12..=19).contains(&s.len()) || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PanError::Format);
        }
        if !luhn_valid(s) {
            return Err(PanError::Luhn);
        }
        Ok(Self(s.to_owned()))
    }

    /// The full digits, for the wire to the terminal only.
    pub fn reveal(&self) -> &str {
        &self.0
    }

    /// The masked form.
    pub fn masked(&self) -> MaskedPan {
        MaskedPan::from_digits(&self.0)
    }
}

impl fmt::Debug for Pan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pan({})", self.masked())
    }
}

impl fmt::Display for Pan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.masked(), f)
    }
}

/// A PIN: 4 to 12 digits. `Debug` never shows it (PBS-01); the digits come out only through
/// [`Pin::reveal`], for the wire to the terminal.
#[derive(Clone, PartialEq, Eq)]
pub struct Pin(String);

impl Pin {
    /// Validates a PIN.
    pub fn parse(s: &str) -> Option<Self> {
        ((4..=12).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| Self(s.to_owned()))
    }

    /// The digits, for the wire to the terminal only.
    pub fn reveal(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin(<redacted>)")
    }
}

/// A card verification code (CVC2/CVV2): 3 or 4 digits. Neither `Debug` nor `Display` shows it
/// (PBS-01, BAX-05: never logged or written anywhere); the digits come out only through
/// [`Cvc::reveal`], for the PCI scan that looks for them.
#[derive(Clone, PartialEq, Eq)]
pub struct Cvc(String);

impl Cvc {
    /// Validates a CVC: 3 digits (4 for Amex's CID).
    pub fn parse(s: &str) -> Option<Self> {
        ((3..=4).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| Self(s.to_owned()))
    }

    /// The digits, for the PCI scan only.
    pub fn reveal(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Cvc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cvc(<redacted>)")
    }
}

impl fmt::Display for Cvc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// First six and last four digits of a card number and its length; nothing else is kept.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MaskedPan {
    first6: String,
    last4: String,
    len: usize,
}

impl MaskedPan {
    fn from_digits(d: &str) -> Self {
        Self {
            first6: d[..6].to_owned(),
            last4: d[d.len() - 4..].to_owned(),
            len: d.len(),
        }
    }

    /// Last four digits (what support asks for, SUPPORT-02).
    pub fn last4(&self) -> &str {
        &self.last4
    }
}

impl fmt::Display for MaskedPan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{}{}",
            self.first6,
            "*".repeat(self.len - 10),
            self.last4
        )
    }
}

impl fmt::Debug for MaskedPan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MaskedPan({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pci_01_pan_never_prints_in_full() {
        let p = Pan::parse("5019100000000006").unwrap();
        assert_eq!(format!("{p}"), "501910******0006");
        assert_eq!(format!("{p:?}"), "Pan(501910******0006)");
        assert_eq!(p.reveal(), "5019100000000006");
        let pin = Pin::parse("1234").unwrap();
        assert_eq!(format!("{pin:?}"), "Pin(<redacted>)");
        assert!(Pin::parse("12a4").is_none() && Pin::parse("123").is_none());
    }

    #[test]
    fn pbs_01_cvc_never_prints() {
        let cvc = Cvc::parse("947").unwrap();
        assert_eq!(format!("{cvc:?}"), "Cvc(<redacted>)");
        assert_eq!(format!("{cvc}"), "***");
        assert_eq!(cvc.reveal(), "947");
        assert!(Cvc::parse("94").is_none() && Cvc::parse("9a7").is_none());
        assert!(Cvc::parse("94712").is_none());
    }

    #[test]
    fn pans_are_validated() {
        assert_eq!(Pan::parse("5019100000000007"), Err(PanError::Luhn));
        assert_eq!(Pan::parse("50191"), Err(PanError::Format));
        assert_eq!(Pan::parse("50191000000000a6"), Err(PanError::Format));
    }
}
