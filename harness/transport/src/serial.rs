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
