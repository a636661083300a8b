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
/// five such false findings. For the same reason a CVC is looked for as text (plain or behind
/// an ISO 8583 length) but not as packed BCD behind a length byte: the harness never gives a
/// terminal the CVC (the card's data carries none, PROTOCOL.md 4.7), so in storage that form
/// could only be chance, and it is 24 bits, which a journal's encrypted card numbers (random
/// bytes) matched once in 400 records.
pub fn scan_storage(bytes: &[u8], known_pans: &[&str], pins: &[&str], cvcs: &[&str]) -> Vec<Leak> {
    let found = scan_bytes_in(bytes, known_pans, pins, cvcs, true, false);
    found
        .into_iter()
        .filter(|l| !(l.kind == LeakKind::Cvc && l.encoding == Encoding::BcdLengthPrefixed))
        .collect()
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
mod tests;
