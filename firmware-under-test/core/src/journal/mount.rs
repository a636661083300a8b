//! Mounting: the scan that rebuilds the journal's state from flash (erase intents first, then
//! every record: the pending index, the counters, the head), and formatting.

use super::*;

impl<F: Flash, const P: usize> Journal<F, P> {
    /// Mounts the journal: scans every slot, rebuilds the pending index, and writes a boot
    /// record (which burns one sequence number, see the module documentation).
    /// Card numbers are encrypted and decrypted under `key`.
    pub fn mount(flash: F, key: PanKey) -> Result<Self, JournalError> {
        Self::mount_keep(flash, key).map_err(|(e, _)| e)
    }

    /// Like [`Journal::mount`], but gives the flash back on failure, so that a boot cut short by
    /// a power loss can be retried on the same device.
    pub fn mount_keep(flash: F, key: PanKey) -> Result<Self, (JournalError, F)> {
        Self::mount_visiting(flash, key, |_| {})
    }

    /// Like [`Journal::mount_keep`], and shows `visit` every live transaction the mount's scan
    /// reads (what [`Journal::for_each`] would show, in slot order), so that a boot needs no
    /// second pass over the flash, each record of which decrypts a card number. It sees the
    /// journal as it was at power-up: a page the boot record's append then erases (its records
    /// were old and done) is visited too.
    pub fn mount_visiting(
        flash: F,
        key: PanKey,
        visit: impl FnMut(Found),
    ) -> Result<Self, (JournalError, F)> {
        let (slots, slots_per_page, pages) = match geometry(&flash) {
            Ok(g) => g,
            Err(e) => return Err((e, flash)),
        };
        let mut j = Self {
            flash,
            key,
            key_check: key.check_value(),
            slots,
            slots_per_page,
            head: 0,
            next_lsn: 1,
            next_seq: 1,
            boot_count: 0,
            intents: [0; MAX_PAGES],
            pending: [0; P],
            pending_len: 0,
            declined_by_host: 0,
            forwarded: 0,
            boot_unrecorded: false,
            unjournaled: None,
            unreadable: 0,
            latest_time: 0,
        };
        match j.recover(pages, visit) {
            Ok(()) => Ok(j),
            Err(e) => Err((e, j.flash)),
        }
    }

    /// Erases the whole device and starts a new journal on it: only when asked explicitly (the
    /// emulator's `--format-flash`), never because a mount failed. `seq_floor` is the highest
    /// sequence number the device may have used before (read from the old image with
    /// [`highest_seq_in`]): the new journal burns it, so numbers continue above it and the host,
    /// which deduplicates on them (PBS-02), never sees one again.
    pub fn format(mut flash: F, key: PanKey, seq_floor: u32) -> Result<Self, JournalError> {
        let (_, _, pages) = geometry(&flash)?;
        for page in 0..pages {
            flash.erase_page(page)?;
        }
        let mut j = Self::mount(flash, key)?;
        j.continue_above(seq_floor)?;
        Ok(j)
    }

    /// Erases the whole device and starts a new journal on it in place, its sequence numbers
    /// continuing above every one this journal handed out: a test agent's reset
    /// (`Request::Reset`), never a fallback. The boot count starts again, as after a format.
    pub fn format_in_place(&mut self) -> Result<(), JournalError> {
        // Every number below `next_seq` may have reached a host; one taken and not journaled
        // is `next_seq - 1` at most.
        let floor = self.next_seq.saturating_sub(1);
        let (_, _, pages) = geometry(&self.flash)?;
        for page in 0..pages {
            self.flash.erase_page(page)?;
        }
        self.head = 0;
        self.next_lsn = 1;
        self.next_seq = 1;
        self.boot_count = 0;
        self.intents = [0; MAX_PAGES];
        self.pending_len = 0;
        self.declined_by_host = 0;
        self.forwarded = 0;
        self.boot_unrecorded = false;
        self.unjournaled = None;
        self.unreadable = 0;
        self.latest_time = 0;
        self.recover(pages, |_| {})?;
        self.continue_above(floor)
    }

    /// Makes the next sequence number lie above `seq_floor` (and records that in a boot
    /// record), if it does not already.
    fn continue_above(&mut self, seq_floor: u32) -> Result<(), JournalError> {
        if seq_floor >= self.next_seq {
            // Two above the floor: the floor's successor may have been taken unjournaled.
            self.next_seq = seq_floor
                .checked_add(2)
                .ok_or(JournalError::SequenceExhausted)?;
            self.write_boot_record()?;
        }
        Ok(())
    }

    pub(super) fn recover(
        &mut self,
        pages: u32,
        mut visit: impl FnMut(Found),
    ) -> Result<(), JournalError> {
        let j = self;
        let slots = j.slots;
        // Pass 1: erase intents, so that pass 2 can tell stale records from live ones.
        for slot in 0..slots {
            // Only a slot that may be an intent or another layout's record matters here: the
            // rest are left to pass 2 without their CRC computed and card number decrypted.
            if !j.may_be_intent_or_other_layout(slot)? {
                continue;
            }
            match j.read_slot(slot)? {
                SlotState::Intent {
                    lsn,
                    page,
                    boot_count,
                    latest_time,
                } => {
                    // An intent carries the boot counter and the latest time: the page it
                    // erases may hold the last boot record or the latest transaction, and
                    // both must survive the ring's wrap.
                    if boot_count != NOT_RECORDED {
                        j.boot_count = j.boot_count.max(boot_count);
                    }
                    if latest_time != NOT_RECORDED {
                        j.latest_time = j.latest_time.max(latest_time);
                    }
                    if page < pages && lsn > j.intents[page as usize] {
                        j.intents[page as usize] = lsn;
                    }
                }
                SlotState::OtherLayout(v) => return Err(JournalError::UnsupportedLayout(v)),
                _ => {}
            }
        }
        // Pass 2: everything else.
        let mut max: Option<(u32, u32)> = None; // (lsn, slot)
        let mut max_seq = 0u32;
        let mut pendings: [(u32, u16); P] = [(0, 0); P];
        for slot in 0..slots {
            let state = j.read_slot(slot)?;
            if matches!(state, SlotState::Garbage) {
                j.unreadable = j.unreadable.saturating_add(1);
            }
            let Some(lsn) = state.lsn() else { continue };
            if j.is_stale(slot, lsn) {
                continue;
            }
            if max.is_none_or(|(m, _)| lsn > m) {
                max = Some((lsn, slot));
            }
            match state {
                SlotState::Boot {
                    boot_count,
                    burned,
                    key_check,
                    latest_time,
                    ..
                } => {
                    if key_check != j.key_check {
                        return Err(JournalError::WrongKey);
                    }
                    j.boot_count = j.boot_count.max(boot_count);
                    if latest_time != NOT_RECORDED {
                        j.latest_time = j.latest_time.max(latest_time);
                    }
                    max_seq = max_seq.max(burned);
                }
                SlotState::Txn { found, .. } => {
                    visit(found);
                    // Journaled times are in TIME_RANGE (`record` refuses others): u32.
                    let t = u32::try_from(found.record.local_time).unwrap_or(0);
                    j.latest_time = j.latest_time.max(t);
                    max_seq = max_seq.max(found.record.seq);
                    if found.host_declined {
                        j.declined_by_host += 1;
                    }
                    if !found.done && !found.reversed {
                        if j.pending_len == P {
                            return Err(JournalError::TooManyPending);
                        }
                        pendings[j.pending_len] = (found.record.seq, slot as u16);
                        j.pending_len += 1;
                    }
                }
                _ => {}
            }
        }
        pendings[..j.pending_len].sort_unstable_by_key(|p| p.0);
        // A cut between a move's copy and the original's retirement leaves both: the newer
        // is the item, the older is retired now (`moving.rs`).
        let mut kept = 0;
        for i in 0..j.pending_len {
            let (seq, slot) = pendings[i];
            if kept > 0 && pendings[kept - 1].0 == seq {
                let other = pendings[kept - 1].1;
                let (newer, older) = if j.lsn_at(slot)? > j.lsn_at(other)? {
                    (slot, other)
                } else {
                    (other, slot)
                };
                j.retire(u32::from(older))?;
                pendings[kept - 1].1 = newer;
                continue;
            }
            pendings[kept] = (seq, slot);
            kept += 1;
        }
        j.pending_len = kept;
        for (i, p) in pendings[..j.pending_len].iter().enumerate() {
            j.pending[i] = p.1;
        }
        if let Some((lsn, slot)) = max {
            // Numbers read from flash: checked, a damaged or hostile image must not wrap them.
            j.next_lsn = lsn.checked_add(1).ok_or(JournalError::SequenceExhausted)?;
            j.head = (slot + 1) % slots;
        }
        j.boot_count = j.boot_count.saturating_add(1);
        // Burn the next sequence number: a transaction cut before it was journaled may have
        // sent it to the host already.
        j.next_seq = max_seq
            .checked_add(2)
            .ok_or(JournalError::SequenceExhausted)?;
        match j.write_boot_record() {
            // A journal full of pending items must still boot, so that it can forward them.
            // The boot record is then written by `ensure_room`, before any number is taken.
            Ok(()) => Ok(()),
            Err(JournalError::Full) => {
                j.boot_unrecorded = true;
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}
