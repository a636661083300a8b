//! The whole bench in process, driven by the input as a fault schedule, judged by the model and the oracle (payhil_fuzzing::bench_sim; payhil fuzz-to-scenario turns an input into a scenario file).
//! The check is a plain function so that `cargo test -p payhil-fuzzing` replays the corpus
//! and `fuzz/regressions/bench_sim/` on stable.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| payhil_fuzzing::bench_sim(data));
