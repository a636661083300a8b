//! The serial line relay: a byte stream wrapped so that faults can be injected on the cable
//! between the harness and a terminal, frame by frame, in either direction.
//!
//! It sits inline in front of whatever the terminal is on (the master end of an emulator's PTY,
//! a physical port, an RFC 2217 port: any `AsyncRead + AsyncWrite`), so it needs no PTY of its
//! own. What it does to each frame is decided by a [`LineFaults`] plan (`payhil-faults` builds
//! them from scenario steps); without a plan it passes bytes through unchanged.
//!
//! Why inline rather than a task between two pipes: everything the relay records happens in the
//! link's own task, at the point in the stream where it happens. A frame from the terminal is
//! judged (and its fault recorded) only when the link has read every byte before it, and the
//! relay hands the link one frame per read; a frame to the terminal is judged when the link
//! writes it. So the transcript's order is the stream's order, never the scheduler's, and the
//! same seed gives the same transcript under any load.
//!
//! Memory is bounded whatever comes down the line: at most one frame ([`MAX_ENCODED`] bytes plus
//! one read) is held per direction, a run without a delimiter longer than that is passed on as
//! it is, and noise is produced a block at a time as it is written.

use crate::transcript::{Source, Transcript};
use payhil_protocol::frame::MAX_ENCODED;
use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Which way bytes travel on the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Harness to terminal (requests).
    ToTerminal,
    /// Terminal to harness (responses, events, NAKs).
    FromTerminal,
}

impl Direction {
    /// Lower-case words for transcripts.
    pub fn label(self) -> &'static str {
        match self {
            Direction::ToTerminal => "to terminal",
            Direction::FromTerminal => "from terminal",
        }
    }
}

/// Produces noise bytes on demand (garbage bursts and floods), so a flood of any size costs one
/// block of memory.
pub trait NoiseSource: Send {
    /// Fills `buf` with the next noise bytes.
    fn fill(&mut self, buf: &mut [u8]);
}

/// Part of what the relay puts on the line for one frame. Each piece is written by a write of
/// its own (to the terminal) or handed to the link by a read of its own (from the terminal).
pub enum Piece {
    /// These bytes.
    Bytes(Vec<u8>),
    /// `len` bytes from `source`, made a block at a time as they are written.
    Noise {
        /// How many bytes.
        len: u64,
        /// Where they come from.
        source: Box<dyn NoiseSource>,
    },
}

impl std::fmt::Debug for Piece {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Piece::Bytes(b) => write!(f, "Bytes({})", b.len()),
            Piece::Noise { len, .. } => write!(f, "Noise({len})"),
        }
    }
}

/// What happens to one frame.
#[derive(Debug, Default)]
pub struct Verdict {
    /// What goes on the line instead of the frame, in order (empty: the frame is lost).
    pub pieces: Vec<Piece>,
    /// What was done, for the transcript (`None`: the frame passed untouched).
    pub note: Option<String>,
}

impl Verdict {
    /// The frame passes as it is.
    pub fn pass(unit: &[u8]) -> Self {
        Self {
            pieces: vec![Piece::Bytes(unit.to_vec())],
            note: None,
        }
    }
}

/// A plan of line faults: told every frame in each direction, in line order, it decides what
/// the other end gets. Implementations must decide from the frames and their own seeded state
/// only (never the time), so that a seed replays.
pub trait LineFaults: Send {
    /// `unit` is one frame as it was sent: any leading delimiters (0x00), the COBS body and its
    /// delimiter.
    fn frame(&mut self, dir: Direction, unit: &[u8]) -> Verdict;
}

/// Counters of what the relay carried.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayStats {
    /// Frames the harness sent.
    pub frames_to_terminal: u64,
    /// Frames the terminal sent.
    pub frames_from_terminal: u64,
    /// Frames a fault changed (or dropped).
    pub faulted: u64,
    /// Noise bytes put on the line.
    pub noise_bytes: u64,
    /// The most bytes the relay held at once (both directions): its memory bound at work.
    pub max_buffered: usize,
}

struct Shared {
    faults: Option<Box<dyn LineFaults>>,
    stats: RelayStats,
    /// A fault hit a frame since [`LineControl::take_disturbed`] last asked.
    disturbed: bool,
}

/// The handle that sets the relay's faults while the link owns the relay (cheap to clone).
#[derive(Clone)]
pub struct LineControl(Arc<Mutex<Shared>>);

impl Default for LineControl {
    fn default() -> Self {
        Self(Arc::new(Mutex::new(Shared {
            faults: None,
            stats: RelayStats::default(),
            disturbed: false,
        })))
    }
}

impl LineControl {
    fn lock(&self) -> MutexGuard<'_, Shared> {
        // The state stays consistent even if a holder panicked: keep relaying.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Puts `faults` in force for every frame not yet judged (`None`: a clean line). In force
    /// when this returns: the next frame either way is judged by it.
    pub fn set(&self, faults: Option<Box<dyn LineFaults>>) {
        self.lock().faults = faults;
    }

    /// Whether a fault hit a frame since the last call (and forgets it): the link then finds
    /// the end of the echoes the fault may have left in flight (see `FrameLink::request`).
    pub fn take_disturbed(&self) -> bool {
        std::mem::take(&mut self.lock().disturbed)
    }

    /// What the relay has carried so far.
    pub fn stats(&self) -> RelayStats {
        self.lock().stats
    }
}

/// Whether `pieces` put exactly `unit` on the line (split into writes, perhaps).
fn same_bytes(pieces: &[Piece], unit: &[u8]) -> bool {
    let mut rest = unit;
    for p in pieces {
        match p {
            Piece::Bytes(b) if rest.starts_with(b) => rest = &rest[b.len()..],
            _ => return false,
        }
    }
    rest.is_empty()
}

/// Bytes waiting to go on (to the terminal) or up (to the link), a piece at a time.
#[derive(Default)]
struct Outbox {
    pieces: VecDeque<Piece>,
    cur: Vec<u8>,
    pos: usize,
}

/// Noise is made in blocks of this size.
const NOISE_BLOCK: usize = 1024;

impl Outbox {
    /// The next bytes to emit, all from one piece; `None` when nothing waits.
    fn peek(&mut self) -> Option<&[u8]> {
        while self.pos >= self.cur.len() {
            let front = self.pieces.front_mut()?;
            match front {
                Piece::Bytes(b) => {
                    self.cur = std::mem::take(b);
                    self.pieces.pop_front();
                }
                Piece::Noise { len, source } => {
                    if *len == 0 {
                        self.pieces.pop_front();
                        continue;
                    }
                    let n = usize::try_from(*len).map_or(NOISE_BLOCK, |l| l.min(NOISE_BLOCK));
                    self.cur.clear();
                    self.cur.resize(n, 0);
                    source.fill(&mut self.cur);
                    *len -= n as u64;
                }
            }
            self.pos = 0;
        }
        Some(&self.cur[self.pos..])
    }

    fn consume(&mut self, n: usize) {
        self.pos = self.pos.saturating_add(n).min(self.cur.len());
    }

    /// Bytes held in memory (noise not yet made is not held).
    fn held(&self) -> usize {
        let queued: usize = self
            .pieces
            .iter()
            .map(|p| match p {
                Piece::Bytes(b) => b.len(),
                Piece::Noise { .. } => 0,
            })
            .sum();
        queued + self.cur.len() - self.pos.min(self.cur.len())
    }

    fn is_empty(&mut self) -> bool {
        self.peek().is_none()
    }
}

/// A run without a delimiter longer than this is not a frame: it is passed on as it is, so the
/// relay never holds more than one frame's worth (plus one read) per direction.
const MAX_UNIT: usize = MAX_ENCODED + 2;

/// Bytes (not counting noise yet to be made) the relay holds for the terminal before it makes
/// the link wait.
const MAX_HELD: usize = 4 * MAX_UNIT;

/// A stream with the line relay in front of it. Use it where the stream itself would be used;
/// [`Relay::control`] sets its faults.
pub struct Relay<S> {
    inner: S,
    control: LineControl,
    transcript: Transcript,
    /// Bytes from the link not yet ending a frame.
    tx_frame: Vec<u8>,
    tx_out: Outbox,
    /// Bytes from the terminal not yet ending a frame.
    rx_in: Vec<u8>,
    rx_out: Outbox,
    rx_eof: bool,
}

impl<S> Relay<S> {
    /// Puts a relay in front of `inner`; it records its faults in `transcript` and counts the
    /// terminal's frames there (see [`Transcript::frame_from_terminal`]), so the link in front
    /// of it must not.
    pub fn new(inner: S, transcript: Transcript) -> Self {
        Self {
            inner,
            control: LineControl::default(),
            transcript,
            tx_frame: Vec::new(),
            tx_out: Outbox::default(),
            rx_in: Vec::new(),
            rx_out: Outbox::default(),
            rx_eof: false,
        }
    }

    /// The handle that sets faults.
    pub fn control(&self) -> LineControl {
        self.control.clone()
    }

    /// The stream behind the relay.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Forgets partial frames in both directions (after the terminal restarted).
    pub fn reset(&mut self) {
        self.tx_frame.clear();
        self.rx_in.clear();
        self.tx_out = Outbox::default();
        self.rx_out = Outbox::default();
        self.rx_eof = false;
    }

    fn note_held(&mut self) {
        let held = self.tx_frame.len() + self.tx_out.held() + self.rx_in.len() + self.rx_out.held();
        let mut g = self.control.lock();
        g.stats.max_buffered = g.stats.max_buffered.max(held);
    }

    /// Judges one unit and queues what goes on the line.
    fn judge(&mut self, dir: Direction, unit: &[u8]) {
        let has_body = unit.iter().any(|&b| b != 0);
        if dir == Direction::FromTerminal
            && has_body
            && !crate::host_wait::unit_is_announcement(unit)
        {
            // The terminal sent this frame whatever the line does to it: its log lines written
            // before it take their place now.
            self.transcript.frame_from_terminal();
        }
        let verdict = {
            let mut g = self.control.lock();
            if has_body {
                match dir {
                    Direction::ToTerminal => g.stats.frames_to_terminal += 1,
                    Direction::FromTerminal => g.stats.frames_from_terminal += 1,
                }
            }
            let v = match (&mut g.faults, has_body) {
                (Some(f), true) => f.frame(dir, unit),
                _ => Verdict::pass(unit),
            };
            if v.note.is_some() {
                g.stats.faulted += 1;
                // Only a fault that changes the bytes (not just how they are written) can leave
                // echoes in flight: answers to copies, NAKs for noise.
                g.disturbed |= !same_bytes(&v.pieces, unit);
            }
            for p in &v.pieces {
                if let Piece::Noise { len, .. } = p {
                    g.stats.noise_bytes = g.stats.noise_bytes.saturating_add(*len);
                }
            }
            v
        };
        if let Some(note) = verdict.note {
            self.transcript
                .record(Source::Line, format!("{}: {note}", dir.label()));
        }
        let out = match dir {
            Direction::ToTerminal => &mut self.tx_out,
            Direction::FromTerminal => &mut self.rx_out,
        };
        out.pieces.extend(verdict.pieces);
        self.note_held();
    }

    /// Takes the next complete unit from the terminal's bytes, if there is one.
    fn next_rx_unit(&mut self) -> Option<Vec<u8>> {
        let body_start = self.rx_in.iter().position(|&b| b != 0);
        let end = body_start.and_then(|s| {
            self.rx_in[s..]
                .iter()
                .position(|&b| b == 0)
                .map(|e| s + e + 1)
        });
        match (body_start, end) {
            (_, Some(end)) => Some(self.rx_in.drain(..end).collect()),
            (Some(s), None) if self.rx_in.len() - s > MAX_UNIT => {
                // Not a frame: pass it on, so that nothing grows without bound.
                let run = std::mem::take(&mut self.rx_in);
                self.rx_out.pieces.push_back(Piece::Bytes(run));
                None
            }
            (None, None) if self.rx_in.len() > MAX_UNIT => {
                // A long run of delimiters carries nothing.
                let run = std::mem::take(&mut self.rx_in);
                self.rx_out.pieces.push_back(Piece::Bytes(run));
                None
            }
            _ => None,
        }
    }
}

impl<S: AsyncWrite + Unpin> Relay<S> {
    /// Writes what waits for the terminal; ready when nothing does.
    fn poll_drain_tx(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some(bytes) = self.tx_out.peek() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, bytes))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.tx_out.consume(n);
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Relay<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // What waits for the terminal goes on while the link waits for its answer.
        if let Poll::Ready(Err(e)) = this.poll_drain_tx(cx) {
            return Poll::Ready(Err(e));
        }
        loop {
            // One piece (at most one frame) per read: the next frame is judged only once the
            // link has taken this one.
            if let Some(bytes) = this.rx_out.peek() {
                let n = bytes.len().min(buf.remaining());
                buf.put_slice(&bytes[..n]);
                this.rx_out.consume(n);
                return Poll::Ready(Ok(()));
            }
            if let Some(unit) = this.next_rx_unit() {
                this.judge(Direction::FromTerminal, &unit);
                continue;
            }
            if !this.rx_out.is_empty() {
                continue;
            }
            if this.rx_eof {
                if !this.rx_in.is_empty() {
                    // The terminal's last, unfinished words go up as they are.
                    let run = std::mem::take(&mut this.rx_in);
                    this.rx_out.pieces.push_back(Piece::Bytes(run));
                    continue;
                }
                return Poll::Ready(Ok(()));
            }
            let mut chunk = [0u8; 1024];
            let mut rb = ReadBuf::new(&mut chunk);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut rb))?;
            if rb.filled().is_empty() {
                this.rx_eof = true;
            } else {
                this.rx_in.extend_from_slice(rb.filled());
                this.note_held();
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Relay<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        // Start (or go on) writing what waits. A flood is written while the link reads: a
        // terminal NAKing the noise must be read, or it stops reading and both ends wait.
        if let Poll::Ready(Err(e)) = this.poll_drain_tx(cx) {
            return Poll::Ready(Err(e));
        }
        // Backpressure on what is held in memory (noise not yet made is not held).
        if this.tx_out.held() + this.tx_frame.len() > MAX_HELD {
            return Poll::Pending;
        }
        let mut rest = buf;
        while let Some(i) = rest.iter().position(|&b| b == 0) {
            this.tx_frame.extend_from_slice(&rest[..=i]);
            rest = &rest[i + 1..];
            if this.tx_frame.iter().any(|&b| b != 0) {
                let unit = std::mem::take(&mut this.tx_frame);
                this.judge(Direction::ToTerminal, &unit);
            }
        }
        this.tx_frame.extend_from_slice(rest);
        if this.tx_frame.len() > MAX_UNIT {
            let run = std::mem::take(&mut this.tx_frame);
            this.tx_out.pieces.push_back(Piece::Bytes(run));
        }
        this.note_held();
        if let Poll::Ready(Err(e)) = this.poll_drain_tx(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(buf.len()))
    }

    /// Flushes the port without waiting for a flood still being written: the rest goes while
    /// the link reads (see `poll_read`), which it always does after sending.
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.poll_drain_tx(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.inner).poll_flush(cx),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            // Not everything is written yet, so there is nothing to flush: waiting for the port
            // to take more here, not reading, is how a terminal that NAKs a flood and the
            // harness would wait for each other (the port's flush waits for room too).
            Poll::Pending => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain_tx(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
#[path = "relay_tests.rs"]
mod tests;
