extern crate std;
use super::tests::rec;
use super::*;
use crate::flash::NorFlash;
use std::string::String;
use std::vec;
use std::vec::Vec;

/// Where `digits` appear in `bytes`: as ASCII, or as packed BCD in either nibble order,
/// starting at any nibble (so with or without a filler nibble, F or otherwise, before or
/// after). The harness's flash scan looks for the same encodings.
pub(crate) fn find_pan(bytes: &[u8], digits: &str) -> Option<String> {
    if let Some(at) = bytes
        .windows(digits.len())
        .position(|w| w == digits.as_bytes())
    {
        return Some(std::format!("ASCII at byte {at}"));
    }
    let want: Vec<u8> = digits.bytes().map(|d| d - b'0').collect();
    for (order, high_first) in [("high nibble first", true), ("low nibble first", false)] {
        let nibbles: Vec<u8> = bytes
            .iter()
            .flat_map(|b| {
                if high_first {
                    [b >> 4, b & 0x0F]
                } else {
                    [b & 0x0F, b >> 4]
                }
            })
            .collect();
        if let Some(at) = nibbles.windows(want.len()).position(|w| w == want) {
            return Some(std::format!("packed BCD ({order}) at nibble {at}"));
        }
    }
    None
}

#[test]
fn a_journal_of_another_layout_or_key_is_refused_not_misread() {
    let mut mem = vec![0xFFu8; 4 * 4096];
    let _mounted: Journal<NorFlash<&mut [u8]>, 64> =
        Journal::mount(NorFlash::new(&mut mem[..], 4096), PanKey::test_key("A")).unwrap();
    let other = Journal::<NorFlash<&mut [u8]>, 64>::mount(
        NorFlash::new(&mut mem[..], 4096),
        PanKey::test_key("B"),
    );
    assert!(matches!(other, Err(JournalError::WrongKey)));
    // The same boot record as layout 4 wrote it (CRC intact): refused with its version.
    mem[3] = 4;
    let crc = crate::flash_crc(&mem[..HEADER_AND_BODY]);
    mem[52..56].copy_from_slice(&crc.to_le_bytes());
    let old = Journal::<NorFlash<&mut [u8]>, 64>::mount(
        NorFlash::new(&mut mem[..], 4096),
        PanKey::test_key("A"),
    );
    assert!(matches!(old, Err(JournalError::UnsupportedLayout(4))));
}

#[test]
fn test_keys_differ_per_serial() {
    // The last two differ only past the first 32-byte chunk, and have the same length: each
    // chunk of the serial must reach the key.
    let keys = [
        "",
        "EMU-0001",
        "EMU-0002",
        &"x".repeat(40),
        &"x".repeat(41),
        &std::format!("{}A", "x".repeat(32)),
        &std::format!("{}B", "x".repeat(32)),
    ]
    .map(PanKey::test_key);
    for (i, a) in keys.iter().enumerate() {
        for b in &keys[i + 1..] {
            assert_ne!(a, b);
        }
    }
    assert_eq!(std::format!("{:?}", keys[1]), "PanKey(..)");
}

#[test]
fn the_scan_finds_every_encoding() {
    let mut b = vec![0x11u8; 64];
    b[10..16].copy_from_slice(b"123456");
    assert!(find_pan(&b, "123456").is_some());
    let mut b = vec![0x11u8; 64];
    b[3..6].copy_from_slice(&[0xF1, 0x23, 0x45]); // odd start, F filler
    assert!(find_pan(&b, "12345").is_some());
    let mut b = vec![0x11u8; 64];
    b[3..6].copy_from_slice(&[0x21, 0x43, 0xF5]); // swapped nibbles, F filler after
    assert!(find_pan(&b, "12345").is_some());
    assert!(find_pan(&[0x11u8; 64], "12345").is_none());
}

#[test]
fn no_card_number_is_readable_in_the_raw_flash() {
    let pans = [
        "5019100000000006",
        "4571100000000009",
        "6789012345678901236",
    ];
    let mut mem = vec![0xFFu8; 16 * 4096];
    let mut j: Journal<NorFlash<&mut [u8]>, 64> = Journal::mount(
        NorFlash::new(&mut mem[..], 4096),
        crate::journal::PanKey::test_key("TEST"),
    )
    .unwrap();
    let mut written = Vec::new();
    for (i, pan) in pans.iter().cycle().take(12).enumerate() {
        let seq = j.take_seq();
        let mut r = rec(seq, 100 + i as u64, TxnStatus::ApprovedOffline);
        r.pan = StoredPan::from_ascii(pan).unwrap();
        j.record(&r).unwrap();
        written.push(r);
    }
    // The records still read back whole, PAN included (they must be forwarded).
    for (i, want) in written.iter().enumerate() {
        assert_eq!(j.pending(i).unwrap().as_ref(), Some(want));
    }
    for pan in pans {
        // Long enough to identify the card, short enough to catch a partial copy.
        for digits in [pan, &pan[..12], &pan[pan.len() - 12..]] {
            assert_eq!(find_pan(&mem, digits), None, "{digits} readable in flash");
        }
    }
}

/// PCI-02: no keystream ever covers two card numbers. Records of one card written one after
/// another must not carry the same encrypted bytes: with a nonce that repeated, the XOR of two
/// records would give away the XOR of their card numbers (here zero, i.e. "the same card").
#[test]
fn every_record_encrypts_its_card_number_under_a_keystream_of_its_own() {
    let mut mem = vec![0xFFu8; 4 * 4096];
    let mut j: Journal<NorFlash<&mut [u8]>, 64> = Journal::mount(
        NorFlash::new(&mut mem[..], 4096),
        crate::journal::PanKey::test_key("TEST"),
    )
    .unwrap();
    for i in 0..4 {
        let seq = j.take_seq();
        j.record(&rec(seq, 100 + i, TxnStatus::ApprovedOffline))
            .unwrap();
    }
    let _ = j.into_flash();
    let encrypted: Vec<&[u8]> = mem
        .chunks_exact(SLOT as usize)
        .filter(|s| s[0..2] == MAGIC && s[2] == KIND_TXN)
        .map(|s| &s[8 + 18..8 + 28])
        .collect();
    assert_eq!(encrypted.len(), 4);
    for (i, a) in encrypted.iter().enumerate() {
        for b in &encrypted[i + 1..] {
            assert_ne!(a, b, "two records of one card share a keystream");
        }
    }
    // Neither number of the pair may be dropped from the nonce, nor the pair swapped.
    let nonces = [(1, 2), (2, 1), (1, 3), (3, 2)].map(|(s, l)| PanKey::pan_nonce(s, l));
    for (i, a) in nonces.iter().enumerate() {
        for b in &nonces[i + 1..] {
            assert_ne!(a, b);
        }
    }
}
