//! TCP uplink to the acquirer host: one length-prefixed request and its response per exchange,
//! on a connection kept between exchanges (a connection per exchange halved `payhil bench`).
//!
//! A kept connection that the network cut while the terminal was idle must be found dead
//! *before* the next request is written to it: written into a dead connection, the request may
//! or may not have reached the host, and the terminal must then store a reversal of what it
//! declines (PBS-03). So each exchange first looks at the kept connection without blocking: an
//! end of stream, a reset or unexpected bytes mean it is gone, and the exchange opens a new one,
//! which is refused outright while the link is down (the request was certainly not sent). This
//! is deterministic because the harness's fault proxy returns from a link or fault change only
//! after this side's kernel has acknowledged the connection's end.
use payhil_protocol::host_link::MAX_HOST_MESSAGE;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

/// A TCP link to the host, kept between exchanges.
pub struct HostLink {
    addr: String,
    conn: Option<TcpStream>,
    timeout: Duration,
    stan: u32,
}

impl HostLink {
    /// A link to `addr`; nothing is connected until the first exchange.
    pub fn new(addr: String, timeout: Duration) -> Self {
        Self {
            addr,
            conn: None,
            timeout,
            stan: 0,
        }
    }

    /// Sets the real-time bound on connecting to and hearing from the host (a test agent's
    /// reset gives it).
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// The trace number (ISO 8583 DE 11) of the next message that is no transaction's (0800,
    /// 0500): one more than the last, from 1 at power-up; the host needs it unique only among
    /// recent messages, so a restart starting over is harmless.
    pub fn next_stan(&mut self) -> u32 {
        self.stan = self.stan.wrapping_add(1);
        self.stan
    }

    fn connect(&self) -> std::io::Result<TcpStream> {
        let addr: SocketAddr = self
            .addr
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| std::io::Error::other("host address resolves to nothing"))?;
        let s = TcpStream::connect_timeout(&addr, self.timeout)?;
        // Nagle would add tens of milliseconds to every small request/response.
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(self.timeout))?;
        s.set_write_timeout(Some(self.timeout))?;
        Ok(s)
    }

    /// The kept connection if it is still open: nothing is waiting on it (the host never speaks
    /// first) and its far end has not closed or reset it.
    /// One poll(2) with no wait: readable, hung up or in error all mean gone (a peek in
    /// non-blocking mode took three system calls per exchange).
    fn kept_alive(&mut self) -> Option<TcpStream> {
        let conn = self.conn.take()?;
        crate::poll::quiet_now(conn.as_raw_fd()).then_some(conn)
    }

    /// Sends `request` (already length-prefixed) and reads one response body into `out`, on the
    /// kept connection if it is still open, else on a new one. On failure it says whether the
    /// request may have reached the host; the connection is then dropped.
    pub fn exchange(
        &mut self,
        request: &[u8],
        out: &mut [u8; MAX_HOST_MESSAGE],
    ) -> Result<usize, HostError> {
        self.send(request)?;
        self.receive(out)
    }

    /// Sends `request` (already length-prefixed), on the kept connection if it is still open,
    /// else on a new one; [`HostLink::receive`] reads the answer. A failure here means nothing
    /// left this side.
    pub fn send(&mut self, request: &[u8]) -> Result<(), HostError> {
        let unsent = |error| HostError { sent: false, error };
        let mut conn = match self.kept_alive() {
            Some(c) => c,
            None => self.connect().map_err(unsent)?,
        };
        // A write that fails was refused by this side's kernel: nothing left it. One that
        // succeeds may have reached the host whatever happens next.
        conn.write_all(request).map_err(unsent)?;
        self.conn = Some(conn);
        Ok(())
    }

    /// The descriptor the answer to the last [`HostLink::send`] arrives on, to wait on it
    /// together with the serial port.
    pub fn answer_fd(&self) -> Option<RawFd> {
        self.conn.as_ref().map(AsRawFd::as_raw_fd)
    }

    /// Reads one response body into `out`, the answer to the last [`HostLink::send`]. On failure
    /// the request may have reached the host; the connection is then dropped.
    pub fn receive(&mut self, out: &mut [u8; MAX_HOST_MESSAGE]) -> Result<usize, HostError> {
        let sent = |error| HostError { sent: true, error };
        let mut conn = self
            .conn
            .take()
            .ok_or_else(|| sent(std::io::Error::other("no request was sent")))?;
        let mut len = [0u8; 2];
        conn.read_exact(&mut len).map_err(sent)?;
        let n = usize::from(u16::from_be_bytes(len));
        if n > MAX_HOST_MESSAGE {
            return Err(sent(std::io::Error::other(format!(
                "host message of {n} bytes exceeds the limit"
            ))));
        }
        conn.read_exact(&mut out[..n]).map_err(sent)?;
        self.conn = Some(conn);
        Ok(n)
    }

    /// Forgets the connection of an exchange that was given up: an answer arriving late must
    /// not be read as the next exchange's.
    pub fn abandon(&mut self) {
        self.conn = None;
    }
}

/// A failed host exchange.
#[derive(Debug)]
pub struct HostError {
    /// The request was written: the host may have acted on it.
    pub sent: bool,
    /// What failed.
    pub error: std::io::Error,
}
