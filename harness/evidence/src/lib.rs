//! Certification evidence: every run leaves a bundle a lab can sign and an acquirer can verify
//! offline.
//!
//! * [`bundle`]: writes the bundle (atomically: `<dir>.incomplete` until renamed).
//! * [`report`]: `report.json`, versioned (`report.schema.json` beside this crate documents it).
//! * [`schema`]: the report's JSON Schema and a check against it.
//! * [`formats`]: `junit.xml` (quick-junit) and `ctrf.json`.
//! * [`html`]: `index.html`, self-contained.
//! * [`manifest`]: `MANIFEST.sha256` (`sha256sum -c` reads it).
//! * [`signing`]: keys, the in-toto statement over the manifest, its minisign signature.
//! * [`verify`]: `payhil verify`.
#![warn(missing_docs)]

pub mod bundle;
pub mod formats;
pub mod html;
pub mod manifest;
pub mod report;
pub mod schema;
pub mod signing;
pub mod verify;

pub use bundle::{BundleWriter, Finished, RunStart, ScenarioOutcome};

use std::path::{Path, PathBuf};

/// Why evidence could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    /// A file or directory operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The bundle's directory (or a crashed run's `.incomplete` one) is in the way.
    #[error("{0} exists: evidence goes to a new directory (remove it, or choose another)")]
    Exists(PathBuf),
    /// A key could not be made, read or used.
    #[error("key: {0}")]
    Key(String),
    /// A report could not be rendered.
    #[error("report: {0}")]
    Format(String),
}

impl EvidenceError {
    /// An I/O error at `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
