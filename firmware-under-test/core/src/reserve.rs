//! BankAxept reserve solution: the checks on the debit note (seed 004, section 4).
//!
//! When the terminal cannot reach the payment system (BAX-01) a BankAxept purchase may be taken
//! on a signed debit note. The merchant checks the payer's ID and writes its reference on the
//! note (BAX-04), checks the card's account number against the note (BAX-06), and above a
//! threshold obtains an authorisation code by phone (BAX-08). If any check cannot be done or
//! fails, the payment is reversed (BAX-07): the terminal then stores nothing.

use payhil_protocol::{Amount, IdType, Reason, ReserveDetails};

use crate::limits::Limits;

/// Whether an ID reference has the format its ID type prescribes (BAX-04).
pub fn id_reference_valid(id: IdType, reference: &str) -> bool {
    let r = reference.as_bytes();
    let digits = |n: usize| r.len() == n && r.iter().all(u8::is_ascii_digit);
    // "Kombinasjon av bokstaver og tall": letters and digits, both present.
    let letters_and_digits = (4..=20).contains(&r.len())
        && r.iter().all(u8::is_ascii_alphanumeric)
        && r.iter().any(u8::is_ascii_alphabetic)
        && r.iter().any(u8::is_ascii_digit);
    match id {
        IdType::BankCardWithPhoto => letters_and_digits, // control number
        IdType::DriversLicence => digits(11),            // licence number, field 5
        IdType::NationalIdCard => letters_and_digits,    // document number
        IdType::Passport => digits(8),                   // passport number, as the seed states
    }
}

/// Norwegian account number: 11 digits, the last a MOD-11 check digit over the first ten with
/// weights 5,4,3,2,7,6,5,4,3,2 (BAX-06). A remainder giving check digit 10 is never issued.
pub fn account_number_valid(account: &str) -> bool {
    let d = account.as_bytes();
    if d.len() != 11 || !d.iter().all(u8::is_ascii_digit) {
        return false;
    }
    const W: [u32; 10] = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2];
    let sum: u32 = d[..10]
        .iter()
        .zip(W)
        .map(|(c, w)| u32::from(c - b'0') * w)
        .sum();
    let check = match 11 - sum % 11 {
        11 => 0,
        10 => return false,
        c => c,
    };
    u32::from(d[10] - b'0') == check
}

/// The debit-note checks, in the order of the procedure. `card_account` is the account number
/// the card itself carries.
pub fn check_note(
    l: &Limits,
    amount: Amount,
    note: &ReserveDetails<'_>,
    card_account: &str,
) -> Result<(), Reason> {
    if l.self_service && !note.attendant_present {
        return Err(Reason::ReserveAttendantRequired); // BAX-03
    }
    if !id_reference_valid(note.id_type, note.id_reference) {
        return Err(Reason::ReserveIdInvalid); // BAX-04, BAX-07
    }
    if !account_number_valid(note.note_account) || note.note_account != card_account {
        return Err(Reason::ReserveAccountInvalid); // BAX-06, BAX-07
    }
    if amount.minor > l.reserve.phone_auth_above_minor {
        let code = note.phone_auth_code.as_bytes();
        if !(4..=8).contains(&code.len()) || !code.iter().all(u8::is_ascii_alphanumeric) {
            return Err(Reason::ReserveAuthCodeRequired); // BAX-08
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use payhil_protocol::Currency;

    const ACCOUNT: &str = "12345678903"; // 1*5+2*4+3*3+4*2+5*7+6*6+7*5+8*4+9*3+0*2 = 195; 195 % 11 = 8; 11 - 8 = 3

    fn note<'a>(
        id_type: IdType,
        id_reference: &'a str,
        account: &'a str,
        code: &'a str,
    ) -> ReserveDetails<'a> {
        ReserveDetails {
            attendant_present: true,
            id_type,
            id_reference,
            note_account: account,
            phone_auth_code: code,
        }
    }

    #[test]
    fn bax_04_every_id_type_and_a_malformed_reference_of_each() {
        assert!(id_reference_valid(IdType::BankCardWithPhoto, "AB12345"));
        assert!(
            !id_reference_valid(IdType::BankCardWithPhoto, "1234567"),
            "letters and digits"
        );
        assert!(id_reference_valid(IdType::DriversLicence, "12345678901"));
        assert!(
            !id_reference_valid(IdType::DriversLicence, "1234567890"),
            "11 digits"
        );
        assert!(id_reference_valid(IdType::NationalIdCard, "NO1234X56"));
        assert!(
            !id_reference_valid(IdType::NationalIdCard, "NO-1234"),
            "letters and digits only"
        );
        assert!(id_reference_valid(IdType::Passport, "12345678"));
        assert!(
            !id_reference_valid(IdType::Passport, "A1234567"),
            "8 digits"
        );
    }

    #[test]
    fn bax_06_mod11_account_numbers() {
        assert!(account_number_valid(ACCOUNT));
        assert!(!account_number_valid("12345678904"), "wrong check digit");
        assert!(!account_number_valid("1234567890"), "10 digits");
        assert!(!account_number_valid("1234567890a"));
    }

    #[test]
    fn bax_03_to_08_the_note_checks_in_order() {
        let l = Limits::default();
        let nok = |m| Amount {
            minor: m,
            currency: Currency::NOK,
        };
        let ok = note(IdType::Passport, "12345678", ACCOUNT, "");
        assert_eq!(check_note(&l, nok(2_500_00), &ok, ACCOUNT), Ok(()));
        // BAX-03: self-service without an attendant.
        let selfserve = Limits {
            self_service: true,
            ..l
        };
        let alone = ReserveDetails {
            attendant_present: false,
            ..ok
        };
        assert_eq!(
            check_note(&selfserve, nok(100), &alone, ACCOUNT),
            Err(Reason::ReserveAttendantRequired)
        );
        assert_eq!(check_note(&selfserve, nok(100), &ok, ACCOUNT), Ok(()));
        // BAX-04 / BAX-07.
        let bad_id = note(IdType::Passport, "1234567", ACCOUNT, "");
        assert_eq!(
            check_note(&l, nok(100), &bad_id, ACCOUNT),
            Err(Reason::ReserveIdInvalid)
        );
        // BAX-06: the note's account must be valid and the card's.
        assert_eq!(
            check_note(&l, nok(100), &ok, "12345678911"),
            Err(Reason::ReserveAccountInvalid)
        );
        // BAX-08: above the threshold a phone code is needed; the threshold is configuration.
        assert_eq!(
            check_note(&l, nok(2_500_01), &ok, ACCOUNT),
            Err(Reason::ReserveAuthCodeRequired)
        );
        let with_code = note(IdType::Passport, "12345678", ACCOUNT, "AB1234");
        assert_eq!(check_note(&l, nok(2_500_01), &with_code, ACCOUNT), Ok(()));
        let strict = Limits {
            reserve: crate::limits::ReserveLimits {
                phone_auth_above_minor: 1_500_00,
                ..l.reserve
            },
            ..l
        };
        assert_eq!(
            check_note(&strict, nok(1_500_01), &ok, ACCOUNT),
            Err(Reason::ReserveAuthCodeRequired)
        );
    }
}
