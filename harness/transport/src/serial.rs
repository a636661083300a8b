//! Serial byte streams: a PTY pair for an emulated terminal, or a real port.

use std::path::{Path, PathBuf};
use tokio_serial::{SerialPort, SerialPortBuilderExt, SerialStream};

/// The harness's end of a fresh PTY pair, and the path of the other end for the terminal.
pub struct PtyPair {
    /// The harness's end (PTY master), already open, so no early byte from the terminal is lost.
    pub harness: SerialStream,
    /// Path of the terminal's end (e.g. `/dev/pts/7`), for the emulator's command line.
    pub terminal_path: PathBuf,
    /// The harness's own handle on the terminal's end. While it is open the PTY stays usable
    /// before the terminal has opened it; drop it once the terminal said Hello, so that the
    /// terminal's exit shows as EOF/EIO on the harness's end.
    pub keepalive: Option<SerialStream>,
}

/// Opens a PTY pair in raw mode (no echo, no line editing) for an emulated terminal.
pub fn pty_pair() -> std::io::Result<PtyPair> {
    let (harness, terminal) = SerialStream::pair().map_err(std::io::Error::other)?;
    let terminal_path = terminal
        .name()
        .map(PathBuf::from)
        .ok_or_else(|| std::io::Error::other("PTY pair has no slave path"))?;
    Ok(PtyPair {
        harness,
        terminal_path,
        keepalive: Some(terminal),
    })
}

/// Opens a real serial port (e.g. `/dev/ttyUSB0`) at `baud`, 8N1, no flow control.
pub fn open_port(path: &Path, baud: u32) -> std::io::Result<SerialStream> {
    tokio_serial::new(path.to_string_lossy(), baud)
        .open_native_async()
        .map_err(|e| {
            std::io::Error::other(format!("cannot open serial port {}: {e}", path.display()))
        })
}

/// A terminal's port: a local serial device (or PTY), or one exported over the network.
pub enum Port {
    /// A device or PTY on this machine.
    Local(SerialStream),
    /// A port served by an RFC 2217 server (ser2net, a labgrid exporter).
    Net(Box<crate::rfc2217::Rfc2217Port>),
}

/// Opens `path` at `baud`: `rfc2217://host:port` over the network, anything else as a local
/// device path.
pub async fn open(path: &Path, baud: u32) -> std::io::Result<Port> {
    let text = path.to_string_lossy();
    match crate::rfc2217::address_of(&text) {
        Some(addr) => crate::rfc2217::Rfc2217Port::connect(addr, baud)
            .await
            .map(|p| Port::Net(Box::new(p)))
            .map_err(|e| std::io::Error::new(e.kind(), format!("cannot open {text}: {e}"))),
        None if text.starts_with(crate::rfc2217::SCHEME) => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{text}: no host:port after {}", crate::rfc2217::SCHEME),
        )),
        None => open_port(path, baud).map(Port::Local),
    }
}

impl From<SerialStream> for Port {
    fn from(s: SerialStream) -> Self {
        Self::Local(s)
    }
}

impl tokio::io::AsyncRead for Port {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            Port::Local(s) => std::pin::Pin::new(s).poll_read(cx, buf),
            Port::Net(s) => std::pin::Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl tokio::io::AsyncWrite for Port {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Port::Local(s) => std::pin::Pin::new(s).poll_write(cx, buf),
            Port::Net(s) => std::pin::Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            Port::Local(s) => std::pin::Pin::new(s).poll_flush(cx),
            Port::Net(s) => std::pin::Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            Port::Local(s) => std::pin::Pin::new(s).poll_shutdown(cx),
            Port::Net(s) => std::pin::Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
