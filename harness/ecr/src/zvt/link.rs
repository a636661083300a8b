//! The ECR's end of a ZVT link: one APDU at a time over a serial line (framed, CRC-checked,
//! acknowledged at link level with ACK/NAK and repeated after a NAK) or over TCP (bare APDUs).
//!
//! Every wait has a deadline; every way a terminal can misbehave on the line ends with its own
//! [`ZvtError`]: silence, a cut-off frame, a NAK storm, damaged frames, garbage, a closed
//! connection. Memory is bounded: the decoder holds one APDU of at most [`MAX_APDU`] bytes.

use super::ZvtError;
use payhil_protocol::zvt::apdu::{self, Header};
use payhil_protocol::zvt::serial::{self, ACK, Decoder, MAX_SENDS, NAK, Received};
use payhil_transport::{Source, Transcript};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

/// The longest APDU taken from a terminal (a receipt block is the longest ZVT sends).
pub const MAX_APDU: usize = 4096;
/// Bytes outside any frame tolerated while waiting for one (line noise at power-up, an echo);
/// more is garbage.
pub const STRAY_LIMIT: usize = 256;

/// How APDUs travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// RS-232: `DLE STX ... DLE ETX CRC`, ACK/NAK.
    Serial,
    /// TCP: APDUs back to back, no framing and no link acknowledgement.
    Tcp,
}

/// A ZVT link over any byte stream.
pub struct Link<S> {
    io: S,
    framing: Framing,
    decoder: Box<Decoder<MAX_APDU>>,
    /// Bytes read but not yet looked at (what followed the last APDU).
    pending: Vec<u8>,
    transcript: Option<Transcript>,
    /// How long the sender of a frame waits for its ACK before sending it again.
    link_ack: Duration,
    /// A frame taken whose ACK may not have gone out yet: a receive cancelled while it wrote
    /// the ACK (an abort raced it) finds the frame here, not lost.
    unacked: Option<Vec<u8>>,
    /// Lines kept for the caller instead of recorded at once ([`Link::buffered`]).
    kept: Option<Vec<(Source, String)>>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Link<S> {
    /// A link over `io`; frames and acknowledgements are recorded in `transcript` if given.
    pub fn new(io: S, framing: Framing, transcript: Option<Transcript>) -> Self {
        Self {
            io,
            framing,
            decoder: Box::new(Decoder::new()),
            pending: Vec::new(),
            transcript,
            link_ack: Duration::from_secs(5),
            unacked: None,
            kept: None,
        }
    }

    /// Keeps the transcript lines for the caller ([`Link::take_lines`]) rather than recording
    /// them as they happen: a caller that drives a second link at the same time (the card
    /// instrument) records each command's lines at a fixed point, so the transcript of a seeded
    /// run does not depend on how the two links' bytes interleave.
    pub fn buffered(mut self) -> Self {
        self.kept = Some(Vec::new());
        self
    }

    /// The lines kept since the last call ([`Link::buffered`]).
    pub fn take_lines(&mut self) -> Vec<(Source, String)> {
        self.kept.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Forgets whatever the link holds of a terminal that is gone (a power cut): half a
    /// frame, bytes after the last APDU, a frame whose ACK may not have gone out. What the
    /// terminal wrote that is still in the kernel is [`ZvtStream::discard_input`]'s.
    pub fn forget_terminal(&mut self) {
        *self.decoder = Decoder::new();
        self.pending.clear();
        self.unacked = None;
    }

    /// How long to wait for a link ACK before sending a frame again (serial only; T2, 5 s by
    /// default).
    pub fn set_link_ack_timeout(&mut self, t: Duration) {
        self.link_ack = t;
    }

    /// The framing in use.
    pub fn framing(&self) -> Framing {
        self.framing
    }

    fn note(&mut self, source: Source, text: impl FnOnce() -> String) {
        if let Some(k) = &mut self.kept {
            k.push((source, text()));
        } else if let Some(t) = &self.transcript {
            t.record(source, text());
        }
    }

    /// Reads more bytes before `deadline`; `Ok(false)` when the deadline passed first.
    async fn fill(&mut self, deadline: Instant) -> Result<bool, ZvtError> {
        let mut buf = [0u8; 512];
        match tokio::time::timeout_at(deadline, self.io.read(&mut buf)).await {
            Err(_) => Ok(false),
            // EOF: the terminal (or its adapter) is gone; never read it again as data.
            Ok(Ok(0)) => Err(ZvtError::Closed),
            Ok(Ok(n)) => {
                self.pending.extend_from_slice(&buf[..n]);
                Ok(true)
            }
            Ok(Err(e)) => Err(ZvtError::Io(e)),
        }
    }

    async fn write_raw(&mut self, bytes: &[u8]) -> Result<(), ZvtError> {
        self.io.write_all(bytes).await?;
        self.io.flush().await?;
        Ok(())
    }

    /// Sends one APDU; over serial, until the terminal ACKs it (at most
    /// [`MAX_SENDS`] sends: a NAK or a missing ACK sends it again).
    pub async fn send(&mut self, apdu_bytes: &[u8]) -> Result<(), ZvtError> {
        self.note(Source::ToTerminal, || format!("zvt {}", hex(apdu_bytes)));
        if self.framing == Framing::Tcp {
            return self.write_raw(apdu_bytes).await;
        }
        let mut framed = vec![0u8; serial::max_framed(apdu_bytes.len())];
        let n = serial::encode(apdu_bytes, &mut framed)
            .map_err(|_| ZvtError::TooLong)?
            .len();
        framed.truncate(n);
        let mut naks = 0u32;
        for send in 1..=MAX_SENDS {
            self.write_raw(&framed).await?;
            let deadline = Instant::now() + self.link_ack;
            match self.await_link_ack(deadline).await? {
                Some(true) => return Ok(()),
                Some(false) => {
                    naks += 1;
                    self.note(Source::FromTerminal, || format!("zvt NAK (send {send})"));
                }
                None => {
                    let waited = self.link_ack;
                    self.note(Source::FromTerminal, || {
                        format!("zvt no ACK within {waited:?} (send {send})")
                    });
                }
            }
        }
        Err(if naks == MAX_SENDS {
            ZvtError::NakStorm { sends: MAX_SENDS }
        } else {
            ZvtError::NoLinkAck {
                sends: MAX_SENDS,
                naks,
            }
        })
    }

    /// `Some(true)` for ACK, `Some(false)` for NAK, `None` when the deadline passed.
    async fn await_link_ack(&mut self, deadline: Instant) -> Result<Option<bool>, ZvtError> {
        let mut strays = 0usize;
        loop {
            while !self.pending.is_empty() {
                let b = self.pending.remove(0);
                match b {
                    ACK => return Ok(Some(true)),
                    NAK => return Ok(Some(false)),
                    _ => {
                        strays += 1;
                        if strays > STRAY_LIMIT {
                            return Err(ZvtError::Garbage {
                                count: strays,
                                sample: vec![b],
                            });
                        }
                    }
                }
            }
            if !self.fill(deadline).await? {
                return Ok(None);
            }
        }
    }

    /// Receives one APDU before `deadline`; over serial, ACKs it (and NAKs damaged frames,
    /// which the terminal then repeats).
    pub async fn recv(
        &mut self,
        deadline: Instant,
        waiting_for: &'static str,
    ) -> Result<Vec<u8>, ZvtError> {
        let got = match self.framing {
            Framing::Serial => self.recv_serial(deadline, waiting_for).await?,
            Framing::Tcp => self.recv_tcp(deadline, waiting_for).await?,
        };
        self.note(Source::FromTerminal, || format!("zvt {}", hex(&got)));
        Ok(got)
    }

    async fn recv_tcp(
        &mut self,
        deadline: Instant,
        waiting_for: &'static str,
    ) -> Result<Vec<u8>, ZvtError> {
        let start = Instant::now();
        loop {
            if let Header::Total(n) = apdu::header(&self.pending) {
                if n > MAX_APDU {
                    return Err(ZvtError::TooLong);
                }
                if self.pending.len() >= n {
                    let rest = self.pending.split_off(n);
                    return Ok(std::mem::replace(&mut self.pending, rest));
                }
            }
            if !self.fill(deadline).await? {
                return Err(ZvtError::Timeout {
                    waiting_for,
                    after: Instant::now().saturating_duration_since(start),
                    partial: !self.pending.is_empty(),
                });
            }
        }
    }

    async fn recv_serial(
        &mut self,
        deadline: Instant,
        waiting_for: &'static str,
    ) -> Result<Vec<u8>, ZvtError> {
        if let Some(apdu) = self.unacked.take() {
            self.unacked = Some(apdu);
            self.write_raw(&[ACK]).await?;
            return self.unacked.take().ok_or(ZvtError::Closed);
        }
        let start = Instant::now();
        let mut strays: Vec<u8> = Vec::new();
        let mut stray_count = 0usize;
        let mut damaged = 0u32;
        loop {
            let mut used = 0;
            let mut outcome = None;
            for &b in &self.pending {
                used += 1;
                match self.decoder.feed(b) {
                    None => {}
                    Some(Received::Frame) => {
                        outcome = Some(Ok(self.decoder.apdu().to_vec()));
                        break;
                    }
                    // A link acknowledgement where none is due, or a byte outside a frame.
                    Some(Received::Ack) | Some(Received::Nak) | Some(Received::Stray(_)) => {
                        stray_count += 1;
                        if strays.len() < 16 {
                            strays.push(b);
                        }
                        if stray_count > STRAY_LIMIT {
                            outcome = Some(Err(ZvtError::Garbage {
                                count: stray_count,
                                sample: strays.clone(),
                            }));
                            break;
                        }
                    }
                    Some(Received::Damaged(e)) => {
                        damaged += 1;
                        outcome = Some(Err(ZvtError::Garbled {
                            frames: damaged,
                            last: e,
                        }));
                        break;
                    }
                }
            }
            self.pending.drain(..used);
            match outcome {
                Some(Ok(apdu)) => {
                    self.unacked = Some(apdu);
                    self.write_raw(&[ACK]).await?;
                    return self.unacked.take().ok_or(ZvtError::Closed);
                }
                Some(Err(ZvtError::Garbled { frames, last })) => {
                    self.note(Source::FromTerminal, || {
                        format!("zvt damaged frame ({last:?}), NAK")
                    });
                    // The last one is NAKed too, so the terminal hears that it failed.
                    self.write_raw(&[NAK]).await?;
                    if frames >= MAX_SENDS {
                        return Err(ZvtError::Garbled { frames, last });
                    }
                }
                Some(Err(e)) => return Err(e),
                None => {
                    if !self.fill(deadline).await? {
                        return Err(ZvtError::Timeout {
                            waiting_for,
                            after: Instant::now().saturating_duration_since(start),
                            partial: self.decoder.in_frame(),
                        });
                    }
                }
            }
        }
    }

    /// The stream under the link.
    pub(crate) fn io_mut(&mut self) -> &mut S {
        &mut self.io
    }

    /// Gives the byte stream back (to close it, or to cut the link in a test).
    pub fn into_inner(self) -> S {
        self.io
    }
}

/// Bytes as spaced hex, as the transcript shows APDUs.
pub fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 3);
    for (i, x) in b.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(&format!("{x:02X}"));
    }
    s
}
