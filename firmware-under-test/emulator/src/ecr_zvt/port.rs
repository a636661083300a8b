//! The terminal's end of the ZVT link: a serial device (framed, ACK/NAK) or a TCP listener on
//! which one cash register at a time is connected (bare APDUs; a new connection replaces the
//! old, as when a cash register reconnects after losing its link).
//!
//! Waits here are bounded in real time by the ZVT timers (T2 for a link ACK, T3 for the cash
//! register's acknowledgement); a link that is gone ends a wait at once, never by timing out.

use payhil_protocol::zvt::apdu::{self, Header};
use payhil_protocol::zvt::serial::{self, ACK, Decoder, MAX_SENDS, NAK, Received};
use serialport::TTYPort;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

use crate::poll::wait_readable;

/// Longest APDU taken from the cash register.
const MAX_APDU: usize = 1024;
/// T2: how long a frame's sender waits for the link ACK.
const T2: Duration = Duration::from_secs(5);

/// The link to the cash register is gone, or did not acknowledge in time.
#[derive(Debug)]
pub enum Lost {
    /// Closed, EOF, or a read or write error.
    Gone,
    /// No acknowledgement within the bound.
    Silent,
}

enum Io {
    /// A serial device (or PTY); `None` once it went away (a PTY whose other end closed reads
    /// end-of-file forever: it is not polled again).
    Serial(Option<TTYPort>),
    /// A TCP listener and the cash register connected to it, if any.
    Tcp {
        listener: TcpListener,
        conn: Option<TcpStream>,
    },
}

/// The terminal's ZVT port.
pub struct ZvtPort {
    io: Io,
    decoder: Box<Decoder<MAX_APDU>>,
    pending: Vec<u8>,
    /// A connection taken and not yet logged (logged once the terminal is idle).
    unannounced: bool,
}

impl ZvtPort {
    /// Serves ZVT on a serial device.
    pub fn serial(port: TTYPort) -> Self {
        Self::with(Io::Serial(Some(port)))
    }

    /// Serves ZVT on a TCP listener.
    pub fn tcp(listener: TcpListener) -> Self {
        Self::with(Io::Tcp {
            listener,
            conn: None,
        })
    }

    fn with(io: Io) -> Self {
        Self {
            io,
            decoder: Box::new(Decoder::new()),
            pending: Vec::new(),
            unannounced: false,
        }
    }

    /// The descriptors to poll: the device, or the listener and the connection.
    pub fn fds(&self) -> Vec<RawFd> {
        match &self.io {
            Io::Serial(Some(p)) => vec![p.as_raw_fd()],
            Io::Serial(None) => Vec::new(),
            Io::Tcp { listener, conn } => {
                let mut v = vec![listener.as_raw_fd()];
                if let Some(c) = conn {
                    v.push(c.as_raw_fd());
                }
                v
            }
        }
    }

    fn framed(&self) -> bool {
        matches!(self.io, Io::Serial(_))
    }

    fn drop_link(&mut self) {
        match &mut self.io {
            Io::Serial(p) => *p = None,
            Io::Tcp { conn, .. } => *conn = None,
        }
        self.pending.clear();
        self.decoder.reset();
    }

    /// Takes a waiting connection, if any (TCP); returns whether one was taken. The peer's
    /// address is not logged: its port differs from run to run, the log of a seeded run must not.
    fn accept(&mut self) -> bool {
        if let Io::Tcp { listener, conn } = &mut self.io {
            if let Ok((c, _peer)) = listener.accept() {
                let _ = c.set_nodelay(true);
                *conn = Some(c);
                self.pending.clear();
                self.decoder.reset();
                self.unannounced = true;
                return true;
            }
        }
        false
    }

    /// Reads what is there (waiting at most `limit`); `Err` when the link is gone. `idle`:
    /// no command is under way, so a new connection is simply taken; in the middle of one, a
    /// new connection means the cash register lost the old link and came back: the command's
    /// link is gone (`Err`), and what the new one sends waits for the main loop, unread (it
    /// used to be read as the acknowledgement the command waited for).
    fn read_some(&mut self, limit: Duration, idle: bool) -> Result<usize, Lost> {
        let fds = self.fds();
        if fds.is_empty() {
            return Err(Lost::Gone);
        }
        if !wait_readable(&fds, limit) {
            return Ok(0);
        }
        if let Io::Tcp { listener, .. } = &self.io {
            if readable_now(listener.as_raw_fd()) && self.accept() && !idle {
                // Logged as the old link's end-of-file is, and the new connection when the
                // terminal is idle again, as after an end-of-file: which of the two the
                // terminal notices first is a race, and the log of a seeded run must not
                // depend on it.
                diag!("fut-emulator: ZVT: the cash register's link closed");
                return Err(Lost::Gone);
            }
        }
        let mut buf = [0u8; 512];
        let r = match &mut self.io {
            Io::Serial(Some(p)) => p.read(&mut buf),
            Io::Tcp { conn: Some(c), .. } if readable_now(c.as_raw_fd()) => c.read(&mut buf),
            _ => return Ok(0),
        };
        match r {
            Ok(0) => {
                diag!("fut-emulator: ZVT: the cash register's link closed");
                self.drop_link();
                Err(Lost::Gone)
            }
            Ok(n) => {
                self.pending.extend_from_slice(&buf[..n]);
                Ok(n)
            }
            Err(e) if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::Interrupted) => Ok(0),
            Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(0),
            Err(e) => {
                diag!("fut-emulator: ZVT: link error ({e})");
                self.drop_link();
                Err(Lost::Gone)
            }
        }
    }

    fn write_all(&mut self, b: &[u8]) -> Result<(), Lost> {
        let r = match &mut self.io {
            Io::Serial(Some(p)) => p.write_all(b).and_then(|()| p.flush()),
            Io::Tcp { conn: Some(c), .. } => c.write_all(b),
            _ => return Err(Lost::Gone),
        };
        r.map_err(|e| {
            diag!("fut-emulator: ZVT: write failed ({e})");
            self.drop_link();
            Lost::Gone
        })
    }

    /// The next complete APDU from what has been read, if any (ACKing a good frame and NAKing
    /// a damaged one on serial).
    fn take_apdu(&mut self) -> Result<Option<Vec<u8>>, Lost> {
        if !self.framed() {
            return Ok(match apdu::header(&self.pending) {
                Header::Total(n) if n > MAX_APDU => {
                    diag!("fut-emulator: ZVT: an APDU of {n} bytes, more than taken; link dropped");
                    self.drop_link();
                    return Err(Lost::Gone);
                }
                Header::Total(n) if self.pending.len() >= n => {
                    let rest = self.pending.split_off(n);
                    Some(std::mem::replace(&mut self.pending, rest))
                }
                _ => None,
            });
        }
        let mut used = 0;
        let mut reply = None;
        let mut got = None;
        for &b in &self.pending {
            used += 1;
            match self.decoder.feed(b) {
                Some(Received::Frame) => {
                    got = Some(self.decoder.apdu().to_vec());
                    reply = Some(ACK);
                    break;
                }
                Some(Received::Damaged(e)) => {
                    diag!("fut-emulator: ZVT: damaged frame ({e:?}), NAK");
                    reply = Some(NAK);
                    break;
                }
                // Stray bytes (and link acknowledgements nobody waits for) are dropped.
                _ => {}
            }
        }
        self.pending.drain(..used);
        if let Some(r) = reply {
            self.write_all(&[r])?;
        }
        Ok(got)
    }

    /// Reads whatever is ready now and returns the complete APDUs (commands) it held.
    pub fn poll_commands(&mut self) -> Result<Vec<Vec<u8>>, Lost> {
        let r = self.read_some(Duration::ZERO, true);
        if std::mem::take(&mut self.unannounced) {
            diag!("fut-emulator: ZVT: a cash register connected");
        }
        r?;
        let mut out = Vec::new();
        while let Some(a) = self.take_apdu()? {
            out.push(a);
            if out.len() > 16 {
                break;
            }
        }
        Ok(out)
    }

    /// Whether bytes already read wait to be handled (read together with an acknowledgement
    /// the terminal waited for): the descriptor will not show them readable again.
    pub fn has_buffered(&self) -> bool {
        if self.framed() {
            // The decoder takes every byte it is given, so a pass over them never repeats.
            !self.pending.is_empty()
        } else {
            // Only a whole APDU: a partial one waits for the descriptor (no busy loop).
            matches!(apdu::header(&self.pending), Header::Total(n) if self.pending.len() >= n)
        }
    }

    /// Whether a cash register is on the link.
    pub fn connected(&self) -> bool {
        match &self.io {
            Io::Serial(p) => p.is_some(),
            Io::Tcp { conn, .. } => conn.is_some(),
        }
    }

    /// Sends one APDU (on serial, until the link ACK comes: at most three sends).
    pub fn send(&mut self, apdu_bytes: &[u8]) -> Result<(), Lost> {
        if !self.framed() {
            return self.write_all(apdu_bytes);
        }
        let mut framed = vec![0u8; serial::max_framed(apdu_bytes.len())];
        let n = serial::encode(apdu_bytes, &mut framed)
            .map_err(|_| Lost::Gone)?
            .len();
        for _ in 0..MAX_SENDS {
            self.write_all(&framed[..n])?;
            let until = Instant::now() + T2;
            loop {
                if let Some(i) = self.pending.iter().position(|b| *b == ACK || *b == NAK) {
                    let b = self.pending[i];
                    self.pending.drain(..=i);
                    if b == ACK {
                        return Ok(());
                    }
                    break;
                }
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                self.read_some(left, false)?;
            }
        }
        Err(Lost::Silent)
    }

    /// Waits up to `limit` for the cash register's next APDU.
    pub fn recv(&mut self, limit: Duration) -> Result<Vec<u8>, Lost> {
        let until = Instant::now() + limit;
        loop {
            if let Some(a) = self.take_apdu()? {
                return Ok(a);
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Lost::Silent);
            }
            self.read_some(left, false)?;
        }
    }
}

fn readable_now(fd: RawFd) -> bool {
    wait_readable(&[fd], Duration::ZERO)
}
