//! Ending a connection so that its peer knows before the proxy's change returns.
//!
//! A terminal keeps its host connection between exchanges and, before it writes the next
//! request, looks whether the connection is still open (the reference emulator does; a real
//! terminal would too). When the proxy cuts an idle connection at a link or fault change, that
//! look must see the cut on every run, whatever the machine's load: so the proxy sends its end
//! of stream and waits until the terminal's kernel has acknowledged it, which it does only after
//! marking the connection closed. Then the change returns and the next step starts.

use std::time::{Duration, Instant};
use tokio::net::tcp::OwnedWriteHalf;

/// How long the proxy waits for the acknowledgement before giving up (a peer that does not
/// answer at all, e.g. a frozen process, is then cut by reset as before).
const ACK_BOUND: Duration = Duration::from_secs(2);

/// Sends the end of stream on `w` and waits (bounded) until the peer's kernel acknowledged it.
/// Returns false if the acknowledgement did not come in time.
pub(crate) async fn close_acknowledged(w: &mut OwnedWriteHalf) -> bool {
    use tokio::io::AsyncWriteExt;
    if w.shutdown().await.is_err() {
        // Already reset by the peer: it knows.
        return true;
    }
    let started = Instant::now();
    let mut spins = 0u32;
    loop {
        match fin_acknowledged(w) {
            Some(true) | None => return true,
            Some(false) => {}
        }
        if started.elapsed() > ACK_BOUND {
            return false;
        }
        // On loopback the acknowledgement is usually there at once; under load it may take a
        // scheduler round, rarely more.
        spins += 1;
        if spins < 16 {
            tokio::task::yield_now().await;
        } else {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

/// Whether our end of stream has been acknowledged; `None` if the state cannot be read.
#[cfg(target_os = "linux")]
fn fin_acknowledged(w: &OwnedWriteHalf) -> Option<bool> {
    use std::os::fd::AsRawFd;
    // Linux TCP states (include/net/tcp_states.h): FIN_WAIT2, TIME_WAIT and CLOSE come only
    // after the peer acknowledged our FIN; FIN_WAIT1, CLOSING and LAST_ACK wait for it.
    const FIN_WAIT2: u8 = 5;
    const TIME_WAIT: u8 = 6;
    const CLOSE: u8 = 7;
    let fd = w.as_ref().as_raw_fd();
    // SAFETY: `tcp_info` is plain old data for which all-zero bytes are valid; getsockopt
    // writes at most `len` bytes into it and `fd` is a TCP socket owned by `w` for the call.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    if r != 0 {
        return None;
    }
    Some(matches!(info.tcpi_state, FIN_WAIT2 | TIME_WAIT | CLOSE))
}

/// Elsewhere the state cannot be read: the cut is not confirmed (a terminal may then see it
/// late; the reference platform is Linux).
#[cfg(not(target_os = "linux"))]
fn fin_acknowledged(_: &OwnedWriteHalf) -> Option<bool> {
    None
}

/// Makes the listening socket `fd` stop listening at once: new connections are refused and
/// any waiting in its queue are reset. Unlike closing the descriptor this acts on the socket
/// itself, so a copy of the descriptor held elsewhere (a child process between fork and exec)
/// does not keep it listening. `fd` must be a listening socket that is still open.
pub(crate) fn stop_listening(fd: std::os::fd::RawFd) {
    // SAFETY: shutdown(2) on a descriptor the caller guarantees open; it touches no memory.
    // Its result is of no use: a socket that cannot be shut down is closed by the caller next.
    let _ = unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
}
