//! Bytes from the network: ISO 8583 messages and the host-link mapping (payhil_fuzzing::iso8583_decode).
//! The check is a plain function so that `cargo test -p payhil-fuzzing` replays the corpus
//! and `fuzz/regressions/iso8583_decode/` on stable.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| payhil_fuzzing::iso8583_decode(data));
