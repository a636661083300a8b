//! Computes the build hash the emulator reports in Hello: SHA-256 over the sources that make up
//! the firmware image (the core, the protocol crate, the emulator itself, their manifests and the
//! lock file that pins their dependencies). A real terminal reports a hash of its flashed image;
//! the emulator is rebuilt constantly, and its binary differs with the toolchain and the machine,
//! so it hashes what decides its behaviour instead: any change to that changes the hash, and
//! the same sources give the same hash on every machine (stable for replays).

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

fn files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        let Ok(entries) = std::fs::read_dir(path) else {
            return;
        };
        for e in entries.flatten() {
            files(&e.path(), out);
        }
    } else if path.is_file() {
        out.push(path.to_path_buf());
    }
}

fn main() {
    let here = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let root = here.join("../..");
    let inputs = [
        "firmware-under-test/core/src",
        "firmware-under-test/core/Cargo.toml",
        "firmware-under-test/emulator/src",
        "firmware-under-test/emulator/Cargo.toml",
        "firmware-under-test/emulator/build.rs",
        "harness/protocol/src",
        "harness/protocol/Cargo.toml",
        "Cargo.lock",
    ];
    let mut all = Vec::new();
    for input in inputs {
        let p = root.join(input);
        // A directory is scanned for changes as a whole (cargo looks at every file in it).
        println!("cargo:rerun-if-changed={}", p.display());
        files(&p, &mut all);
    }
    // Sorted by the path relative to the workspace, so the order of directory listings (which
    // differs between file systems) cannot change the hash.
    let mut named: Vec<(String, PathBuf)> = all
        .into_iter()
        .map(|p| {
            let rel = p
                .strip_prefix(&root)
                .unwrap_or(&p)
                .to_string_lossy()
                .replace('\\', "/");
            (rel, p)
        })
        .collect();
    named.sort();
    let mut h = Sha256::new();
    for (rel, p) in &named {
        let bytes = std::fs::read(p).unwrap_or_default();
        // Name and length first, so that moving bytes between files changes the hash.
        h.update(rel.as_bytes());
        h.update([0]);
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(&bytes);
    }
    let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    println!("cargo:rustc-env=FUT_BUILD_HASH={hex}");
}
