//! Flash bytes kept in a file, written through on every program and erase, so that killing the
//! process (a power cut) leaves exactly what the flash would hold. No fsync: a killed process's
//! writes survive in the page cache, and a host crash is not the failure modelled here.
//!
//! A flash file is never wiped implicitly (issue 9): a missing file is a new device and is
//! created erased; a file of another size is refused until `--format-flash` asks for it to be
//! erased, because re-creating it would drop the offline queue and reuse sequence numbers.

use fut_core::flash::{FlashError, Storage};
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// File-backed storage for [`fut_core::flash::NorFlash`].
pub struct FileStorage {
    bytes: Vec<u8>,
    file: File,
    /// The injected bug `approve-before-write` only: writes wait here, in RAM, until
    /// [`WriteBack::flush`] (see [`crate::bugs::Bug::ApproveBeforeWrite`]).
    write_back: Option<WriteBack>,
}

/// A write-back cache in front of the flash file (a bug: see
/// [`crate::bugs::Bug::ApproveBeforeWrite`]); shared with the serial loop, which flushes it.
#[derive(Clone)]
pub struct WriteBack(std::rc::Rc<std::cell::RefCell<Deferred>>);

/// The file the cache writes to, and the writes waiting: (offset, bytes).
type Deferred = (Option<File>, Vec<(usize, Vec<u8>)>);

impl WriteBack {
    /// Writes what waits to the file (a failure is logged: the bug does not care either).
    pub fn flush(&self) {
        let mut inner = self.0.borrow_mut();
        let (file, pending) = &mut *inner;
        for (offset, data) in pending.drain(..) {
            if let Some(f) = file.as_ref() {
                if let Err(e) = f.write_all_at(&data, offset as u64) {
                    diag!("fut-emulator: deferred flash write failed: {e}");
                }
            }
        }
    }
}

/// How a flash file was opened.
#[derive(Debug)]
pub enum Opened {
    /// It held a flash image of the right size.
    Existing,
    /// It did not exist: created erased (a new device).
    Created,
    /// It was erased as asked; the highest sequence number its old image recorded, which the
    /// new journal must continue above.
    Formatted {
        /// See [`fut_core::journal::highest_seq_in`].
        seq_floor: u32,
    },
}

/// Why a flash file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Opening, reading or writing it failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// It exists with another size than the device's.
    #[error("it has {len} bytes, this device has {size}")]
    WrongSize {
        /// Bytes in the file.
        len: u64,
        /// Bytes of the device.
        size: usize,
    },
}

impl FileStorage {
    /// Opens `path` as a flash of `size` bytes: an existing file must have that size; a missing
    /// one is created erased (all 0xFF). With `format`, whatever the file holds is erased (after
    /// reading the sequence numbers its old image used).
    pub fn open(path: &Path, size: usize, format: bool) -> Result<(Self, Opened), OpenError> {
        let existed = path.exists();
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let len = file.metadata()?.len();
        if existed && !format && len != size as u64 {
            return Err(OpenError::WrongSize { len, size });
        }
        let mut bytes = Vec::with_capacity(size);
        // Bounded: a file larger than the device is only read when formatting, to find its
        // sequence numbers; never more than it holds.
        file.read_to_end(&mut bytes)?;
        let opened = if format {
            Opened::Formatted {
                seq_floor: fut_core::journal::highest_seq_in(&bytes),
            }
        } else if existed {
            Opened::Existing
        } else {
            Opened::Created
        };
        if format || !existed {
            bytes = vec![0xFF; size];
            file.set_len(0)?;
            file.write_all_at(&bytes, 0)?;
        }
        Ok((
            Self {
                bytes,
                file,
                write_back: None,
            },
            opened,
        ))
    }

    /// From now on, writes reach the file only when the returned cache is flushed (the
    /// injected bug `approve-before-write`).
    pub fn defer_writes(&mut self) -> std::io::Result<WriteBack> {
        let wb = WriteBack(std::rc::Rc::new(std::cell::RefCell::new((
            Some(self.file.try_clone()?),
            Vec::new(),
        ))));
        self.write_back = Some(wb.clone());
        Ok(wb)
    }
}

impl Storage for FileStorage {
    fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    fn write(&mut self, offset: usize, data: &[u8]) -> Result<(), FlashError> {
        let end = offset
            .checked_add(data.len())
            .filter(|&e| e <= self.bytes.len())
            .ok_or(FlashError::OutOfBounds)?;
        if let Some(wb) = &self.write_back {
            wb.0.borrow_mut().1.push((offset, data.to_vec()));
            self.bytes[offset..end].copy_from_slice(data);
            return Ok(());
        }
        // The file first: the in-memory copy only ever holds what the file took, so a failed
        // write is a failed write for the firmware too (it must not approve on it).
        if let Err(e) = self.file.write_all_at(data, offset as u64) {
            diag!("fut-emulator: flash file write failed: {e}");
            return Err(FlashError::WriteFailed);
        }
        self.bytes[offset..end].copy_from_slice(data);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_of_another_size_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flash.bin");
        std::fs::write(&path, [0xFFu8; 100]).unwrap();
        match FileStorage::open(&path, 8192, false) {
            Err(OpenError::WrongSize {
                len: 100,
                size: 8192,
            }) => {}
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("a 100-byte flash file must not be used as an 8 KiB device"),
        }
        assert_eq!(std::fs::read(&path).unwrap().len(), 100);
        let (s, opened) = FileStorage::open(&path, 8192, true).unwrap();
        assert!(matches!(opened, Opened::Formatted { seq_floor: 0 }));
        assert_eq!(s.bytes().len(), 8192);
        assert_eq!(std::fs::read(&path).unwrap(), vec![0xFFu8; 8192]);
        let (_, opened) = FileStorage::open(&dir.path().join("new.bin"), 8192, false).unwrap();
        assert!(matches!(opened, Opened::Created));
    }
}
