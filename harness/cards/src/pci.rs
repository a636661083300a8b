//! PCI-01 / PCI-02 check of artifacts: no full card number may appear in anything the harness
//! writes. Generic on purpose: any number that passes Luhn, starts like a card (2 to 7) and is
//! written the way card numbers are printed is reported, known test card or not.
//!
//! A card number is looked for inside one *field* only: 12 to 19 contiguous digits, or digit
//! groups joined by one and the same single separator (a space or a dash) in the shape a card
//! number is printed in (4-4-4-4, 4-4-4-4-3, Amex 4-6-5, ...). Digits of neighbouring fields
//! are never joined: "AUTH 226707 2026-03-02" is an auth code and a date, not the Luhn-valid
//! "226707202603" it would spell.

/// A suspected full card number in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leak {
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in bytes) of the first digit.
    pub column: usize,
    /// The suspect, masked (never echo the leak itself).
    pub masked: String,
}

/// A run of characters of one kind in a line: `start..end` in bytes.
#[derive(Debug, Clone, Copy)]
struct Group {
    start: usize,
    end: usize,
}

/// At most this many groups make one printed card number (4-4-4-4-3).
const MAX_GROUPS: usize = 5;

/// Maximal runs of ASCII digits in `line`.
fn digit_groups(line: &[u8]) -> Vec<Group> {
    let mut groups = Vec::new();
    let mut i = 0;
    while i < line.len() {
        if line[i].is_ascii_digit() {
            let start = i;
            while i < line.len() && line[i].is_ascii_digit() {
                i += 1;
            }
            groups.push(Group { start, end: i });
        } else {
            i += 1;
        }
    }
    groups
}

/// The separator joining `a` to the group right after it, if exactly one space or dash lies
/// between them.
fn link(line: &[u8], a: Group, b: Group) -> Option<u8> {
    (b.start == a.end + 1)
        .then(|| line[a.end])
        .filter(|&c| c == b' ' || c == b'-')
}

/// One past the last group that `groups[s]` reaches through the same separator, capped at
/// [`MAX_GROUPS`] groups: the groups a printed card number starting at `s` could span.
fn chain_end(line: &[u8], groups: &[Group], s: usize) -> usize {
    let mut e = s + 1;
    let sep = groups.get(s + 1).and_then(|&b| link(line, groups[s], b));
    while e < groups.len() && e - s < MAX_GROUPS && sep.is_some() {
        if link(line, groups[e - 1], groups[e]) != sep {
            break;
        }
        e += 1;
    }
    e
}

/// True if groups of these lengths are how a card number is printed: contiguous, groups of
/// four with a shorter or equal last group (4-4-4-4, 4-4-4-4-3, ...), or Amex/Diners 4-6-5 and
/// 4-6-4. Always 12 to 19 digits.
fn card_shaped(lens: &[usize]) -> bool {
    let total: usize = lens.iter().sum();
    if !(12..=19).contains(&total) {
        return false;
    }
    match lens {
        [_] => true,
        [4, 6, 5] | [4, 6, 4] => true,
        [init @ .., last] => init.iter().all(|&l| l == 4) && (1..=4).contains(last),
        [] => false,
    }
}

/// The characters of `groups` without their separators.
fn joined(line: &[u8], groups: &[Group]) -> String {
    groups
        .iter()
        .flat_map(|g| line[g.start..g.end].iter().map(|&b| b as char))
        .collect()
}

/// First six and last four characters of `s` with the rest starred.
fn mask(s: &str) -> String {
    let n = s.chars().count();
    s.chars()
        .enumerate()
        .map(|(i, c)| if i < 6 || i + 4 >= n { c } else { '*' })
        .collect()
}

/// Full card numbers in one line, as `(first group, one past the last group)` of `groups`.
fn pans_in_line(line: &[u8], groups: &[Group]) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    let mut s = 0;
    while s < groups.len() {
        // Longest first: a card number glued to a neighbouring field by a separator is still
        // found on its own.
        let hit = (s + 1..=chain_end(line, groups, s)).rev().find(|&e| {
            let lens: Vec<usize> = groups[s..e].iter().map(|g| g.end - g.start).collect();
            let digits = joined(line, &groups[s..e]);
            card_shaped(&lens)
                && matches!(digits.as_bytes()[0], b'2'..=b'7')
                && crate::luhn_valid(&digits)
        });
        match hit {
            Some(e) => {
                found.push((s, e));
                s = e;
            }
            None => s += 1,
        }
    }
    found
}

/// Finds full card numbers as they are printed (see the module documentation).
pub fn scan(text: &str) -> Vec<Leak> {
    let mut leaks = Vec::new();
    for (li, line) in text.lines().enumerate() {
        let b = line.as_bytes();
        let groups = digit_groups(b);
        for (s, e) in pans_in_line(b, &groups) {
            leaks.push(Leak {
                line: li + 1,
                column: groups[s].start + 1,
                masked: mask(&joined(b, &groups[s..e])),
            });
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
    fn pci_01_digits_of_different_fields_are_not_one_card_number() {
        // The issue: an auth code and a date on a settlement line read as the 12-digit,
        // Luhn-valid "226707202603".
        assert!(scan("AUTH 226707 2026-03-02").is_empty());
        assert!(scan("000001 125.50 DKK AUTH 226707 2026-03-02 SETTLES 2026-03-03").is_empty());
        // Groups that are not shaped like a printed card number are separate fields.
        assert!(scan("ref 226707 202603").is_empty());
        assert!(
            scan("ref 2267-0720-2603").len() == 1,
            "4-4-4 is a 12-digit card's print"
        );
    }

    #[test]
    fn pci_01_finds_card_numbers_as_they_are_printed() {
        let masked = |t: &str| -> Vec<String> { scan(t).into_iter().map(|l| l.masked).collect() };
        for t in [
            "card 5019100000000006 ok",
            "card 5019 1000 0000 0006 ok",
            "card 5019-1000-0000-0006 ok",
        ] {
            assert_eq!(masked(t), ["501910******0006"], "{t}");
        }
        // Amex, 15 digits: contiguous or 4-6-5.
        assert_eq!(masked("AMEX 378282246310005"), ["378282*****0005"]);
        assert_eq!(masked("AMEX 3782 822463 10005"), ["378282*****0005"]);
        // Diners, 14 digits in 4-6-4.
        assert_eq!(masked("DINERS 3056 900000 0008"), ["305690****0008"]);
        // 19 digits: contiguous or 4-4-4-4-3.
        assert_eq!(masked("6011000000000000001"), ["601100*********0001"]);
        assert_eq!(masked("6011 0000 0000 0000 001"), ["601100*********0001"]);
        // A printed card number followed by another field is still found.
        assert_eq!(masked("5019 1000 0000 0006 12/30"), ["501910******0006"]);
        assert_eq!(masked("5019100000000006 1234"), ["501910******0006"]);
        assert_eq!(masked("2026 5019 1000 0000 0006"), ["501910******0006"]);
        // Mixed separators or double spaces do not join groups.
        assert!(scan("5019  1000  0000  0006").is_empty());
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
