//! The evidence bundle at the CLI edge: where it goes by default, the scenarios' names in it,
//! and `payhil keygen` / `payhil verify`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// `target/payhil` (or under `CARGO_TARGET_DIR`).
fn payhil_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| PathBuf::from("target"), PathBuf::from)
        .join("payhil")
}

/// A new directory per run: `target/payhil/runs/<UTC time>-<seed>`.
pub fn default_dir(seed: u64) -> PathBuf {
    let now = time::OffsetDateTime::now_utc();
    let stamp = format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    );
    payhil_dir().join("runs").join(format!("{stamp}-{seed}"))
}

/// The scenarios' names in the bundle: their paths under the deepest directory that holds every
/// root given (`scenarios/` for the default run, so `network/x`), without `.toml`; equal file
/// names in different folders thus never collide (a file given twice gets `~2`).
pub struct ScenarioIds {
    base: PathBuf,
    used: BTreeMap<String, u32>,
}

impl ScenarioIds {
    /// For scenarios found under `roots` (files or directories).
    pub fn new(roots: Vec<PathBuf>) -> Self {
        let dirs: Vec<PathBuf> = roots
            .iter()
            .map(|r| {
                if r.is_dir() {
                    r.clone()
                } else {
                    r.parent().map(Path::to_path_buf).unwrap_or_default()
                }
            })
            .collect();
        let mut base = dirs.first().cloned().unwrap_or_default();
        while !dirs.iter().all(|d| d.starts_with(&base)) {
            if !base.pop() {
                break;
            }
        }
        Self {
            base,
            used: BTreeMap::new(),
        }
    }

    /// The name of `file`.
    pub fn id(&mut self, file: &Path) -> String {
        let rel = file
            .strip_prefix(&self.base)
            .map(Path::to_path_buf)
            .unwrap_or_else(|_| file.to_path_buf());
        let base: String = rel
            .with_extension("")
            .components()
            .map(|c| {
                c.as_os_str()
                    .to_string_lossy()
                    .chars()
                    .map(|ch| {
                        if ch.is_ascii_alphanumeric() || "-_.".contains(ch) {
                            ch
                        } else {
                            '_'
                        }
                    })
                    .collect::<String>()
            })
            .filter(|c| !c.is_empty() && c != "." && c != ".." && c != "_")
            .collect::<Vec<_>>()
            .join("/");
        let n = self.used.entry(base.clone()).or_insert(0);
        *n += 1;
        if *n == 1 { base } else { format!("{base}~{n}") }
    }
}

/// Finishes the bundle and says where it is; false if the evidence is not sound.
pub fn finish(bundle: payhil_evidence::BundleWriter, default_place: bool) -> bool {
    let started = std::time::Instant::now();
    match bundle.finish() {
        Ok(done) => {
            println!(
                "payhil run: evidence in {} ({} files, {} bytes, written in {:.2} s)",
                done.dir.display(),
                done.files,
                done.bytes,
                started.elapsed().as_secs_f64()
            );
            if default_place {
                let latest = payhil_dir().join("latest");
                let target = done
                    .dir
                    .strip_prefix(payhil_dir())
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|_| done.dir.clone());
                if let Err(e) = payhil_evidence::bundle::point_latest(&latest, &target) {
                    eprintln!(
                        "payhil run: could not point {} at it: {e}",
                        latest.display()
                    );
                }
            }
            for f in &done.findings {
                println!("      evidence: {f}");
            }
            done.findings.is_empty()
        }
        Err(e) => {
            println!("payhil run: evidence could not be completed: {e}");
            false
        }
    }
}

/// `payhil keygen PREFIX`.
pub fn keygen(prefix: &Path) -> i32 {
    match payhil_evidence::signing::keygen(prefix) {
        Ok((sk, pk)) => {
            println!(
                "secret key {} (keep it private), public key {} (give it to whoever verifies)",
                sk.display(),
                pk.display()
            );
            0
        }
        Err(e) => {
            eprintln!("payhil keygen: {e}");
            2
        }
    }
}

/// `payhil verify DIR [--pubkey K]`.
pub fn verify(dir: &Path, pubkey: Option<&Path>) -> i32 {
    let pk = match pubkey
        .map(payhil_evidence::signing::load_public)
        .transpose()
    {
        Ok(k) => k,
        Err(e) => {
            eprintln!("payhil verify: {e}");
            return 2;
        }
    };
    match payhil_evidence::verify::verify(dir, pk.as_ref()) {
        Ok(v) => {
            use payhil_evidence::verify::Signature;
            let sig = match v.signature {
                Signature::Trusted => "signature valid for the given key".to_string(),
                Signature::SelfConsistent(k) => format!(
                    "signature valid for the key the bundle names ({k}); pass --pubkey to check it is yours"
                ),
                Signature::Unsigned => "not signed".to_string(),
            };
            println!(
                "OK  {}: {} files match MANIFEST.sha256; {sig}",
                dir.display(),
                v.files
            );
            0
        }
        Err(problems) => {
            println!("FAILED  {}:", dir.display());
            for p in problems {
                println!("  {p}");
            }
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_file_names_in_different_folders_get_different_names() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        std::fs::create_dir_all(root.join("a")).unwrap();
        std::fs::create_dir_all(root.join("b")).unwrap();
        let mut ids = ScenarioIds::new(vec![root.clone()]);
        assert_eq!(ids.id(&root.join("a/x.toml")), "a/x");
        assert_eq!(ids.id(&root.join("b/x.toml")), "b/x");
        assert_eq!(ids.id(&root.join("b/x.toml")), "b/x~2");
        // Two folders given: named under the directory that holds both.
        let mut ids = ScenarioIds::new(vec![root.join("a"), root.join("b")]);
        assert_eq!(ids.id(&root.join("a/x.toml")), "a/x");
        assert_eq!(ids.id(&root.join("b/x.toml")), "b/x");
        let mut ids = ScenarioIds::new(vec![root.join("a/x.toml")]);
        assert_eq!(ids.id(&root.join("a/x.toml")), "x");
    }
}
