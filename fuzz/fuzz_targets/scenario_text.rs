//! A scenario file's text (payhil_fuzzing::scenario_text).
//! The check is a plain function so that `cargo test -p payhil-fuzzing` replays the corpus
//! and `fuzz/regressions/scenario_text/` on stable.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| payhil_fuzzing::scenario_text(data));
