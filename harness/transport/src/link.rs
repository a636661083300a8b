//! Request/response over frames, with every wait bounded.
//!
//! Each request gets a fresh id. If no response with that id arrives within the response
//! timeout, the same request (same id) is sent again, at most `max_retries` times. A NAK or a
//! corrupted frame also has it repeated at once, at most `max_nak_repeats` times per request;
//! beyond that they are counted but not acted on, so that a burst of line noise (one NAK per
//! garbled run) cannot make the link spray repeats, and the response timeout still bounds the
//! wait. The terminal answers a repeated id from its cache, so a retried purchase is never
//! carried out twice. Then the link gives up with an error that names the request, the wait and
//! what arrived last. EOF or an I/O error on the port means the device is gone: reported at
//! once, never a spin on `Ok(0)`.
//!
//! A request that was repeated, or whose frames a line fault hit, may leave echoes in flight when
//! its answer arrives: answers to its other copies, NAKs for noise. Before returning, the link
//! then sends a `Ping` and reads up to its `Pong` (the terminal answers in order, so every echo
//! comes before it), again while the ping itself was disturbed, at most 8 times. Otherwise an
//! echo would be read during the next request, in a race with the host's records of it, and a
//! seed would not replay the same transcript. A ping replaces the terminal's cached answer, which
//! is safe: every copy of the request was sent before it.
//!
//! A long streak of bad frames or NAKs (a noise flood) is recorded in the transcript by its
//! first few and a count, so the transcript stays bounded too.

#[path = "link_arrivals.rs"]
mod arrivals;
#[path = "link_error.rs"]
mod error;
#[path = "link_host_wait.rs"]
mod host_wait_io;

use crate::host_wait::HostWaits;
use crate::transcript::{Source, Transcript};
pub use error::LinkError;
use payhil_protocol::frame::{self, Decoded, FrameDecoder, FrameKind, MAX_ENCODED};
use payhil_protocol::{Event, Request, Response};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

/// Timeouts and retry policy.
#[derive(Debug, Clone, Copy)]
pub struct LinkSettings {
    /// How long to wait for a response before repeating the request.
    pub response_timeout: Duration,
    /// How many times a request is repeated after a response timeout before giving up.
    pub max_retries: u32,
    /// How many times a request is repeated at once after a NAK or a corrupted frame.
    pub max_nak_repeats: u32,
}

impl Default for LinkSettings {
    fn default() -> Self {
        // The terminal may itself wait up to its host timeout (2 s) before it answers.
        Self {
            response_timeout: Duration::from_secs(4),
            max_retries: 2,
            max_nak_repeats: 8,
        }
    }
}

/// A response's payload, checked to decode; borrow the message with [`ResponseBytes::get`].
#[derive(Debug, Clone)]
pub struct ResponseBytes(Vec<u8>);

impl ResponseBytes {
    /// The response.
    pub fn get(&self) -> Response<'_> {
        // Checked in `request` before this value was made.
        payhil_protocol::from_payload(&self.0)
            .unwrap_or(Response::Rejected(payhil_protocol::RequestError::Malformed))
    }
}

/// Counters of what the link saw.
#[derive(Debug, Clone, Copy, Default)]
pub struct LinkStats {
    /// Frames sent.
    pub sent: u64,
    /// Valid frames received.
    pub received: u64,
    /// Delimited runs that were not valid frames.
    pub bad_frames: u64,
    /// NAKs received.
    pub naks: u64,
    /// Requests repeated.
    pub retries: u64,
    /// Responses for ids no longer awaited (answers to an earlier try).
    pub stale_responses: u64,
    /// Gaps in the event numbering.
    pub event_gaps: u64,
    /// NAKs and corrupted frames not acted on (the request's repeat budget was spent).
    pub ignored_naks: u64,
}

/// Of a streak of bad frames and NAKs, this many are recorded one by one; the rest by a count.
const STREAK_SHOWN: u32 = 8;

pub(super) enum Incoming {
    Response(u16, Vec<u8>),
    Event(u16, Vec<u8>),
    Nak,
    Bad,
}

/// A framed link to one terminal.
pub struct FrameLink<S> {
    io: S,
    device: String,
    decoder: FrameDecoder,
    rx: Vec<u8>,
    rx_pos: usize,
    next_id: u16,
    last_event_seq: Option<u16>,
    /// A response has arrived: from now on a Boot event means the terminal restarted.
    in_session: bool,
    last_rx: Option<(Instant, String)>,
    /// What arrived since the current request was sent.
    arrivals: arrivals::Arrivals,
    settings: LinkSettings,
    transcript: Transcript,
    /// The link counts the terminal's frames for the transcript (false: a relay in front of
    /// the port does, since it sees the frames the terminal really sent).
    counts_frames: bool,
    /// Bad frames and NAKs in a row, and how many of them were not recorded one by one.
    streak: u32,
    unshown: u64,
    /// The relay's record of faults, if a relay is in front of the port.
    line: Option<crate::relay::LineControl>,
    /// The link repeated a request since the line was last settled.
    repeated: bool,
    /// What the link has seen so far.
    pub stats: LinkStats,
    /// The terminal's host waits, and the harness's view of its clock (PROTOCOL.md 4.8).
    pub host_waits: HostWaits,
}

/// Most pings sent to find the end of a disturbed exchange's echoes.
const MAX_SETTLE_PINGS: u32 = 8;

impl<S: AsyncRead + AsyncWrite + Unpin> FrameLink<S> {
    /// Wraps an open byte stream. `device` labels errors and transcript lines.
    pub fn new(
        io: S,
        device: impl Into<String>,
        settings: LinkSettings,
        transcript: Transcript,
    ) -> Self {
        Self {
            io,
            device: device.into(),
            decoder: FrameDecoder::new(),
            rx: Vec::new(),
            rx_pos: 0,
            next_id: 1,
            last_event_seq: None,
            in_session: false,
            last_rx: None,
            arrivals: arrivals::Arrivals::default(),
            settings,
            transcript,
            counts_frames: true,
            streak: 0,
            unshown: 0,
            line: None,
            repeated: false,
            stats: LinkStats::default(),
            host_waits: HostWaits::default(),
        }
    }

    /// Leaves counting the terminal's frames to a [`crate::Relay`] in front of the port, and
    /// learns from it when a fault hit a frame.
    pub fn with_relay(mut self, line: crate::relay::LineControl) -> Self {
        self.counts_frames = false;
        self.line = Some(line);
        self
    }

    /// Whether the last exchange may have left echoes in flight (and forgets it).
    fn take_disturbed(&mut self) -> bool {
        let line = self.line.as_ref().is_some_and(|l| l.take_disturbed());
        std::mem::take(&mut self.repeated) | line
    }

    /// Reads up to the answer of a ping, while exchanges were disturbed (see the module doc).
    async fn settle(&mut self) -> Result<(), LinkError> {
        for _ in 0..MAX_SETTLE_PINGS {
            if !self.take_disturbed() {
                return Ok(());
            }
            let nonce = u32::from(self.next_id);
            self.transcript.record(
                Source::Step,
                "line disturbed: ping to read the echoes still in flight",
            );
            let r = self.exchange(&Request::Ping { nonce }).await?;
            if !matches!(r.get(), Response::Pong { .. }) {
                return Err(LinkError::BadResponse {
                    device: self.device.clone(),
                    request: format!("Ping {{ nonce: {nonce} }}"),
                    cause: format!("answered {:?}", r.get()),
                });
            }
        }
        self.transcript.record(
            Source::Step,
            format!("line still disturbed after {MAX_SETTLE_PINGS} pings: going on"),
        );
        Ok(())
    }

    /// The byte stream (e.g. the relay, to reset it after a restart).
    pub fn io_mut(&mut self) -> &mut S {
        &mut self.io
    }

    /// The timeouts and retry policy in use.
    pub fn settings(&self) -> LinkSettings {
        self.settings
    }

    /// Changes the timeouts and retry policy for the next requests.
    pub fn set_settings(&mut self, settings: LinkSettings) {
        self.settings = settings;
    }

    /// Records how many of a streak of bad frames and NAKs went unrecorded, when it ends.
    fn end_streak(&mut self) {
        if self.unshown > 0 {
            self.transcript.record(
                Source::FromTerminal,
                format!("{} more bad frames and NAKs not shown", self.unshown),
            );
        }
        self.streak = 0;
        self.unshown = 0;
    }

    /// Records a bad frame or NAK, unless the streak it belongs to is long already.
    fn record_bad(&mut self, text: &str) {
        self.streak = self.streak.saturating_add(1);
        if self.streak <= STREAK_SHOWN {
            self.transcript.record(Source::FromTerminal, text);
        } else {
            self.unshown = self.unshown.saturating_add(1);
        }
    }

    /// Forgets buffered bytes and event numbering (after the terminal restarted).
    pub fn reset(&mut self) {
        self.in_session = false;
        self.decoder.reset();
        self.rx.clear();
        self.rx_pos = 0;
        self.last_event_seq = None;
    }

    /// The transcript this link records into.
    pub fn transcript(&self) -> &Transcript {
        &self.transcript
    }

    pub(super) fn last(&self) -> String {
        let last = match &self.last_rx {
            Some((at, what)) => format!("{what} ({:?} ago)", at.elapsed()),
            None => "nothing".into(),
        };
        match self.arrivals.describe() {
            Some(arrived) => format!("{last}; {arrived}"),
            None => last,
        }
    }

    /// Waits up to `limit` for the terminal's Boot event (sent when it starts). Returns its
    /// boot counter.
    pub async fn wait_boot(&mut self, limit: Duration) -> Result<u32, LinkError> {
        let deadline = Instant::now() + limit;
        let what = "the Boot event".to_string();
        self.arrivals.reset();
        loop {
            let incoming = match tokio::time::timeout_at(deadline, self.next_incoming(&what)).await
            {
                Err(_) => {
                    return Err(LinkError::Timeout {
                        device: self.device.clone(),
                        request: what,
                        attempts: 0,
                        waited: limit,
                        last: self.last(),
                    });
                }
                Ok(r) => r?,
            };
            if let Incoming::Event(_, payload) = incoming {
                if let Ok(Event::Boot { boot_count }) = payhil_protocol::from_payload(&payload) {
                    // The Boot event is the start of the terminal's numbering.
                    self.last_event_seq = Some(0);
                    return Ok(boot_count);
                }
            }
        }
    }

    /// Sends a request and waits for its response, repeating it as the policy allows.
    pub async fn request(&mut self, req: &Request<'_>) -> Result<ResponseBytes, LinkError> {
        let r = self.exchange(req).await?;
        self.settle().await?;
        Ok(r)
    }

    async fn exchange(&mut self, req: &Request<'_>) -> Result<ResponseBytes, LinkError> {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        let what = format!("{req:?} (#{id})");
        // The protocol promises a terminal its strings' lengths (PROTOCOL.md 4.5): a request
        // that breaks the promise is the harness's error, never sent.
        if let Some(field) = req.over_limit() {
            return Err(LinkError::Write {
                device: self.device.clone(),
                request: what,
                cause: format!("{field} is longer than the protocol allows"),
            });
        }
        let mut buf = [0u8; MAX_ENCODED + 1];
        // Leading delimiter: ends any partial frame the terminal holds from line noise.
        buf[0] = 0;
        let n = frame::encode(FrameKind::Request, id, req, &mut buf[1..])
            .map_err(|e| LinkError::Write {
                device: self.device.clone(),
                request: what.clone(),
                cause: format!("{e:?}"),
            })?
            .len();
        let wire = buf[..=n].to_vec();
        let started = Instant::now();
        self.arrivals.reset();
        let mut attempts = 0u32;
        let mut timeouts = 0u32;
        let mut nak_repeats = 0u32;
        loop {
            attempts += 1;
            self.transcript.record(
                Source::ToTerminal,
                format!("{what}{}", if attempts > 1 { " [retry]" } else { "" }),
            );
            self.send(&wire, &what).await?;
            let deadline = Instant::now() + self.settings.response_timeout;
            let retry = loop {
                let incoming =
                    match tokio::time::timeout_at(deadline, self.next_incoming(&what)).await {
                        Err(_) => break "timeout",
                        Ok(Err(e)) => {
                            self.end_streak();
                            return Err(e);
                        }
                        Ok(Ok(r)) => r,
                    };
                match incoming {
                    Incoming::Response(seq, payload) if seq == id => {
                        match payhil_protocol::from_payload::<Response>(&payload) {
                            Ok(resp) => {
                                // Our AdvanceClockInWait is answered before this returns, so
                                // the harness knows whether the terminal's clock moved.
                                self.settle_host_wait(&what).await?;
                                self.transcript
                                    .record(Source::FromTerminal, format!("{resp:?} (#{id})"));
                                self.in_session = true;
                                return Ok(ResponseBytes(payload));
                            }
                            Err(e) => {
                                return Err(LinkError::BadResponse {
                                    device: self.device.clone(),
                                    request: what,
                                    cause: e.to_string(),
                                });
                            }
                        }
                    }
                    Incoming::Response(seq, payload) => {
                        let ours = payhil_protocol::from_payload::<Response>(&payload)
                            .ok()
                            .and_then(|r| self.host_waits.on_response(seq, &r));
                        match ours {
                            Some(Ok(text)) => {
                                self.transcript.record(Source::FromTerminal, text);
                                continue;
                            }
                            Some(Err(cause)) => {
                                return Err(LinkError::BadResponse {
                                    device: self.device.clone(),
                                    request: what,
                                    cause,
                                });
                            }
                            None => {}
                        }
                        self.stats.stale_responses += 1;
                        self.transcript.record(
                            Source::FromTerminal,
                            format!("stale response #{seq} ignored"),
                        );
                    }
                    Incoming::Event(_, payload) => {
                        let event = payhil_protocol::from_payload(&payload);
                        if let Ok(Event::AwaitingHost { deadline_unix_s }) = event {
                            self.host_wait(deadline_unix_s, &what).await?;
                        }
                        if let Ok(Event::Boot { boot_count }) = event {
                            // Before the first answer a Boot is how a device that was just
                            // powered up announces itself; later it means a restart.
                            if self.in_session {
                                return Err(LinkError::Restarted {
                                    device: self.device.clone(),
                                    request: what,
                                    boot_count,
                                });
                            }
                            self.transcript.record(
                                Source::FromTerminal,
                                format!("boot {boot_count} before the session"),
                            );
                        }
                        // Other events (prompts) are in the transcript already; nothing waits
                        // on them.
                    }
                    Incoming::Nak | Incoming::Bad
                        if nak_repeats < self.settings.max_nak_repeats =>
                    {
                        nak_repeats += 1;
                        break if matches!(incoming, Incoming::Nak) {
                            "NAK"
                        } else {
                            "corrupted frame"
                        };
                    }
                    // The budget is spent: most likely the rest of a noise burst, each garbled
                    // run NAKed on its own. Counted; the response timeout still bounds the wait.
                    Incoming::Nak | Incoming::Bad => self.stats.ignored_naks += 1,
                }
            };
            if retry == "timeout" {
                timeouts += 1;
                if timeouts > self.settings.max_retries {
                    self.end_streak();
                    return Err(LinkError::Timeout {
                        device: self.device.clone(),
                        request: what,
                        attempts,
                        waited: started.elapsed(),
                        last: self.last(),
                    });
                }
            }
            self.stats.retries += 1;
            self.repeated = true;
            self.end_streak();
            self.transcript
                .record(Source::Step, format!("repeating {what} after {retry}"));
            if retry != "timeout" {
                // Let the rest of a garbled burst arrive before repeating, so the repeat is not
                // garbled by it too. Bounded and short; not a timeout being waited out.
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }

    pub(super) async fn send(&mut self, wire: &[u8], what: &str) -> Result<(), LinkError> {
        let write = async {
            self.io.write_all(wire).await?;
            self.io.flush().await
        };
        match tokio::time::timeout(self.settings.response_timeout, write).await {
            Ok(Ok(())) => {
                self.stats.sent += 1;
                Ok(())
            }
            Ok(Err(e)) => Err(LinkError::Write {
                device: self.device.clone(),
                request: what.into(),
                cause: e.to_string(),
            }),
            Err(_) => Err(LinkError::Write {
                device: self.device.clone(),
                request: what.into(),
                cause: "write did not complete in time (flow control?)".into(),
            }),
        }
    }

    /// Reads until one frame (or bad run) is complete. Cancellation-safe: bytes already read
    /// stay in `self.rx`.
    pub(super) async fn next_incoming(&mut self, what: &str) -> Result<Incoming, LinkError> {
        loop {
            while self.rx_pos < self.rx.len() {
                let (used, decoded) = self.decoder.feed(&self.rx[self.rx_pos..]);
                self.rx_pos += used;
                // A host-wait announcement is neither counted among the terminal's frames nor
                // recorded here: see `host_wait::is_announcement` and the record below.
                let announcement = matches!(&decoded, Some(Decoded::Frame(f))
                    if crate::host_wait::is_announcement(f.kind, f.payload));
                if decoded.is_some() && !announcement && self.counts_frames {
                    self.transcript.frame_from_terminal();
                }
                let incoming = match decoded {
                    None => continue,
                    Some(Decoded::Error(e)) => {
                        self.stats.bad_frames += 1;
                        let text = format!("bad frame: {e:?}");
                        self.record_bad(&text);
                        self.last_rx = Some((Instant::now(), text));
                        Incoming::Bad
                    }
                    Some(Decoded::Frame(f)) => {
                        self.stats.received += 1;
                        self.arrivals.frame();
                        let (incoming, text) = match f.kind {
                            FrameKind::Response => (
                                Incoming::Response(f.seq, f.payload.to_vec()),
                                format!("response #{}", f.seq),
                            ),
                            FrameKind::Event => {
                                let text = match payhil_protocol::from_payload::<Event>(f.payload) {
                                    Ok(ev) => format!("event {}: {ev:?}", f.seq),
                                    Err(e) => format!("event {}: undecodable ({e})", f.seq),
                                };
                                (Incoming::Event(f.seq, f.payload.to_vec()), text)
                            }
                            FrameKind::Nak => {
                                self.stats.naks += 1;
                                (Incoming::Nak, "NAK".to_string())
                            }
                            // The harness's own frames coming back: a loopback plug, or a port
                            // (or exporter) that echoes.
                            FrameKind::Request => (
                                Incoming::Bad,
                                format!(
                                    "a request frame #{} from the terminal's side: an echo of what the harness sent?",
                                    f.seq
                                ),
                            ),
                        };
                        // A valid frame other than a NAK ends a streak of noise.
                        if !matches!(incoming, Incoming::Nak) {
                            self.end_streak();
                        }
                        if let Incoming::Event(seq, _) = &incoming {
                            if let Some(prev) = self.last_event_seq {
                                if *seq != prev.wrapping_add(1) && *seq != 0 {
                                    self.stats.event_gaps += 1;
                                    self.transcript.record(
                                        Source::FromTerminal,
                                        format!("event gap: {prev} then {seq}"),
                                    );
                                }
                            }
                            self.last_event_seq = Some(*seq);
                            // A host wait is recorded only when the link acts on it: its event
                            // races the host's records of the same exchange, so an unconditional
                            // line would make the transcript differ from run to run.
                            if !announcement {
                                self.transcript.record(Source::FromTerminal, text.clone());
                            }
                        } else if matches!(incoming, Incoming::Nak) {
                            self.record_bad(&text);
                        } else if !matches!(incoming, Incoming::Response(..)) {
                            self.transcript.record(Source::FromTerminal, text.clone());
                        }
                        self.last_rx = Some((Instant::now(), text));
                        incoming
                    }
                };
                return Ok(incoming);
            }
            self.rx.clear();
            self.rx_pos = 0;
            let mut chunk = [0u8; 1024];
            match self.io.read(&mut chunk).await {
                Ok(0) => return Err(self.gone(what, "end of file".into())),
                Ok(n) => {
                    self.arrivals.bytes(&chunk[..n]);
                    self.rx.extend_from_slice(&chunk[..n]);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                // On a PTY whose other end closed, Linux reports EIO: the device is gone too.
                Err(e) => return Err(self.gone(what, e.to_string())),
            }
        }
    }

    fn gone(&self, what: &str, cause: String) -> LinkError {
        self.transcript
            .record(Source::FromTerminal, format!("device gone: {cause}"));
        LinkError::DeviceGone {
            device: self.device.clone(),
            request: what.into(),
            cause,
            last: self.last(),
        }
    }
}

#[cfg(test)]
#[path = "link_tests.rs"]
mod tests;
