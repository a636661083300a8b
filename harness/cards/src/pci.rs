//! PCI-01 / PCI-02 check of artifacts: no full card number may appear in anything the harness
//! writes. Generic on purpose: any run of 12 to 19 digits (optionally split by single spaces or
//! dashes) that passes Luhn and starts like a card is reported, known test card or not.

/// A suspected full card number in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leak {
    /// 1-based line.
    pub line: usize,
    /// 1-based column of the first digit.
    pub column: usize,
    /// The suspect, masked (never echo the leak itself).
    pub masked: String,
}

/// Finds digit runs that look like full PANs.
pub fn scan(text: &str) -> Vec<Leak> {
    let mut leaks = Vec::new();
    for (li, line) in text.lines().enumerate() {
        let b = line.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if !b[i].is_ascii_digit() || (i > 0 && b[i - 1].is_ascii_digit()) {
                i += 1;
                continue;
            }
            // Collect digits allowing single separators between groups.
            let mut digits = String::new();
            let mut j = i;
            while j < b.len() {
                if b[j].is_ascii_digit() {
                    digits.push(b[j] as char);
                    j += 1;
                } else if (b[j] == b' ' || b[j] == b'-')
                    && j + 1 < b.len()
                    && b[j + 1].is_ascii_digit()
                    && digits.len() < 19
                {
                    j += 1;
                } else {
                    break;
                }
            }
            // Check every window of 12..=19 digits starting here, so a PAN glued to other digits
            // by a separator is still found.
            for len in (12..=digits.len().min(19)).rev() {
                let cand = &digits[..len];
                if crate::luhn_valid(cand) && matches!(cand.as_bytes()[0], b'2'..=b'7') {
                    leaks.push(Leak {
                        line: li + 1,
                        column: i + 1,
                        masked: format!(
                            "{}{}{}",
                            &cand[..6],
                            "*".repeat(len - 10),
                            &cand[len - 4..]
                        ),
                    });
                    break;
                }
            }
            i = j.max(i + 1);
        }
    }
    leaks
}

/// PBS-01: finds lines that speak of a PIN and carry one of `pins` as a standalone digit token
/// (as a `Debug` of a struct with a `pin` field would). Reports the line, never the PIN.
pub fn scan_pins(text: &str, pins: &[&str]) -> Vec<Leak> {
    let mut leaks = Vec::new();
    for (li, line) in text.lines().enumerate() {
        if !line.to_ascii_lowercase().contains("pin") {
            continue;
        }
        let b = line.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if !b[i].is_ascii_digit() {
                i += 1;
                continue;
            }
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if pins.contains(&&line[start..i]) {
                leaks.push(Leak {
                    line: li + 1,
                    column: start + 1,
                    masked: "<PIN>".into(),
                });
            }
        }
    }
    leaks
}

#[cfg(test)]
mod tests {
    use super::{scan, scan_pins};

    #[test]
    fn pbs_01_finds_pins_next_to_the_word_pin() {
        assert_eq!(scan_pins("EnterPin { pin: \"1234\" }", &["1234"]).len(), 1);
        assert!(scan_pins("EnterPin(PinText(<redacted>))", &["1234"]).is_empty());
        assert!(scan_pins("amount 12345 PIN VERIFIED", &["1234"]).is_empty());
        assert!(scan_pins("amount 1234", &["1234"]).is_empty());
    }

    #[test]
    fn pci_01_finds_full_pans_and_accepts_masked_ones() {
        assert_eq!(scan("card 5019100000000006 ok").len(), 1);
        assert_eq!(scan("card 5019 1000 0000 0006").len(), 1);
        assert!(scan("card 501910******0006").is_empty());
        assert!(scan("amount 125.50 DKK at 2026-03-02 10:15:00, txn 000012").is_empty());
        let l = &scan("x\nPAN=4111111111111111")[0];
        assert_eq!(
            (l.line, l.column, l.masked.as_str()),
            (2, 5, "411111******1111")
        );
    }
}
