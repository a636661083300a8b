//! A scenario's transcript as a file of JSON Lines, the evidence bundle's format: one object
//! per entry, `{"micros", "clock", "source", "text", "local"}` (see
//! `harness/evidence/report.schema.json`). The runner writes it entry by entry as the run goes
//! (redacted, see [`crate::runner::run_to`]); readers take it back one line at a time, so no
//! reader or writer holds a whole transcript.

use payhil_transport::Source;
use payhil_transport::transcript::{self, Entry};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::io::{BufRead, Write};
use std::path::Path;

/// One line of the file.
#[derive(Serialize, Deserialize)]
struct Line<'a> {
    micros: u64,
    clock: i64,
    source: Cow<'a, str>,
    text: Cow<'a, str>,
    local: Option<Cow<'a, str>>,
}

/// A line the file cannot hold.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    /// Not a JSON object of the five fields.
    #[error("not a transcript line: {0}")]
    Json(#[from] serde_json::Error),
    /// A source no transcript has.
    #[error("unknown source {0:?}")]
    Source(String),
}

/// `e` as one JSON line, without its newline.
pub fn encode(e: &Entry) -> String {
    let line = Line {
        micros: e.micros,
        clock: e.clock,
        source: Cow::Borrowed(e.source.tag()),
        text: Cow::Borrowed(&e.text),
        local: e.local.as_deref().map(Cow::Borrowed),
    };
    // Plain data of strings and integers: serialising it cannot fail.
    serde_json::to_string(&line).unwrap_or_default()
}

/// The entry one JSON line holds.
pub fn decode(line: &str) -> Result<Entry, LineError> {
    let l: Line<'_> = serde_json::from_str(line)?;
    let source = Source::from_tag(&l.source).ok_or_else(|| LineError::Source(l.source.into()))?;
    Ok(Entry {
        micros: l.micros,
        clock: l.clock,
        source,
        text: l.text.into_owned(),
        local: l.local.map(Cow::into_owned),
    })
}

/// Calls `each` with every entry of the file at `path`, in order, one line in memory at a
/// time. A line that is not an entry is an error naming its line number.
pub fn for_each(path: &Path, mut each: impl FnMut(Entry)) -> std::io::Result<()> {
    let file = std::io::BufReader::new(std::fs::File::open(path)?);
    for (n, line) in file.lines().enumerate() {
        let line = line?;
        let entry = decode(&line).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{}:{}: {e}", path.display(), n + 1),
            )
        })?;
        each(entry);
    }
    Ok(())
}

/// Renders the file at `jsonl` as the text transcript ([`transcript::render`]) into `out`,
/// one entry at a time.
pub fn render_to(jsonl: &Path, out: &mut impl Write) -> std::io::Result<()> {
    let mut failed = None;
    for_each(jsonl, |e| {
        if failed.is_none() {
            failed = out
                .write_all(transcript::render(std::slice::from_ref(&e)).as_bytes())
                .err();
        }
    })?;
    failed.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_comes_back_from_its_line_unchanged() {
        for (source, local) in [
            (Source::Host, None),
            (
                Source::TerminalLog,
                Some("pid 4711, \"quoted\"\nnext line".to_string()),
            ),
        ] {
            let e = Entry {
                micros: 12_345,
                clock: -5,
                source,
                text: "Queue(QueueStatus { pending: 3 }) ✓".into(),
                local,
            };
            let line = encode(&e);
            assert!(!line.contains('\n'), "one line: {line}");
            let back = decode(&line).expect("decodes");
            assert_eq!(encode(&back), line);
            assert_eq!(back.text, e.text);
            assert_eq!(back.local, e.local);
            assert_eq!(back.source, e.source);
        }
        assert!(matches!(
            decode(r#"{"micros":1,"clock":0,"source":"x","text":"","local":null}"#),
            Err(LineError::Source(_))
        ));
        assert!(decode("{").is_err());
    }
}
