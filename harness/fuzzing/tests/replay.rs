//! Every checked-in fuzz input, replayed on stable: the seed corpora (`fuzz/corpus/<target>/`)
//! and the minimised crashes (`fuzz/regressions/<target>/`) of each target with a check in
//! this crate. A bug a fuzzer found stays fixed where nightly is missing.

use std::path::Path;

#[test]
fn every_corpus_and_regression_input_passes_its_target() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut replayed = 0;
    for (target, check) in payhil_fuzzing::TARGETS {
        let mut inputs = 0;
        for dir in ["corpus", "regressions"] {
            let Ok(entries) = std::fs::read_dir(fuzz.join(dir).join(target)) else {
                continue;
            };
            for e in entries.flatten() {
                let path = e.path();
                if path.file_name().is_some_and(|n| n == "README.md") {
                    continue;
                }
                let data =
                    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                let outcome = std::panic::catch_unwind(|| check(&data));
                assert!(outcome.is_ok(), "{target}: {} fails", path.display());
                inputs += 1;
            }
        }
        assert!(inputs > 0, "{target} has no checked-in input");
        replayed += inputs;
    }
    assert!(replayed > 0);
}

/// A few hundred inputs from a fixed seed through every target, on stable: a smoke run of the
/// checks themselves (the fuzzers search far wider on nightly).
#[test]
fn seeded_random_inputs_pass_every_target() {
    let mut x = 0x9E37_79B9_7F4A_7C15_u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for (target, check) in payhil_fuzzing::TARGETS {
        let runs = if target.contains("sim") || target.contains("model") {
            40
        } else {
            400
        };
        for i in 0..runs {
            let len = (next() % 600) as usize;
            let data: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            let outcome = std::panic::catch_unwind(|| check(&data));
            assert!(outcome.is_ok(), "{target}: seeded input {i} fails");
        }
    }
}
