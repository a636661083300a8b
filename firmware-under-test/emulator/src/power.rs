//! Real power cuts inside the emulator, armed by the harness's power instrument.
//!
//! A cut is real: the process exits where the power fails and nothing of the firmware runs
//! after it (no cleanup, no answer to the request under way). Two places can fail:
//!
//! * **The Nth flash write** (program or erase) counted from when the cut was armed, clean or
//!   torn: [`CutFlash`] arms [`NorFlash::cut_power_at`] for that write, lets the NOR emulation
//!   tear it (or not), and exits inside the write, before the firmware sees its error.
//! * **Before the result**: the next `Done` answer (a finished transaction: approved, declined,
//!   aborted) is never sent; the process exits once the firmware has done everything it does
//!   for that request (so an approval is journaled, if the firmware journals it at all).
//!
//! The harness arms a cut through a side channel, not the test-agent protocol: with
//! `--power-control-stdin`, the emulator reads commands from its standard input (a pipe the
//! harness holds), one per line, before it handles each request frame. The harness writes a
//! command before it writes the request it is meant for, so the command is always read first.
//! Physical terminals have no such channel; the harness cuts their power with a switch.
//!
//! Commands: `cut-at-write N` / `cut-at-write N torn` (N from 1: the next write),
//! `cut-before-result`, `disarm`. A malformed command is reported on stderr and ignored: the
//! harness, which sent it, then sees the cut never fire and says so.

use crate::EXIT_POWER_LOST;
use fut_core::flash::{Flash, FlashError, NorFlash, PowerCut, Storage};
use std::cell::Cell;
use std::io::Read;
use std::rc::Rc;

/// What is armed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Armed {
    /// Nothing.
    Nothing,
    /// Power fails at the `remaining`-th flash write from now.
    FlashWrite {
        /// Writes still to go, the cut one included (1: the next write).
        remaining: u32,
        /// The cut write is torn (its first half lands).
        torn: bool,
    },
    /// Power fails before the next transaction result is sent.
    BeforeResult,
}

/// The power rail: shared between the serial loop (which arms it) and the flash (which fails).
pub type Rail = Rc<Cell<Armed>>;

/// Parses one command line; `Err` says what is wrong with it.
pub fn parse(line: &str) -> Result<Armed, String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        ["cut-before-result"] => Ok(Armed::BeforeResult),
        ["disarm"] => Ok(Armed::Nothing),
        ["cut-at-write", n, rest @ ..] => {
            let remaining = n
                .parse::<u32>()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| format!("`{n}` is not a write number (1 or more)"))?;
            let torn = match rest {
                [] | ["clean"] => false,
                ["torn"] => true,
                other => return Err(format!("unexpected `{}`", other.join(" "))),
            };
            Ok(Armed::FlashWrite { remaining, torn })
        }
        _ => Err(format!("unknown power command `{line}`")),
    }
}

/// The harness's end of the side channel: standard input, read without blocking.
pub struct Control {
    buf: Vec<u8>,
    open: bool,
}

/// Longest command line kept; a longer one is garbage and dropped.
const MAX_LINE: usize = 128;

impl Control {
    /// Puts standard input in non-blocking mode so that reading it never waits.
    pub fn from_stdin() -> std::io::Result<Self> {
        // SAFETY: fcntl on fd 0 with F_GETFL/F_SETFL reads and sets flags only; no memory is
        // passed.
        unsafe {
            let flags = libc::fcntl(0, libc::F_GETFL);
            if flags < 0 || libc::fcntl(0, libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(Self {
            buf: Vec::new(),
            open: true,
        })
    }

    /// Takes every complete command waiting and applies it to `rail`, in order.
    pub fn poll(&mut self, rail: &Rail) {
        let mut chunk = [0u8; 256];
        while self.open {
            match std::io::stdin().lock().read(&mut chunk) {
                Ok(0) => self.open = false,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    diag!("fut-emulator: power control channel failed ({e}); no more cuts");
                    self.open = false;
                }
            }
        }
        while let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.buf.drain(..=end).collect();
            let text = String::from_utf8_lossy(&line);
            match parse(text.trim()) {
                Ok(a) => {
                    diag!("fut-emulator: power control: {a:?}");
                    rail.set(a);
                }
                Err(e) => diag!("fut-emulator: power control: {e}; ignored"),
            }
        }
        if self.buf.len() > MAX_LINE {
            diag!("fut-emulator: power control: a command longer than {MAX_LINE} bytes; dropped");
            self.buf.clear();
        }
    }
}

/// The power fails now: the process ends at once, as the device would.
pub fn lose_power(where_: &str) -> ! {
    diag!("fut-emulator: power lost {where_}");
    std::process::exit(EXIT_POWER_LOST)
}

/// The emulator's flash: the NOR emulation, whose Nth write the rail can make fail.
pub struct CutFlash<S> {
    inner: NorFlash<S>,
    rail: Rail,
}

impl<S: Storage> CutFlash<S> {
    /// `inner` with power from `rail`.
    pub fn new(inner: NorFlash<S>, rail: Rail) -> Self {
        Self { inner, rail }
    }

    /// Counts one write against the rail; if it is the cut one, arms the NOR emulation for it
    /// and returns whether it is torn.
    fn cut_now(&mut self) -> Option<bool> {
        let Armed::FlashWrite { remaining, torn } = self.rail.get() else {
            return None;
        };
        if remaining > 1 {
            self.rail.set(Armed::FlashWrite {
                remaining: remaining - 1,
                torn,
            });
            return None;
        }
        let at = self.inner.writes().saturating_add(1);
        self.inner.cut_power_at(Some(PowerCut { at, tear: torn }));
        Some(torn)
    }

    /// The write that lost power has done what it does (nothing, or its torn half): the
    /// process ends inside it.
    fn died(&self, what: &str, torn: bool, r: Result<(), FlashError>) -> ! {
        let how = if torn { "torn" } else { "clean" };
        match r {
            Err(FlashError::PowerLost) => lose_power(&format!(
                "in flash write {} ({what}, {how})",
                self.inner.writes()
            )),
            other => lose_power(&format!(
                "in flash write {} ({what}, {how}; the write itself ended {other:?})",
                self.inner.writes()
            )),
        }
    }
}

impl<S: Storage> Flash for CutFlash<S> {
    fn size(&self) -> u32 {
        self.inner.size()
    }
    fn page_size(&self) -> u32 {
        self.inner.page_size()
    }
    fn read(&mut self, addr: u32, buf: &mut [u8]) -> Result<(), FlashError> {
        self.inner.read(addr, buf)
    }
    fn program(&mut self, addr: u32, data: &[u8]) -> Result<(), FlashError> {
        match self.cut_now() {
            None => self.inner.program(addr, data),
            Some(torn) => {
                let r = self.inner.program(addr, data);
                self.died("program", torn, r)
            }
        }
    }
    fn erase_page(&mut self, page: u32) -> Result<(), FlashError> {
        match self.cut_now() {
            None => self.inner.erase_page(page),
            Some(torn) => {
                let r = self.inner.erase_page(page);
                self.died("erase", torn, r)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_and_bad_ones_say_why() {
        assert_eq!(
            parse("cut-at-write 3 torn"),
            Ok(Armed::FlashWrite {
                remaining: 3,
                torn: true
            })
        );
        assert_eq!(
            parse("cut-at-write 1"),
            Ok(Armed::FlashWrite {
                remaining: 1,
                torn: false
            })
        );
        assert_eq!(parse("cut-before-result"), Ok(Armed::BeforeResult));
        assert_eq!(parse("disarm"), Ok(Armed::Nothing));
        assert!(
            parse("cut-at-write 0")
                .unwrap_err()
                .contains("write number")
        );
        assert!(parse("cut-at-write x").is_err());
        assert!(
            parse("cut-at-write 2 sideways")
                .unwrap_err()
                .contains("sideways")
        );
        assert!(parse("reboot").unwrap_err().contains("unknown"));
    }

    #[test]
    fn writes_before_the_cut_one_pass_through() {
        let mut mem = [0xFFu8; 512];
        let rail: Rail = Rc::new(Cell::new(Armed::FlashWrite {
            remaining: 3,
            torn: false,
        }));
        let mut f = CutFlash::new(NorFlash::new(&mut mem[..], 256), rail.clone());
        f.program(0, &[0; 4]).unwrap();
        f.erase_page(1).unwrap();
        // The third would end the process; the rail says it is next.
        assert_eq!(
            rail.get(),
            Armed::FlashWrite {
                remaining: 1,
                torn: false
            }
        );
    }
}
