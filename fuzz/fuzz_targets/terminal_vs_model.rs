//! The reference core against the harness's reference model, operation by operation, with the
//! oracle's checks (payhil_fuzzing::terminal_vs_model; payhil fuzz-to-scenario turns an input
//! into a scenario file). The check is a plain function so that `cargo test -p payhil-fuzzing`
//! replays the corpus and `fuzz/regressions/terminal_vs_model/` on stable.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| payhil_fuzzing::terminal_vs_model(data));
