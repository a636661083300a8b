//! TCP uplink to the acquirer host: one exchange = one length-prefixed request and response.

use payhil_protocol::host_link::MAX_HOST_MESSAGE;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// A lazily (re)connected TCP link to the host.
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

    /// Sends `request` (already length-prefixed) and reads one response body into `out`.
    /// A kept-alive connection that turns out dead is retried once on a fresh connection;
    /// the host deduplicates by transaction sequence number, so a repeat is harmless. On failure
    /// it says whether the request may have reached the host.
    pub fn exchange(
        &mut self,
        request: &[u8],
        out: &mut [u8; MAX_HOST_MESSAGE],
    ) -> Result<usize, HostError> {
        let reused = self.conn.is_some();
        match self.try_exchange(request, out) {
            Ok(n) => Ok(n),
            Err(first) if reused => {
                diag!(
                    "fut-emulator: host connection lost ({}); reconnecting once",
                    first.error
                );
                self.try_exchange(request, out).map_err(|e| HostError {
                    sent: e.sent || first.sent,
                    error: e.error,
                })
            }
            Err(e) => Err(e),
        }
    }

    fn try_exchange(
        &mut self,
        request: &[u8],
        out: &mut [u8; MAX_HOST_MESSAGE],
    ) -> Result<usize, HostError> {
        let unsent = |error| HostError { sent: false, error };
        let sent = |error| HostError { sent: true, error };
        let mut conn = match self.conn.take() {
            Some(c) => c,
            None => self.connect().map_err(unsent)?,
        };
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
        self.conn = Some(conn);
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
