//! embedded-storage's NOR flash traits, both ways:
//! * [`Chip`] shows the emulated [`NorFlash`] as an `embedded_storage` `NorFlash` /
//!   `MultiwriteNorFlash` (its erase unit a constant, as the traits want it);
//! * [`Embedded`] runs the firmware's storage ([`Flash`]: journal, blocked-card list) on any
//!   `MultiwriteNorFlash`, a vendor's chip driver or the [`Chip`] above.
//!
//! The journal programs marker words more than once (each program only clears bits), so it
//! needs a chip that allows that: `MultiwriteNorFlash`, not a plain `NorFlash`.
//!
//! One difference from the trait's letter: a write that would need a 0 bit set back to 1 fails
//! with [`FlashError::NotErased`] instead of being ANDed in silently, because a caller that asks
//! for it expects a value it will not read back.

use super::{Flash, FlashError, NorFlash, Storage, Tally, WORD};
use embedded_storage::nor_flash::{
    self as es, ErrorType, MultiwriteNorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};

impl NorFlashError for FlashError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            FlashError::OutOfBounds => NorFlashErrorKind::OutOfBounds,
            FlashError::Misaligned => NorFlashErrorKind::NotAligned,
            _ => NorFlashErrorKind::Other,
        }
    }
}

/// The emulated flash as an embedded-storage chip with `PAGE`-byte erase units.
pub struct Chip<S, C, const PAGE: usize>(NorFlash<S, C>);

impl<S: Storage, C: Tally, const PAGE: usize> Chip<S, C, PAGE> {
    /// `None` unless `flash`'s page size is `PAGE`.
    pub fn new(flash: NorFlash<S, C>) -> Option<Self> {
        (usize::try_from(flash.page_size()).ok() == Some(PAGE)).then_some(Self(flash))
    }

    /// The emulated flash (its counters, its storage).
    pub fn inner(&self) -> &NorFlash<S, C> {
        &self.0
    }

    /// The emulated flash, e.g. to arm a power cut.
    pub fn inner_mut(&mut self) -> &mut NorFlash<S, C> {
        &mut self.0
    }

    /// Gives the emulated flash back.
    pub fn into_inner(self) -> NorFlash<S, C> {
        self.0
    }
}

impl<S, C, const PAGE: usize> ErrorType for Chip<S, C, PAGE> {
    type Error = FlashError;
}

impl<S: Storage, C: Tally, const PAGE: usize> ReadNorFlash for Chip<S, C, PAGE> {
    const READ_SIZE: usize = 1;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), FlashError> {
        Flash::read(&mut self.0, offset, bytes)
    }

    fn capacity(&self) -> usize {
        self.0.size() as usize
    }
}

impl<S: Storage, C: Tally, const PAGE: usize> es::NorFlash for Chip<S, C, PAGE> {
    const WRITE_SIZE: usize = WORD as usize;
    const ERASE_SIZE: usize = PAGE;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), FlashError> {
        es::check_erase(self, from, to).map_err(kind_error)?;
        let page = self.0.page_size();
        for p in from / page..to / page {
            self.0.erase_page(p)?;
        }
        Ok(())
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), FlashError> {
        es::check_write(self, offset, bytes.len()).map_err(kind_error)?;
        self.0.program(offset, bytes)
    }
}

/// Words may be programmed again (to clear more bits), up to the tally's limit.
impl<S: Storage, C: Tally, const PAGE: usize> MultiwriteNorFlash for Chip<S, C, PAGE> {}

fn kind_error(k: NorFlashErrorKind) -> FlashError {
    match k {
        NorFlashErrorKind::NotAligned => FlashError::Misaligned,
        _ => FlashError::OutOfBounds,
    }
}

/// Any embedded-storage `MultiwriteNorFlash` as the firmware's [`Flash`]. The chip's errors must
/// say which [`FlashError`] they are (a power loss above all: the terminal halts on it).
pub struct Embedded<T>(pub T);

impl<T> Flash for Embedded<T>
where
    T: MultiwriteNorFlash,
    T::Error: Into<FlashError>,
{
    fn size(&self) -> u32 {
        u32::try_from(self.0.capacity()).unwrap_or(u32::MAX)
    }

    fn page_size(&self) -> u32 {
        u32::try_from(T::ERASE_SIZE).unwrap_or(u32::MAX)
    }

    fn read(&mut self, addr: u32, buf: &mut [u8]) -> Result<(), FlashError> {
        self.0.read(addr, buf).map_err(Into::into)
    }

    fn program(&mut self, addr: u32, data: &[u8]) -> Result<(), FlashError> {
        self.0.write(addr, data).map_err(Into::into)
    }

    fn erase_page(&mut self, page: u32) -> Result<(), FlashError> {
        let size = self.page_size();
        let from = page.checked_mul(size).ok_or(FlashError::OutOfBounds)?;
        let to = from.checked_add(size).ok_or(FlashError::OutOfBounds)?;
        self.0.erase(from, to).map_err(Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flash::{NoTally, PowerCut, WordTally};
    use embedded_storage::nor_flash::NorFlash as _;

    #[test]
    fn the_emulation_is_an_embedded_storage_multiwrite_chip() {
        fn multiwrite<T: MultiwriteNorFlash>(_: &T) {}
        let mut mem = [0xFFu8; 1024];
        let mut chip = Chip::<_, NoTally, 512>::new(NorFlash::new(&mut mem[..], 512)).unwrap();
        multiwrite(&chip);
        chip.write(4, &[0xF0, 0xFF, 0xFF, 0xFF]).unwrap();
        chip.write(4, &[0x00, 0xFF, 0xFF, 0xFF]).unwrap();
        let mut b = [0u8; 4];
        chip.read(4, &mut b).unwrap();
        assert_eq!(b, [0, 0xFF, 0xFF, 0xFF]);
        assert_eq!(
            chip.write(2, &[0; 4]).unwrap_err().kind(),
            NorFlashErrorKind::NotAligned
        );
        assert_eq!(
            chip.erase(0, 100).unwrap_err().kind(),
            NorFlashErrorKind::NotAligned
        );
        chip.erase(0, 512).unwrap();
        chip.read(4, &mut b).unwrap();
        assert_eq!(b, [0xFF; 4]);
        assert!(Chip::<_, NoTally, 4096>::new(NorFlash::new(&mut mem[..], 512)).is_none());
    }

    /// Issue 9: the journal runs on any embedded-storage chip (here the emulation through both
    /// adapters) and a word programmed once too often is an error, as on a real chip.
    #[test]
    fn the_journal_runs_through_the_traits_and_the_program_limit_holds() {
        use crate::journal::{Journal, PanKey};
        let mut mem = vec_of(0xFF, 4 * 4096);
        let mut counts = vec_of(0, 4 * 1024);
        let flash = NorFlash::with_tally(&mut mem[..], 4096, WordTally(&mut counts[..]), 2);
        let chip = Chip::<_, _, 4096>::new(flash).unwrap();
        let j: Journal<_, 16> = Journal::mount(Embedded(chip), PanKey::test_key("S")).unwrap();
        let mut chip = j.into_flash().0;
        // Two programs of one word pass, the third is refused and writes nothing.
        chip.write(8192, &[0xFE, 0xFF, 0xFF, 0xFF]).unwrap();
        chip.write(8192, &[0xFC, 0xFF, 0xFF, 0xFF]).unwrap();
        assert_eq!(
            chip.write(8192, &[0xF8, 0xFF, 0xFF, 0xFF]),
            Err(FlashError::TooManyPrograms)
        );
        let mut b = [0u8; 4];
        chip.read(8192, &mut b).unwrap();
        assert_eq!(b, [0xFC, 0xFF, 0xFF, 0xFF]);
        // An erase starts the count again.
        chip.erase(8192, 12288).unwrap();
        chip.write(8192, &[0xFE, 0xFF, 0xFF, 0xFF]).unwrap();
        assert_eq!(chip.inner().tally().count(8192 / 4), 1);
    }

    /// Issue 9: a torn program of a marker word clears some of its bits, not none and not all.
    #[test]
    fn a_torn_marker_program_clears_only_some_bits() {
        let mut mem = [0xFFu8; 512];
        let mut f = NorFlash::new(&mut mem[..], 512);
        f.cut_power_at(Some(PowerCut { at: 1, tear: true }));
        assert_eq!(f.program(56, &[0, 0, 0, 0]), Err(FlashError::PowerLost));
        let mem = f.into_storage();
        let word = &mem[56..60];
        let cleared: u32 = word.iter().map(|b| b.count_zeros()).sum();
        assert_eq!(cleared, 16, "{word:02x?}");
        // Clean cut: nothing.
        let mut mem2 = [0xFFu8; 512];
        let mut f = NorFlash::new(&mut mem2[..], 512);
        f.cut_power_at(Some(PowerCut { at: 1, tear: false }));
        assert_eq!(f.program(56, &[0, 0, 0, 0]), Err(FlashError::PowerLost));
        assert_eq!(&f.into_storage()[56..60], &[0xFF; 4]);
    }

    fn vec_of(b: u8, n: usize) -> std::vec::Vec<u8> {
        std::vec![b; n]
    }

    extern crate std;
}
