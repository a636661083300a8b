//! The BankAxept reserve solution's checks, written from seed 004 (not from the firmware).

use payhil_protocol::IdType;

/// What the merchant wrote on the debit note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// An attendant is present (BAX-03).
    pub attendant: bool,
    /// The ID checked (BAX-04).
    pub id_type: IdType,
    /// Its reference.
    pub id_reference: String,
    /// The account number on the note (BAX-06).
    pub account: String,
    /// The phone authorisation code, empty if none (BAX-08).
    pub phone_code: String,
}

/// BAX-04: bank card with photo and national ID card carry a reference of letters and digits
/// (its length: `mixed_len`, the catalogue's BAX-04/id-reference); a driving licence number has
/// 11 digits; a passport number 8 digits (as the seed states).
pub fn id_ok(t: IdType, r: &str, (min, max): (usize, usize)) -> bool {
    let digits_only = |n: usize| r.chars().count() == n && r.chars().all(|c| c.is_ascii_digit());
    let mixed = (min..=max).contains(&r.chars().count())
        && r.chars().all(|c| c.is_ascii_alphanumeric())
        && r.chars().any(|c| c.is_ascii_alphabetic())
        && r.chars().any(|c| c.is_ascii_digit());
    match t {
        IdType::BankCardWithPhoto | IdType::NationalIdCard => mixed,
        IdType::DriversLicence => digits_only(11),
        IdType::Passport => digits_only(8),
    }
}

/// BAX-06: a Norwegian account number is 11 digits whose last is the MOD-11 check digit of the
/// first ten (weights 5 4 3 2 7 6 5 4 3 2; remainder 0 gives 0; a remainder of 1 is invalid).
pub fn account_ok(a: &str) -> bool {
    let d: Vec<u32> = a.chars().filter_map(|c| c.to_digit(10)).collect();
    if d.len() != 11 || a.len() != 11 {
        return false;
    }
    let sum: u32 = d[..10]
        .iter()
        .zip([5, 4, 3, 2, 7, 6, 5, 4, 3, 2])
        .map(|(x, w)| x * w)
        .sum();
    match sum % 11 {
        0 => d[10] == 0,
        1 => false,
        r => d[10] == 11 - r,
    }
}

/// BAX-08: a phone authorisation code has the form the catalogue reads (BAX-08/phone-code):
/// ASCII letters or digits, of a length in `len`.
pub fn phone_code_ok(code: &str, (min, max): (usize, usize)) -> bool {
    (min..=max).contains(&code.chars().count()) && code.chars().all(|c| c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIXED: (usize, usize) = (4, 20);

    #[test]
    fn bax_04_06_formats() {
        assert!(account_ok("12345678903"));
        assert!(!account_ok("12345678902"));
        assert!(
            id_ok(IdType::Passport, "12345678", MIXED)
                && !id_ok(IdType::Passport, "1234567", MIXED)
        );
        assert!(
            id_ok(IdType::DriversLicence, "12345678901", MIXED)
                && !id_ok(IdType::DriversLicence, "1234567890A", MIXED)
        );
        assert!(
            id_ok(IdType::BankCardWithPhoto, "KN4711", MIXED)
                && !id_ok(IdType::BankCardWithPhoto, "471100", MIXED)
        );
        assert!(
            id_ok(IdType::NationalIdCard, "AB123456", MIXED)
                && !id_ok(IdType::NationalIdCard, "AB-12345", MIXED)
        );
    }
}
