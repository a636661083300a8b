//! TCP uplink to the acquirer host: one exchange = one connection, one length-prefixed request
//! and its response.
//!
//! No connection is kept between exchanges. A kept-alive connection that the network cut while
//! the terminal was idle is only found dead when the next request has been written to it, and
//! then the terminal cannot know whether the host got it (it must store a reversal of what it
//! declines, PBS-03); whether the write or the reset came first was up to the scheduler, so the
//! same seed gave different runs under load. A fresh connection per exchange is refused outright
//! while the link is down: the request was certainly not sent. Each exchange also ends with an
//! orderly close that waits for the far end's, so no finished connection is still open, to be
//! cut, when the harness changes the link next.

use payhil_protocol::host_link::MAX_HOST_MESSAGE;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// A TCP link to the host, one connection per exchange.
pub struct HostLink {
    addr: String,
    timeout: Duration,
    stan: u32,
}

impl HostLink {
    /// A link to `addr`; nothing is connected until the first exchange.
    pub fn new(addr: String, timeout: Duration) -> Self {
        Self {
            addr,
            timeout,
            stan: 0,
        }
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

    /// Sends `request` (already length-prefixed) on a fresh connection and reads one response
    /// body into `out`. On failure it says whether the request may have reached the host.
    pub fn exchange(
        &mut self,
        request: &[u8],
        out: &mut [u8; MAX_HOST_MESSAGE],
    ) -> Result<usize, HostError> {
        let unsent = |error| HostError { sent: false, error };
        let sent = |error| HostError { sent: true, error };
        let mut conn = self.connect().map_err(unsent)?;
        conn.write_all(request).map_err(unsent)?;
        let mut len = [0u8; 2];
        conn.read_exact(&mut len).map_err(sent)?;
        let n = usize::from(u16::from_be_bytes(len));
        if n > MAX_HOST_MESSAGE {
            return Err(sent(std::io::Error::other(format!(
                "host message of {n} bytes exceeds the limit"
            ))));
        }
        conn.read_exact(&mut out[..n]).map_err(sent)?;
        // Close in order and wait for the far end to close too (bounded by the read timeout):
        // the connection is then over before the terminal answers the harness, so nothing of it
        // is left for a later fault change to find open.
        let _ = conn.shutdown(std::net::Shutdown::Write);
        let mut rest = [0u8; 64];
        while matches!(conn.read(&mut rest), Ok(k) if k > 0) {}
        Ok(n)
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
