//! What arrived from the terminal while the link waited, counted byte by byte, so that an error
//! says what came: a flood of 0x00 (frame delimiters, never a frame) is not "nothing", and an
//! echo or line noise shows its first bytes.

/// Bytes and frames received since the current request was first sent.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Arrivals {
    bytes: u64,
    zeros: u64,
    frames: u64,
    first: [u8; 8],
    first_len: usize,
}

impl Arrivals {
    /// Starts counting for a new request.
    pub(super) fn reset(&mut self) {
        *self = Self::default();
    }

    /// Counts bytes read from the port.
    pub(super) fn bytes(&mut self, b: &[u8]) {
        self.bytes = self.bytes.saturating_add(b.len() as u64);
        let zeros = b.iter().filter(|&&x| x == 0).count() as u64;
        self.zeros = self.zeros.saturating_add(zeros);
        let room = self.first.len() - self.first_len;
        let n = room.min(b.len());
        self.first[self.first_len..self.first_len + n].copy_from_slice(&b[..n]);
        self.first_len += n;
    }

    /// Counts a valid frame among them.
    pub(super) fn frame(&mut self) {
        self.frames = self.frames.saturating_add(1);
    }

    /// What arrived, if anything did.
    pub(super) fn describe(&self) -> Option<String> {
        if self.bytes == 0 {
            return None;
        }
        let first: Vec<String> = self.first[..self.first_len]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let zeros = if self.zeros == self.bytes {
            " (all 0x00)".to_string()
        } else if self.zeros > 0 {
            format!(" ({} of them 0x00)", self.zeros)
        } else {
            String::new()
        };
        Some(format!(
            "{} bytes since the request{zeros}, {} valid frames, first bytes {}",
            self.bytes,
            self.frames,
            first.join(" ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_of_zero_bytes_is_described_not_nothing() {
        let mut a = Arrivals::default();
        assert_eq!(a.describe(), None);
        for _ in 0..1000 {
            a.bytes(&[0; 1024]);
        }
        assert_eq!(
            a.describe().unwrap(),
            "1024000 bytes since the request (all 0x00), 0 valid frames, first bytes 00 00 00 00 00 00 00 00"
        );
        a.reset();
        a.bytes(&[0x41, 0, 0x42]);
        a.frame();
        assert_eq!(
            a.describe().unwrap(),
            "3 bytes since the request (1 of them 0x00), 1 valid frames, first bytes 41 00 42"
        );
    }
}
