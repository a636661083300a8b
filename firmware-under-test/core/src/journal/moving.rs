//! Moving pending items out of the page the log must reuse next (see the module
//! documentation): without it, one item the terminal could not forward pins its page, and a
//! few pages' worth of later records (online payments, boots) leave the journal full while the
//! queue holds a single item.

use super::{FlashError, Journal, JournalError, KIND_TXN, SLOT, SlotState, Tail};
use crate::flash::Flash;

/// Free slots the move leaves itself beyond what the items need: a torn copy uses a slot up,
/// and the move must still fit after a cut in the middle of it.
const SLACK: u32 = 4;

/// The CRC word of a slot: cleared to retire the record.
const CRC_AT: u32 = 52;

impl<F: Flash, const P: usize> Journal<F, P> {
    /// With the log at the free `slot`: the page after the head's, if it holds pending items
    /// that must move now (their count fills the free slots left before the erase-intent slot,
    /// with [`SLACK`] to spare), and can (they fit).
    pub(super) fn move_due(&self, slot: u32) -> Option<u32> {
        let spp = self.slots_per_page;
        let pages = self.slots / spp;
        let next = (slot / spp + 1) % pages;
        let items = self.pending_in_page(next);
        // The page's last slot is for the erase intent.
        let left = spp - 1 - slot % spp;
        (items > 0 && items <= left && left <= items.saturating_add(SLACK)).then_some(next)
    }

    /// Pending items whose record is in `page` (a page holding any is never erased).
    pub(super) fn pending_in_page(&self, page: u32) -> u32 {
        self.pending[..self.pending_len]
            .iter()
            .filter(|&&s| u32::from(s) / self.slots_per_page == page)
            .count() as u32
    }

    /// Copies each pending item of `page` to the head and retires the original, keeping the
    /// queue's order. Stops early (the journal is then full when the log reaches the page)
    /// only if torn slots took the room.
    pub(super) fn move_pending_out_of(&mut self, page: u32) -> Result<(), JournalError> {
        for i in 0..self.pending_len {
            let from = u32::from(self.pending[i]);
            if from / self.slots_per_page != page {
                continue;
            }
            let Some(to) = self.free_slot_before_intent()? else {
                return Ok(());
            };
            let rec = self.pending(i)?.ok_or(JournalError::Inconsistent)?;
            let sent = self.pending_was_sent(i)?;
            let mut body = [0u8; 44];
            // Encrypted again: the card number's nonce is the record's lsn.
            rec.encode(&mut body, &self.key, self.next_lsn);
            // The sent marker goes with the copy in one program: an item whose advice may have
            // reached the host must never look unsent (it could then be voided locally).
            let tail = if sent { Tail::Sent } else { Tail::Open };
            self.write_at(to, KIND_TXN, &body, tail)?;
            // `to` < slots <= u16::MAX (the geometry guarantees it).
            self.pending[i] = to as u16;
            self.retire(from)?;
        }
        Ok(())
    }

    /// The head, if it is a free slot before its page's erase-intent slot; torn slots on the
    /// way are passed over.
    fn free_slot_before_intent(&mut self) -> Result<Option<u32>, FlashError> {
        loop {
            let slot = self.head;
            if slot % self.slots_per_page == self.slots_per_page - 1 {
                return Ok(None);
            }
            if matches!(self.read_slot(slot)?, SlotState::Erased) {
                return Ok(Some(slot));
            }
            self.head = (slot + 1) % self.slots;
        }
    }

    /// Retires the record in `slot`: its CRC word is programmed to zero, so it never reads
    /// back as a record again (a torn retirement clears part of it: the same).
    pub(super) fn retire(&mut self, slot: u32) -> Result<(), FlashError> {
        self.clear_bits(slot * SLOT + CRC_AT, [0; 4])
    }

    /// The lsn stored in `slot`'s header.
    pub(super) fn lsn_at(&mut self, slot: u16) -> Result<u32, FlashError> {
        let mut b = [0u8; 4];
        self.flash.read(u32::from(slot) * SLOT + 4, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }
}
