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
//!
//! [`scan_bytes`] looks through raw bytes (a terminal's flash image, its log) for the same in
//! any encoding: ASCII, behind ISO 8583 length prefixes, packed BCD in either nibble order,
//! EBCDIC, UTF-16, and PINs inside format 0 PIN blocks.

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

/// How a [`Leak`] was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Digits as text, the way they are printed ([`scan`], [`scan_pins`], [`scan_cvcs`]).
    Text,
    /// ASCII digits behind their ISO 8583 length prefix (LLVAR or LLLVAR: the length as ASCII
    /// digits), glued to it so that no text scan sees them as a number of their own.
    AsciiLengthPrefixed,
    /// ASCII digits of a known value inside a longer run of digits or other binary data.
    Ascii,
    /// EBCDIC digits (0xF0 to 0xF9).
    Ebcdic,
    /// UTF-16 digits (either byte order).
    Utf16,
    /// Packed BCD, high nibble first, at any nibble position (so whatever the padding).
    Bcd,
    /// Packed BCD, low nibble first.
    BcdSwapped,
    /// Packed BCD behind a one-byte length (the digit count, binary or BCD).
    BcdLengthPrefixed,
    /// An ISO 9564 format 0 PIN block of a known PIN and card number.
    PinBlock,
    /// Inside a hex dump in text ("50 19 10 00 ..." or "3530313931..."), in any of the
    /// encodings above.
    HexDump,
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Text => "text",
            Self::AsciiLengthPrefixed => "ASCII behind an ISO 8583 length prefix",
            Self::Ascii => "ASCII digits",
            Self::Ebcdic => "EBCDIC digits",
            Self::Utf16 => "UTF-16 digits",
            Self::Bcd => "packed BCD",
            Self::BcdSwapped => "packed BCD, nibbles swapped",
            Self::BcdLengthPrefixed => "packed BCD behind a one-byte length",
            Self::PinBlock => "ISO 9564 format 0 PIN block",
            Self::HexDump => "in a hex dump",
        })
    }
}

/// A suspected leak in a text or in raw bytes: a full card number, a mask that shows too much,
/// a PIN or a CVC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leak {
    /// What was found.
    pub kind: LeakKind,
    /// 1-based line (lines end at '\n', also in raw bytes).
    pub line: usize,
    /// 1-based column (in bytes) of the suspect's first character.
    pub column: usize,
    /// 0-based offset (in bytes) of the suspect's first byte in what was scanned: where to look
    /// in a binary image, in which lines mean nothing.
    pub offset: usize,
    /// How the suspect was written.
    pub encoding: Encoding,
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
                // A digit run inside a hex digest is not a field of its own (see
                // `in_hex_digest`): a build hash drew a Luhn-valid 16-digit run.
                && !(e == s + 1 && in_hex_digest(line, groups[s]))
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
/// of a longer run of digits is not the secret, nor is one inside a hex digest (see
/// [`in_hex_digest`]).
fn secrets_in_line(groups: &[Group], line: &[u8], secrets: &[&str]) -> Vec<usize> {
    (0..groups.len())
        .filter(|&k| {
            let g = groups[k];
            secrets
                .iter()
                .any(|s| s.as_bytes() == &line[g.start..g.end])
                && !in_hex_digest(line, g)
        })
        .collect()
}

/// At least this many hex characters in one word make a digest (a SHA-256 build hash is 64):
/// long enough that no printed field is one, short enough for a 128-bit id.
const HEX_DIGEST_MIN: usize = 32;

/// True if the digit run `g` lies inside a word of at least [`HEX_DIGEST_MIN`] lowercase hex
/// characters with a hex letter right before and right after it, such as the build hash the
/// terminal reports in Hello: a digest's digits are not a field of their own, and every firmware
/// change draws a new hash, so its three-digit runs would match a test CVC by chance (about one
/// build in forty), and now and then a run of 12 to 19 digits passes Luhn (one did). A card
/// number, CVC or PIN written as its own field, or next to anything but a hex letter, is still
/// found; hex dumps of messages are read by [`scan_bytes`].
fn in_hex_digest(line: &[u8], g: Group) -> bool {
    let hex = |c: &u8| c.is_ascii_digit() || (b'a'..=b'f').contains(c);
    let letter = |i: usize| line.get(i).is_some_and(|c| (b'a'..=b'f').contains(c));
    if g.start == 0 || !letter(g.start - 1) || !letter(g.end) {
        return false;
    }
    let start = line[..g.start]
        .iter()
        .rposition(|c| !hex(c))
        .map_or(0, |i| i + 1);
    let end = line[g.end..]
        .iter()
        .position(|c| !hex(c))
        .map_or(line.len(), |i| g.end + i);
    end - start >= HEX_DIGEST_MIN
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
    for (li, (at, line)) in lines_at(text).enumerate() {
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
                offset: at + f.start,
                encoding: Encoding::Text,
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

mod bytes;
pub use bytes::{scan_bytes, scan_storage};

#[cfg(test)]
mod tests;
