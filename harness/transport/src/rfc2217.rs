//! A serial port exported over the network with RFC 2217 (Telnet's COM-PORT-OPTION), as ser2net
//! and labgrid's exporters serve a rack's ports: the harness's side of it. The port is opened as
//! `rfc2217://host:port`; the line is set to the baud rate asked for, 8 data bits, no parity, one
//! stop bit and no flow control, and the bytes flow both ways with Telnet's escaping (0xFF
//! doubled). The Telnet layer (commands, option negotiation, subnegotiation) is parsed and
//! written with the `rfc2217-rs` crate; what this module holds is the stream around it.
//!
//! Options the server offers or asks for are accepted if they are binary transmission,
//! suppress-go-ahead or the COM port option, and refused otherwise (so a server never waits on
//! an answer). The server's replies to the line settings are not waited for: a server that
//! cannot set them still carries the bytes, and the frames' CRC catches a wrong line.

use rfc2217_rs::negotiation::{Intent, Option as TelnetOption};
use rfc2217_rs::parser::Event;
use rfc2217_rs::{Negotiation, Parser, Subnegotiation};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// The scheme a port path starts with to be reached over RFC 2217.
pub const SCHEME: &str = "rfc2217://";

/// Bound on connecting to the port's server.
const CONNECT_BOUND: Duration = Duration::from_secs(5);

/// Most bytes waiting to be written to the server before a write waits (a terminal that does
/// not read cannot make the harness buffer without end).
const OUT_CAP: usize = 64 * 1024;

const IAC: u8 = 0xFF;

/// Stop bits of the line (RFC 2217 SET-STOPSIZE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopBits {
    /// One: 8N1, the test agent's line.
    One,
    /// Two: 8N2, ZVT's line (PA00P016 2).
    Two,
}

/// The RFC 2217 line settings: SET-DATASIZE 8, SET-PARITY NONE (1), SET-STOPSIZE as given,
/// SET-CONTROL no flow control (1).
fn line(stop: StopBits) -> [Subnegotiation; 4] {
    [
        Subnegotiation::SetDataSize(8),
        Subnegotiation::SetParity(1),
        Subnegotiation::SetStopSize(match stop {
            StopBits::One => 1,
            StopBits::Two => 2,
        }),
        Subnegotiation::SetControl(1),
    ]
}

/// A serial port reached through an RFC 2217 server.
pub struct Rfc2217Port {
    tcp: TcpStream,
    parser: Parser,
    /// Data bytes parsed from the server and not yet read.
    data: Vec<u8>,
    data_pos: usize,
    /// Bytes for the server (escaped data, negotiation answers) not yet written.
    out: Vec<u8>,
}

/// `host:port` of an `rfc2217://host:port` port path, if it is one.
pub fn address_of(port: &str) -> Option<&str> {
    port.strip_prefix(SCHEME)
        .map(|a| a.trim_end_matches('/'))
        .filter(|a| !a.is_empty())
}

impl Rfc2217Port {
    /// Connects to `addr` (`host:port`) and asks for the line settings at `baud`, 8N1.
    pub async fn connect(addr: &str, baud: u32) -> io::Result<Self> {
        Self::connect_with(addr, baud, StopBits::One).await
    }

    /// Connects to `addr` (`host:port`) and asks for `baud`, 8 data bits, no parity, `stop`
    /// stop bits, no flow control.
    pub async fn connect_with(addr: &str, baud: u32, stop: StopBits) -> io::Result<Self> {
        let tcp = tokio::time::timeout(CONNECT_BOUND, TcpStream::connect(addr))
            .await
            .map_err(|_| {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no answer from the RFC 2217 server {addr} within {CONNECT_BOUND:?}"),
                )
            })??;
        // Frames are small and answered one by one: Nagle would hold each back.
        tcp.set_nodelay(true)?;
        let mut port = Self {
            tcp,
            parser: Parser::new(),
            data: Vec::new(),
            data_pos: 0,
            out: Vec::new(),
        };
        for (intent, option) in [
            (Intent::Will, TelnetOption::ComPort),
            (Intent::Will, TelnetOption::Binary),
            (Intent::Do, TelnetOption::Binary),
            (Intent::Will, TelnetOption::SuppressGoAhead),
            (Intent::Do, TelnetOption::SuppressGoAhead),
        ] {
            port.negotiate(Negotiation { intent, option });
        }
        port.subnegotiate(Subnegotiation::SetBaudRate(baud));
        for s in line(stop) {
            port.subnegotiate(s);
        }
        std::future::poll_fn(|cx| port.poll_send(cx)).await?;
        Ok(port)
    }

    fn negotiate(&mut self, n: Negotiation) {
        let mut b = [0u8; rfc2217_rs::negotiation::SIZE];
        n.serialize(&mut b);
        self.out.extend_from_slice(&b);
    }

    fn subnegotiate(&mut self, s: Subnegotiation) {
        let mut b = [0u8; rfc2217_rs::subnegotiation::MAX_SIZE];
        let n = s.serialize_client(&mut b);
        self.out.extend_from_slice(&b[..n]);
    }

    /// The answer to the server's offer or request: yes to the options a serial line needs,
    /// no to the rest. Answers to our own requests need none.
    fn answer(&mut self, n: Negotiation) {
        let wanted = matches!(
            n.option,
            TelnetOption::Binary | TelnetOption::SuppressGoAhead | TelnetOption::ComPort
        );
        let reply = match (n.intent, wanted) {
            (Intent::Do, false) => Some(Intent::Wont),
            (Intent::Will, false) => Some(Intent::Dont),
            _ => None,
        };
        if let Some(intent) = reply {
            self.negotiate(Negotiation {
                intent,
                option: n.option,
            });
        }
    }

    /// Writes what is waiting for the server.
    fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.out.is_empty() {
            let n = ready!(Pin::new(&mut self.tcp).poll_write(cx, &self.out))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.out.drain(..n);
        }
        Poll::Ready(Ok(()))
    }

    /// Parses bytes from the server: data is kept for the reader, the rest answered.
    fn take_in(&mut self, bytes: &[u8]) -> io::Result<()> {
        for &b in bytes {
            let event = self.parser.process_byte(b).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("RFC 2217 server sent a malformed Telnet sequence ({e:?})"),
                )
            })?;
            match event {
                Some(Event::Data(d)) => self.data.push(d),
                Some(Event::Negotiation(n)) => self.answer(n),
                // The server's confirmations of the line settings, its line and modem state:
                // nothing the link needs.
                Some(Event::Subnegotiation(_) | Event::Command(_)) | None => {}
            }
        }
        Ok(())
    }
}

impl AsyncRead for Rfc2217Port {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.data_pos < this.data.len() {
                let n = buf.remaining().min(this.data.len() - this.data_pos);
                buf.put_slice(&this.data[this.data_pos..this.data_pos + n]);
                this.data_pos += n;
                if this.data_pos == this.data.len() {
                    this.data.clear();
                    this.data_pos = 0;
                }
                return Poll::Ready(Ok(()));
            }
            // Answers to the server go out as they come; a blocked write waits for the next
            // read or write to go on.
            if let Poll::Ready(Err(e)) = this.poll_send(cx) {
                return Poll::Ready(Err(e));
            }
            let mut raw = [0u8; 4096];
            let mut rb = ReadBuf::new(&mut raw);
            ready!(Pin::new(&mut this.tcp).poll_read(cx, &mut rb))?;
            if rb.filled().is_empty() {
                // The server closed the connection: the port is gone (EOF for the link).
                return Poll::Ready(Ok(()));
            }
            this.take_in(rb.filled())?;
            // Only Telnet control arrived: read on.
        }
    }
}

impl AsyncWrite for Rfc2217Port {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.out.len() >= OUT_CAP {
            ready!(this.poll_send(cx))?;
        }
        for &b in buf {
            this.out.push(b);
            if b == IAC {
                this.out.push(IAC);
            }
        }
        // Written as far as the socket takes it now; the rest on the next write or flush.
        if let Poll::Ready(Err(e)) = this.poll_send(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_send(cx))?;
        Pin::new(&mut this.tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_send(cx))?;
        Pin::new(&mut this.tcp).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn port_paths_name_their_server() {
        assert_eq!(
            address_of("rfc2217://lab-exporter:4001"),
            Some("lab-exporter:4001")
        );
        assert_eq!(
            address_of("rfc2217://10.0.0.5:7000/"),
            Some("10.0.0.5:7000")
        );
        assert_eq!(address_of("rfc2217://"), None);
        assert_eq!(address_of("/dev/ttyUSB0"), None);
    }

    /// Against a server played by the test: the client asks for the COM port option and the
    /// line settings, escapes 0xFF in data, unescapes it from the server, answers an option it
    /// does not want with a refusal, and reads EOF when the server closes.
    #[tokio::test]
    async fn data_is_escaped_both_ways_and_the_line_is_set() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            // The server asks for ECHO (which a serial line does not want), then sends data
            // with an escaped 0xFF, and a line-state notification in between.
            s.write_all(&[IAC, 251, 1, 0x01, IAC, IAC, 0x02])
                .await
                .unwrap();
            s.write_all(&[IAC, 250, 44, 106, 0x60, IAC, 240, 0x03])
                .await
                .unwrap();
            let mut got = Vec::new();
            let mut b = [0u8; 256];
            // The client's setup, its refusal of ECHO and its data.
            while !got.ends_with(&[0xAA, IAC, IAC, 0xBB]) {
                let n = s.read(&mut b).await.unwrap();
                assert!(n > 0, "client closed early: {got:?}");
                got.extend_from_slice(&b[..n]);
            }
            got
        });
        let mut port = Rfc2217Port::connect(&addr, 115_200).await.unwrap();
        let mut data = [0u8; 3];
        port.read_exact(&mut data).await.unwrap();
        assert_eq!(data, [0x01, 0xFF, 0x02]);
        let mut more = [0u8; 1];
        port.read_exact(&mut more).await.unwrap();
        assert_eq!(more, [0x03], "the notification is not data");
        port.write_all(&[0xAA, 0xFF, 0xBB]).await.unwrap();
        port.flush().await.unwrap();
        let got = server.await.unwrap();
        let has = |seq: &[u8]| got.windows(seq.len()).any(|w| w == seq);
        assert!(has(&[IAC, 251, 44]), "WILL COM-PORT-OPTION: {got:?}");
        // SET-BAUDRATE 115200 (big-endian), SET-CONTROL no flow control.
        assert!(
            has(&[IAC, 250, 44, 1, 0, 1, 0xC2, 0x00, IAC, 240]),
            "{got:?}"
        );
        assert!(has(&[IAC, 250, 44, 5, 1, IAC, 240]), "{got:?}");
        assert!(has(&[IAC, 254, 1]), "DONT ECHO: {got:?}");
        // The server is gone: EOF.
        let mut rest = Vec::new();
        assert_eq!(port.read_to_end(&mut rest).await.unwrap(), 0);
    }

    /// ZVT's line is 8N2: the client asks the server for two stop bits (SET-STOPSIZE 2).
    #[tokio::test]
    async fn two_stop_bits_are_asked_for_when_wanted() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut got = Vec::new();
            let mut b = [0u8; 256];
            let want = [IAC, 250, 44, 4, 2, IAC, 240];
            while !got.windows(want.len()).any(|w| w == want) {
                let n = s.read(&mut b).await.unwrap();
                assert!(n > 0, "no SET-STOPSIZE 2 before the client closed: {got:?}");
                got.extend_from_slice(&b[..n]);
            }
        });
        let _port = Rfc2217Port::connect_with(&addr, 9_600, StopBits::Two)
            .await
            .unwrap();
        tokio::time::timeout(Duration::from_secs(10), server)
            .await
            .expect("the server saw the request")
            .unwrap();
    }
}
