//! A card's data objects as the terminal reads them, EMV BER-TLV and track 2 (payhil_fuzzing::card_data).
//! The check is a plain function so that `cargo test -p payhil-fuzzing` replays the corpus
//! and `fuzz/regressions/card_data/` on stable.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| payhil_fuzzing::card_data(data));
