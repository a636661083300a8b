//! Waiting on several descriptors at once (`poll(2)`): the serial port and the host's answer
//! during a host wait, the serial port and the cash register's link in the main loop.

use std::os::fd::RawFd;
use std::time::Duration;

/// Waits up to `limit` for any of `fds` to be readable, or hung up or in error (the read that
/// follows reports it); returns the index of the first, in the order given.
pub fn first_readable(fds: &[RawFd], limit: Duration) -> Option<usize> {
    let mut p: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let ms = libc::c_int::try_from(limit.as_millis()).unwrap_or(libc::c_int::MAX);
    let n = libc::nfds_t::try_from(p.len()).ok()?;
    // SAFETY: `p` is a valid array of `n` pollfd for the duration of the call.
    let r = unsafe { libc::poll(p.as_mut_ptr(), n, ms) };
    if r <= 0 {
        return None;
    }
    p.iter()
        .position(|x| x.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0)
}

/// Whether `fd` is quiet right now: nothing to read, no end of stream, no error, and the
/// question itself answered (one system call, without waiting). A failed poll is not quiet.
pub fn quiet_now(fd: RawFd) -> bool {
    let mut p = [libc::pollfd {
        fd,
        events: libc::POLLIN | libc::POLLRDHUP,
        revents: 0,
    }];
    // SAFETY: `p` is a valid array of one pollfd for the duration of the call.
    let r = unsafe { libc::poll(p.as_mut_ptr(), 1, 0) };
    r == 0
}

/// Whether any of `fds` is readable within `limit` ([`first_readable`]).
pub fn wait_readable(fds: &[RawFd], limit: Duration) -> bool {
    first_readable(fds, limit).is_some()
}
