//! The in-process terminal's flash: RAM bytes under the core's own NOR emulation, with a tally
//! of programs per word, and a recorder that logs every write (program or erase) a run makes, so
//! that the image before any write can be rebuilt by replaying the log instead of the run.

use fut_core::flash::{Flash, FlashError, NorFlash, PowerCut, WORD, WordTally};
use std::cell::RefCell;
use std::rc::Rc;

/// A chip's shape: its erase unit and how many there are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    /// Erase unit (page) in bytes.
    pub page: u32,
    /// Pages.
    pub pages: u32,
}

impl Geometry {
    /// The in-process bench's own chip: pages of 2 KiB (the smallest that holds the blocked-card
    /// list's page), four for the journal (128 slots: a workload of some dozens of transactions
    /// wraps the ring, so erase intents and page erases are cut too) and the blocked-card list's
    /// two. Its journal holds about 126 offline items, fewer than the terminal's pending index.
    pub const SMALL: Geometry = Geometry {
        page: 2048,
        pages: 6,
    };
    /// The emulator's chip (`--flash-kib 256` in 4 KiB pages): the reference terminal's own, whose
    /// journal holds the whole pending index the terminal reports as its queue capacity.
    pub const REFERENCE: Geometry = Geometry {
        page: 4096,
        pages: 64,
    };

    /// Size in bytes.
    pub const fn bytes(self) -> u32 {
        self.page * self.pages
    }

    /// Slots of the journal on this chip (the blocked-card list keeps its pages apart).
    pub const fn journal_slots(self) -> u32 {
        (self.pages - fut_core::block_list::PAGES) * self.page / fut_core::journal::SLOT
    }
}
/// Programs a word may take between erases. The journal programs a record's marker words once
/// each time it sets a marker; the most a word takes is the record's own program and then the
/// sent, done (and declined or reversed) markers, each possibly torn once and done again after
/// the reboot. Serial NOR chips allow more; a chip with a lower limit would refuse the terminal.
pub const MAX_PROGRAMS: u8 = 4;

/// One write of a run, as the terminal's storage asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// A program of whole words at `addr`.
    Program {
        /// Byte address.
        addr: u32,
        /// The bytes.
        data: Vec<u8>,
    },
    /// A page erase.
    Erase {
        /// Page number.
        page: u32,
    },
}

/// A flash image and its program tally: the whole state of the chip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// Programs per word since its last erase.
    pub tally: Vec<u8>,
    /// Erase unit in bytes.
    page: u32,
}

impl Image {
    /// A new, erased chip of this shape.
    pub fn erased(g: Geometry) -> Self {
        let size = g.bytes() as usize;
        Self {
            bytes: vec![0xFF; size],
            tally: vec![0; size / WORD as usize],
            page: g.page,
        }
    }

    /// The emulated chip over this image.
    pub fn chip(&mut self) -> RamFlash<'_> {
        NorFlash::with_tally(
            &mut self.bytes[..],
            self.page,
            WordTally(&mut self.tally[..]),
            MAX_PROGRAMS,
        )
    }

    /// Makes this image a copy of `other` (no allocation when the sizes agree).
    pub fn copy_from(&mut self, other: &Image) {
        self.bytes.copy_from_slice(&other.bytes);
        self.tally.copy_from_slice(&other.tally);
        self.page = other.page;
    }

    /// Applies `op` with power cut at it (`Some(tear)`) or not; `Err` only if the op itself
    /// fails otherwise (it did not in the run that logged it, so that is a harness bug).
    pub fn apply(&mut self, op: &Op, cut: Option<bool>) -> Result<(), FlashError> {
        let mut chip = self.chip();
        chip.cut_power_at(cut.map(|tear| PowerCut { at: 1, tear }));
        let r = match op {
            Op::Program { addr, data } => chip.program(*addr, data),
            Op::Erase { page } => chip.erase_page(*page),
        };
        match (r, cut) {
            (Err(FlashError::PowerLost), Some(_)) | (Ok(()), None) => Ok(()),
            (Ok(()), Some(_)) => Err(FlashError::WriteFailed),
            (Err(e), _) => Err(e),
        }
    }
}

/// The emulated chip over RAM.
pub type RamFlash<'m> = NorFlash<&'m mut [u8], WordTally<&'m mut [u8]>>;

/// A flash that logs every write the chip counts (programs and erases that got as far as the
/// chip: a refused program is no write).
pub struct Recorder<F> {
    inner: F,
    log: Rc<RefCell<Vec<Op>>>,
    /// The injected defect [`Recorder::write_behind`]: a program held back, not yet on the chip.
    held: Option<(u32, Vec<u8>)>,
    write_behind: bool,
}

impl<'m> Recorder<RamFlash<'m>> {
    /// Records writes to `inner` into `log`.
    pub fn new(inner: RamFlash<'m>, log: Rc<RefCell<Vec<Op>>>) -> Self {
        Self {
            inner,
            log,
            held: None,
            write_behind: false,
        }
    }

    /// An injected defect, for proving that the oracle finds one: each program reports success
    /// at once but reaches the chip only with the next write, so the terminal approves before
    /// its record is durable (a write-back cache nobody flushes). Reads see the held bytes.
    pub fn write_behind(mut self) -> Self {
        self.write_behind = true;
        self
    }

    fn flush(&mut self) -> Result<(), FlashError> {
        match self.held.take() {
            Some((addr, data)) => self.program_now(addr, &data),
            None => Ok(()),
        }
    }

    fn program_now(&mut self, addr: u32, data: &[u8]) -> Result<(), FlashError> {
        let before = self.inner.writes();
        let r = self.inner.program(addr, data);
        self.logged(
            before,
            Op::Program {
                addr,
                data: data.to_vec(),
            },
        );
        r
    }

    fn logged(&mut self, before: u32, op: Op) {
        if self.inner.writes() != before {
            self.log.borrow_mut().push(op);
        }
    }
}

impl Flash for Recorder<RamFlash<'_>> {
    fn size(&self) -> u32 {
        self.inner.size()
    }
    fn page_size(&self) -> u32 {
        self.inner.page_size()
    }
    fn read(&mut self, addr: u32, buf: &mut [u8]) -> Result<(), FlashError> {
        self.inner.read(addr, buf)?;
        if let Some((at, data)) = &self.held {
            // The held program's bytes over what the chip has, where they overlap.
            for (i, b) in buf.iter_mut().enumerate() {
                let a = addr as usize + i;
                if let Some(h) = a.checked_sub(*at as usize).and_then(|o| data.get(o)) {
                    *b &= *h;
                }
            }
        }
        Ok(())
    }
    fn program(&mut self, addr: u32, data: &[u8]) -> Result<(), FlashError> {
        if self.write_behind {
            self.flush()?;
            self.held = Some((addr, data.to_vec()));
            return Ok(());
        }
        self.program_now(addr, data)
    }
    fn erase_page(&mut self, page: u32) -> Result<(), FlashError> {
        self.flush()?;
        let before = self.inner.writes();
        let r = self.inner.erase_page(page);
        self.logged(before, Op::Erase { page });
        r
    }
}

/// A chip of its own (not borrowed from an [`Image`]) with a [`Fuse`] that cuts power at a
/// chosen program or erase, clean or torn, counted from when it was armed: what `payhil soak`
/// runs its terminal on, so that a cut can fall in the middle of any request and the terminal
/// boots again on the same bytes.
/// A clone is a copy of the bytes on the same fuse (only one terminal draws power at a time: the
/// fuzzers start every input from a clone of one booted terminal).
#[derive(Clone)]
pub struct FusedChip {
    image: Image,
    fuse: Fuse,
    dead: bool,
    /// A deliberately broken chip for testing the soak's oracle: a program is acknowledged
    /// before it lands and lands only at the next program or erase (a write-back cache), so a
    /// cut loses it (as the emulator's `approve-before-write` bug does).
    write_behind: bool,
    held: Option<(u32, Vec<u8>)>,
}

/// Arms a [`FusedChip`]'s power cut from outside the terminal that owns the chip.
#[derive(Clone, Default)]
pub struct Fuse(Rc<std::cell::Cell<Option<(u32, bool)>>>);

impl Fuse {
    /// Power is cut at the `nth` program or erase from now (1: the next), torn if `tear`.
    pub fn arm(&self, nth: u32, tear: bool) {
        self.0.set(Some((nth.max(1), tear)));
    }

    /// No cut armed any more.
    pub fn disarm(&self) {
        self.0.set(None);
    }

    /// A cut is armed and has not fallen yet.
    pub fn armed(&self) -> bool {
        self.0.get().is_some()
    }

    /// Counts one program or erase; `Some(tear)` if power is cut at it.
    fn tick(&self) -> Option<bool> {
        match self.0.get() {
            Some((1, tear)) => {
                self.0.set(None);
                Some(tear)
            }
            Some((n, tear)) => {
                self.0.set(Some((n - 1, tear)));
                None
            }
            None => None,
        }
    }
}

impl FusedChip {
    /// An erased chip of geometry `g`, and its fuse.
    pub fn new(g: Geometry) -> (Self, Fuse) {
        let fuse = Fuse::default();
        (
            Self {
                image: Image::erased(g),
                fuse: fuse.clone(),
                dead: false,
                write_behind: false,
                held: None,
            },
            fuse,
        )
    }

    /// The broken chip (see the `write_behind` field): for tests that the oracle bites.
    pub fn write_behind(mut self) -> Self {
        self.write_behind = true;
        self
    }

    /// Power is back: the chip answers again (its bytes are what the cut left).
    pub fn power_up(&mut self) {
        self.dead = false;
    }

    fn mutate(
        &mut self,
        op: impl FnOnce(&mut RamFlash<'_>) -> Result<(), FlashError>,
    ) -> Result<(), FlashError> {
        if self.dead {
            return Err(FlashError::PowerLost);
        }
        let cut = self.fuse.tick();
        let mut chip = self.image.chip();
        if cut.is_some() {
            // What the cache held never reaches the chip.
            self.held = None;
            self.dead = true;
        } else if let Some((addr, data)) = self.held.take() {
            chip.program(addr, &data)?;
        }
        chip.cut_power_at(cut.map(|tear| PowerCut { at: 1, tear }));
        op(&mut chip)
    }
}

impl Flash for FusedChip {
    fn size(&self) -> u32 {
        self.image.bytes.len() as u32
    }
    fn page_size(&self) -> u32 {
        self.image.page
    }
    fn read(&mut self, addr: u32, buf: &mut [u8]) -> Result<(), FlashError> {
        if self.dead {
            return Err(FlashError::PowerLost);
        }
        self.image.chip().read(addr, buf)?;
        if let Some((at, data)) = &self.held {
            // The cache's bytes over the chip's, where they overlap.
            for (i, b) in buf.iter_mut().enumerate() {
                let a = addr as usize + i;
                if let Some(h) = a.checked_sub(*at as usize).and_then(|o| data.get(o)) {
                    *b &= *h;
                }
            }
        }
        Ok(())
    }
    fn program(&mut self, addr: u32, data: &[u8]) -> Result<(), FlashError> {
        if self.write_behind {
            let held = (addr, data.to_vec());
            let r = self.mutate(|_| Ok(()));
            if r.is_ok() {
                self.held = Some(held);
            }
            return r;
        }
        self.mutate(|c| c.program(addr, data))
    }
    fn erase_page(&mut self, page: u32) -> Result<(), FlashError> {
        self.mutate(|c| c.erase_page(page))
    }
}
