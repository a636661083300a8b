//! Reading reviewed insta snapshots, so that `payhil run` checks the same artifacts the tests do.
//! Writing and reviewing snapshots stays with insta (`cargo insta review`).

use std::path::{Path, PathBuf};

/// Directory of the reviewed snapshots of a scenario file: `snapshots/` beside it.
pub fn dir_for(scenario_file: &Path) -> PathBuf {
    scenario_file
        .parent()
        .unwrap_or(Path::new("."))
        .join("snapshots")
}

/// The snapshot name of an artifact of a scenario.
pub fn name(stem: &str, artifact: &str) -> String {
    format!("{stem}__{artifact}")
}

/// The result of comparing an artifact with its snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Comparison {
    /// Identical.
    Match,
    /// No snapshot file.
    Missing(PathBuf),
    /// Different; the first differing line of each side.
    Differs {
        /// Snapshot file.
        file: PathBuf,
        /// 1-based line of the first difference.
        line: usize,
        /// Snapshot's line.
        expected: String,
        /// Artifact's line.
        actual: String,
    },
}

/// Compares `text` with `dir/NAME.snap` (insta's format: a `---` header, then the content).
pub fn compare(dir: &Path, name: &str, text: &str) -> Comparison {
    let file = dir.join(format!("{name}.snap"));
    let Ok(snap) = std::fs::read_to_string(&file) else {
        return Comparison::Missing(file);
    };
    let body = snap
        .strip_prefix("---\n")
        .and_then(|rest| rest.split_once("\n---\n"))
        .map_or(snap.as_str(), |(_, body)| body);
    let (a, b) = (body.trim_end(), text.trim_end());
    if a == b {
        return Comparison::Match;
    }
    let (mut ea, mut eb) = (a.lines(), b.lines());
    let mut line = 1;
    loop {
        match (ea.next(), eb.next()) {
            (Some(x), Some(y)) if x == y => line += 1,
            (x, y) => {
                return Comparison::Differs {
                    file,
                    line,
                    expected: x.unwrap_or("<end>").to_string(),
                    actual: y.unwrap_or("<end>").to_string(),
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_insta_format() {
        let d = std::env::temp_dir().join(format!("payhil-snap-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(
            d.join("a.snap"),
            "---\nsource: x\nexpression: y\n---\nline1\nline2\n",
        )
        .unwrap();
        assert_eq!(compare(&d, "a", "line1\nline2"), Comparison::Match);
        assert!(matches!(
            compare(&d, "a", "line1\nlineX"),
            Comparison::Differs { line: 2, .. }
        ));
        assert!(matches!(compare(&d, "b", ""), Comparison::Missing(_)));
        std::fs::remove_dir_all(&d).unwrap();
    }
}
