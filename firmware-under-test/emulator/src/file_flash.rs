//! Flash bytes kept in a file, written through on every program and erase, so that killing the
//! process (a power cut) leaves exactly what the flash would hold. No fsync: a killed process's
//! writes survive in the page cache, and a host crash is not the failure modelled here.

use fut_core::flash::Storage;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

/// File-backed storage for [`fut_core::flash::NorFlash`].
pub struct FileStorage {
    bytes: Vec<u8>,
    file: File,
}

impl FileStorage {
    /// Opens `path`, creating it erased (all 0xFF) with `size` bytes if it is missing or of
    /// another size.
    pub fn open(path: &Path, size: usize) -> std::io::Result<Self> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let mut bytes = Vec::with_capacity(size);
        file.read_to_end(&mut bytes)?;
        if bytes.len() != size {
            bytes = vec![0xFF; size];
            file.set_len(0)?;
            file.write_all(&bytes)?;
        }
        Ok(Self { bytes, file })
    }
}

impl Storage for FileStorage {
    fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    fn write(&mut self, offset: usize, data: &[u8]) {
        self.bytes[offset..offset + data.len()].copy_from_slice(data);
        if let Err(e) = self.file.write_all_at(data, offset as u64) {
            // The in-memory copy stays right; a later restart would see the old bytes, which
            // is the same as a power cut before this write.
            diag!("fut-emulator: flash file write failed: {e}");
        }
    }
}
