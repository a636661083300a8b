//! The emulated terminal's own log (its stderr), taken into the transcript in causal order.
//!
//! A background task moves bytes from the pipe into a buffer as they come (so a chatty terminal
//! never blocks on a full pipe), and the transcript drains the buffer, after one more
//! non-blocking read of the pipe, whenever it records a frame from the terminal. A line the
//! terminal wrote before sending a frame is then always in the transcript before that frame,
//! however the two processes were scheduled: the same seed gives the same transcript.

use payhil_transport::transcript::{LogDrain, LogLine};
use std::io::{ErrorKind, Read};
use std::sync::{Arc, Mutex};
use tokio::net::unix::pipe;
use tokio::process::ChildStderr;

/// Most bytes of one unfinished line kept; beyond it the line is cut and the cut said, so a
/// terminal flooding its log costs bounded memory.
const MAX_LINE: usize = 16 * 1024;
/// Most buffered bytes between two drains; beyond it bytes are dropped and counted.
const MAX_BUFFERED: usize = 1024 * 1024;

struct State {
    /// The pipe (non-blocking), read with real system calls: tokio's own `try_read` answers
    /// from its cached readiness and can miss bytes the terminal wrote a moment ago.
    pipe: std::fs::File,
    buffered: Vec<u8>,
    dropped: u64,
    eof: bool,
}

impl State {
    /// Reads what the pipe holds now, without waiting.
    fn read_available(&mut self) {
        let mut buf = [0u8; 4096];
        while !self.eof {
            match self.pipe.read(&mut buf) {
                Ok(0) => self.eof = true,
                Ok(n) => {
                    let room = MAX_BUFFERED.saturating_sub(self.buffered.len());
                    let keep = n.min(room);
                    self.buffered.extend_from_slice(&buf[..keep]);
                    self.dropped += (n - keep) as u64;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                // WouldBlock: nothing more for now. Any other error: the pipe is gone.
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(_) => self.eof = true,
            }
        }
    }

    /// Complete lines so far (and, once the pipe has ended, the unfinished rest).
    fn lines(&mut self) -> Vec<LogLine> {
        self.read_available();
        let mut out = Vec::new();
        if self.dropped > 0 {
            out.push(LogLine {
                after_frames: None,
                text: format!(
                    "[payhil: {} bytes of terminal log dropped: more than {MAX_BUFFERED} bytes between two frames]",
                    self.dropped
                ),
            });
            self.dropped = 0;
        }
        let mut start = 0;
        while let Some(nl) = self.buffered[start..].iter().position(|&b| b == b'\n') {
            out.push(line(&self.buffered[start..start + nl]));
            start += nl + 1;
        }
        self.buffered.drain(..start);
        if self.buffered.len() > MAX_LINE || (self.eof && !self.buffered.is_empty()) {
            let cut = self.buffered.len() > MAX_LINE;
            let mut l = line(&self.buffered[..self.buffered.len().min(MAX_LINE)]);
            if cut {
                l.text.push_str(" [payhil: line cut]");
            }
            out.push(l);
            self.buffered.clear();
        }
        out
    }
}

/// One line; the emulator starts each with `[frame N] `, the number of frames it had sent
/// (its place in the stream), which is taken off.
fn line(b: &[u8]) -> LogLine {
    let text = String::from_utf8_lossy(b);
    let text = text.trim_end_matches('\r');
    let stamped = text
        .strip_prefix("[frame ")
        .and_then(|rest| rest.split_once("] "))
        .and_then(|(n, rest)| Some((n.parse::<u64>().ok()?, rest)));
    match stamped {
        Some((n, rest)) => LogLine {
            after_frames: Some(n),
            text: rest.to_string(),
        },
        None => LogLine {
            after_frames: None,
            text: text.to_string(),
        },
    }
}

/// Starts taking the terminal's stderr in; returns the drain for
/// [`payhil_transport::Transcript::set_terminal_log`].
pub fn start(stderr: ChildStderr) -> std::io::Result<LogDrain> {
    let fd = stderr.into_owned_fd()?;
    let reader = std::fs::File::from(fd.try_clone()?);
    // Sets O_NONBLOCK on the pipe (shared with `reader`) and registers it for wake-ups.
    let wake = pipe::Receiver::from_owned_fd(fd)?;
    let state = Arc::new(Mutex::new(State {
        pipe: reader,
        buffered: Vec::new(),
        dropped: 0,
        eof: false,
    }));
    let s = state.clone();
    tokio::spawn(async move {
        while wake.readable().await.is_ok() {
            // Reading inside try_io clears the readiness without losing a wake-up that came
            // in meanwhile.
            let r = wake.try_io(|| {
                let mut st = lock(&s);
                st.read_available();
                if st.eof {
                    Ok(())
                } else {
                    Err(ErrorKind::WouldBlock.into())
                }
            });
            if r.is_ok() {
                return;
            }
        }
    });
    Ok(Box::new(move || lock(&state).lines()))
}

fn lock(m: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
