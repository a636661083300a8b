//! Waiting for the host's answer on the controlled clock (PROTOCOL.md 4.8).
//!
//! The terminal's host timeout is a deadline on the harness's clock, not a real-time wait: the
//! emulator announces it (`Event::AwaitingHost`), then waits for whichever comes first, the
//! host's answer on TCP or the harness moving the clock to the deadline over serial
//! (`Request::AdvanceClockInWait`). A harness that knows its link swallows the request (a
//! blackhole) asks for the announcements (`Request::AnnounceHostWaits`) and moves the clock at
//! once, so the timeout costs no real time, and the clock the transaction is stamped with is the
//! same on every run. Unannounced waits (the host answers) are bounded in real time
//! (`--host-timeout-ms`), as is an announced one whose clock nobody moves.

use crate::host_link::{HostError, HostLink};
use fut_core::flash::Flash;
use fut_core::{Step, Terminal};
use payhil_protocol::frame::{self, Decoded, FrameDecoder, FrameKind, MAX_ENCODED};
use payhil_protocol::host_link::MAX_HOST_MESSAGE;
use payhil_protocol::{Event, Request, RequestError, Response};
use serialport::TTYPort;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

/// The serial side of the emulator: the port, its frame decoder, the event counter, and bytes
/// read but not yet handled (read during a host wait, handled after it in order).
pub struct SerialSide {
    /// The serial port.
    pub port: TTYPort,
    /// Decodes frames from the harness, across reads.
    pub decoder: FrameDecoder,
    /// Bytes read and not yet fed to the decoder.
    pub backlog: Vec<u8>,
    /// The last event's counter (PROTOCOL.md 4.4).
    pub event_seq: u16,
    /// The harness asked for host waits to be announced (`AnnounceHostWaits`; off at start).
    pub announce: bool,
    /// The last `AdvanceClockInWait` taken during a wait and its response: a repeat is
    /// answered from here, during the wait or after it (the harness cannot tell otherwise
    /// whether the clock moved).
    pub answered: Option<(u16, Vec<u8>)>,
}

impl SerialSide {
    /// Sends an event with the next counter. A write error is left to the next read, which
    /// ends the run (the port is gone). A host-wait announcement is not counted in the frame
    /// stamps of the log lines: it goes out while the host exchange is under way, so the harness
    /// leaves it out of its count too (placing log lines at it would race the host's records).
    pub fn event(&mut self, ev: &Event<'_>) {
        let mut out = [0u8; MAX_ENCODED];
        self.event_seq = self.event_seq.wrapping_add(1);
        if let Ok(w) = frame::encode(FrameKind::Event, self.event_seq, ev, &mut out) {
            if self.port.write_all(w).is_ok() && !matches!(ev, Event::AwaitingHost { .. }) {
                crate::diag::frame_written();
            }
        }
    }

    /// Sends the prompt event `ev` and the encoded response after it in one write: one trip
    /// through the PTY (and one wake-up of the harness) rather than two.
    pub fn prompt_and_frame(&mut self, ev: &Event<'_>, bytes: &[u8]) -> std::io::Result<()> {
        let mut out = [0u8; MAX_ENCODED];
        self.event_seq = self.event_seq.wrapping_add(1);
        let Ok(w) = frame::encode(FrameKind::Event, self.event_seq, ev, &mut out) else {
            return self.write_frame(bytes);
        };
        let mut both = Vec::with_capacity(w.len() + bytes.len());
        both.extend_from_slice(w);
        both.extend_from_slice(bytes);
        self.port.write_all(&both)?;
        crate::diag::frame_written();
        crate::diag::frame_written();
        Ok(())
    }

    /// Sends an encoded frame.
    pub fn write_frame(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.port.write_all(bytes)?;
        crate::diag::frame_written();
        Ok(())
    }

    fn read_some(&mut self) -> std::io::Result<usize> {
        let mut rx = [0u8; 512];
        let n = self.port.read(&mut rx)?;
        self.backlog.extend_from_slice(&rx[..n]);
        Ok(n)
    }
}

/// What the wait is for: the request that caused the host exchange, and the real-time bound.
pub struct Waiting {
    /// The id of the request the terminal is carrying out (a repeat of it is answered later,
    /// from the response cache; meanwhile the announcement is repeated).
    pub request_id: u16,
    /// The longest real time to wait if the harness never moves the clock.
    pub real_bound: Duration,
}

/// The least real time an announced wait lasts when nothing moves the clock.
const ANNOUNCED_WAIT_BOUND: Duration = Duration::from_secs(30);

/// Waits for the answer to the request [`HostLink::send`] just sent: the host's answer, or the
/// harness moving the controlled clock past the terminal's deadline. Serial requests other
/// than `AdvanceClockInWait` and repeats of the waiting request are answered
/// `Rejected(WrongState)`; bytes that follow the frame that ended the wait stay in the backlog.
pub fn wait_for_host<F: Flash>(
    serial: &mut SerialSide,
    terminal: &mut Terminal<'_, F>,
    host: &mut HostLink,
    answer: &mut [u8; MAX_HOST_MESSAGE],
    waiting: &Waiting,
) -> Result<usize, HostError> {
    let no_answer = |why: &str| HostError {
        sent: true,
        error: std::io::Error::new(ErrorKind::TimedOut, why.to_string()),
    };
    // Not announced: the harness leaves this wait to the host and to the real-time bound
    // (the host's answer is read under the connection's timeout, `--host-timeout-ms`).
    let Some(deadline_unix_s) = terminal.poll_timeout().filter(|_| serial.announce) else {
        return host.receive(answer);
    };
    let announce = Event::AwaitingHost { deadline_unix_s };
    serial.event(&announce);
    let started = Instant::now();
    // An announced wait is the harness's to end (it moves the clock); the real-time bound is a
    // safety net for a harness that never does, long enough not to race it under any load.
    let bound = waiting.real_bound.max(ANNOUNCED_WAIT_BOUND);
    loop {
        if serve_backlog(serial, terminal, waiting, &announce) {
            host.abandon();
            return Err(no_answer(
                "no answer by the deadline on the controlled clock",
            ));
        }
        let Some(left) = bound.checked_sub(started.elapsed()) else {
            host.abandon();
            return Err(no_answer(
                "no answer within the real-time bound (the clock was not moved)",
            ));
        };
        let Some(tcp) = host.answer_fd() else {
            return host.receive(answer);
        };
        match ready(tcp, serial.port.as_raw_fd(), left) {
            Ready::Host => return host.receive(answer),
            Ready::Serial => match serial.read_some() {
                // The harness is gone: the main loop sees the end of file and exits.
                Ok(0) => {
                    host.abandon();
                    return Err(no_answer("serial end of file during the host wait"));
                }
                Ok(_) => {}
                Err(e) if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::Interrupted) => {}
                Err(e) => {
                    host.abandon();
                    return Err(HostError {
                        sent: true,
                        error: e,
                    });
                }
            },
            Ready::Neither => {}
        }
    }
}

/// Handles the frames in the backlog; returns true as soon as the host's answer is overdue on
/// the controlled clock (the rest stays in the backlog).
fn serve_backlog<F: Flash>(
    serial: &mut SerialSide,
    terminal: &mut Terminal<'_, F>,
    waiting: &Waiting,
    announce: &Event<'_>,
) -> bool {
    let mut out = [0u8; MAX_ENCODED];
    while !serial.backlog.is_empty() {
        let input = std::mem::take(&mut serial.backlog);
        let (used, decoded) = serial.decoder.feed(&input);
        let reply: Option<Vec<u8>> = match decoded {
            None => None,
            Some(Decoded::Error(e)) => {
                diag!("fut-emulator: bad frame ({e:?}) during a host wait, sending NAK");
                frame::encode_bytes(FrameKind::Nak, 0, &[], &mut out)
                    .ok()
                    .map(<[u8]>::to_vec)
            }
            Some(Decoded::Frame(f)) if f.kind != FrameKind::Request => None,
            Some(Decoded::Frame(f)) if f.seq == waiting.request_id => {
                // The harness repeated the request being carried out: it is still waiting.
                serial.event(announce);
                None
            }
            Some(Decoded::Frame(f)) => match &serial.answered {
                Some((id, bytes)) if *id == f.seq => Some(bytes.clone()),
                _ => {
                    let seq = f.seq;
                    let resp = match payhil_protocol::from_payload::<Request<'_>>(f.payload) {
                        Ok(req @ Request::AdvanceClockInWait { .. }) => match terminal.handle(&req)
                        {
                            Step::Reply(r) => r,
                            // Not reached: the request only moves the clock.
                            Step::Host(_) | Step::Halt => {
                                Response::Rejected(RequestError::Malformed)
                            }
                        },
                        Ok(_) => Response::Rejected(RequestError::WrongState {
                            awaiting: terminal.awaiting(),
                        }),
                        Err(_) => Response::Rejected(RequestError::Malformed),
                    };
                    let bytes = frame::encode(FrameKind::Response, seq, &resp, &mut out)
                        .ok()
                        .map(<[u8]>::to_vec);
                    if let Some(b) = &bytes {
                        serial.answered = Some((seq, b.clone()));
                    }
                    bytes
                }
            },
        };
        serial.backlog = input[used..].to_vec();
        if let Some(bytes) = reply {
            if serial.write_frame(&bytes).is_err() {
                // The port is gone; the main loop finds out on its next read.
                return false;
            }
        }
        if terminal.host_answer_overdue() {
            return true;
        }
    }
    false
}

enum Ready {
    Host,
    Serial,
    Neither,
}

/// Waits up to `limit` (at least 1 ms) for either descriptor to be readable; the host's
/// answer first.
fn ready(host: RawFd, serial: RawFd, limit: Duration) -> Ready {
    match crate::poll::first_readable(&[host, serial], limit.max(Duration::from_millis(1))) {
        Some(0) => Ready::Host,
        Some(_) => Ready::Serial,
        None => Ready::Neither,
    }
}
