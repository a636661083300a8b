//! Card data in raw bytes, whatever its encoding: flash images, logs, captures (see
//! [`scan_bytes`]).

use super::*;

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
            // A CVC is three digits, behind a two-digit length (LLVAR "03"): a three-digit one
            // (LLLVAR "003") makes every six-digit zero-padded number "0030xy" a prefixed CVC
            // "0xy", and receipts print the sequence number so (transactions 3,000 to 3,099 of
            // a long run failed with PBS-01). A CVC of its own is still found in the text.
            if k == 2 && run.len() == k + n && cvcs.iter().any(|c| c.as_bytes() == value) {
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

/// Every offset at which `needle` occurs in `hay`, overlapping occurrences included.
fn find_all(hay: &[u8], needle: &[u8]) -> Vec<usize> {
    if needle.is_empty() || needle.len() > hay.len() {
        return Vec::new();
    }
    let finder = memchr::memmem::Finder::new(needle);
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = hay.get(from..).and_then(|rest| finder.find(rest)) {
        out.push(from + at);
        from += at + 1;
    }
    out
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

#[cfg(test)]
mod find_all_tests {
    /// As the window compare it replaced: every offset, overlapping ones too.
    #[test]
    fn every_offset_is_found_overlapping_ones_included() {
        assert_eq!(super::find_all(b"11111", b"111"), [0, 1, 2]);
        assert_eq!(super::find_all(b"a1234b1234", b"1234"), [1, 6]);
        assert_eq!(super::find_all(b"abc", b""), Vec::<usize>::new());
        assert_eq!(super::find_all(b"ab", b"abc"), Vec::<usize>::new());
        assert_eq!(super::find_all(b"abc", b"abc"), [0]);
    }
}
