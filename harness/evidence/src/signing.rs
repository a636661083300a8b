//! Keys, the in-toto statement over the manifest, and its minisign signature.
//!
//! The statement (in-toto Statement v1, predicate `test-result` v0.1) names the manifest by its
//! SHA-256, so signing the statement signs every file. The signature is minisign's format
//! (Ed25519, prehashed), verifiable with the standard tool:
//! `minisign -Vm statement.intoto.json -p payhil.pub`.

use crate::EvidenceError;
use minisign::{KeyPair, PublicKey, PublicKeyBox, SecretKey, SecretKeyBox, SignatureBox};
use std::io::Cursor;
use std::path::Path;

/// The in-toto statement type.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// The predicate type: a test result.
pub const PREDICATE_TYPE: &str = "https://in-toto.io/attestation/test-result/v0.1";

/// Makes a key pair: `<prefix>.key` (secret, unencrypted: keep it like a password) and
/// `<prefix>.pub`. Refuses to overwrite either.
pub fn keygen(prefix: &Path) -> Result<(std::path::PathBuf, std::path::PathBuf), EvidenceError> {
    let sk_path = prefix.with_extension("key");
    let pk_path = prefix.with_extension("pub");
    for p in [&sk_path, &pk_path] {
        if p.exists() {
            return Err(EvidenceError::Key(format!(
                "{} exists; not overwriting a key",
                p.display()
            )));
        }
    }
    let kp = KeyPair::generate_unencrypted_keypair().map_err(key_err)?;
    let sk = kp
        .sk
        .to_box(Some("payhil evidence signing key"))
        .map_err(key_err)?;
    let pk = kp.pk.to_box().map_err(key_err)?;
    write_new(&sk_path, sk.into_string().as_bytes())?;
    write_new(&pk_path, pk.into_string().as_bytes())?;
    Ok((sk_path, pk_path))
}

fn write_new(path: &Path, bytes: &[u8]) -> Result<(), EvidenceError> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path).map_err(|e| EvidenceError::io(path, e))?;
    f.write_all(bytes).map_err(|e| EvidenceError::io(path, e))
}

fn key_err(e: minisign::PError) -> EvidenceError {
    EvidenceError::Key(e.to_string())
}

/// A secret key from a minisign secret-key file (unencrypted, as `payhil keygen` writes).
pub fn load_secret(path: &Path) -> Result<SecretKey, EvidenceError> {
    let text = std::fs::read_to_string(path).map_err(|e| EvidenceError::io(path, e))?;
    SecretKeyBox::from_string(&text)
        .and_then(SecretKeyBox::into_unencrypted_secret_key)
        .map_err(|e| EvidenceError::Key(format!("{}: {e}", path.display())))
}

/// A public key from a minisign public-key file, or the key itself in base64.
pub fn load_public(path: &Path) -> Result<PublicKey, EvidenceError> {
    let text = std::fs::read_to_string(path).map_err(|e| EvidenceError::io(path, e))?;
    PublicKeyBox::from_string(&text)
        .and_then(PublicKeyBox::into_public_key)
        .or_else(|_| PublicKey::from_base64(text.trim()))
        .map_err(|e| EvidenceError::Key(format!("{}: {e}", path.display())))
}

/// The public key of a secret key, base64 (recorded in the bundle to say who signed).
pub fn public_of(sk: &SecretKey) -> Result<PublicKey, EvidenceError> {
    PublicKey::from_secret_key(sk).map_err(key_err)
}

/// Signs `data`; returns the signature file's text. The trusted comment names the bundle.
pub fn sign(sk: &SecretKey, data: &[u8], trusted_comment: &str) -> Result<String, EvidenceError> {
    let pk = public_of(sk)?;
    let sig = minisign::sign(
        Some(&pk),
        sk,
        Cursor::new(data),
        Some(trusted_comment),
        Some("payhil evidence: signature of the in-toto statement over MANIFEST.sha256"),
    )
    .map_err(key_err)?;
    Ok(sig.into_string())
}

/// Checks a signature file's text over `data` with `pk`.
pub fn verify(pk: &PublicKey, signature: &str, data: &[u8]) -> Result<(), String> {
    let sig = SignatureBox::from_string(signature).map_err(|e| e.to_string())?;
    minisign::verify(pk, &sig, Cursor::new(data), true, false, false).map_err(|e| e.to_string())
}

/// The in-toto statement over the manifest.
pub fn statement(
    manifest_sha256: &str,
    passed: &[String],
    failed: &[String],
    scenario_digests: &[(String, String)],
) -> serde_json::Value {
    serde_json::json!({
        "_type": STATEMENT_TYPE,
        "subject": [{
            "name": crate::manifest::MANIFEST,
            "digest": { "sha256": manifest_sha256 },
        }],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "result": if failed.is_empty() { "PASSED" } else { "FAILED" },
            "configuration": scenario_digests
                .iter()
                .map(|(name, h)| serde_json::json!({ "name": name, "digest": { "sha256": h } }))
                .collect::<Vec<_>>(),
            "passedTests": passed,
            "failedTests": failed,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_with_its_key_only_and_only_over_its_data() {
        let dir = tempfile::tempdir().unwrap();
        let (sk, pk) = keygen(&dir.path().join("lab")).unwrap();
        assert!(keygen(&dir.path().join("lab")).is_err(), "never overwrites");
        let sk = load_secret(&sk).unwrap();
        let pk = load_public(&pk).unwrap();
        let sig = sign(&sk, b"statement", "bundle x").unwrap();
        assert!(verify(&pk, &sig, b"statement").is_ok());
        assert!(verify(&pk, &sig, b"statemenT").is_err());
        let (other, _) = keygen(&dir.path().join("other")).unwrap();
        let other = public_of(&load_secret(&other).unwrap()).unwrap();
        assert!(verify(&other, &sig, b"statement").is_err());
    }
}
