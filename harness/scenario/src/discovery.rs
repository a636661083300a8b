//! Finding scenario files: every `*.toml` below the given paths, leaving out the `snapshots`
//! folders that sit beside them. `payhil run`, `payhil check`, `payhil rules` and the scenario
//! tests all find their files here, so they never disagree about which scenarios exist.

use std::path::PathBuf;

/// A directory that could not be read.
#[derive(Debug, thiserror::Error)]
// The cause is part of the message (not a `source`), so it is said once however it is printed.
#[error("reading {}: {cause}", path.display())]
pub struct DiscoveryError {
    /// The directory.
    pub path: PathBuf,
    /// Why.
    pub cause: std::io::Error,
}

/// The scenario files under `roots`, sorted; a root that is not a directory is taken as a file.
pub fn scenario_files(roots: &[PathBuf]) -> Result<Vec<PathBuf>, DiscoveryError> {
    let mut files = Vec::new();
    for root in roots {
        if !root.is_dir() {
            files.push(root.clone());
            continue;
        }
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            let unreadable = |cause| DiscoveryError {
                path: dir.clone(),
                cause,
            };
            for entry in std::fs::read_dir(&dir).map_err(unreadable)? {
                let p = entry.map_err(unreadable)?.path();
                if p.is_dir() && p.file_name().is_some_and(|n| n != "snapshots") {
                    stack.push(p);
                } else if p.extension().is_some_and(|e| e == "toml") {
                    files.push(p);
                }
            }
        }
    }
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_toml_files_below_and_skips_snapshot_folders() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let sub = dir.join("group");
        std::fs::create_dir_all(sub.join("snapshots")).unwrap();
        std::fs::write(sub.join("b.toml"), "").unwrap();
        std::fs::write(dir.join("a.toml"), "").unwrap();
        std::fs::write(sub.join("notes.md"), "").unwrap();
        std::fs::write(sub.join("snapshots").join("x.toml"), "").unwrap();
        let found = scenario_files(std::slice::from_ref(&dir)).unwrap();
        assert_eq!(found, vec![dir.join("a.toml"), sub.join("b.toml")]);
        let missing = dir.join("nope");
        assert_eq!(
            scenario_files(std::slice::from_ref(&missing)).unwrap(),
            vec![missing],
            "a path that is no directory is a file, reported when it is read"
        );
    }
}
