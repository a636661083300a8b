//! The markers of a record after it was written: sent, forwarded (done), declined by the
//! host, reversed. Each is a program of bits towards 0 in the record's last two words.

use super::*;

impl<F: Flash, const P: usize> Journal<F, P> {
    /// Where the pending item `seq` stands in the queue, if it is pending.
    fn pending_index(&mut self, seq: u32) -> Result<Option<usize>, JournalError> {
        for i in 0..self.pending_len {
            if self.pending(i)?.is_some_and(|r| r.seq == seq) {
                return Ok(Some(i));
            }
        }
        Ok(None)
    }

    /// Takes the `i`-th item out of the in-RAM queue (its flash markers say why).
    fn remove_pending(&mut self, i: usize) {
        self.pending.copy_within(i + 1..self.pending_len, i);
        self.pending_len -= 1;
    }

    /// Marks the pending item `seq` forwarded and acknowledged (optionally declined by the host).
    /// Unknown sequence numbers are ignored: a repeated acknowledgement changes nothing.
    pub fn acknowledge(&mut self, seq: u32, host_declined: bool) -> Result<(), JournalError> {
        let Some(i) = self.pending_index(seq)? else {
            return Ok(());
        };
        let slot = u32::from(self.pending[i]);
        if host_declined {
            // A marker already (partly) set means a cut fell between it and the done marker:
            // the mount counted this item as declined already (NETS-10: counted once).
            let mut word = [0u8; 4];
            self.flash.read(slot * SLOT + DECLINED_AT, &mut word)?;
            let counted = word[0..2] != [0xFF; 2];
            self.clear_bits(slot * SLOT + DECLINED_AT, [0, 0, 0xFF, 0xFF])?;
            if !counted {
                self.declined_by_host += 1;
            }
        }
        self.clear_bits(slot * SLOT + DONE_AT, [0; 4])?;
        self.remove_pending(i);
        self.forwarded += 1;
        Ok(())
    }

    /// Clears the bits that are 0 in `mask` in the marker word at `addr`, keeping those already
    /// cleared: markers share words, and a word is only ever programmed towards 0. (This needs
    /// NOR flash that allows a word to be programmed more than once, as serial NOR does.)
    pub(super) fn clear_bits(&mut self, addr: u32, mask: [u8; 4]) -> Result<(), FlashError> {
        let mut word = [0u8; 4];
        self.flash.read(addr, &mut word)?;
        let new = [
            word[0] & mask[0],
            word[1] & mask[1],
            word[2] & mask[2],
            word[3] & mask[3],
        ];
        if new == word {
            return Ok(()); // already so: no write, no wear
        }
        self.flash.program(addr, &new)
    }

    /// Whether the `i`-th pending item was sent before (its advice is then a repeat, 0221).
    pub fn pending_was_sent(&mut self, i: usize) -> Result<bool, JournalError> {
        if i >= self.pending_len {
            return Ok(false);
        }
        Ok(match self.read_slot(u32::from(self.pending[i]))? {
            SlotState::Txn { found, .. } => found.sent,
            _ => false,
        })
    }

    /// Records that an advice for the pending item `seq` is about to be sent: from now on the
    /// host may have it, so it can no longer be voided locally (PBS-03). Call before sending.
    pub fn mark_sent(&mut self, seq: u32) -> Result<(), JournalError> {
        if let Some(i) = self.pending_index(seq)? {
            let slot = u32::from(self.pending[i]);
            self.clear_bits(slot * SLOT + DONE_AT, [0, 0, 0xFF, 0xFF])?;
        }
        Ok(())
    }

    /// Marks the transaction `seq` reversed (PBS-03) so it is not settled; a pending one is also
    /// marked done, so it is never forwarded (voided). Returns whether it was found.
    pub fn mark_reversed(&mut self, seq: u32) -> Result<bool, JournalError> {
        self.mark_reversed_of(seq, false)
    }

    /// Marks the [`TxnStatus::Sent`] trace of authorisation `seq` resolved: it never left the
    /// terminal (the host could not be reached), so nothing needs reversing after a power cut.
    /// Returns whether the trace was found.
    pub fn mark_unsent(&mut self, seq: u32) -> Result<bool, JournalError> {
        self.mark_reversed_of(seq, true)
    }

    /// Sets the reversed marker of the record of `seq`: its `Sent` trace (`trace`), or the
    /// transaction itself.
    fn mark_reversed_of(&mut self, seq: u32, trace: bool) -> Result<bool, JournalError> {
        // Newest first, from the slot before the head: what is marked is nearly always recent
        // (a trace just written, a purchase reversed at the counter), and a sequence number
        // names one record of each kind, so the first found is the one. Scanning every slot
        // cost a read and a decryption per slot for every online request the host did not
        // answer (the soak spent most of its time there).
        let mut target = None;
        for back in 1..=self.slots {
            let slot = (self.head + self.slots - back) % self.slots;
            if let SlotState::Txn { lsn, found } = self.read_slot(slot)? {
                if found.record.seq == seq
                    && (found.record.status == TxnStatus::Sent) == trace
                    && !self.is_stale(slot, lsn)
                {
                    target = Some((slot, found));
                    break;
                }
            }
        }
        let Some((slot, found)) = target else {
            return Ok(false);
        };
        if found.reversed {
            return Ok(true);
        }
        // One program: a reversed record is never pending (see `mount`), so a pending item is
        // voided by this alone and never forwarded.
        self.clear_bits(slot * SLOT + DECLINED_AT, [0xFF, 0xFF, 0, 0])?;
        if let Some(i) = self.pending[..self.pending_len]
            .iter()
            .position(|&s| u32::from(s) == slot)
        {
            self.remove_pending(i);
        }
        Ok(true)
    }
}
