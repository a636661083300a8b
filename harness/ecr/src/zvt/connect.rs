//! Opening a terminal's ZVT interface by its address: a serial device (9600 baud, 8 data bits,
//! no parity, 2 stop bits, no flow control: PA00P016 2), such a port exported over the network
//! (`rfc2217://HOST:PORT`, ser2net or a labgrid exporter; the same line asked for), or
//! `tcp://HOST:PORT` (the terminal's own TCP interface).

use super::link::{Framing, Link};
use payhil_transport::Transcript;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_serial::{SerialPortBuilderExt, SerialStream};

/// The scheme of a ZVT interface on TCP (ZVT's own port is 20007).
pub const TCP_SCHEME: &str = "tcp://";

/// A ZVT interface's byte stream.
pub enum ZvtStream {
    /// A serial device.
    Serial(SerialStream),
    /// A TCP connection.
    Tcp(TcpStream),
    /// A serial port reached through an RFC 2217 server.
    Net(Box<payhil_transport::rfc2217::Rfc2217Port>),
}

/// Opens the interface at `address` and wraps it in a link with the framing it needs; a TCP
/// connection is bounded by `connect_bound`.
pub async fn open(
    address: &str,
    baud: u32,
    connect_bound: Duration,
    transcript: Option<Transcript>,
) -> std::io::Result<Link<ZvtStream>> {
    if let Some(addr) = address.strip_prefix(TCP_SCHEME) {
        let s = tokio::time::timeout(connect_bound, TcpStream::connect(addr))
            .await
            .map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("{address}: no connection within {connect_bound:?}"),
                )
            })?
            .map_err(|e| std::io::Error::new(e.kind(), format!("{address}: {e}")))?;
        s.set_nodelay(true)?;
        return Ok(Link::new(ZvtStream::Tcp(s), Framing::Tcp, transcript));
    }
    if let Some(addr) = payhil_transport::rfc2217::address_of(address) {
        let p = payhil_transport::rfc2217::Rfc2217Port::connect_with(
            addr,
            baud,
            payhil_transport::rfc2217::StopBits::Two,
        )
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot open {address}: {e}")))?;
        return Ok(Link::new(
            ZvtStream::Net(Box::new(p)),
            Framing::Serial,
            transcript,
        ));
    }
    let s = tokio_serial::new(address, baud)
        .data_bits(tokio_serial::DataBits::Eight)
        .parity(tokio_serial::Parity::None)
        .stop_bits(tokio_serial::StopBits::Two)
        .flow_control(tokio_serial::FlowControl::None)
        .open_native_async()
        .map_err(|e| std::io::Error::other(format!("cannot open {address}: {e}")))?;
    Ok(Link::new(ZvtStream::Serial(s), Framing::Serial, transcript))
}

impl ZvtStream {
    /// Drops what is on a serial line and nobody read, both ways: what a terminal that lost
    /// power half-sent (the next command must not read it as its answer), and what was
    /// written to it that it never read (an acknowledgement sent as it died: the terminal
    /// that boots next would read it as a command). On a PTY's harness end both flush the
    /// other end's buffers too. A TCP connection is opened anew instead; an RFC 2217 port
    /// keeps its bytes (the server holds them).
    pub fn discard_input(&mut self) -> std::io::Result<()> {
        match self {
            Self::Serial(s) => {
                use tokio_serial::SerialPort;
                s.clear(tokio_serial::ClearBuffer::All)
                    .map_err(std::io::Error::other)
            }
            Self::Tcp(_) | Self::Net(_) => Ok(()),
        }
    }
}

impl Link<ZvtStream> {
    /// [`Link::forget_terminal`], and what the kernel holds of it too
    /// ([`ZvtStream::discard_input`]).
    pub fn forget_terminal_and_input(&mut self) -> std::io::Result<()> {
        self.forget_terminal();
        self.io_mut().discard_input()
    }
}

impl AsyncRead for ZvtStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Self::Serial(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Self::Net(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for ZvtStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Self::Serial(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Self::Net(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Self::Serial(s) => Pin::new(s).poll_flush(cx),
            Self::Tcp(s) => Pin::new(s).poll_flush(cx),
            Self::Net(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Self::Serial(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Self::Net(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
