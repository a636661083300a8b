//! Bytes on the serial line: the frame and message decoders (payhil_fuzzing::frame_decode).
//! The check is a plain function so that `cargo test -p payhil-fuzzing` replays the corpus
//! and `fuzz/regressions/frame_decode/` on stable.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| payhil_fuzzing::frame_decode(data));
