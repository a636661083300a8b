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
/// build in forty). A CVC or PIN written as its own field, or next to anything but a hex letter,
/// is still found.
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

/// Finds card data in raw bytes, whatever its encoding: a flash image, a log line, a capture.
/// Reported, each with its byte offset and how it was written:
/// * whatever [`scan`], [`scan_pins`] and [`scan_cvcs`] find in the bytes' printable runs
///   (any other byte ends a field);
/// * any card number (Luhn-valid, starting 2 to 7, known or not) behind an ISO 8583 length
///   prefix: ASCII digits right after their LL or LLL length at the start of a digit run, or
///   15 to 19 digits of packed BCD after a one-byte length (the digit count, binary or BCD;
///   odd lengths padded with F or 0 before or after);
/// * each of `known_pans` anywhere: as ASCII, EBCDIC or UTF-16 digits, and as packed BCD in
///   either nibble order at any nibble position, which covers every padding (F or 0, before
///   or after) and alignment;
/// * each of `pins` as ASCII (a digit run of its own, or behind an LL/LLL length), as packed
///   BCD (either nibble order: anywhere for six digits or more, behind a one-byte length for
///   four or five, like a CVC), and inside an ISO 9564 format 0 PIN block with any of
///   `known_pans`;
/// * all of the above inside hex dumps in text (two-digit tokens joined by a space, ':' or '-',
///   or runs of at least twelve hex digits), as terminals log raw messages;
/// * each of `cvcs` as ASCII (standalone as [`scan_cvcs`] reads it, or behind an LL/LLL length)
///   and as packed BCD behind a one-byte length (either nibble order, padded with F or 0). A
///   bare two-byte BCD CVC is not reported: twelve bits match by chance every few kilobytes of
///   binary data (checksums, times, amounts), which would bury the real findings.
///
/// One finding per place and kind (the plainest encoding that explains it), by offset.
/// Entries of `known_pans`, `pins` and `cvcs` that are not all digits are ignored.
pub fn scan_bytes(bytes: &[u8], known_pans: &[&str], pins: &[&str], cvcs: &[&str]) -> Vec<Leak> {
    scan_bytes_in(bytes, known_pans, pins, cvcs, true, true)
}

/// [`scan_bytes`] for a storage image of a terminal the harness drove: the harness presents only
/// its own test cards, so every card number the storage could hold is in `known_pans`, and the
/// search for unknown numbers in length-prefixed BCD is left out. It matches a journal's own
/// structured binary (counters, times, checksums) by chance: a full 1,024-record journal gave
/// five such false findings.
pub fn scan_storage(bytes: &[u8], known_pans: &[&str], pins: &[&str], cvcs: &[&str]) -> Vec<Leak> {
    scan_bytes_in(bytes, known_pans, pins, cvcs, true, false)
}

/// [`scan_bytes`]; `dumps`: also decode the hex dumps in `bytes` and scan what they hold (not
/// again inside a decoded dump); `unknown_bcd`: look for any card number in length-prefixed BCD.
fn scan_bytes_in(
    bytes: &[u8],
    known_pans: &[&str],
    pins: &[&str],
    cvcs: &[&str],
    dumps: bool,
    unknown_bcd: bool,
) -> Vec<Leak> {
    let digits_only = |v: &[&str]| -> Vec<String> {
        v.iter()
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .map(|s| (*s).to_owned())
            .collect()
    };
    let (pans, pins, cvcs) = (
        digits_only(known_pans),
        digits_only(pins),
        digits_only(cvcs),
    );
    let pin_refs: Vec<&str> = pins.iter().map(String::as_str).collect();
    let cvc_refs: Vec<&str> = cvcs.iter().map(String::as_str).collect();
    let mut found: Vec<(usize, LeakKind, Encoding, String)> = Vec::new();

    // Printable runs, as text. One byte for one byte, so offsets stay those of `bytes`; any
    // other byte ends a line, so nothing is joined across binary data.
    let text: String = bytes
        .iter()
        .map(|&b| {
            if b == b'\t' || (0x20..0x7f).contains(&b) {
                b as char
            } else {
                '\n'
            }
        })
        .collect();
    let all = [
        LeakKind::Pan,
        LeakKind::RevealingMask,
        LeakKind::Pin,
        LeakKind::Cvc,
    ];
    for l in leaks(&text, &pin_refs, &cvc_refs, &all) {
        found.push((l.offset, l.kind, Encoding::Text, l.masked));
    }

    // ISO 8583 LLVAR/LLLVAR in ASCII: the length is glued to the digits, so the text scan sees
    // one longer number. The prefix starts a digit run (the field before it is not numeric:
    // a bitmap, a binary length, a separator); a prefix anywhere inside long digit runs would
    // make a Luhn-valid number by chance every few hundred digits.
    for g in digit_groups(bytes) {
        let run = &bytes[g.start..g.end];
        for k in [2, 3] {
            let Some(n) = run.get(..k).and_then(parse_digits) else {
                continue;
            };
            let Some(value) = run.get(k..k + n) else {
                continue;
            };
            let at = g.start + k;
            let v = String::from_utf8_lossy(value);
            if (12..=19).contains(&n) && matches!(value[0], b'2'..=b'7') && crate::luhn_valid(&v) {
                found.push((at, LeakKind::Pan, Encoding::AsciiLengthPrefixed, mask(&v)));
            }
            if pins.iter().any(|p| p.as_bytes() == value) {
                found.push((
                    at,
                    LeakKind::Pin,
                    Encoding::AsciiLengthPrefixed,
                    "<PIN>".into(),
                ));
            }
            if cvcs.iter().any(|c| c.as_bytes() == value) {
                found.push((
                    at,
                    LeakKind::Cvc,
                    Encoding::AsciiLengthPrefixed,
                    "<CVC>".into(),
                ));
            }
        }
    }

    // Any card number in packed BCD behind a one-byte length. Only 15 to 19 digits: shorter
    // ones (12 to 14, rare cards) match by chance in checksums and times every few kilobytes of
    // binary data; the test cards are found at any length below, by their digits.
    for at in (0..bytes.len()).filter(|_| unknown_bcd) {
        for n in length_byte(bytes[at]).into_iter().flatten() {
            if !(15..=19).contains(&n) {
                continue;
            }
            for digits in bcd_field(&bytes[at + 1..], n) {
                if matches!(digits.as_bytes()[0], b'2'..=b'7') && crate::luhn_valid(&digits) {
                    found.push((
                        at + 1,
                        LeakKind::Pan,
                        Encoding::BcdLengthPrefixed,
                        mask(&digits),
                    ));
                }
            }
        }
    }

    // The known card numbers, anywhere, in every encoding.
    let nibbles = Nibbles::of(bytes);
    for pan in &pans {
        let masked = mask(pan);
        for (encoding, at) in known_anywhere(bytes, &nibbles, pan) {
            found.push((at, LeakKind::Pan, encoding, masked.clone()));
        }
    }

    // PINs of six or more digits: plain BCD anywhere (24 bits and more do not match by
    // chance). Every PIN: inside format 0 PIN blocks, which XOR the PIN with the card number and
    // so never show its digits.
    for pin in &pins {
        if pin.len() >= SHORT_SECRET {
            for (encoding, at) in bcd_anywhere(bytes, &nibbles, pin) {
                found.push((at, LeakKind::Pin, encoding, "<PIN>".into()));
            }
        }
        for pan in &pans {
            if let Some(block) = pin_block_format0(pin, pan) {
                for at in find_all(bytes, &block) {
                    found.push((at, LeakKind::Pin, Encoding::PinBlock, "<PIN>".into()));
                }
            }
        }
    }

    // Short secrets (CVCs, PINs of four or five digits) in packed BCD only behind their
    // one-byte length (the digit count, binary or BCD, or the byte count): two bytes alone
    // match by chance every few kilobytes of binary data.
    let short = cvcs.iter().map(|c| (c, LeakKind::Cvc, "<CVC>")).chain(
        pins.iter()
            .filter(|p| p.len() < SHORT_SECRET)
            .map(|p| (p, LeakKind::Pin, "<PIN>")),
    );
    let forms: Vec<(LengthBytes, Vec<Vec<u8>>, LeakKind, &str)> = short
        .map(|(secret, kind, shown)| {
            let n = secret.len();
            let lengths = [Some(n), bcd_byte(n), Some(n.div_ceil(2))];
            (lengths, packings(secret), kind, shown)
        })
        .collect();
    for at in 0..bytes.len() {
        let len = Some(usize::from(bytes[at]));
        for (lengths, packed, kind, shown) in &forms {
            if lengths.contains(&len) && packed.iter().any(|f| bytes[at + 1..].starts_with(f)) {
                found.push((at + 1, *kind, Encoding::BcdLengthPrefixed, (*shown).into()));
            }
        }
    }

    // Hex dumps of raw bytes, as terminals log messages: what they hold, at the place of its
    // first byte in the dump.
    if dumps {
        for dump in hex_dumps(bytes) {
            for leak in scan_bytes_in(
                &dump.bytes,
                known_pans,
                &pin_refs,
                &cvc_refs,
                false,
                unknown_bcd,
            ) {
                let bcd = matches!(
                    leak.encoding,
                    Encoding::Bcd | Encoding::BcdSwapped | Encoding::BcdLengthPrefixed
                );
                // A run of decimal digits read as hex is BCD of the same digits: the scans of
                // the text itself have read it already.
                if bcd && dump.decimal {
                    continue;
                }
                let at = dump.start + leak.offset * dump.stride;
                found.push((at, leak.kind, Encoding::HexDump, leak.masked));
            }
        }
    }

    // One finding per place and kind: the first pushed (the plainest reading) stays.
    found.sort_by_key(|f| (f.0, kind_order(f.1)));
    found.dedup_by(|b, a| a.0 == b.0 && a.1 == b.1);
    found
        .into_iter()
        .map(|(offset, kind, encoding, masked)| {
            let before = &bytes[..offset];
            let line_start = before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |p| p + 1);
            Leak {
                kind,
                line: 1 + before.iter().filter(|&&b| b == b'\n').count(),
                column: offset - line_start + 1,
                offset,
                encoding,
                masked,
            }
        })
        .collect()
}

/// A hex dump found in text, decoded.
struct HexDump {
    /// Offset of its first hex digit.
    start: usize,
    /// Distance between the starts of two bytes: 2, or 3 with a separator.
    stride: usize,
    /// Only decimal digits (a long number can be read as hex, too).
    decimal: bool,
    /// The bytes.
    bytes: Vec<u8>,
}

/// Bytes a dump must have at least: shorter runs of hex digits are words, times and hashes.
const MIN_DUMP: usize = 6;

/// The hex dumps in `text`: two-digit tokens joined by one and the same separator (space,
/// ':' or '-'), or runs of hex digits (read from their first digit and, for odd runs, also
/// from their second); neither glued to a word. At least [`MIN_DUMP`] bytes.
fn hex_dumps(text: &[u8]) -> Vec<HexDump> {
    let hex = |i: usize| text.get(i).is_some_and(u8::is_ascii_hexdigit);
    let word = |i: usize| text.get(i).is_some_and(u8::is_ascii_alphanumeric);
    let value = |i: usize| {
        let v = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
        v(text[i]) << 4 | v(text[i + 1])
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < text.len() {
        if !hex(i) || (i > 0 && word(i - 1)) {
            i += 1;
            continue;
        }
        let mut j = i;
        while hex(j) {
            j += 1;
        }
        if word(j) {
            // Part of a word ("deadline", "0x1f2g").
            i = j;
            continue;
        }
        let separated = j - i == 2 && matches!(text.get(j), Some(b' ' | b':' | b'-'));
        if separated {
            let sep = text[j];
            let mut bytes = vec![value(i)];
            let mut k = j;
            while text.get(k) == Some(&sep) && hex(k + 1) && hex(k + 2) && !word(k + 3) {
                bytes.push(value(k + 1));
                k += 3;
            }
            if bytes.len() >= MIN_DUMP {
                out.push(HexDump {
                    start: i,
                    stride: 3,
                    decimal: false,
                    bytes,
                });
            }
            i = k.max(j);
            continue;
        }
        if j - i >= 2 * MIN_DUMP {
            let decimal = text[i..j].iter().all(u8::is_ascii_digit);
            let aligns: &[usize] = if (j - i) % 2 == 0 { &[0] } else { &[0, 1] };
            for &a in aligns {
                let bytes = (i + a..j - 1).step_by(2).map(value).collect();
                out.push(HexDump {
                    start: i + a,
                    stride: 2,
                    decimal,
                    bytes,
                });
            }
        }
        i = j;
    }
    out
}

/// Secrets with fewer digits than this are looked for in packed BCD only behind a length.
const SHORT_SECRET: usize = 6;

/// The values a one-byte length in front of a field may take (`None`: no such value).
type LengthBytes = [Option<usize>; 3];

/// A fixed order of kinds, for sorting.
fn kind_order(k: LeakKind) -> u8 {
    match k {
        LeakKind::Pan => 0,
        LeakKind::RevealingMask => 1,
        LeakKind::Pin => 2,
        LeakKind::Cvc => 3,
    }
}

/// The value of a run of ASCII digits.
fn parse_digits(d: &[u8]) -> Option<usize> {
    std::str::from_utf8(d).ok()?.parse().ok()
}

/// `n` as one BCD byte (0x12 for 12), if it fits.
fn bcd_byte(n: usize) -> Option<usize> {
    (n < 100).then_some((n / 10) << 4 | (n % 10))
}

/// The digit counts a one-byte length can stand for: the byte read as binary and as BCD.
fn length_byte(b: u8) -> [Option<usize>; 2] {
    let (hi, lo) = (usize::from(b >> 4), usize::from(b & 0x0F));
    let bcd = (hi <= 9 && lo <= 9).then_some(hi * 10 + lo);
    [Some(usize::from(b)), bcd.filter(|&v| v != usize::from(b))]
}

/// The `n`-digit numbers that `field` can start with in packed BCD (high nibble first): the
/// digits from its first nibble, and for odd `n` also those after a leading pad nibble (0 or
/// F); a trailing or leading pad nibble must be 0 or F.
fn bcd_field(field: &[u8], n: usize) -> Vec<String> {
    let Some(bytes) = field.get(..n.div_ceil(2)) else {
        return Vec::new();
    };
    let nibbles: Vec<u8> = bytes.iter().flat_map(|&b| [b >> 4, b & 0x0F]).collect();
    let is_pad = |v: u8| v == 0 || v == 0x0F;
    let mut starts = vec![0];
    if n % 2 == 1 {
        starts.push(1);
    }
    starts
        .into_iter()
        .filter_map(|s| {
            let digits = &nibbles[s..s + n];
            let pads_ok = nibbles[..s]
                .iter()
                .chain(&nibbles[s + n..])
                .all(|&v| is_pad(v));
            (pads_ok && digits.iter().all(|&v| v <= 9))
                .then(|| digits.iter().map(|&v| char::from(b'0' + v)).collect())
        })
        .collect()
}

/// Every offset at which `needle` occurs in `hay`.
fn find_all(hay: &[u8], needle: &[u8]) -> Vec<usize> {
    if needle.is_empty() || needle.len() > hay.len() {
        return Vec::new();
    }
    hay.windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i)
        .collect()
}

/// The nibbles of some bytes in both orders, worked out once per scan.
struct Nibbles {
    /// High nibble first.
    high_first: Vec<u8>,
    /// Low nibble first.
    low_first: Vec<u8>,
}

impl Nibbles {
    fn of(bytes: &[u8]) -> Self {
        Self {
            high_first: bytes.iter().flat_map(|&b| [b >> 4, b & 0x0F]).collect(),
            low_first: bytes.iter().flat_map(|&b| [b & 0x0F, b >> 4]).collect(),
        }
    }
}

/// Where the digits `d` occur in `bytes` (whose nibbles are `nibbles`) as packed BCD at any
/// nibble position, high nibble first ([`Encoding::Bcd`], or [`Encoding::BcdLengthPrefixed`]
/// right after a byte giving their count) or low nibble first ([`Encoding::BcdSwapped`]); as
/// byte offsets.
fn bcd_anywhere(bytes: &[u8], nibbles: &Nibbles, d: &str) -> Vec<(Encoding, usize)> {
    let want: Vec<u8> = d.bytes().map(|c| c - b'0').collect();
    let mut out = Vec::new();
    for (swapped, nibbles) in [(false, &nibbles.high_first), (true, &nibbles.low_first)] {
        for at in find_all(nibbles, &want) {
            let byte = at / 2;
            let encoding = if swapped {
                Encoding::BcdSwapped
            } else if at % 2 == 0
                && byte > 0
                && length_byte(bytes[byte - 1]).contains(&Some(want.len()))
            {
                Encoding::BcdLengthPrefixed
            } else {
                Encoding::Bcd
            };
            out.push((encoding, byte));
        }
    }
    out
}

/// Where a known card number occurs in `bytes`: as ASCII digits (glued to others, or behind an
/// ISO 8583 length), EBCDIC, UTF-16 (either byte order) or packed BCD; as byte offsets.
fn known_anywhere(bytes: &[u8], nibbles: &Nibbles, pan: &str) -> Vec<(Encoding, usize)> {
    let ascii = pan.as_bytes();
    let mut out = Vec::new();
    for at in find_all(bytes, ascii) {
        let prefixed = [2, 3].iter().any(|&k| {
            at >= k
                && parse_digits(&bytes[at - k..at]) == Some(ascii.len())
                && (at == k || !bytes[at - k - 1].is_ascii_digit())
        });
        let encoding = if prefixed {
            Encoding::AsciiLengthPrefixed
        } else {
            Encoding::Ascii
        };
        out.push((encoding, at));
    }
    let ebcdic: Vec<u8> = ascii.iter().map(|&c| 0xF0 | (c - b'0')).collect();
    out.extend(
        find_all(bytes, &ebcdic)
            .into_iter()
            .map(|at| (Encoding::Ebcdic, at)),
    );
    let le: Vec<u8> = ascii.iter().flat_map(|&c| [c, 0]).collect();
    let be: Vec<u8> = ascii.iter().flat_map(|&c| [0, c]).collect();
    for utf16 in [le, be] {
        out.extend(
            find_all(bytes, &utf16)
                .into_iter()
                .map(|at| (Encoding::Utf16, at)),
        );
    }
    out.extend(bcd_anywhere(bytes, nibbles, pan));
    out
}

/// The packed BCD forms of the digits `d`, both nibble orders; an odd count padded to a whole
/// byte with F or 0, after or before.
fn packings(d: &str) -> Vec<Vec<u8>> {
    let digits: Vec<u8> = d.bytes().map(|c| c - b'0').collect();
    let padded: Vec<Vec<u8>> = if digits.len() % 2 == 0 {
        vec![digits]
    } else {
        [0x0F, 0]
            .iter()
            .flat_map(|&pad| {
                let mut after = digits.clone();
                after.push(pad);
                let mut before = vec![pad];
                before.extend(&digits);
                [after, before]
            })
            .collect()
    };
    padded
        .iter()
        .flat_map(|n| {
            let hi: Vec<u8> = n.chunks(2).map(|p| p[0] << 4 | p[1]).collect();
            let lo: Vec<u8> = n.chunks(2).map(|p| p[1] << 4 | p[0]).collect();
            [hi, lo]
        })
        .collect()
}

/// The ISO 9564 format 0 PIN block of `pin` (4 to 12 digits) for card `pan`: the PIN field
/// (0, length, PIN, F padding) XOR the account field (0000 and the 12 rightmost digits of the
/// card number without its check digit).
fn pin_block_format0(pin: &str, pan: &str) -> Option<[u8; 8]> {
    if !(4..=12).contains(&pin.len()) || pan.len() < 13 {
        return None;
    }
    let mut pin_field = vec![0u8, pin.len() as u8];
    pin_field.extend(pin.bytes().map(|c| c - b'0'));
    pin_field.resize(16, 0x0F);
    let account = &pan[pan.len() - 13..pan.len() - 1];
    let mut pan_field = vec![0u8; 4];
    pan_field.extend(account.bytes().map(|c| c - b'0'));
    let mut block = [0u8; 8];
    for (i, b) in block.iter_mut().enumerate() {
        let x = |f: &[u8]| f[2 * i] << 4 | f[2 * i + 1];
        *b = x(&pin_field) ^ x(&pan_field);
    }
    Some(block)
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
    use super::{Encoding, LeakKind, redact, redact_with, scan, scan_bytes, scan_cvcs, scan_pins};

    const DANKORT: &str = "5019100000000006";
    const AMEX: &str = "378282246310005";

    /// `parts` concatenated, with erased flash (0xFF) around them.
    fn image(parts: &[&[u8]]) -> Vec<u8> {
        let mut v = vec![0xFF; 7];
        for p in parts {
            v.extend_from_slice(p);
        }
        v.extend_from_slice(&[0xFF; 5]);
        v
    }

    /// What scan_bytes reports, as (kind, encoding, offset).
    fn found(
        bytes: &[u8],
        pans: &[&str],
        pins: &[&str],
        cvcs: &[&str],
    ) -> Vec<(LeakKind, Encoding, usize)> {
        let leaks = scan_bytes(bytes, pans, pins, cvcs);
        let shown = format!("{leaks:?}");
        for secret in pans.iter().chain(pins).chain(cvcs) {
            assert!(!shown.contains(secret), "a leak echoes its secret: {shown}");
        }
        leaks
            .iter()
            .map(|l| (l.kind, l.encoding, l.offset))
            .collect()
    }

    #[test]
    fn pci_01_scan_bytes_finds_ascii_card_numbers_in_binary_data() {
        let b = image(&[b"\x01\x02", DANKORT.as_bytes(), b"\x00"]);
        assert_eq!(
            found(&b, &[], &[], &[]),
            [(LeakKind::Pan, Encoding::Text, 9)]
        );
        let l = &scan_bytes(&b, &[], &[], &[])[0];
        assert_eq!(
            (l.masked.as_str(), l.line, l.column),
            ("501910******0006", 1, 10)
        );
        // Lines count '\n' bytes, as in a log.
        let log = b"boot\nstored card 5019100000000006\n";
        let l = &scan_bytes(log, &[], &[], &[])[0];
        assert_eq!((l.line, l.column, l.offset), (2, 13, 17));
        // A known card number glued to other digits is still found.
        let b = image(&[b"seq0001", DANKORT.as_bytes(), b"0042"]);
        assert_eq!(
            found(&b, &[DANKORT], &[], &[]),
            [(LeakKind::Pan, Encoding::Ascii, 14)]
        );
    }

    #[test]
    fn pci_01_scan_bytes_finds_card_numbers_behind_an_iso_8583_length() {
        // LLVAR field 2 right after a binary bitmap, followed by more numeric fields: one run
        // of 34 digits that no text scan reads as a card number. Not a test card: found by
        // its length and Luhn alone.
        let b = image(&[
            b"\x02\x00\x70\x20",
            b"16",
            b"4000000000000002",
            b"000000012500000001",
        ]);
        assert!(scan(&String::from_utf8_lossy(&b)).is_empty());
        assert_eq!(
            found(&b, &[], &[], &[]),
            [(LeakKind::Pan, Encoding::AsciiLengthPrefixed, 13)]
        );
        // LLLVAR.
        let b = image(&[b"\x00016", b"4000000000000002", b"7"]);
        assert_eq!(
            found(&b, &[], &[], &[]),
            [(LeakKind::Pan, Encoding::AsciiLengthPrefixed, 11)]
        );
        // A known card number behind its length is named so even inside a longer digit run.
        let b = image(&[b"\x7016", DANKORT.as_bytes(), b"00"]);
        assert_eq!(
            found(&b, &[DANKORT], &[], &[]),
            [(LeakKind::Pan, Encoding::AsciiLengthPrefixed, 10)]
        );
        // Binary BCD behind a one-byte length: binary 16, BCD 0x16, and an odd length padded
        // with F after or 0 before.
        let bcd16 = [0x40, 0, 0, 0, 0, 0, 0, 0x02];
        for len in [0x10, 0x16] {
            let b = image(&[&[len], &bcd16]);
            assert_eq!(
                found(&b, &[], &[], &[]),
                [(LeakKind::Pan, Encoding::BcdLengthPrefixed, 8)],
                "{len:#x}"
            );
        }
        for amex in [
            [0x37, 0x82, 0x82, 0x24, 0x63, 0x10, 0x00, 0x5F],
            [0x03, 0x78, 0x28, 0x22, 0x46, 0x31, 0x00, 0x05],
        ] {
            let b = image(&[&[15], &amex]);
            assert_eq!(
                found(&b, &[], &[], &[]),
                [(LeakKind::Pan, Encoding::BcdLengthPrefixed, 8)],
                "{amex:x?}"
            );
        }
    }

    #[test]
    fn pci_02_scan_bytes_finds_known_card_numbers_in_packed_bcd_anywhere() {
        // The reference terminal's journal: length byte, then F-padded packed BCD.
        let journal = [0x10, 0x50, 0x19, 0x10, 0, 0, 0, 0, 0x06, 0xFF, 0xFF, 0x01];
        assert_eq!(
            found(&image(&[&journal]), &[DANKORT], &[], &[]),
            [(LeakKind::Pan, Encoding::BcdLengthPrefixed, 8)]
        );
        // Without a length, at a byte or a half-byte boundary, padded with F or 0.
        for (bytes, at) in [
            (&[0xAA, 0x50, 0x19, 0x10, 0, 0, 0, 0, 0x06][..], 8),
            (&[0xF5, 0x01, 0x91, 0x00, 0, 0, 0, 0, 0x6F][..], 7),
            (&[0x05, 0x01, 0x91, 0x00, 0, 0, 0, 0, 0x60][..], 7),
        ] {
            assert_eq!(
                found(&image(&[bytes]), &[DANKORT], &[], &[]),
                [(LeakKind::Pan, Encoding::Bcd, at)],
                "{bytes:x?}"
            );
        }
        // An odd-length number padded with F or 0, after or before.
        for amex in [
            [0x37, 0x82, 0x82, 0x24, 0x63, 0x10, 0x00, 0x5F],
            [0x37, 0x82, 0x82, 0x24, 0x63, 0x10, 0x00, 0x50],
            [0xF3, 0x78, 0x28, 0x22, 0x46, 0x31, 0x00, 0x05],
            [0x03, 0x78, 0x28, 0x22, 0x46, 0x31, 0x00, 0x05],
        ] {
            assert_eq!(
                found(&image(&[&amex]), &[AMEX], &[], &[]),
                [(LeakKind::Pan, Encoding::Bcd, 7)],
                "{amex:x?}"
            );
        }
        // Nibbles swapped (low nibble first).
        let swapped = [0x05, 0x91, 0x01, 0, 0, 0, 0, 0x60];
        assert_eq!(
            found(&image(&[&swapped]), &[DANKORT], &[], &[]),
            [(LeakKind::Pan, Encoding::BcdSwapped, 7)]
        );
        // EBCDIC and UTF-16.
        let ebcdic: Vec<u8> = DANKORT.bytes().map(|c| 0xF0 | (c - b'0')).collect();
        assert_eq!(
            found(&image(&[&ebcdic]), &[DANKORT], &[], &[]),
            [(LeakKind::Pan, Encoding::Ebcdic, 7)]
        );
        let utf16: Vec<u8> = DANKORT.bytes().flat_map(|c| [c, 0]).collect();
        assert_eq!(
            found(&image(&[&utf16]), &[DANKORT], &[], &[]),
            [(LeakKind::Pan, Encoding::Utf16, 7)]
        );
    }

    #[test]
    fn pbs_01_scan_bytes_finds_pins_in_ascii_bcd_and_pin_blocks() {
        let pin = "739216";
        let cases: [(&[u8], Encoding, usize); 4] = [
            (b"\x00739216\x00", Encoding::Text, 8),
            (b"\x0006739216", Encoding::AsciiLengthPrefixed, 10),
            (&[0xAA, 0x73, 0x92, 0x16, 0xAA], Encoding::Bcd, 8),
            (&[0xAA, 0x37, 0x29, 0x61, 0xAA], Encoding::BcdSwapped, 8),
        ];
        for (bytes, encoding, at) in cases {
            assert_eq!(
                found(&image(&[bytes]), &[], &[pin], &[]),
                [(LeakKind::Pin, encoding, at)],
                "{bytes:x?}"
            );
        }
        // ISO 9564 format 0: PIN 1234 on 4111111111111111 is 041225EEEEEEEEEE, in which no
        // digit of the PIN shows as it is.
        let block = [0x04, 0x12, 0x25, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE];
        assert_eq!(
            found(&image(&[&block]), &["4111111111111111"], &["1234"], &[]),
            [(LeakKind::Pin, Encoding::PinBlock, 7)]
        );
        // Part of a longer digit run, without a length before it, is not the PIN.
        assert!(found(&image(&[b"x0739216x"]), &[], &[pin], &[]).is_empty());
        // A four-digit PIN is two bytes of BCD: found behind its length only, like a CVC.
        assert_eq!(
            found(&image(&[&[0x04, 0x12, 0x34]]), &[], &["1234"], &[]),
            [(LeakKind::Pin, Encoding::BcdLengthPrefixed, 8)]
        );
        assert!(found(&image(&[&[0xAA, 0x12, 0x34, 0xAA]]), &[], &["1234"], &[]).is_empty());
    }

    #[test]
    fn pbs_01_scan_bytes_finds_cvcs_as_fields_of_their_own() {
        let cvc = "947";
        let cases: [(&[u8], Encoding, usize); 6] = [
            (b"\x00cvc=947;", Encoding::Text, 12),
            (b"\x0103947", Encoding::AsciiLengthPrefixed, 10),
            (&[0x03, 0x94, 0x7F], Encoding::BcdLengthPrefixed, 8),
            (&[0x02, 0x09, 0x47], Encoding::BcdLengthPrefixed, 8),
            (&[0x03, 0x49, 0xF7], Encoding::BcdLengthPrefixed, 8),
            (&[0x03, 0x94, 0x70], Encoding::BcdLengthPrefixed, 8),
        ];
        for (bytes, encoding, at) in cases {
            assert_eq!(
                found(&image(&[bytes]), &[], &[], &[cvc]),
                [(LeakKind::Cvc, encoding, at)],
                "{bytes:x?}"
            );
        }
        // Not a CVC: an amount, a longer number, and a bare two-byte BCD value (twelve bits
        // match by chance in any binary data).
        for bytes in [
            &b"\x00947.00 DKK"[..],
            b"\x0009470",
            &[0xAA, 0x94, 0x7F, 0xAA],
        ] {
            assert!(
                found(&image(&[bytes]), &[], &[], &[cvc]).is_empty(),
                "{bytes:x?}"
            );
        }
    }

    #[test]
    fn pci_01_scan_bytes_reads_hex_dumps_in_log_lines() {
        // An ISO 8583 message logged as spaced hex: field 2 as binary BCD behind its length.
        let line = b"tx 02 00 70 20 10 50 19 10 00 00 00 00 06 00 00 00";
        assert_eq!(
            found(line, &[], &[], &[]),
            [(LeakKind::Pan, Encoding::HexDump, 18)],
            "an unknown number, by its length and Luhn"
        );
        assert_eq!(
            found(line, &[DANKORT], &[], &[]),
            [(LeakKind::Pan, Encoding::HexDump, 18)]
        );
        // ASCII digits dumped as hex, with colons or without separators.
        let ascii: Vec<String> = DANKORT.bytes().map(|c| format!("{c:02x}")).collect();
        let colons = format!("rx {} end", ascii.join(":"));
        assert_eq!(
            found(colons.as_bytes(), &[], &[], &[]),
            [(LeakKind::Pan, Encoding::HexDump, 3)]
        );
        let packed = format!("rx 0d0a{} end", ascii.concat());
        assert_eq!(
            found(packed.as_bytes(), &[], &[], &[]),
            [(LeakKind::Pan, Encoding::HexDump, 7)]
        );
        // A PIN and a CVC in a dump.
        assert_eq!(
            found(b"pinblk 26 73 92 16 ff ff ff ff", &[], &["739216"], &[]),
            [(LeakKind::Pin, Encoding::HexDump, 10)]
        );
        assert_eq!(
            found(b"f48 aa bb 03 04 7f cc", &[], &[], &["047"]),
            [(LeakKind::Cvc, Encoding::HexDump, 13)]
        );
        // Not dumps, or nothing in them: dates, times, a hash, a long decimal number.
        for t in [
            &b"2026-03-02 10:15:00 AUTH 226707"[..],
            b"build deadbeefcafe1234 ok",
            b"local_time: 1774512000123456",
            b"bytes 10 50 19 10 00 ok",
        ] {
            assert!(
                found(t, &[DANKORT], &["739216"], &["047"]).is_empty(),
                "{t:?}"
            );
        }
    }

    #[test]
    fn pci_01_scan_bytes_is_quiet_on_erased_flash_and_noise() {
        // Deterministic noise as in records (times, amounts, checksums), between erased pages,
        // with every test-like secret looked for: nothing may be reported by chance. (Uniform
        // noise does hold an unknown Luhn-valid BCD number behind a matching length byte about
        // once per megabyte; a terminal's records are a few kilobytes.)
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut noise = vec![0xFF; 64 * 1024];
        for b in noise.iter_mut().skip(4096).take(16 * 1024) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *b = state as u8;
        }
        let cards = crate::catalogue::all();
        let pans: Vec<&str> = cards.iter().map(|c| c.pan.reveal()).collect();
        let cvcs: Vec<&str> = cards.iter().map(|c| c.cvc.reveal()).collect();
        assert_eq!(scan_bytes(&noise, &pans, &["739216"], &cvcs), []);
    }

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
        // Inside a digest (the build hash in Hello) its digits are not a field; anywhere else,
        // even next to a short hex word or at a digest's edge, they are still found.
        let hash =
            "build_hash: \"3fa9c0e1d2b4a6f8e0c1b2a3d4e5f6a7c8b9947ae0d1c2b3a4f5e6d7c8b9a0f1\"";
        assert!(scan_cvcs(hash, &["947"]).is_empty());
        assert!(scan_pins(hash, &["1234"]).is_empty());
        for t in [
            "id ab947cd",
            "947ae0d1c2b3a4f5e6d7c8b9a0f1e2d3c4b5a6f7",
            "3fa9c0e1d2b4a6f8e0c1b2a3d4e5f6a7c8b9 947 ae0d1c2b3a4f5e6d7c8b9a0f1",
            "CVC947DEADBEEFDEADBEEFDEADBEEFDEADBEEF",
        ] {
            assert_eq!(scan_cvcs(t, &["947"]).len(), 1, "{t}");
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
