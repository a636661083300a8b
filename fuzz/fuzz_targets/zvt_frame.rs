//! Bytes on a ZVT cash-register line, serial and TCP (payhil_fuzzing::zvt_frame). The check is
//! a plain function so that `cargo test -p payhil-fuzzing` replays the corpus and
//! `fuzz/regressions/zvt_frame/` on stable.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| payhil_fuzzing::zvt_frame(data));
