//! `MANIFEST.sha256`: the SHA-256 of every file of the bundle, in `sha256sum` format (so
//! `sha256sum -c MANIFEST.sha256` checks it), sorted by path.

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The manifest's file name.
pub const MANIFEST: &str = "MANIFEST.sha256";
/// The in-toto statement over the manifest.
pub const STATEMENT: &str = "statement.intoto.json";
/// The minisign signature of the statement.
pub const SIGNATURE: &str = "statement.intoto.json.minisig";
/// Present while a bundle is being written; a bundle holding it is incomplete.
pub const INCOMPLETE: &str = "INCOMPLETE";

/// Files that are about the manifest, not in it.
pub fn is_meta(rel: &str) -> bool {
    matches!(rel, MANIFEST | STATEMENT | SIGNATURE)
}

/// SHA-256 of bytes, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// SHA-256 of a file, hex.
pub fn file_sha256(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h)?;
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Every file under `dir`, as sorted `/`-separated relative paths. Symbolic links and other
/// non-regular files are reported by `odd` (a bundle holds plain files only).
pub fn files(dir: &Path, odd: &mut Vec<String>) -> std::io::Result<Vec<String>> {
    let mut out = Vec::new();
    let mut stack: Vec<PathBuf> = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)? {
            let e = e?;
            let ty = e.file_type()?;
            let path = e.path();
            let rel = path
                .strip_prefix(dir)
                .map_err(std::io::Error::other)?
                .to_string_lossy()
                .replace('\\', "/");
            if ty.is_dir() {
                stack.push(path);
            } else if ty.is_file() {
                out.push(rel);
            } else {
                odd.push(rel);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Writes the manifest over every file of `dir` but the meta files; returns its text.
pub fn write(dir: &Path) -> std::io::Result<String> {
    let mut odd = Vec::new();
    let mut text = String::new();
    for rel in files(dir, &mut odd)? {
        if is_meta(&rel) {
            continue;
        }
        let h = file_sha256(&dir.join(&rel))?;
        text.push_str(&format!("{h}  {rel}\n"));
    }
    if let Some(o) = odd.first() {
        return Err(std::io::Error::other(format!(
            "{o} is not a regular file; a bundle holds plain files only"
        )));
    }
    std::fs::write(dir.join(MANIFEST), &text)?;
    Ok(text)
}

/// Parses a manifest: (hash, path) per line.
pub fn parse(text: &str) -> Result<Vec<(String, String)>, String> {
    text.lines()
        .enumerate()
        .map(|(i, l)| {
            let (h, p) = l
                .split_once("  ")
                .ok_or_else(|| format!("{MANIFEST}:{}: not `<sha256>  <path>`", i + 1))?;
            if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!("{MANIFEST}:{}: not a SHA-256", i + 1));
            }
            Ok((h.to_string(), p.to_string()))
        })
        .collect()
}
