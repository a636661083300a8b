//! The ZVT APDU: class byte, instruction byte, length, data.
//!
//! The length is one byte (`00..=FE`); `FF` announces two more bytes holding the length, low
//! byte first (up to 65,535). The encoder always writes the short form when it fits.

/// One APDU, borrowing its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Apdu<'a> {
    /// Class (`CCRC` for a command, the first byte of a status or acknowledgement).
    pub class: u8,
    /// Instruction (`APRC`).
    pub instr: u8,
    /// The data that follows the length.
    pub data: &'a [u8],
}

/// Why bytes are not one APDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApduError {
    /// Fewer bytes than the header or the length announces.
    Truncated,
    /// More bytes than the length announces (a serial frame holds exactly one APDU).
    Trailing,
    /// The output buffer is too small, or the data is longer than 65,535 bytes.
    NoRoom,
}

/// How much of an APDU the first bytes of a stream announce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Header {
    /// Read at least this many bytes in all before asking again.
    NeedAtLeast(usize),
    /// The whole APDU is this many bytes (header and data).
    Total(usize),
}

/// How long the APDU starting `b` is, as far as its first bytes tell (for reading one off TCP,
/// where APDUs are sent bare, one after another).
pub fn header(b: &[u8]) -> Header {
    match b {
        [_, _, 0xFF, lo, hi, ..] => Header::Total(5 + usize::from(u16::from_le_bytes([*lo, *hi]))),
        [_, _, 0xFF, ..] => Header::NeedAtLeast(5),
        [_, _, len, ..] => Header::Total(3 + usize::from(*len)),
        _ => Header::NeedAtLeast(3),
    }
}

impl<'a> Apdu<'a> {
    /// An APDU with the given command bytes and data.
    pub const fn new(class: u8, instr: u8, data: &'a [u8]) -> Self {
        Self { class, instr, data }
    }

    /// Decodes exactly one APDU from `b`.
    pub fn decode(b: &'a [u8]) -> Result<Self, ApduError> {
        let total = match header(b) {
            Header::Total(t) => t,
            Header::NeedAtLeast(_) => return Err(ApduError::Truncated),
        };
        if b.len() < total {
            return Err(ApduError::Truncated);
        }
        if b.len() > total {
            return Err(ApduError::Trailing);
        }
        let start = if b.get(2) == Some(&0xFF) { 5 } else { 3 };
        Ok(Self {
            class: b[0],
            instr: b[1],
            data: &b[start..],
        })
    }

    /// The two command bytes, e.g. `[0x06, 0x01]` for an authorisation.
    pub fn command(&self) -> [u8; 2] {
        [self.class, self.instr]
    }

    /// Encodes into `out`; returns the bytes written.
    pub fn encode<'o>(&self, out: &'o mut [u8]) -> Result<&'o [u8], ApduError> {
        let len = self.data.len();
        let long = len >= 0xFF;
        let len16 = u16::try_from(len).map_err(|_| ApduError::NoRoom)?;
        let head = if long { 5 } else { 3 };
        let total = head + len;
        let dst = out.get_mut(..total).ok_or(ApduError::NoRoom)?;
        dst[0] = self.class;
        dst[1] = self.instr;
        if long {
            dst[2] = 0xFF;
            dst[3..5].copy_from_slice(&len16.to_le_bytes());
        } else {
            dst[2] = len16 as u8;
        }
        dst[head..].copy_from_slice(self.data);
        Ok(&out[..total])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_lengths_round_trip() {
        let data = [0xAB; 300];
        for n in [0usize, 1, 254, 255, 300] {
            let a = Apdu::new(0x06, 0xD3, &data[..n]);
            let mut out = [0u8; 320];
            let enc = a.encode(&mut out).expect("room");
            assert_eq!(enc.len(), n + if n >= 255 { 5 } else { 3 });
            assert_eq!(header(enc), Header::Total(enc.len()));
            assert_eq!(Apdu::decode(enc), Ok(a));
        }
    }

    #[test]
    fn a_long_length_is_low_byte_first() {
        let data = [0u8; 0x0123];
        let mut out = [0u8; 0x0130];
        let enc = Apdu::new(0x06, 0xD3, &data).encode(&mut out).expect("room");
        assert_eq!(&enc[..5], &[0x06, 0xD3, 0xFF, 0x23, 0x01]);
    }

    #[test]
    fn short_input_and_trailing_bytes_are_errors() {
        assert_eq!(Apdu::decode(&[0x80, 0x00]), Err(ApduError::Truncated));
        assert_eq!(
            Apdu::decode(&[0x06, 0x01, 0x02, 0x04]),
            Err(ApduError::Truncated)
        );
        assert_eq!(
            Apdu::decode(&[0x80, 0x00, 0x00, 0x00]),
            Err(ApduError::Trailing)
        );
        assert_eq!(
            Apdu::decode(&[0x06, 0xD3, 0xFF, 0x01]),
            Err(ApduError::Truncated)
        );
        assert_eq!(header(&[0x06, 0xD3, 0xFF]), Header::NeedAtLeast(5));
    }
}
