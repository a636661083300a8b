//! The transaction journal on flash; its pending records are the offline (store-and-forward)
//! queue.
//!
//! Why a journal rather than a queue of offline items only: every finished transaction is
//! written, so the transaction sequence number (the stable id the host deduplicates on, PBS-02)
//! survives power cuts, and support can recover what happened (SUPPORT-02).
//!
//! Layout: the device is a ring of 64-byte slots, pages of `page_size / 64` slots. A slot is
//! ```text
//!  0..2   magic "PH"   2  kind: 1 txn, 2 boot, 3 erase intent   3  layout version (5)
//!  4..8   lsn (u32 LE): log sequence number, strictly increasing over all records
//!  8..52  body (44 bytes): txn see TxnRecord::encode (card number encrypted); boot:
//!         boot_count, burned seq, key check value, latest time; erase intent: page number,
//!         boot_count, latest time (u32 LE each; FF.. where older firmware wrote nothing)
//! 52..56  CRC-32 over bytes 0..52
//! 56..58  sent marker: 00 00 = an advice for it may have reached the host
//! 58..60  done marker: 00 00 = forwarded and acknowledged (written with the sent marker)
//! 60..62  host-declined marker: 00 00 = the host declined the forwarded item (NETS-10)
//! 62..64  reversed marker: 00 00 = reversed or voided afterwards (PBS-03)
//! ```
//! Power-loss rules, each tested by cutting power at every single write of a workload
//! (`power_cut_tests`):
//! * Bytes 0..56 are written by one program operation (0..60, done marker included, for records
//!   that need no forwarding). A torn write fails its CRC and the slot is
//!   skipped (never reused before its page is erased): an interrupted append is found once or
//!   not at all. An append is durable when `record` returns, and only then may the terminal
//!   approve offline.
//! * The markers are programmed only after the host acknowledged; any cleared bit counts. A cut
//!   before the marker re-forwards an item the host already has, which the host's
//!   deduplication by stable id absorbs (PBS-02).
//! * A page is reused only when none of its records is pending, and an erase-intent record for
//!   it is written first (in the last slot of the page before). At mount, records in a page that
//!   are older than an erase intent for that page are ignored, so a torn erase cannot bring a
//!   forwarded record back as pending. (If the intent write itself was torn, the page is erased
//!   without one; only a second, torn erase right after could then resurrect a done record,
//!   which the host's deduplication again absorbs.)
//! * A transaction takes its sequence number just before it goes to the host or is approved
//!   offline, and is journaled before the terminal answers. Each boot burns the next number in
//!   its boot record, so the one number a cut can leave unjournaled is never given again.
//! * When no page can be reused the journal refuses (`Full`): it never overwrites a pending item.
//!
//! Card numbers at rest (PCI-02): a store-and-forward terminal must keep the card number until the
//! advice is forwarded, so the journal keeps it, but encrypted: the packed-BCD digits of every
//! transaction record are XORed with a ChaCha20 keystream under the device's [`PanKey`] and a
//! nonce unique to the record (its sequence number and log sequence number; see
//! [`TxnRecord::encode`]). Neither the digits as text nor as packed BCD appear in the raw flash.
//! Each boot record carries a key check value, so a journal written under another key is refused
//! at mount ([`JournalError::WrongKey`]) instead of being read as garbage (which would silently
//! drop its pending items). A layout written by another firmware version is refused the same way
//! ([`JournalError::UnsupportedLayout`]).
//!
//! Moving (see `moving.rs`): a page the log must reuse may still hold pending items (an item
//! the terminal could not forward while it went on journaling other transactions and boots).
//! Shortly before the log reaches that page, each such item is copied to the head (a new
//! record: same transaction, new lsn, the card number encrypted again under it, the sent
//! marker carried in the same program) and then the original is retired (its CRC word
//! programmed to zero: never read again, and not counted as damage). A cut between the two
//! leaves both on flash; the mount keeps the newer and retires the older. So the journal is
//! full only when pending items fill about all but one page, never because one item is old.

use crate::flash::{Flash, FlashError};

mod record;
pub use record::{PanKey, StoredPan, TxnRecord, TxnStatus};

mod markers;
mod mount;
mod moving;

#[cfg(test)]
mod power_cut_tests;

/// Bytes per slot.
pub const SLOT: u32 = 64;
/// Most pages a device may have (fixed so the erase-intent table needs no heap).
pub const MAX_PAGES: usize = 256;
const HEADER_AND_BODY: usize = 52;
const WRITTEN: usize = 56;
const DONE_AT: u32 = 56;
const DECLINED_AT: u32 = 60;
const MAGIC: [u8; 2] = *b"PH";
const KIND_TXN: u8 = 1;
const KIND_BOOT: u8 = 2;
const KIND_INTENT: u8 = 3;
/// Version 5: the card number is encrypted and boot records carry a key check value. Version 4
/// kept it in clear packed BCD; such a journal is refused, not misread.
const LAYOUT: u8 = 5;

/// What a record's program writes of its marker word (bytes 56..60) with it.
#[derive(Clone, Copy)]
enum Tail {
    /// Nothing: the markers stay erased (a pending item, a boot record, an intent).
    Open,
    /// The done marker (and sent): a record that needs no forwarding is never found pending.
    Done,
    /// The sent marker only: a moved item whose advice may have reached the host.
    Sent,
}

impl Tail {
    fn of(done: bool) -> Self {
        if done { Tail::Done } else { Tail::Open }
    }
}

/// Why the journal could not take a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JournalError {
    /// No reusable space: the page the log must reuse still holds pending items.
    Full,
    /// The pending index is at capacity.
    TooManyPending,
    /// The device is larger than [`MAX_PAGES`] pages, smaller than two, or has pages smaller
    /// than two slots.
    BadGeometry,
    /// The flash failed (including a power cut).
    Flash(FlashError),
    /// The flash holds records of another journal layout version (written by other firmware):
    /// refused rather than misread.
    UnsupportedLayout(u8),
    /// The journal was written under another card-number key (another device's flash, or a
    /// changed key): refused rather than losing its pending items as unreadable.
    WrongKey,
    /// The journal contradicts itself: a record its index points at no longer reads back, or
    /// a record the terminal found is gone. Not a power loss.
    Inconsistent,
    /// Sequence numbers (or log sequence numbers) would run past `u32::MAX`: nothing more can
    /// be journaled without repeating a number.
    SequenceExhausted,
    /// A time outside [`TIME_RANGE`]: it cannot be stored (and would read back wrong).
    TimeOutOfRange,
}

/// The times a record can hold (Unix seconds, stored as u32: 1970-01-01 .. 2106-02-07).
pub const TIME_RANGE: core::ops::RangeInclusive<i64> = 0..=u32::MAX as i64;

impl From<FlashError> for JournalError {
    fn from(e: FlashError) -> Self {
        JournalError::Flash(e)
    }
}

/// A journaled transaction as found on flash, with its forwarding state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    /// The record.
    pub record: TxnRecord,
    /// Forwarded and acknowledged (or never needed forwarding).
    pub done: bool,
    /// An advice for it may have reached the host (it was sent at least once).
    pub sent: bool,
    /// The host declined it after forwarding (NETS-10).
    pub host_declined: bool,
    /// Reversed or voided afterwards (PBS-03): not settled.
    pub reversed: bool,
}

/// The journal over a flash device; `P` is the capacity of the pending (offline) index.
#[derive(Clone)]
pub struct Journal<F, const P: usize> {
    flash: F,
    /// Encrypts card numbers at rest (PCI-02).
    key: PanKey,
    /// The key's check value, which every boot record carries (computed once: it costs a
    /// ChaCha20 block).
    key_check: [u8; 4],
    slots: u32,
    slots_per_page: u32,
    head: u32,
    next_lsn: u32,
    next_seq: u32,
    boot_count: u32,
    /// Newest erase intent per page (0 = none).
    intents: [u32; MAX_PAGES],
    /// Slots of pending items, oldest sequence number first.
    pending: [u16; P],
    pending_len: usize,
    declined_by_host: u32,
    forwarded: u32,
    /// The boot record (which burns a sequence number) could not be written at mount because
    /// the journal was full; it is written before any number is handed out.
    boot_unrecorded: bool,
    /// A sequence number taken and not yet journaled. Only one may be outstanding: the next is
    /// handed out only after a record burns it (see [`Journal::ensure_room`]), so the one
    /// number a boot burns always covers it, whatever failed in between.
    unjournaled: Option<u32>,
    /// See [`Journal::unreadable_slots`].
    unreadable: u32,
    /// See [`Journal::latest_time`].
    latest_time: u32,
}

/// A boot record's or erase intent's field written by firmware that did not record it.
const NOT_RECORDED: u32 = u32::MAX;

/// Slots, slots per page and pages of a device the journal can use.
fn geometry<F: Flash>(flash: &F) -> Result<(u32, u32, u32), JournalError> {
    let slots = flash.size() / SLOT;
    let slots_per_page = flash.page_size() / SLOT;
    let pages = flash.size() / flash.page_size().max(1);
    if slots_per_page < 2 || !(2..=MAX_PAGES as u32).contains(&pages) || slots > u32::from(u16::MAX)
    {
        return Err(JournalError::BadGeometry);
    }
    Ok((slots, slots_per_page, pages))
}

/// The highest sequence number recorded anywhere in a raw journal image (any layout version,
/// any key, any length: whole slots whose magic and CRC hold), 0 if none. What `--format-flash`
/// carries over so that numbers never repeat, however damaged the old image was.
pub fn highest_seq_in(image: &[u8]) -> u32 {
    let mut max = 0;
    for b in image.chunks_exact(SLOT as usize) {
        let crc = u32::from_le_bytes([b[52], b[53], b[54], b[55]]);
        if b[0..2] != MAGIC || crate::flash_crc(&b[..HEADER_AND_BODY]) != crc {
            continue;
        }
        // Layouts 4 and 5 agree here: a transaction's seq and a boot's burned number.
        let at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let seq = match b[2] {
            KIND_TXN => at(8),
            KIND_BOOT => at(12),
            _ => continue,
        };
        max = max.max(seq);
    }
    max
}

#[derive(Clone, Copy)]
enum SlotState {
    Erased,
    Garbage,
    /// A record moved elsewhere (see the module documentation): its CRC word was cleared on
    /// purpose, wholly or (cut) in part. Skipped like garbage, but not damage.
    Retired,
    /// A whole record (its CRC holds) of another layout version.
    OtherLayout(u8),
    Boot {
        lsn: u32,
        boot_count: u32,
        burned: u32,
        key_check: [u8; 4],
        /// The latest time journaled when it was written ([`NOT_RECORDED`]: written before
        /// boot records carried it).
        latest_time: u32,
    },
    Intent {
        lsn: u32,
        page: u32,
        /// The boot counter when the intent was written ([`NOT_RECORDED`]: not recorded).
        boot_count: u32,
        /// The latest time journaled when it was written ([`NOT_RECORDED`]: not recorded).
        latest_time: u32,
    },
    Txn {
        lsn: u32,
        found: Found,
    },
}

impl SlotState {
    fn lsn(&self) -> Option<u32> {
        match *self {
            SlotState::Boot { lsn, .. }
            | SlotState::Intent { lsn, .. }
            | SlotState::Txn { lsn, .. } => Some(lsn),
            _ => None,
        }
    }
}

impl<F: Flash, const P: usize> Journal<F, P> {
    /// The device under the journal, for a store that shares it (see [`crate::flash::Split`]);
    /// tests arm power cuts on it.
    pub(crate) fn flash_mut(&mut self) -> &mut F {
        &mut self.flash
    }

    /// The latest transaction time the journal ever held (Unix seconds, 0 if none): kept in
    /// every boot record and erase intent, so it outlives the records the ring reuses. A clock
    /// behind it is one the terminal cannot trust (rules/catalogue.toml CARD-03/clock-set-back).
    pub fn latest_time(&self) -> i64 {
        i64::from(self.latest_time)
    }

    /// Slots that hold neither a record nor erased bytes (torn writes, or damage), found at
    /// mount. A power cut leaves at most one torn slot or half-erased page; more is worth a look.
    pub fn unreadable_slots(&self) -> u32 {
        self.unreadable
    }

    fn write_boot_record(&mut self) -> Result<(), JournalError> {
        // next_seq >= 1 always (it starts at 1 and only grows).
        let burned = self.next_seq.saturating_sub(1);
        let mut body = [0xFFu8; 44];
        body[0..4].copy_from_slice(&self.boot_count.to_le_bytes());
        body[4..8].copy_from_slice(&burned.to_le_bytes());
        body[8..12].copy_from_slice(&self.key_check);
        body[12..16].copy_from_slice(&self.latest_time.to_le_bytes());
        self.append(KIND_BOOT, &body, false).map(|_| ())
    }

    /// A record is stale if its page has a newer erase intent: the page was (being) erased.
    fn is_stale(&self, slot: u32, lsn: u32) -> bool {
        self.intents[(slot / self.slots_per_page) as usize] > lsn
    }

    /// Whether `slot`'s header names an erase intent or another layout (a cheap look at four
    /// bytes; [`Journal::read_slot`] then checks the record).
    fn may_be_intent_or_other_layout(&mut self, slot: u32) -> Result<bool, FlashError> {
        let mut h = [0u8; 4];
        self.flash.read(slot * SLOT, &mut h)?;
        Ok(h[0..2] == MAGIC && (h[2] == KIND_INTENT || h[3] != LAYOUT))
    }

    fn read_slot(&mut self, slot: u32) -> Result<SlotState, FlashError> {
        let mut b = [0u8; SLOT as usize];
        self.flash.read(slot * SLOT, &mut b)?;
        // AND of all bytes, one comparison at the end: every read of the journal asks this,
        // and a branch per byte is what a coverage-guided fuzzer traces most.
        if b.iter().fold(0xFF, |all, &x| all & x) == 0xFF {
            return Ok(SlotState::Erased);
        }
        let crc = u32::from_le_bytes([b[52], b[53], b[54], b[55]]);
        if b[0..2] != MAGIC {
            return Ok(SlotState::Garbage);
        }
        let computed = crate::flash_crc(&b[..HEADER_AND_BODY]);
        if computed != crc {
            // Only bits the right CRC has set were cleared: a retirement (or its torn part).
            return Ok(if crc & computed == crc {
                SlotState::Retired
            } else {
                SlotState::Garbage
            });
        }
        if b[3] != LAYOUT {
            return Ok(SlotState::OtherLayout(b[3]));
        }
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let lsn = u32_at(4);
        Ok(match b[2] {
            KIND_BOOT => SlotState::Boot {
                lsn,
                boot_count: u32_at(8),
                burned: u32_at(12),
                key_check: [b[16], b[17], b[18], b[19]],
                latest_time: u32_at(20),
            },
            KIND_INTENT => SlotState::Intent {
                lsn,
                page: u32_at(8),
                boot_count: u32_at(12),
                latest_time: u32_at(16),
            },
            KIND_TXN => match TxnRecord::decode(&b[8..52], &self.key, lsn) {
                // Any cleared bit counts: a torn marker write still means the host acknowledged.
                Some(record) => SlotState::Txn {
                    lsn,
                    found: Found {
                        record,
                        done: b[58..60] != [0xFF; 2],
                        sent: b[56..60] != [0xFF; 4],
                        host_declined: b[60..62] != [0xFF; 2],
                        reversed: b[62..64] != [0xFF; 2],
                    },
                },
                None => SlotState::Garbage,
            },
            _ => SlotState::Garbage,
        })
    }

    /// Writes a record at the head (erasing the next page first if it must be reused). With
    /// `done`, the done marker is written in the same program, so a record that needs no
    /// forwarding can never be found pending.
    fn append(&mut self, kind: u8, body: &[u8; 44], done: bool) -> Result<u32, JournalError> {
        let slot = self.free_slot()?;
        self.write_at(slot, kind, body, Tail::of(done))?;
        Ok(slot)
    }

    fn write_at(
        &mut self,
        slot: u32,
        kind: u8,
        body: &[u8; 44],
        tail: Tail,
    ) -> Result<(), JournalError> {
        let lsn = self.next_lsn;
        // Bytes 56..60 are programmed with the record only when its tail says so (done, or
        // sent by a moved item): 00 for the markers set, FF (left as it is) for the rest.
        let mut b = [0u8; WRITTEN + 4];
        b[0..2].copy_from_slice(&MAGIC);
        b[2] = kind;
        b[3] = LAYOUT;
        b[4..8].copy_from_slice(&lsn.to_le_bytes());
        b[8..52].copy_from_slice(body);
        let crc = crate::flash_crc(&b[..HEADER_AND_BODY]);
        b[52..56].copy_from_slice(&crc.to_le_bytes());
        // Whatever happens to this program, the slot and the lsn are used up.
        self.head = (slot + 1) % self.slots;
        self.next_lsn = lsn.checked_add(1).ok_or(JournalError::SequenceExhausted)?;
        let len = match tail {
            Tail::Open => WRITTEN,
            Tail::Done => WRITTEN + 4,
            Tail::Sent => {
                b[WRITTEN + 2..].fill(0xFF);
                WRITTEN + 4
            }
        };
        self.flash.program(slot * SLOT, &b[..len])?;
        if kind == KIND_INTENT {
            let page = u32::from_le_bytes([body[0], body[1], body[2], body[3]]);
            self.intents[page as usize] = lsn;
        }
        Ok(())
    }

    /// Finds the next erased slot from the head. Before the log enters a page that holds old
    /// records, it writes an erase intent for that page (in the last slot of the page before)
    /// and erases it; a page with pending items is never erased.
    fn free_slot(&mut self) -> Result<u32, JournalError> {
        let pages = self.slots / self.slots_per_page;
        for _ in 0..=self.slots {
            let slot = self.head;
            let page = slot / self.slots_per_page;
            let free = matches!(self.read_slot(slot)?, SlotState::Erased);
            if free && slot % self.slots_per_page == 0 && self.erase_was_torn(page)? {
                // A cut tore the page's erase: its second half kept its old records (stale,
                // behind the intent). Left so, they took the room a move needs, and the log
                // reached the next page without an intent slot and found it full (found by
                // the bench_sim fuzzer). Finish the erase before the page takes a record.
                self.flash.erase_page(page)?;
                continue;
            }
            if free && slot % self.slots_per_page == self.slots_per_page - 1 {
                let next = (page + 1) % pages;
                if !self.page_is_erased(next)? {
                    if self.pending_in_page(next) > 0 {
                        return Err(JournalError::Full);
                    }
                    let mut body = [0xFFu8; 44];
                    body[0..4].copy_from_slice(&next.to_le_bytes());
                    body[4..8].copy_from_slice(&self.boot_count.to_le_bytes());
                    // The page may hold the latest time journaled (CARD-03/clock-set-back).
                    body[8..12].copy_from_slice(&self.latest_time.to_le_bytes());
                    self.write_at(slot, KIND_INTENT, &body, Tail::Open)?;
                    self.flash.erase_page(next)?;
                    continue;
                }
            }
            if !free
                && slot % self.slots_per_page == 0
                && !self.page_has_live_records_after(page)?
            {
                // The log arrived here without a usable intent slot (the intent write was torn,
                // or a mount found the page not yet erased): erase if nothing pending is here.
                if self.pending_in_page(page) > 0 {
                    return Err(JournalError::Full);
                }
                self.flash.erase_page(page)?;
                // No intent carries the boot counter over this erase: record it again before
                // the next number is taken (see `ensure_room`).
                self.boot_unrecorded = true;
                continue;
            }
            if free {
                if let Some(next) = self.move_due(slot) {
                    self.move_pending_out_of(next)?;
                    continue;
                }
                return Ok(slot);
            }
            // A torn or stale slot is never reused before its page is erased.
            self.head = (slot + 1) % self.slots;
        }
        Err(JournalError::Full)
    }

    /// True if the page holds the newest record, i.e. the page is the one the log is currently
    /// filling (so it must not be erased). Not "any record of the last `slots` appends": the
    /// page after a torn erase intent holds only such records (the ring went round since they
    /// were written), and taking them for the current page's left the journal full for good.
    fn page_has_live_records_after(&mut self, page: u32) -> Result<bool, FlashError> {
        let first = page * self.slots_per_page;
        let newest = self.next_lsn.saturating_sub(1);
        for s in first..first + self.slots_per_page {
            if newest > 0 && self.read_slot(s)?.lsn() == Some(newest) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// With the log at `page`'s first slot, erased: whether the page's erase was torn, i.e.
    /// its last slot is not erased and nothing in it is live (every record older than the
    /// page's erase intent, or unreadable). A page the log enters is otherwise fully erased.
    fn erase_was_torn(&mut self, page: u32) -> Result<bool, FlashError> {
        let first = page * self.slots_per_page;
        let last = first + self.slots_per_page - 1;
        if matches!(self.read_slot(last)?, SlotState::Erased) {
            return Ok(false);
        }
        for s in first..=last {
            if let Some(lsn) = self.read_slot(s)?.lsn() {
                if !self.is_stale(s, lsn) {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    fn page_is_erased(&mut self, page: u32) -> Result<bool, FlashError> {
        let first = page * self.slots_per_page;
        for s in first..first + self.slots_per_page {
            if !matches!(self.read_slot(s)?, SlotState::Erased) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The sequence number the next transaction will get.
    pub fn next_seq(&self) -> u32 {
        self.next_seq
    }

    /// Takes the next sequence number for a transaction about to go to the host or to be
    /// approved offline. The transaction must be journaled (any outcome) before the terminal
    /// takes another.
    pub fn take_seq(&mut self) -> u32 {
        debug_assert!(
            !self.boot_unrecorded && self.unjournaled.is_none(),
            "ensure_room must succeed before a number is taken"
        );
        let s = self.next_seq;
        // `ensure_room` refuses before the last numbers; saturating keeps this total anyway.
        self.next_seq = s.saturating_add(1);
        self.unjournaled = Some(s);
        s
    }

    /// Makes sure the next record has a slot (erasing a reusable page if needed); `Full` if not.
    /// Must succeed before [`Journal::take_seq`].
    pub fn ensure_room(&mut self) -> Result<(), JournalError> {
        // Two numbers stay in reserve: one a boot burns, one it hands out.
        if self.next_seq > u32::MAX - 2 {
            return Err(JournalError::SequenceExhausted);
        }
        // A number taken but never journaled (its transaction ended in a storage fault) is
        // burned by a record before the next is taken, so at most one is ever unjournaled.
        if self.boot_unrecorded || self.unjournaled.is_some() {
            self.write_boot_record()?;
            self.boot_unrecorded = false;
            self.unjournaled = None;
        }
        self.free_slot()?;
        // Finding the slot may have erased a page without an intent (after a torn one), taking
        // the last boot record with it: record the counter again before a number is taken.
        if self.boot_unrecorded {
            self.write_boot_record()?;
            self.boot_unrecorded = false;
            self.free_slot()?;
        }
        Ok(())
    }

    /// Power-ups since the flash was formatted, including this one.
    pub fn boot_count(&self) -> u32 {
        self.boot_count
    }

    /// Journals a finished transaction. Returns only when the record is on flash: an offline
    /// approval may be given only after this succeeded (NETS-01, PBS-02).
    pub fn record(&mut self, rec: &TxnRecord) -> Result<(), JournalError> {
        let offline = rec.status == TxnStatus::ApprovedOffline;
        if offline && self.pending_len == P {
            return Err(JournalError::TooManyPending);
        }
        // Stored as u32: a time outside would read back as another (1970) time.
        if !TIME_RANGE.contains(&rec.local_time) {
            return Err(JournalError::TimeOutOfRange);
        }
        // In range: it fits a u32.
        self.latest_time = self.latest_time.max(rec.local_time as u32);
        // The slot first: making room may itself append (an erase intent), and the card number's
        // nonce needs the lsn this record will get.
        let slot = self.free_slot()?;
        let mut body = [0u8; 44];
        rec.encode(&mut body, &self.key, self.next_lsn);
        // Nothing to forward for anything but an offline approval: written done at once.
        self.write_at(slot, KIND_TXN, &body, Tail::of(!offline))?;
        if self.unjournaled == Some(rec.seq) {
            self.unjournaled = None;
        }
        if offline {
            // Sequence numbers grow, so appending keeps the index sorted.
            self.pending[self.pending_len] = slot as u16;
            self.pending_len += 1;
        }
        Ok(())
    }

    /// Pending (unforwarded) offline items.
    pub fn pending_len(&self) -> usize {
        self.pending_len
    }

    /// Capacity of the pending index.
    pub const fn capacity(&self) -> usize {
        P
    }

    /// Items acknowledged by the host since boot.
    pub fn forwarded(&self) -> u32 {
        self.forwarded
    }

    /// Items the host declined after forwarding (NETS-10).
    pub fn declined_by_host(&self) -> u32 {
        self.declined_by_host
    }

    /// The `i`-th pending item, oldest first.
    pub fn pending(&mut self, i: usize) -> Result<Option<TxnRecord>, JournalError> {
        if i >= self.pending_len {
            return Ok(None);
        }
        let mut b = [0u8; SLOT as usize];
        self.flash.read(u32::from(self.pending[i]) * SLOT, &mut b)?;
        let lsn = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
        // The index only holds slots that decoded at mount or were just written: a record that
        // no longer reads back is an inconsistency, never a silent end of the queue.
        TxnRecord::decode(&b[8..52], &self.key, lsn)
            .map(Some)
            .ok_or(JournalError::Inconsistent)
    }

    /// Visits every transaction still on flash (what support can recover, SUPPORT-02), in slot
    /// order. Records of reused pages are gone; pending ones are never reused.
    pub fn for_each(&mut self, mut f: impl FnMut(Found)) -> Result<(), JournalError> {
        for slot in 0..self.slots {
            if let SlotState::Txn { lsn, found } = self.read_slot(slot)? {
                if !self.is_stale(slot, lsn) {
                    f(found);
                }
            }
        }
        Ok(())
    }

    /// Gives the flash back (tests "reboot" by mounting it again).
    pub fn into_flash(self) -> F {
        self.flash
    }
}

#[cfg(test)]
mod tests;

/// PCI-02: the journal keeps card numbers, but never readable from the raw flash bytes.
#[cfg(test)]
mod pan_at_rest_tests;
