//! PCI-01 / PCI-02 check of artifacts: no full card number may appear in anything the harness
//! writes. Generic on purpose: any number that passes Luhn, starts like a card (2 to 7) and is
//! written the way card numbers are printed is reported, known test card or not.
//!
//! A card number is looked for inside one *field* only: 12 to 19 contiguous digits, or digit
//! groups joined by one and the same single separator (a space or a dash) in the shape a card
//! number is printed in (4-4-4-4, 4-4-4-4-3, Amex 4-6-5, ...). Digits of neighbouring fields
//! are never joined: "AUTH 226707 2026-03-02" is an auth code and a date, not the Luhn-valid
//! "226707202603" it would spell.
//!
//! Also reported: masked card numbers that show more than the first six and last four digits
//! ([`scan`]), and known PINs and CVCs as standalone digit runs ([`scan_pins`],
//! [`scan_cvcs`]). [`redact`] and [`redact_with`] mask all of these in a copy of a text.

use std::fmt;

/// What a [`Leak`] shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeakKind {
    /// A full card number (PCI-01).
    Pan,
    /// A masked card number that shows more than its first six and last four digits (PCI-01).
    RevealingMask,
    /// A known PIN (PBS-01, PCI-02).
    Pin,
    /// A known card verification code (PBS-01, PCI-02).
    Cvc,
}

impl fmt::Display for LeakKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Pan => "full card number",
            Self::RevealingMask => "masked card number showing more than first 6 and last 4",
            Self::Pin => "PIN",
            Self::Cvc => "CVC",
        })
    }
}

/// A suspected leak in a text: a full card number, a mask that shows too much, a PIN or a CVC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leak {
    /// What was found.
    pub kind: LeakKind,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in bytes) of the suspect's first character.
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

/// Characters that stand for a hidden digit in a masked card number.
fn is_mask_char(c: u8) -> bool {
    matches!(c, b'*' | b'X' | b'x' | b'#')
}

/// Maximal runs of digits and mask characters that are not part of a word (a letter or digit
/// right before or after the run): "0x1f2e..." and "Boxxx123..." are not masked card numbers.
fn mask_groups(line: &[u8]) -> Vec<Group> {
    let in_group = |c: u8| c.is_ascii_digit() || is_mask_char(c);
    let mut groups = Vec::new();
    let mut i = 0;
    while i < line.len() {
        if !in_group(line[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < line.len() && in_group(line[i]) {
            i += 1;
        }
        let glued = (start > 0 && line[start - 1].is_ascii_alphanumeric())
            || line.get(i).is_some_and(u8::is_ascii_alphanumeric);
        if !glued {
            groups.push(Group { start, end: i });
        }
    }
    groups
}

/// How a masked card number reads: digits shown before and after its one run of mask
/// characters. `None` if `chars` is not a mask: no mask character, a single one (as in "0x"),
/// two different ones, or hidden digits in more than one run ("**123**" is emphasis).
fn mask_shape(chars: &str) -> Option<(usize, usize)> {
    let b = chars.as_bytes();
    let first = b.iter().position(|&c| is_mask_char(c))?;
    let last = b.iter().rposition(|&c| is_mask_char(c))?;
    let run = &b[first..=last];
    (run.len() >= 2 && run.iter().all(|&c| c == b[first])).then(|| (first, b.len() - 1 - last))
}

/// Masked card numbers in one line that show more than the first six and last four digits,
/// as `(first group, one past the last group)` of `groups`.
fn revealing_masks_in_line(line: &[u8], groups: &[Group]) -> Vec<(usize, usize)> {
    let linked = |a: usize, b: usize| link(line, groups[a], groups[b]).is_some();
    let mut found = Vec::new();
    let mut s = 0;
    while s < groups.len() {
        let end = chain_end(line, groups, s);
        let hit = (s + 1..=end).rev().find_map(|e| {
            let lens: Vec<usize> = groups[s..e].iter().map(|g| g.end - g.start).collect();
            let chars = joined(line, &groups[s..e]);
            let (shown_first, shown_last) = mask_shape(&chars).filter(|_| card_shaped(&lens))?;
            // A candidate never cuts a run of mask characters at a group boundary: in
            // "2026 5019 10** **** 0006" the mask is the last four groups, not "2026 5019 10** ****".
            let cut_before = shown_first == 0 && s > 0 && linked(s - 1, s);
            let cut_after = shown_last == 0 && e < groups.len() && linked(e - 1, e);
            (!cut_before && !cut_after).then_some((e, shown_first > 6 || shown_last > 4))
        });
        match hit {
            Some((e, reveals)) => {
                if reveals {
                    found.push((s, e));
                }
                s = e;
            }
            None => s += 1,
        }
    }
    found
}

/// One thing found in a line: what it is and where (`start..end` in bytes, separators of a
/// grouped card number included).
#[derive(Debug, Clone, Copy)]
struct Finding {
    kind: LeakKind,
    start: usize,
    end: usize,
}

/// Runs of digits in `line` equal to one of `secrets`, as `groups` indices. A run that is part
/// of a longer run of digits is not the secret.
fn secrets_in_line(groups: &[Group], line: &[u8], secrets: &[&str]) -> Vec<usize> {
    (0..groups.len())
        .filter(|&k| {
            let g = groups[k];
            secrets
                .iter()
                .any(|s| s.as_bytes() == &line[g.start..g.end])
        })
        .collect()
}

/// True if the digit run `g` is a part of an amount: right after a '.' or ',' that follows a
/// digit ("1.947,00"), or right before one that a digit follows ("947.00").
fn in_amount(line: &[u8], g: Group) -> bool {
    let decimal = |c: u8| c == b'.' || c == b',';
    let before = g.start >= 2 && decimal(line[g.start - 1]) && line[g.start - 2].is_ascii_digit();
    let after = line.get(g.end).copied().is_some_and(decimal)
        && line.get(g.end + 1).is_some_and(u8::is_ascii_digit);
    before || after
}

/// Everything in one line that must not be there: full card numbers, masks that show too
/// much, and the given PINs and CVCs; in the order they start.
fn findings(line: &[u8], pins: &[&str], cvcs: &[&str]) -> Vec<Finding> {
    let digits = digit_groups(line);
    let masks = mask_groups(line);
    let span = |kind, groups: &[Group]| Finding {
        kind,
        start: groups[0].start,
        end: groups[groups.len() - 1].end,
    };
    let mut found: Vec<Finding> = pans_in_line(line, &digits)
        .into_iter()
        .map(|(s, e)| span(LeakKind::Pan, &digits[s..e]))
        .chain(
            revealing_masks_in_line(line, &masks)
                .into_iter()
                .map(|(s, e)| span(LeakKind::RevealingMask, &masks[s..e])),
        )
        .collect();
    for k in secrets_in_line(&digits, line, pins) {
        found.push(span(LeakKind::Pin, &digits[k..=k]));
    }
    for k in secrets_in_line(&digits, line, cvcs) {
        // Three digits are common: a CVC counts only outside an amount.
        if !in_amount(line, digits[k]) {
            found.push(span(LeakKind::Cvc, &digits[k..=k]));
        }
    }
    found.sort_by_key(|f| (f.start, f.end));
    found
}

/// The lines of `text` as `str::lines` cuts them ("\n" or "\r\n" ends a line), each with the
/// byte offset where it starts.
fn lines_at(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split_inclusive('\n').scan(0, |offset, piece| {
        let at = *offset;
        *offset += piece.len();
        let line = piece
            .strip_suffix('\n')
            .map_or(piece, |l| l.strip_suffix('\r').unwrap_or(l));
        Some((at, line))
    })
}

/// Every finding of `kinds` in `text`, as leaks that show nothing secret.
fn leaks(text: &str, pins: &[&str], cvcs: &[&str], kinds: &[LeakKind]) -> Vec<Leak> {
    let mut leaks = Vec::new();
    for (li, (_, line)) in lines_at(text).enumerate() {
        let b = line.as_bytes();
        for f in findings(b, pins, cvcs) {
            if !kinds.contains(&f.kind) {
                continue;
            }
            let masked = match f.kind {
                LeakKind::Pan | LeakKind::RevealingMask => {
                    let chars: String = line[f.start..f.end]
                        .chars()
                        .filter(|&c| c != ' ' && c != '-')
                        .collect();
                    mask(&chars)
                }
                LeakKind::Pin => "<PIN>".into(),
                LeakKind::Cvc => "<CVC>".into(),
            };
            leaks.push(Leak {
                kind: f.kind,
                line: li + 1,
                column: f.start + 1,
                masked,
            });
        }
    }
    leaks
}

/// Finds full card numbers as they are printed (see the module documentation), and masked
/// card numbers ('*', 'X', 'x' or '#' for hidden digits) that show more than the first six and
/// last four digits, whether or not the digits shown would pass Luhn.
pub fn scan(text: &str) -> Vec<Leak> {
    leaks(text, &[], &[], &[LeakKind::Pan, LeakKind::RevealingMask])
}

/// PBS-01: finds any of the known `pins` anywhere in `text` as a whole digit run (not inside a
/// longer one), whatever the line says around it. Reports where, never the PIN.
pub fn scan_pins(text: &str, pins: &[&str]) -> Vec<Leak> {
    leaks(text, pins, &[], &[LeakKind::Pin])
}

/// PBS-01: finds any of the known `cvcs` in `text` as a standalone token: a whole digit run
/// that is not part of an amount (not "947.00", "1.947,00"). Reports where, never the CVC.
pub fn scan_cvcs(text: &str, cvcs: &[&str]) -> Vec<Leak> {
    leaks(text, &[], cvcs, &[LeakKind::Cvc])
}

/// A copy of `text` in which every full card number and every mask that shows too much is
/// masked to its first six and last four digits, separators kept ("5019 10** **** 0006"), so
/// that what the harness writes passes [`scan`] (PCI-01).
pub fn redact(text: &str) -> String {
    redact_with(text, &[], &[])
}

/// [`redact`], and each of the known `pins` replaced by "****" and `cvcs` by "***" where
/// [`scan_pins`] and [`scan_cvcs`] would find them (PCI-02).
pub fn redact_with(text: &str, pins: &[&str], cvcs: &[&str]) -> String {
    let mut out = text.to_owned();
    // A pass can uncover something new (a PIN's stars completing a mask, or a finding that
    // overlapped one replaced first), so passes repeat until nothing is found. They end: each
    // replacement turns at least one digit into '*' and adds none.
    loop {
        let mut edits = Vec::new();
        for (at, line) in lines_at(&out) {
            for f in findings(line.as_bytes(), pins, cvcs) {
                let replacement = match f.kind {
                    LeakKind::Pan | LeakKind::RevealingMask => mask_in_place(&line[f.start..f.end]),
                    LeakKind::Pin => "****".into(),
                    LeakKind::Cvc => "***".into(),
                };
                edits.push((at + f.start, at + f.end, replacement));
            }
        }
        if edits.is_empty() {
            return out;
        }
        let mut next = String::with_capacity(out.len());
        let mut done = 0;
        for (start, end, replacement) in edits {
            // Overlapping findings: the first is replaced now, the next pass sees the rest.
            if start < done {
                continue;
            }
            next.push_str(&out[done..start]);
            next.push_str(&replacement);
            done = end;
        }
        next.push_str(&out[done..]);
        out = next;
    }
}

/// `s` (a card number or mask, possibly grouped) with its characters other than separators
/// starred, except the first six and the last four.
fn mask_in_place(s: &str) -> String {
    let n = s.chars().filter(|&c| c != ' ' && c != '-').count();
    let mut k = 0;
    s.chars()
        .map(|c| {
            if c == ' ' || c == '-' {
                return c;
            }
            let keep = k < 6 || k + 4 >= n;
            k += 1;
            if keep { c } else { '*' }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{LeakKind, redact, redact_with, scan, scan_cvcs, scan_pins};

    #[test]
    fn pbs_01_finds_pins_next_to_the_word_pin() {
        assert_eq!(scan_pins("EnterPin { pin: \"1234\" }", &["1234"]).len(), 1);
        assert!(scan_pins("EnterPin(PinText(<redacted>))", &["1234"]).is_empty());
        assert!(scan_pins("amount 12345 PIN VERIFIED", &["1234"]).is_empty());
    }

    #[test]
    fn pbs_01_finds_a_known_pin_anywhere_as_its_own_digit_run() {
        // Not only on lines that say "pin": a PIN in a key log or a hex-free dump leaks too.
        let l = scan_pins("x\nkeys 739216 sent", &["739216"]);
        assert_eq!(l.len(), 1);
        assert_eq!((l[0].kind, l[0].line, l[0].column), (LeakKind::Pin, 2, 6));
        assert!(!format!("{l:?}").contains("739216"), "never echoes the PIN");
        assert_eq!(scan_pins("amount 1234", &["1234"]).len(), 1);
        assert_eq!(scan_pins("a=1234,b=5", &["1234"]).len(), 1);
        // Part of a longer digit run is not the PIN.
        assert!(scan_pins("stan 0739216 seq 7392160", &["739216"]).is_empty());
    }

    #[test]
    fn pbs_01_finds_a_known_cvc_only_as_a_standalone_token() {
        for t in [
            "cvc=947",
            "CardData { cvc: \"947\" }",
            "947 12/30",
            "x\n 947.",
        ] {
            let l = scan_cvcs(t, &["947"]);
            assert_eq!(l.len(), 1, "{t}");
            assert_eq!(l[0].kind, LeakKind::Cvc);
            assert!(!l[0].masked.contains("947"), "never echoes the CVC");
        }
        // Three-digit runs are common: inside amounts and longer numbers they are not a CVC.
        for t in [
            "947.00 DKK",
            "1.947,00 DKK",
            "1,947.00",
            "12.947",
            "amount 947,50",
            "seq 0947",
            "9470",
        ] {
            assert!(scan_cvcs(t, &["947"]).is_empty(), "{t}");
        }
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
    fn pci_01_masks_may_show_first_six_and_last_four_only() {
        // Luhn does not matter: the visible digits are what leaks.
        for (t, shown) in [
            ("card 5019100*****0006", "501910******0006"),
            ("card 501910******90006", "501910*******0006"),
            ("card 501910XXXXX00006", "501910******0006"),
            ("card 5019 100x xxxx 0006", "501910******0006"),
            ("card 5019-1000-####-0006", "501910******0006"),
            ("card 37828224631####", "378282*****####"),
        ] {
            let leaks = scan(t);
            assert_eq!(leaks.len(), 1, "{t}");
            assert_eq!(
                (leaks[0].kind, leaks[0].masked.as_str()),
                (LeakKind::RevealingMask, shown),
                "{t}"
            );
            assert_eq!(leaks[0].column, 6, "{t}");
        }
        for fine in [
            "card 501910******0006",
            "card 501910XXXXXX0006",
            "card 5019 10xx xxxx 0006",
            "card ############0006",
            "card 3782 82XXXX X0005",
            "card ****************",
            // Not masks: a hex literal, a word, and a number in emphasis.
            "id 0x00000000000012ab",
            "Boxxx1234567890123",
            "**1234567890123**",
        ] {
            assert!(scan(fine).is_empty(), "{fine}");
        }
        // A correct mask next to another field is not read together with it.
        assert!(scan("2026 5019 10** **** 0006").is_empty());
    }

    #[test]
    fn pci_01_pci_02_redact_leaves_nothing_for_the_scans() {
        let text = "AUTH 226707 2026-03-02\n\
                    card 5019 1000 0000 0006 ok\r\n\
                    PAN=4111111111111111;amex 3782-822463-10005?\n\
                    mask 5019100*****0006 and 6011000000000000001\n\
                    PIN 739216 cvc 947 total 947.00\n\
                    kept \u{f8} 501910******0006 x";
        let redacted = redact_with(text, &["739216"], &["947"]);
        assert_eq!(
            redacted,
            "AUTH 226707 2026-03-02\n\
             card 5019 10** **** 0006 ok\r\n\
             PAN=411111******1111;amex 3782-82****-*0005?\n\
             mask 501910******0006 and 601100*********0001\n\
             PIN **** cvc *** total 947.00\n\
             kept \u{f8} 501910******0006 x"
        );
        assert!(scan(&redacted).is_empty());
        assert!(scan_pins(&redacted, &["739216"]).is_empty());
        assert!(scan_cvcs(&redacted, &["947"]).is_empty());
        // Without PINs and CVCs, card numbers only.
        let cards_only = redact(text);
        assert!(scan(&cards_only).is_empty());
        assert!(cards_only.contains("PIN 739216 cvc 947"));
        // A clean text comes back as it was.
        let clean = "amount 125.50 DKK at 2026-03-02 10:15:00, txn 000012\n";
        assert_eq!(redact(clean), clean);
    }

    #[test]
    fn pci_01_redact_then_scan_finds_nothing_on_generated_text() {
        // Deterministic generator (no dependency): text made mostly of digits and the
        // characters the scans look at, with real card numbers, PINs and CVCs mixed in.
        let alphabet = b"0123456789012345678901234567 -*X#x.,a\n";
        let pieces = ["5019100000000006", "4111 1111 1111 1111", "739216", "947"];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let mut redacted = 0;
        for _ in 0..3000 {
            let mut t = String::new();
            for _ in 0..next(80) {
                if next(10) == 0 {
                    t.push_str(pieces[next(pieces.len())]);
                } else {
                    t.push(alphabet[next(alphabet.len())] as char);
                }
            }
            let r = redact_with(&t, &["739216"], &["947"]);
            assert!(scan(&r).is_empty(), "{t:?} -> {r:?}");
            assert!(scan_pins(&r, &["739216"]).is_empty(), "{t:?} -> {r:?}");
            assert!(scan_cvcs(&r, &["947"]).is_empty(), "{t:?} -> {r:?}");
            assert_eq!(redact(&r), r, "redacting twice changes nothing");
            redacted += usize::from(r != t);
        }
        assert!(
            redacted > 500,
            "the generator exercises redaction: {redacted}"
        );
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
