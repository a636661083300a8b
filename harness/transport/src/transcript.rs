//! The transcript of a run: every frame, fault, host message and terminal log line, in order,
//! with the real time since the run started and the terminal's controlled clock.
//!
//! Entries are text built from the protocol types' `Debug`, which masks PANs and redacts PINs;
//! the oracle still scans the rendered transcript for full card numbers (PCI-01).

use std::fmt::Write as _;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

/// Who produced an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The scenario runner (step boundaries, verdicts).
    Step,
    /// A frame the harness sent.
    ToTerminal,
    /// A frame (or garbage) the harness received.
    FromTerminal,
    /// A line the emulator wrote to stderr.
    TerminalLog,
    /// The acquirer host simulator.
    Host,
    /// The network fault proxy.
    Proxy,
}

impl Source {
    fn tag(self) -> &'static str {
        match self {
            Source::Step => "step",
            Source::ToTerminal => "tx",
            Source::FromTerminal => "rx",
            Source::TerminalLog => "term",
            Source::Host => "host",
            Source::Proxy => "net",
        }
    }
}

/// One transcript line.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Microseconds since the transcript was created (real time, for ordering and latency).
    pub micros: u64,
    /// The terminal's controlled clock when the entry was made (Unix seconds).
    pub clock: i64,
    /// Producer.
    pub source: Source,
    /// What happened.
    pub text: String,
}

struct Inner {
    start: Instant,
    clock: i64,
    entries: Vec<Entry>,
}

/// A shared, append-only transcript (cheap to clone: all clones write to the same log).
#[derive(Clone)]
pub struct Transcript(Arc<Mutex<Inner>>);

impl Default for Transcript {
    fn default() -> Self {
        Self::new()
    }
}

impl Transcript {
    /// An empty transcript starting now.
    pub fn new() -> Self {
        Self(Arc::new(Mutex::new(Inner {
            start: Instant::now(),
            clock: 0,
            entries: Vec::new(),
        })))
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves a consistent Vec; keep recording.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records the controlled clock's new value; later entries carry it.
    pub fn set_clock(&self, unix_s: i64) {
        self.lock().clock = unix_s;
    }

    /// Appends an entry.
    pub fn record(&self, source: Source, text: impl Into<String>) {
        let mut g = self.lock();
        let micros = g.start.elapsed().as_micros() as u64;
        let clock = g.clock;
        g.entries.push(Entry {
            micros,
            clock,
            source,
            text: text.into(),
        });
    }

    /// A copy of all entries.
    pub fn entries(&self) -> Vec<Entry> {
        self.lock().entries.clone()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// True if nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The last `n` entries, rendered (for error messages: "what arrived last").
    pub fn tail(&self, n: usize) -> String {
        let g = self.lock();
        let from = g.entries.len().saturating_sub(n);
        render(&g.entries[from..])
    }

    /// The whole transcript as text, one entry per line.
    pub fn render(&self) -> String {
        render(&self.lock().entries)
    }
}

fn render(entries: &[Entry]) -> String {
    let mut s = String::new();
    for e in entries {
        let _ = writeln!(
            s,
            "{:>10.3}ms clock={} {:<4} {}",
            e.micros as f64 / 1000.0,
            e.clock,
            e.source.tag(),
            e.text
        );
    }
    s
}
