//! The transcript of a run: every frame, fault, host message and terminal log line, in one
//! ordered stream, with the real time since the run started and the terminal's controlled clock.
//!
//! What differs from machine to machine or run to run (wall-clock times, loopback ports, process
//! ids, device paths) is kept in fields of its own, so that [`Transcript::render_replayable`] of
//! two runs with one seed can be compared byte for byte. The order itself is causal, not a race:
//! the proxy and host record before the terminal can see the effect, and the terminal's own log
//! (a separate pipe) carries, per line, how many frames the terminal had sent when it wrote the
//! line, so each line is placed between the same two frames on every run, however the two
//! processes were scheduled.
//!
//! Entries are text built from the protocol types' `Debug`, which masks PANs and redacts PINs;
//! the oracle still scans the rendered transcript for full card numbers (PCI-01).
//!
//! A transcript may stream to a [`Sink`] (the evidence bundle's file, written entry by entry as
//! the run goes): each entry is handed over the moment it is recorded, and only the last
//! entries stay in memory, so memory stays bounded however chatty the device.

use std::collections::VecDeque;
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
    /// The serial line relay between harness and terminal (a fault it injected).
    Line,
}

impl Source {
    /// Every source, in the order of this enum.
    pub const ALL: [Source; 7] = [
        Source::Step,
        Source::ToTerminal,
        Source::FromTerminal,
        Source::TerminalLog,
        Source::Host,
        Source::Proxy,
        Source::Line,
    ];

    /// The source whose [`Source::tag`] is `tag`.
    pub fn from_tag(tag: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.tag() == tag)
    }

    /// The short tag the rendered transcript shows for this source.
    pub fn tag(self) -> &'static str {
        match self {
            Source::Step => "step",
            Source::ToTerminal => "tx",
            Source::FromTerminal => "rx",
            Source::TerminalLog => "term",
            Source::Host => "host",
            Source::Proxy => "net",
            Source::Line => "line",
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
    /// Details that differ between runs of the same seed (addresses, process ids, device
    /// paths): shown, but left out of the replayable rendering.
    pub local: Option<String>,
}

/// One line of the terminal's own log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// How many frames the terminal had sent when it wrote the line (`None`: unknown; the line
    /// is placed before the next frame that arrives).
    pub after_frames: Option<u64>,
    /// The line.
    pub text: String,
}

/// Reads whatever the terminal has logged so far, without waiting: complete lines, in order.
pub type LogDrain = Box<dyn FnMut() -> Vec<LogLine> + Send>;

/// Takes every entry the moment it is recorded, in order, and gives back the copy the transcript
/// keeps in memory (e.g. a redacted one).
pub trait Sink: Send {
    /// One more entry.
    fn take(&mut self, entry: Entry) -> Entry;
}

struct Inner {
    start: Instant,
    clock: i64,
    /// The entries kept in memory: all of them, or the last `keep` when streaming.
    entries: VecDeque<Entry>,
    /// Where entries go as they are recorded, and how many stay in memory.
    sink: Option<(Box<dyn Sink>, usize)>,
    /// Entries no longer in memory (only the sink has them).
    dropped: u64,
    terminal_log: Option<LogDrain>,
    /// Log lines written after frames that have not arrived yet.
    held: VecDeque<LogLine>,
    /// Frames from the terminal so far (since the log source was set).
    frames: u64,
}

impl Inner {
    fn add(&mut self, source: Source, text: String, local: Option<String>) {
        let micros = self.start.elapsed().as_micros() as u64;
        let clock = self.clock;
        let entry = Entry {
            micros,
            clock,
            source,
            text,
            local,
        };
        self.keep(entry);
    }

    fn keep(&mut self, entry: Entry) {
        let Some((sink, keep)) = &mut self.sink else {
            self.entries.push_back(entry);
            return;
        };
        let kept = sink.take(entry);
        if self.entries.len() >= *keep {
            self.entries.pop_front();
            self.dropped += 1;
        }
        if *keep > 0 {
            self.entries.push_back(kept);
        } else {
            self.dropped += 1;
        }
    }

    /// Records, in order, the held and newly logged lines for which `due` holds, up to the
    /// first that is not due (a line's place never moves before an earlier line's).
    fn release(&mut self, due: impl Fn(&LogLine) -> bool) {
        let new = self.terminal_log.as_mut().map(|d| d()).unwrap_or_default();
        self.held.extend(new);
        while self.held.front().is_some_and(&due) {
            if let Some(l) = self.held.pop_front() {
                self.add(Source::TerminalLog, l.text, None);
            }
        }
    }
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
            entries: VecDeque::new(),
            sink: None,
            dropped: 0,
            terminal_log: None,
            held: VecDeque::new(),
            frames: 0,
        })))
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves a consistent Vec; keep recording.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// From now on every entry goes to `sink` as it is recorded, and only the last `keep` stay
    /// in memory. The entries recorded so far are handed over first, in order.
    pub fn stream_to(&self, sink: Box<dyn Sink>, keep: usize) {
        let mut g = self.lock();
        let earlier = std::mem::take(&mut g.entries);
        g.sink = Some((sink, keep));
        for e in earlier {
            g.keep(e);
        }
    }

    /// How many entries were recorded but are no longer in memory (only the sink has them).
    pub fn dropped(&self) -> u64 {
        self.lock().dropped
    }

    /// Records the controlled clock's new value; later entries carry it.
    pub fn set_clock(&self, unix_s: i64) {
        self.lock().clock = unix_s;
    }

    /// Appends an entry.
    pub fn record(&self, source: Source, text: impl Into<String>) {
        self.push(source, text.into(), None);
    }

    /// Appends an entry with details that differ between runs (see [`Entry::local`]).
    pub fn record_local(&self, source: Source, text: impl Into<String>, local: impl Into<String>) {
        self.push(source, text.into(), Some(local.into()));
    }

    fn push(&self, source: Source, text: String, local: Option<String>) {
        self.lock().add(source, text, local);
    }

    /// A frame (or a garbled run of bytes) from the terminal has arrived: the terminal's log
    /// lines written before it was sent take their place now, before it is recorded.
    pub fn frame_from_terminal(&self) {
        let mut g = self.lock();
        g.frames += 1;
        let frames = g.frames;
        g.release(|l| l.after_frames.is_none_or(|n| n < frames));
    }

    /// Where the terminal's log comes from (replacing any earlier source, whose remaining lines
    /// are taken in first); frames are counted afresh.
    pub fn set_terminal_log(&self, drain: Option<LogDrain>) {
        let mut g = self.lock();
        g.release(|_| true);
        g.terminal_log = drain;
        g.frames = 0;
    }

    /// Takes in everything the terminal has logged (when no frame will follow: the terminal
    /// stopped, or the run ends).
    pub fn take_terminal_log(&self) {
        self.lock().release(|_| true);
    }

    /// A copy of the entries in memory: all of them, or the last ones when streaming (see
    /// [`Transcript::dropped`]).
    pub fn entries(&self) -> Vec<Entry> {
        self.lock().entries.iter().cloned().collect()
    }

    /// Number of entries in memory.
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
        let tail: Vec<Entry> = g.entries.range(from..).cloned().collect();
        render(&tail)
    }

    /// The transcript in memory as text, one entry per line.
    pub fn render(&self) -> String {
        render(&self.entries())
    }

    /// The transcript without what differs between runs of one seed (wall-clock times and
    /// local details): two runs with the same seed must render the same, byte for byte.
    pub fn render_replayable(&self) -> String {
        render_replayable(&self.entries())
    }
}

/// `entries` rendered as [`Transcript::render_replayable`] renders a transcript's own: for
/// entries changed after the fact (the end-of-run check redacts card data before anything is
/// kept).
pub fn render_replayable(entries: &[Entry]) -> String {
    let mut s = String::new();
    for e in entries {
        let _ = writeln!(s, "clock={} {:<4} {}", e.clock, e.source.tag(), e.text);
    }
    s
}

/// `entries` rendered as [`Transcript::render`] renders a transcript's own (see
/// [`render_replayable`]).
pub fn render(entries: &[Entry]) -> String {
    let mut s = String::new();
    for e in entries {
        let _ = write!(
            s,
            "{:>10.3}ms clock={} {:<4} {}",
            e.micros as f64 / 1000.0,
            e.clock,
            e.source.tag(),
            e.text
        );
        if let Some(local) = &e.local {
            let _ = write!(s, " [{local}]");
        }
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts what it is given and marks the copy it gives back.
    struct Counting(Arc<Mutex<Vec<String>>>);

    impl Sink for Counting {
        fn take(&mut self, mut entry: Entry) -> Entry {
            if let Ok(mut seen) = self.0.lock() {
                seen.push(entry.text.clone());
            }
            entry.text = format!("kept {}", entry.text);
            entry
        }
    }

    /// A streaming transcript hands every entry to its sink in order, earlier ones first, and
    /// keeps only the last `keep` in memory however many are recorded.
    #[test]
    fn a_streaming_transcript_keeps_a_bounded_tail_and_passes_everything_on() {
        let t = Transcript::new();
        t.record(Source::Step, "before");
        let seen = Arc::new(Mutex::new(Vec::new()));
        t.stream_to(Box::new(Counting(seen.clone())), 3);
        for i in 0..100_000 {
            t.record(Source::Host, format!("{i}"));
        }
        let seen = seen.lock().map(|s| s.clone()).unwrap_or_default();
        assert_eq!(seen.len(), 100_001);
        assert_eq!(seen[0], "before");
        assert_eq!(seen[100_000], "99999");
        let kept: Vec<String> = t.entries().into_iter().map(|e| e.text).collect();
        assert_eq!(kept, ["kept 99997", "kept 99998", "kept 99999"]);
        assert_eq!(t.dropped(), 99_998);
    }

    /// Log lines land between the frames they were written between, whenever they are read.
    #[test]
    fn terminal_log_lines_keep_their_place_between_frames() {
        let t = Transcript::new();
        let pending = Arc::new(Mutex::new(vec![
            LogLine {
                after_frames: Some(0),
                text: "booting".into(),
            },
            LogLine {
                after_frames: Some(1),
                text: "after the boot frame".into(),
            },
        ]));
        let p = pending.clone();
        t.set_terminal_log(Some(Box::new(move || {
            std::mem::take(&mut *p.lock().unwrap())
        })));
        t.frame_from_terminal();
        t.record(Source::FromTerminal, "frame 1");
        t.record(Source::ToTerminal, "request");
        t.frame_from_terminal();
        t.record(Source::FromTerminal, "frame 2");
        t.take_terminal_log();
        assert_eq!(
            t.render_replayable(),
            "clock=0 term booting\nclock=0 rx   frame 1\nclock=0 tx   request\nclock=0 term after the boot frame\nclock=0 rx   frame 2\n"
        );
    }
}
