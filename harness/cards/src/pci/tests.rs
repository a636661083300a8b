use super::{
    Encoding, Leak, LeakKind, redact, redact_with, scan, scan_bytes, scan_cvcs, scan_pins,
    scan_storage,
};

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
    let hash = "build_hash: \"3fa9c0e1d2b4a6f8e0c1b2a3d4e5f6a7c8b9947ae0d1c2b3a4f5e6d7c8b9a0f1\"";
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
fn pbs_01_a_zero_padded_sequence_number_is_no_length_prefixed_cvc() {
    // Transaction 3,053 on a receipt: "003" is no ISO 8583 LLLVAR length before the CVC "053".
    let cvc = ["053"];
    assert!(found(b"TXN                       003053", &[], &[], &cvc).is_empty());
    // As the whole digit run, prefix and CVC are still a length-prefixed field.
    assert_eq!(
        found(b"f48 03053 end", &[], &[], &cvc),
        [(LeakKind::Cvc, Encoding::AsciiLengthPrefixed, 6)]
    );
}

#[test]
fn pci_01_digits_inside_a_hex_digest_are_not_a_card_number() {
    // Like a build hash the reference terminal reported in its Hello: 16 digits between two
    // hex letters that pass Luhn (that build failed every scenario with PCI-01).
    let hash = "0b4a81058eeed7062731059366070d19c4f2b22c27ba4de84fb1f0b78540342c";
    assert!(crate::luhn_valid(&hash[13..29]), "the run passes Luhn");
    assert!(scan(&format!("build_hash: \"{hash}\"")).is_empty());
    // The same digits as a field of their own, or glued to a word that is no digest, are found.
    let luhn = "4539578763621486";
    assert_eq!(scan(&format!("pan {luhn} ok")).len(), 1);
    assert_eq!(scan(&format!("pan=x{luhn}y")).len(), 1);
    let short_hex = format!("ab{luhn}cd");
    assert_eq!(scan(&short_hex).len(), 1, "too short a word to be a digest");
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

/// A storage image is not searched for a CVC in length-prefixed packed BCD (the terminal is
/// never given one; 24 bits match the journal's encrypted bytes by chance), while a log or a
/// file is; a short PIN in that form is still found in storage (the terminal is given PINs).
#[test]
fn storage_scans_leave_out_a_cvc_in_length_prefixed_bcd_but_not_a_pin() {
    let mut image = vec![0xA5u8; 64];
    image[10..13].copy_from_slice(&[0x03, 0x12, 0x3F]);
    image[30..33].copy_from_slice(&[0x04, 0x98, 0x76]);
    let cvc = |found: &[Leak]| found.iter().any(|l| l.kind == LeakKind::Cvc);
    let pin = |found: &[Leak]| found.iter().any(|l| l.kind == LeakKind::Pin);
    let in_bytes = scan_bytes(&image, &[], &["9876"], &["123"]);
    assert!(cvc(&in_bytes) && pin(&in_bytes), "{in_bytes:?}");
    let in_storage = scan_storage(&image, &[], &["9876"], &["123"]);
    assert!(!cvc(&in_storage) && pin(&in_storage), "{in_storage:?}");
}
