//! `payhil verify`: recomputes a bundle's manifest and checks its statement and signature.
//! Every problem is named: a changed, missing or extra file, an incomplete bundle, a statement
//! that does not match the manifest, a missing or bad signature.

use crate::manifest::{self, INCOMPLETE, MANIFEST, SIGNATURE, STATEMENT};
use crate::signing;
use minisign::PublicKey;
use std::collections::BTreeSet;
use std::path::Path;

/// What a bundle's signature says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signature {
    /// Valid, by the key the verifier gave (`--pubkey`).
    Trusted,
    /// Valid for the key the bundle names, which the verifier did not vouch for.
    SelfConsistent(String),
    /// Not signed.
    Unsigned,
}

/// A bundle that verified.
#[derive(Debug)]
pub struct Verified {
    /// Files in the manifest.
    pub files: usize,
    /// The signature's standing.
    pub signature: Signature,
}

/// Verifies the bundle in `dir`; `pubkey`: the key it must be signed with. Returns every
/// problem found, not only the first.
pub fn verify(dir: &Path, pubkey: Option<&PublicKey>) -> Result<Verified, Vec<String>> {
    let mut problems = Vec::new();
    if !dir.is_dir() {
        return Err(vec![format!("{} is not a directory", dir.display())]);
    }
    if dir.join(INCOMPLETE).exists()
        || dir
            .file_name()
            .is_some_and(|n| n.to_string_lossy().ends_with(".incomplete"))
    {
        problems.push(
            "incomplete bundle: the run that wrote it did not finish (crashed or interrupted)"
                .to_string(),
        );
    }
    let manifest_text = match std::fs::read_to_string(dir.join(MANIFEST)) {
        Ok(t) => t,
        Err(e) => {
            problems.push(format!("{MANIFEST} missing or unreadable: {e}"));
            return Err(problems);
        }
    };
    let listed = match manifest::parse(&manifest_text) {
        Ok(l) => l,
        Err(e) => {
            problems.push(e);
            return Err(problems);
        }
    };
    let mut odd = Vec::new();
    let on_disk: BTreeSet<String> = match manifest::files(dir, &mut odd) {
        Ok(f) => f.into_iter().collect(),
        Err(e) => {
            problems.push(format!("cannot list {}: {e}", dir.display()));
            return Err(problems);
        }
    };
    for o in odd {
        problems.push(format!(
            "{o}: not a regular file (a bundle holds plain files only)"
        ));
    }
    let mut named = BTreeSet::new();
    for (hash, rel) in &listed {
        if rel.starts_with('/') || rel.split('/').any(|c| c == ".." || c.is_empty()) {
            problems.push(format!("{MANIFEST} names an unsafe path: {rel}"));
            continue;
        }
        named.insert(rel.clone());
        if !on_disk.contains(rel) {
            problems.push(format!("missing: {rel}"));
            continue;
        }
        match manifest::file_sha256(&dir.join(rel)) {
            Ok(h) if h == *hash => {}
            Ok(_) => problems.push(format!(
                "changed: {rel} (its SHA-256 differs from {MANIFEST})"
            )),
            Err(e) => problems.push(format!("unreadable: {rel}: {e}")),
        }
    }
    for f in &on_disk {
        if !named.contains(f) && !manifest::is_meta(f) {
            problems.push(format!("extra: {f} (not in {MANIFEST})"));
        }
    }
    // The report is what the schema documents (a reader relies on it).
    match std::fs::read(dir.join("report.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
    {
        Some(v) => problems.extend(
            crate::schema::check(&v)
                .into_iter()
                .map(|p| format!("report.json does not follow its schema: {p}")),
        ),
        None => problems.push("report.json missing or not JSON".into()),
    }
    // The statement binds the manifest; the signature binds the statement.
    let statement = std::fs::read(dir.join(STATEMENT));
    match &statement {
        Err(e) => problems.push(format!("{STATEMENT} missing or unreadable: {e}")),
        Ok(bytes) => {
            let subject = serde_json::from_slice::<serde_json::Value>(bytes)
                .ok()
                .and_then(|v| {
                    v["subject"][0]["digest"]["sha256"]
                        .as_str()
                        .map(str::to_string)
                });
            if subject.as_deref() != Some(&manifest::sha256_hex(manifest_text.as_bytes())) {
                problems.push(format!(
                    "{STATEMENT} does not name this {MANIFEST} (its subject digest differs)"
                ));
            }
        }
    }
    let sig = std::fs::read_to_string(dir.join(SIGNATURE)).ok();
    let signature = match (&sig, pubkey, &statement) {
        (None, Some(_), _) => {
            problems.push(format!("{SIGNATURE} missing: the bundle is not signed"));
            Signature::Unsigned
        }
        (None, None, _) => Signature::Unsigned,
        (Some(_), _, Err(_)) => Signature::Unsigned,
        (Some(s), Some(pk), Ok(st)) => match signing::verify(pk, s, st) {
            Ok(()) => Signature::Trusted,
            Err(e) => {
                problems.push(format!(
                    "bad signature ({SIGNATURE}) for the given key: {e}"
                ));
                Signature::Unsigned
            }
        },
        (Some(s), None, Ok(st)) => {
            // No key given: the key the report names shows at least that the statement is
            // unchanged since signing.
            let named = std::fs::read(dir.join("report.json"))
                .ok()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .and_then(|v| v["signer_public_key"].as_str().map(str::to_string));
            match named.as_deref().map(PublicKey::from_base64) {
                Some(Ok(pk)) => match signing::verify(&pk, s, st) {
                    Ok(()) => Signature::SelfConsistent(named.unwrap_or_default()),
                    Err(e) => {
                        problems.push(format!("bad signature ({SIGNATURE}): {e}"));
                        Signature::Unsigned
                    }
                },
                _ => {
                    problems.push(format!(
                        "{SIGNATURE} present but report.json names no valid signer key"
                    ));
                    Signature::Unsigned
                }
            }
        }
    };
    if problems.is_empty() {
        Ok(Verified {
            files: listed.len(),
            signature,
        })
    } else {
        Err(problems)
    }
}
