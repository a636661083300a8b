//! The run's transcript streamed to its file as it is recorded: every entry is scanned for card
//! data and redacted the moment it is recorded ([`TranscriptCheck`]), written as one JSON line
//! ([`crate::transcript_file`]), and only the last [`KEEP`] entries stay in memory. A chatty or
//! flooding terminal costs disk, not memory; a file that cannot be written (a full disk) is a
//! finding at the end of the scenario, and the suite goes on.

use super::evidence::{Secrets, TranscriptCheck};
use payhil_transport::transcript::{Entry, Sink};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// Entries kept in memory while streaming: enough for a failure's "what arrived last".
pub(crate) const KEEP: usize = 2_000;

struct State {
    out: std::io::BufWriter<std::fs::File>,
    check: TranscriptCheck,
    /// The first write error; nothing more is written after it.
    error: Option<std::io::Error>,
    /// Entries handed to the file (buffered: a write error may show only at the flush).
    written: u64,
    /// The scenario has ended: later entries (a connection's end noticed late) are not part of
    /// its transcript, as they would not be in one kept in memory.
    closed: bool,
}

/// The file a transcript streams to; [`TranscriptStream::sink`] is what the transcript holds.
pub(crate) struct TranscriptStream {
    state: Arc<Mutex<State>>,
    path: PathBuf,
}

/// What streaming found when it was finished.
pub(crate) struct Streamed {
    /// Card data found in entries (PCI-01, PCI-02/PBS-01), as the end-of-run check words it.
    pub(crate) findings: Vec<String>,
    /// Entries written.
    pub(crate) written: u64,
}

struct StreamSink(Arc<Mutex<State>>);

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // Poisoned only by a panic elsewhere while writing: the state is still consistent.
    state.lock().unwrap_or_else(|p| p.into_inner())
}

impl Sink for StreamSink {
    fn take(&mut self, entry: Entry) -> Entry {
        let mut s = lock(&self.0);
        let clean = s.check.entry(entry);
        if s.error.is_none() && !s.closed {
            let line = crate::transcript_file::encode(&clean);
            let written = s
                .out
                .write_all(line.as_bytes())
                .and_then(|()| s.out.write_all(b"\n"));
            // A step's start is on disk before the step runs: a run that hangs or is killed
            // leaves a file that shows how far it got.
            let written = if clean.source == payhil_transport::Source::Step {
                written.and_then(|()| s.out.flush())
            } else {
                written
            };
            match written {
                Ok(()) => s.written += 1,
                Err(e) => s.error = Some(e),
            }
        }
        clean
    }
}

impl TranscriptStream {
    /// Creates (truncates) the file at `path`, its directory too.
    pub(crate) fn create(path: &Path, secrets: Secrets) -> std::io::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = std::fs::File::create(path)?;
        Ok(Self {
            state: Arc::new(Mutex::new(State {
                out: std::io::BufWriter::with_capacity(64 * 1024, file),
                check: TranscriptCheck::new(secrets),
                error: None,
                written: 0,
                closed: false,
            })),
            path: path.to_path_buf(),
        })
    }

    /// What the transcript streams into.
    pub(crate) fn sink(&self) -> Box<dyn Sink> {
        Box::new(StreamSink(self.state.clone()))
    }

    /// Where the file is.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Ends the file: flushed and synced; an error writing it at any point is a finding.
    pub(crate) fn finish(&self) -> Streamed {
        let mut s = lock(&self.state);
        s.closed = true;
        if s.error.is_none() {
            let done = s.out.flush().and_then(|()| s.out.get_ref().sync_data());
            if let Err(e) = done {
                s.error = Some(e);
            }
        }
        let mut findings = std::mem::take(&mut s.check.findings);
        if let Some(e) = &s.error {
            findings.push(format!(
                "transcript {}: could not be written: {e}",
                self.path.display()
            ));
        }
        Streamed {
            findings,
            written: s.written,
        }
    }
}
