//! The blocked-card list (CARD-10), kept in flash so that a card stays blocked across power cycles.
//!
//! Two sources, kept apart because they mean different things:
//! * **listed**: the host's blocked-card list, fetched at the start of every forwarding round. A
//!   listed card is refused online and offline (the host has said it will not pay).
//! * **learned**: cards the host declined as blocked, lost or stolen (DE 39 `62`, `41`, `43`) in
//!   an authorisation. The host checks them itself whenever it is reachable, so they are refused
//!   only for offline approvals, from then on; an online approval of the card later (the issuer
//!   lifted the block) forgets it. A new host list does not drop them: the host's list need not
//!   name every card its issuers refuse.
//!
//! No card number is stored, encrypted or not: each card is kept as a keyed hash ([`CardTag`]),
//! 16 bytes of ChaCha20 keystream under the device's [`PanKey`] with the card number (packed BCD)
//! as the nonce. A match needs the card in hand; the flash holds nothing the harness's scan (or a
//! thief) could read a card number from (PCI-02).
//!
//! The host link carries no version or date for its list, so the terminal keeps its own: the
//! version counts the different lists it has received (a list equal to the one kept is not
//! written again), the date is the controlled clock when that list arrived.
//!
//! Layout: the last two pages of the flash ([`crate::flash::Split`]), written alternately, so that
//! a power cut while one is written leaves the other, the previous list, intact. A page is
//! ```text
//!  0..2   magic "PB"   2  layout version (1)   3  0x00
//!  4..8   generation (u32 LE): the newer of the two pages has the higher one
//!  8..12  list version (u32 LE)   12..16  list date (u32 LE, Unix seconds)
//! 16..18  listed count (u16 LE)   18..20  learned count (u16 LE)
//! 20..24  CRC-32 over bytes 0..20 and the entries
//! 24..32  0xFF
//! 32..    entries, 16 bytes each: the listed tags, then the learned tags
//! ```
//! The entries are programmed first and the header last: a page without a valid header (torn,
//! erased) is ignored.

use crate::flash::{Flash, FlashError, Split};
use crate::journal::{JournalError, PanKey, StoredPan};

/// Most cards of the host's list kept (entries past it are dropped).
pub const MAX_LISTED: usize = 64;
/// Most cards learned from host answers kept; when full, the oldest is forgotten.
pub const MAX_LEARNED: usize = 32;
/// Pages at the end of the flash that hold the list.
pub const PAGES: u32 = 2;
/// Bytes a page needs: the header and every entry.
pub const PAGE_BYTES: u32 = (ENTRIES_AT as usize + (MAX_LISTED + MAX_LEARNED) * TAG) as u32;

const MAGIC: [u8; 2] = *b"PB";
const LAYOUT: u8 = 1;
const HEADER: usize = 24;
const ENTRIES_AT: u32 = 32;
const TAG: usize = 16;

/// A card as the block list knows it: a keyed hash of its number (see the module docs).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CardTag([u8; TAG]);

impl core::fmt::Debug for CardTag {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("CardTag(..)")
    }
}

impl CardTag {
    /// A placeholder for fixed-size tables (no card's tag in practice).
    pub const EMPTY: CardTag = CardTag([0; TAG]);

    /// The tag of `pan` under `key`. The nonce is the number's length and packed-BCD digits
    /// (filler 0xF) and the domain byte `B`, which no journal nonce ends with (theirs end in 0),
    /// so this keystream never covers a journaled card number.
    pub fn of(key: &PanKey, pan: &StoredPan) -> Self {
        let digits = pan.as_str().as_bytes();
        let mut nonce = [0xFFu8; 12];
        // 12..=19 digits, so the length fits a byte and the BCD fits bytes 1..11.
        nonce[0] = digits.len() as u8;
        for (i, d) in digits.iter().enumerate() {
            let nibble = d.wrapping_sub(b'0') & 0x0F;
            let byte = &mut nonce[1 + i / 2];
            *byte = if i % 2 == 0 {
                (nibble << 4) | 0x0F
            } else {
                (*byte & 0xF0) | nibble
            };
        }
        nonce[11] = b'B';
        let mut tag = [0u8; TAG];
        key.apply(nonce, &mut tag);
        Self(tag)
    }
}

/// What is known about the kept list (for logs and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockListInfo {
    /// How many different host lists this device has received (0: none yet).
    pub version: u32,
    /// When the current host list arrived, Unix seconds of the controlled clock (0: none yet).
    pub date: u32,
    /// Cards on the host's list.
    pub listed: usize,
    /// Cards learned from host answers.
    pub learned: usize,
}

/// The blocked-card list in RAM, and how to keep it in flash.
#[derive(Clone)]
pub struct BlockList {
    tags: [CardTag; MAX_LISTED + MAX_LEARNED],
    listed: usize,
    learned: usize,
    version: u32,
    date: u32,
    generation: u32,
    /// The tail page the current list was read from or written to (`None`: nothing written).
    page: Option<u32>,
}

impl BlockList {
    /// No card blocked, nothing in flash.
    pub const fn new() -> Self {
        Self {
            tags: [CardTag::EMPTY; MAX_LISTED + MAX_LEARNED],
            listed: 0,
            learned: 0,
            version: 0,
            date: 0,
            generation: 0,
            page: None,
        }
    }

    /// Version, date and sizes of the kept list.
    pub fn info(&self) -> BlockListInfo {
        BlockListInfo {
            version: self.version,
            date: self.date,
            listed: self.listed,
            learned: self.learned,
        }
    }

    /// On the host's list: refused online and offline.
    pub fn is_listed(&self, tag: &CardTag) -> bool {
        self.tags[..self.listed].contains(tag)
    }

    /// Learned from a host answer: refused offline.
    pub fn is_learned(&self, tag: &CardTag) -> bool {
        self.tags[self.listed..self.listed + self.learned].contains(tag)
    }

    /// Replaces the host's list; true if it differs from the kept one (then it has a new version
    /// and date and must be saved).
    pub fn replace_listed(&mut self, new: &[CardTag], now: i64) -> bool {
        let new = &new[..new.len().min(MAX_LISTED)];
        if new == &self.tags[..self.listed] {
            return false;
        }
        let mut learned = [CardTag::EMPTY; MAX_LEARNED];
        learned[..self.learned]
            .copy_from_slice(&self.tags[self.listed..self.listed + self.learned]);
        self.tags[..new.len()].copy_from_slice(new);
        self.listed = new.len();
        self.tags[self.listed..self.listed + self.learned]
            .copy_from_slice(&learned[..self.learned]);
        self.version = self.version.saturating_add(1);
        // The controlled clock stays within the journal's range, which is u32's.
        self.date = u32::try_from(now).unwrap_or(0);
        true
    }

    /// Learns a card the host declined as blocked, lost or stolen; true if it is new.
    pub fn learn(&mut self, tag: CardTag) -> bool {
        if self.is_learned(&tag) {
            return false;
        }
        let start = self.listed;
        if self.learned == MAX_LEARNED {
            // Full: the oldest learned card goes (the host still refuses it online).
            self.tags.copy_within(start + 1..start + MAX_LEARNED, start);
            self.learned -= 1;
        }
        self.tags[start + self.learned] = tag;
        self.learned += 1;
        true
    }

    /// Forgets a learned card (the host approved it online); true if it was learned.
    pub fn forget(&mut self, tag: &CardTag) -> bool {
        let start = self.listed;
        let Some(i) = self.tags[start..start + self.learned]
            .iter()
            .position(|t| t == tag)
        else {
            return false;
        };
        self.tags
            .copy_within(start + i + 1..start + self.learned, start + i);
        self.learned -= 1;
        true
    }

    fn entries(&self) -> &[CardTag] {
        &self.tags[..self.listed + self.learned]
    }

    fn crc(header: &[u8], entries: &[CardTag]) -> u32 {
        let mut digest = payhil_protocol::frame::CRC.digest();
        digest.update(&header[..20]);
        for t in entries {
            digest.update(&t.0);
        }
        digest.finalize()
    }

    /// Reads the newer valid page of the list. A tail page that holds journal records instead
    /// (an image written before the list had its pages) is refused, not overwritten: those
    /// records may be pending offline items.
    pub fn load<F: Flash>(flash: &mut Split<F>) -> Result<Self, JournalError> {
        if flash.page_size() < PAGE_BYTES {
            return Err(JournalError::BadGeometry);
        }
        let mut best = Self::new();
        for page in 0..PAGES {
            if let Some(list) = Self::read_page(flash, page)?
                && (best.page.is_none() || list.generation > best.generation)
            {
                best = list;
            }
        }
        Ok(best)
    }

    fn read_page<F: Flash>(flash: &mut Split<F>, page: u32) -> Result<Option<Self>, JournalError> {
        let mut h = [0u8; HEADER];
        flash.tail_read(page, 0, &mut h)?;
        let u32_at = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
        let u16_at = |i: usize| usize::from(u16::from_le_bytes([h[i], h[i + 1]]));
        if h[0..2] != MAGIC || h[2] != LAYOUT {
            Self::refuse_journal_records(flash, page)?;
            return Ok(None);
        }
        let (listed, learned) = (u16_at(16), u16_at(18));
        // Counts from flash: checked before they index anything.
        if listed > MAX_LISTED || learned > MAX_LEARNED {
            return Ok(None);
        }
        let mut list = Self::new();
        for (i, t) in list.tags[..listed + learned].iter_mut().enumerate() {
            // i < MAX_LISTED + MAX_LEARNED, so the offset stays within PAGE_BYTES.
            flash.tail_read(page, ENTRIES_AT + (i * TAG) as u32, &mut t.0)?;
        }
        if Self::crc(&h, &list.tags[..listed + learned]) != u32_at(20) {
            return Ok(None);
        }
        list.listed = listed;
        list.learned = learned;
        list.generation = u32_at(4);
        list.version = u32_at(8);
        list.date = u32_at(12);
        list.page = Some(page);
        Ok(Some(list))
    }

    /// A page without a list header that holds journal records (a slot starting "PH" whose
    /// CRC holds, so that a torn list page never passes for one) was written by firmware whose
    /// journal used these pages.
    fn refuse_journal_records<F: Flash>(
        flash: &mut Split<F>,
        page: u32,
    ) -> Result<(), JournalError> {
        let mut slot = [0u8; 56];
        let slot_bytes = crate::journal::SLOT;
        for i in 0..flash.page_size() / slot_bytes {
            flash.tail_read(page, i * slot_bytes, &mut slot)?;
            let crc = u32::from_le_bytes([slot[52], slot[53], slot[54], slot[55]]);
            if slot[0..2] == *b"PH" && crate::flash_crc(&slot[..52]) == crc {
                return Err(JournalError::UnsupportedLayout(slot[3]));
            }
        }
        Ok(())
    }

    /// Writes the list to the page it is not on, entries first and the header last, so that a
    /// power cut leaves the previous list readable.
    pub fn save<F: Flash>(&mut self, flash: &mut Split<F>) -> Result<(), JournalError> {
        let page = match self.page {
            Some(p) => (p + 1) % PAGES,
            None => 0,
        };
        let generation = self.generation.saturating_add(1);
        flash.tail_erase(page)?;
        for (i, t) in self.entries().iter().enumerate() {
            flash.tail_program(page, ENTRIES_AT + (i * TAG) as u32, &t.0)?;
        }
        let mut h = [0xFFu8; HEADER];
        h[0..2].copy_from_slice(&MAGIC);
        h[2] = LAYOUT;
        h[3] = 0;
        h[4..8].copy_from_slice(&generation.to_le_bytes());
        h[8..12].copy_from_slice(&self.version.to_le_bytes());
        h[12..16].copy_from_slice(&self.date.to_le_bytes());
        // Both at most MAX_LISTED + MAX_LEARNED.
        h[16..18].copy_from_slice(&(self.listed as u16).to_le_bytes());
        h[18..20].copy_from_slice(&(self.learned as u16).to_le_bytes());
        let crc = Self::crc(&h, self.entries());
        h[20..24].copy_from_slice(&crc.to_le_bytes());
        flash.tail_program(page, 0, &h)?;
        self.generation = generation;
        self.page = Some(page);
        Ok(())
    }

    /// Erases both pages (formatting the device).
    pub fn erase<F: Flash>(flash: &mut Split<F>) -> Result<(), FlashError> {
        for page in 0..PAGES {
            flash.tail_erase(page)?;
        }
        Ok(())
    }
}

impl Default for BlockList {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::flash::{NorFlash, PowerCut};
    use std::vec;

    fn key() -> PanKey {
        PanKey::test_key("S")
    }

    fn tag(pan: &str) -> CardTag {
        CardTag::of(&key(), &StoredPan::from_ascii(pan).unwrap())
    }

    fn split(mem: &mut [u8]) -> Split<NorFlash<&mut [u8]>> {
        Split::new(NorFlash::new(mem, 4096), PAGES).unwrap()
    }

    #[test]
    fn card_10_the_list_reads_back_after_a_reboot_without_any_card_number() {
        let mut mem = vec![0xFFu8; 8 * 4096];
        let mut list = BlockList::new();
        assert!(list.replace_listed(&[tag("5019100000000006")], 1_800_000_000));
        assert!(list.learn(tag("4111111111111111")));
        list.save(&mut split(&mut mem)).unwrap();
        // A second save goes to the other page; the newer one wins.
        assert!(list.replace_listed(&[tag("5019100000000030")], 1_800_000_100));
        list.save(&mut split(&mut mem)).unwrap();
        let back = BlockList::load(&mut split(&mut mem)).unwrap();
        assert!(back.is_listed(&tag("5019100000000030")));
        assert!(!back.is_listed(&tag("5019100000000006")));
        assert!(back.is_learned(&tag("4111111111111111")));
        assert!(
            !back.is_listed(&tag("4111111111111111")),
            "learned is not listed"
        );
        assert_eq!(
            back.info(),
            BlockListInfo {
                version: 2,
                date: 1_800_000_100,
                listed: 1,
                learned: 1
            }
        );
        for pan in ["5019100000000006", "5019100000000030", "4111111111111111"] {
            assert!(!mem.windows(16).any(|w| w == pan.as_bytes()), "{pan}");
        }
        assert!(!mem.windows(4).any(|w| w == [0x50, 0x19, 0x10, 0x00]));
        assert!(!mem.windows(4).any(|w| w == [0x41, 0x11, 0x11, 0x11]));
    }

    #[test]
    fn a_power_cut_at_any_write_of_a_save_leaves_the_old_list_or_the_new() {
        let old = tag("5019100000000006");
        let new = tag("5019100000000030");
        for at in 1..40 {
            for tear in [false, true] {
                let mut mem = vec![0xFFu8; 8 * 4096];
                let mut list = BlockList::new();
                list.replace_listed(&[old], 1);
                list.save(&mut split(&mut mem)).unwrap();
                // Rebooted: the list as read back, saved again over a flash that loses power.
                let mut list = BlockList::load(&mut split(&mut mem)).unwrap();
                let mut nor = NorFlash::new(&mut mem[..], 4096);
                nor.cut_power_at(Some(PowerCut { at, tear }));
                list.replace_listed(&[new], 2);
                let saved = list.save(&mut Split::new(nor, PAGES).unwrap()).is_ok();
                let back = BlockList::load(&mut split(&mut mem)).unwrap();
                if saved {
                    assert!(back.is_listed(&new), "cut at {at}");
                } else {
                    assert!(
                        back.is_listed(&old) ^ back.is_listed(&new),
                        "cut at {at} (tear {tear}): one list or the other"
                    );
                }
            }
        }
    }

    #[test]
    fn learned_cards_are_bounded_and_the_oldest_goes_first() {
        let mut list = BlockList::new();
        list.replace_listed(&[tag("5019100000000006")], 1);
        let pans: std::vec::Vec<std::string::String> = (0..=MAX_LEARNED)
            .map(|i| std::format!("40000000000{i:05}"))
            .collect();
        for p in &pans {
            assert!(list.learn(tag(p)));
        }
        assert_eq!(list.info().learned, MAX_LEARNED);
        assert!(!list.is_learned(&tag(&pans[0])), "the oldest went");
        assert!(list.is_learned(&tag(&pans[MAX_LEARNED])));
        assert!(
            list.is_listed(&tag("5019100000000006")),
            "the host's list stays"
        );
        assert!(list.forget(&tag(&pans[5])));
        assert!(!list.is_learned(&tag(&pans[5])));
        assert!(list.is_learned(&tag(&pans[6])));
        // A new host list keeps the learned cards.
        list.replace_listed(&[], 2);
        assert!(list.is_learned(&tag(&pans[6])));
        assert_eq!(list.info().listed, 0);
    }

    #[test]
    fn journal_records_where_the_list_now_lives_are_refused_not_overwritten() {
        let mut mem = vec![0xFFu8; 8 * 4096];
        // An image from before: a journal record in the second-to-last page.
        let at = 6 * 4096 + 128;
        mem[at..at + 52].fill(0);
        mem[at..at + 4].copy_from_slice(&[b'P', b'H', 1, 5]);
        let crc = crate::flash_crc(&mem[at..at + 52]);
        mem[at + 52..at + 56].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(
            BlockList::load(&mut split(&mut mem)).err(),
            Some(JournalError::UnsupportedLayout(5))
        );
    }

    #[test]
    fn damaged_counts_from_flash_are_not_trusted() {
        let mut mem = vec![0xFFu8; 8 * 4096];
        let mut list = BlockList::new();
        list.replace_listed(&[tag("5019100000000006")], 1);
        list.save(&mut split(&mut mem)).unwrap();
        mem[6 * 4096 + 16..6 * 4096 + 18].copy_from_slice(&u16::MAX.to_le_bytes());
        let back = BlockList::load(&mut split(&mut mem)).unwrap();
        assert_eq!(back.info().listed, 0, "the damaged page is ignored");
    }
}
