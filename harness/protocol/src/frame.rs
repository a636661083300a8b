//! Framing: `COBS(header | payload | crc32) 0x00`.
//!
//! The zero byte never occurs inside a COBS-encoded frame, so a receiver that joins a line in the
//! middle of a frame, or sees garbage, resynchronises at the next zero byte. Every frame carries
//! a CRC-32 so corruption is detected rather than misread; see PROTOCOL.md for retries.

use crc::{CRC_32_ISO_HDLC, Crc};

/// CRC-32/ISO-HDLC (the zlib/Ethernet CRC): poly 0x04C11DB7, init 0xFFFFFFFF, reflected,
/// xorout 0xFFFFFFFF; check value for "123456789" is 0xCBF43926.
pub const CRC: Crc<u32> = Crc::<u32>::new(&CRC_32_ISO_HDLC);

/// Frame format version carried in byte 0 of every decoded frame.
pub const FRAME_VERSION: u8 = 1;
/// Bytes of header before the payload: version, kind, sequence number (u16 little endian).
pub const HEADER_LEN: usize = 4;
/// Bytes of CRC after the payload.
pub const CRC_LEN: usize = 4;
/// Largest payload a frame may carry.
pub const MAX_PAYLOAD: usize = 1024;
/// Largest decoded frame (header + payload + CRC).
pub const MAX_FRAME: usize = HEADER_LEN + MAX_PAYLOAD + CRC_LEN;
/// Largest frame on the wire: COBS adds one byte per 254 plus one, then the 0x00 delimiter.
pub const MAX_ENCODED: usize = MAX_FRAME + MAX_FRAME / 254 + 2;

/// What a frame carries; byte 1 of the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum FrameKind {
    /// Harness to terminal; the sequence number is the request id.
    Request = 1,
    /// Terminal to harness; the sequence number echoes the request id it answers.
    Response = 2,
    /// Terminal to harness, unsolicited; the sequence number counts events since boot.
    Event = 3,
    /// Either direction: "I received a frame I could not decode, please repeat".
    Nak = 4,
}

impl FrameKind {
    /// Parses header byte 1.
    pub fn from_byte(b: u8) -> Option<Self> {
        match b {
            1 => Some(Self::Request),
            2 => Some(Self::Response),
            3 => Some(Self::Event),
            4 => Some(Self::Nak),
            _ => None,
        }
    }
}

/// A decoded, CRC-checked frame borrowing its payload from the decoder's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// What the frame carries.
    pub kind: FrameKind,
    /// Request id, echoed request id, or event counter, depending on `kind`.
    pub seq: u16,
    /// The postcard-encoded message.
    pub payload: &'a [u8],
}

/// Why a run of bytes between delimiters was not a frame. Every variant is reported upward,
/// never silently dropped, so that the peer can be asked to repeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// More bytes than [`MAX_ENCODED`] arrived without a delimiter; they were discarded.
    Oversized,
    /// The bytes were not valid COBS.
    BadCobs,
    /// Shorter than header + CRC.
    TooShort,
    /// The CRC did not match: the frame was corrupted on the line.
    BadCrc {
        /// CRC carried by the frame.
        got: u32,
        /// CRC computed over the received bytes.
        computed: u32,
    },
    /// A frame version this implementation does not speak.
    UnknownVersion(u8),
    /// A frame kind byte that is not defined.
    UnknownKind(u8),
}

/// Errors while building a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodeError {
    /// The message does not fit into [`MAX_PAYLOAD`] bytes or the output buffer.
    TooLarge,
}

/// Encodes one frame with a postcard-serialised message into `out` (COBS + delimiter) and
/// returns the wire bytes. `out` should be [`MAX_ENCODED`] long.
pub fn encode<'o, T: serde::Serialize>(
    kind: FrameKind,
    seq: u16,
    message: &T,
    out: &'o mut [u8],
) -> Result<&'o [u8], EncodeError> {
    let mut raw = [0u8; MAX_FRAME];
    raw[0] = FRAME_VERSION;
    raw[1] = kind as u8;
    raw[2..4].copy_from_slice(&seq.to_le_bytes());
    let payload_len = postcard::to_slice(message, &mut raw[HEADER_LEN..HEADER_LEN + MAX_PAYLOAD])
        .map_err(|_| EncodeError::TooLarge)?
        .len();
    encode_raw(&mut raw, HEADER_LEN + payload_len, out)
}

/// Encodes a frame whose payload bytes are already serialised (used for replays and NAKs).
pub fn encode_bytes<'o>(
    kind: FrameKind,
    seq: u16,
    payload: &[u8],
    out: &'o mut [u8],
) -> Result<&'o [u8], EncodeError> {
    if payload.len() > MAX_PAYLOAD {
        return Err(EncodeError::TooLarge);
    }
    let mut raw = [0u8; MAX_FRAME];
    raw[0] = FRAME_VERSION;
    raw[1] = kind as u8;
    raw[2..4].copy_from_slice(&seq.to_le_bytes());
    raw[HEADER_LEN..HEADER_LEN + payload.len()].copy_from_slice(payload);
    encode_raw(&mut raw, HEADER_LEN + payload.len(), out)
}

fn encode_raw<'o>(
    raw: &mut [u8],
    body_len: usize,
    out: &'o mut [u8],
) -> Result<&'o [u8], EncodeError> {
    let crc = CRC.checksum(&raw[..body_len]);
    raw[body_len..body_len + CRC_LEN].copy_from_slice(&crc.to_le_bytes());
    let total = body_len + CRC_LEN;
    if out.len() < cobs::max_encoding_length(total) + 1 {
        return Err(EncodeError::TooLarge);
    }
    let n = cobs::encode(&raw[..total], out);
    out[n] = 0;
    Ok(&out[..n + 1])
}

/// Incremental receiver: feed bytes as they arrive, get frames or errors out.
///
/// It holds at most one encoded frame; bytes after an oversized run are dropped until the next
/// delimiter, which is how it resynchronises after garbage on the line.
pub struct FrameDecoder {
    buf: [u8; MAX_ENCODED],
    len: usize,
    overflowed: bool,
    decoded: [u8; MAX_FRAME],
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new()
    }
}

/// One result of feeding bytes into a [`FrameDecoder`].
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// A complete, valid frame.
    Frame(Frame<'a>),
    /// A delimited run that was not a valid frame.
    Error(FrameError),
}

impl FrameDecoder {
    /// An empty decoder.
    pub const fn new() -> Self {
        Self {
            buf: [0; MAX_ENCODED],
            len: 0,
            overflowed: false,
            decoded: [0; MAX_FRAME],
        }
    }

    /// Discards any partial frame (used after a reconnect or a restart of the peer).
    pub fn reset(&mut self) {
        self.len = 0;
        self.overflowed = false;
    }

    /// Bytes buffered towards the next frame.
    pub fn pending(&self) -> usize {
        self.len
    }

    /// Feeds bytes until one delimiter is seen. Returns how many bytes of `input` were consumed
    /// and, if a delimiter ended a non-empty run, the frame or error it produced. Call again with
    /// the rest of `input` until it is consumed.
    pub fn feed<'s>(&'s mut self, input: &[u8]) -> (usize, Option<Decoded<'s>>) {
        for (i, &b) in input.iter().enumerate() {
            if b == 0 {
                let consumed = i + 1;
                if self.overflowed {
                    self.reset();
                    return (consumed, Some(Decoded::Error(FrameError::Oversized)));
                }
                if self.len == 0 {
                    // Back-to-back delimiters are allowed (a sender may lead with one to flush
                    // garbage), and carry nothing.
                    continue;
                }
                let n = self.len;
                self.len = 0;
                return (consumed, Some(self.finish(n)));
            }
            if self.overflowed {
                continue;
            }
            if self.len == MAX_ENCODED {
                self.overflowed = true;
                continue;
            }
            self.buf[self.len] = b;
            self.len += 1;
        }
        (input.len(), None)
    }

    fn finish(&mut self, n: usize) -> Decoded<'_> {
        let Ok(len) = cobs::decode(&self.buf[..n], &mut self.decoded) else {
            return Decoded::Error(FrameError::BadCobs);
        };
        match parse_decoded(&self.decoded[..len]) {
            Ok(f) => Decoded::Frame(f),
            Err(e) => Decoded::Error(e),
        }
    }
}

/// Checks and splits a COBS-decoded frame.
pub fn parse_decoded(raw: &[u8]) -> Result<Frame<'_>, FrameError> {
    if raw.len() < HEADER_LEN + CRC_LEN {
        return Err(FrameError::TooShort);
    }
    let body = raw.len() - CRC_LEN;
    let got = u32::from_le_bytes([raw[body], raw[body + 1], raw[body + 2], raw[body + 3]]);
    let computed = CRC.checksum(&raw[..body]);
    if got != computed {
        return Err(FrameError::BadCrc { got, computed });
    }
    if raw[0] != FRAME_VERSION {
        return Err(FrameError::UnknownVersion(raw[0]));
    }
    let kind = FrameKind::from_byte(raw[1]).ok_or(FrameError::UnknownKind(raw[1]))?;
    Ok(Frame {
        kind,
        seq: u16::from_le_bytes([raw[2], raw[3]]),
        payload: &raw[HEADER_LEN..body],
    })
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn crc_parameters_match_the_spec() {
        assert_eq!(CRC.checksum(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn ping_frame_has_the_documented_bytes() {
        // Request id 7 carrying Request::Ping { nonce: 1 }: postcard variant index 1, varint 1.
        // Decoded: 01 01 07 00 | 01 01 | CRC-32 d8 62 35 b4 (LE). COBS turns the one zero in
        // the sequence number into the run codes 04 and 07. PROTOCOL.md shows the same example.
        let mut out = [0u8; MAX_ENCODED];
        let wire = encode(
            FrameKind::Request,
            7,
            &crate::Request::Ping { nonce: 1 },
            &mut out,
        )
        .unwrap();
        assert_eq!(
            wire,
            [
                0x04, 0x01, 0x01, 0x07, 0x07, 0x01, 0x01, 0xd8, 0x62, 0x35, 0xb4, 0x00
            ]
        );
    }

    fn roundtrip(kind: FrameKind, seq: u16, payload: &[u8]) {
        let mut out = [0u8; MAX_ENCODED];
        let wire = encode_bytes(kind, seq, payload, &mut out).unwrap();
        assert!(!wire[..wire.len() - 1].contains(&0));
        let mut d = FrameDecoder::new();
        let (used, got) = d.feed(wire);
        assert_eq!(used, wire.len());
        assert_eq!(got, Some(Decoded::Frame(Frame { kind, seq, payload })));
    }

    #[test]
    fn resynchronises_after_garbage() {
        let mut out = [0u8; MAX_ENCODED];
        let wire = encode_bytes(FrameKind::Event, 3, b"hello", &mut out).unwrap();
        let mut line = std::vec::Vec::from(&b"\x13\x37garbage\x00"[..]);
        line.extend_from_slice(wire);
        let mut d = FrameDecoder::new();
        let (n, first) = d.feed(&line);
        assert!(matches!(first, Some(Decoded::Error(_))));
        let (_, second) = d.feed(&line[n..]);
        assert_eq!(
            second,
            Some(Decoded::Frame(Frame {
                kind: FrameKind::Event,
                seq: 3,
                payload: b"hello"
            }))
        );
    }

    #[test]
    fn a_flipped_bit_is_a_crc_error() {
        let mut out = [0u8; MAX_ENCODED];
        let len = encode_bytes(FrameKind::Request, 1, b"abcdef", &mut out)
            .unwrap()
            .len();
        out[6] ^= 0x10;
        let mut d = FrameDecoder::new();
        let (_, got) = d.feed(&out[..len]);
        assert!(matches!(
            got,
            Some(Decoded::Error(FrameError::BadCrc { .. }))
        ));
    }

    #[test]
    fn oversized_runs_are_discarded_then_decoding_resumes() {
        let junk = std::vec![0x55u8; MAX_ENCODED + 10];
        let mut d = FrameDecoder::new();
        assert_eq!(d.feed(&junk), (junk.len(), None));
        assert_eq!(
            d.feed(&[0]),
            (1, Some(Decoded::Error(FrameError::Oversized)))
        );
        roundtrip(FrameKind::Response, 9, b"ok");
    }

    #[test]
    fn payload_over_the_limit_is_refused() {
        let mut out = [0u8; MAX_ENCODED + 8];
        let big = [1u8; MAX_PAYLOAD + 1];
        assert_eq!(
            encode_bytes(FrameKind::Request, 0, &big, &mut out),
            Err(EncodeError::TooLarge)
        );
        roundtrip(FrameKind::Request, 0, &[7u8; MAX_PAYLOAD]);
    }

    proptest! {
        #[test]
        fn any_payload_roundtrips(seq: u16, payload in proptest::collection::vec(any::<u8>(), 0..MAX_PAYLOAD)) {
            roundtrip(FrameKind::Response, seq, &payload);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..3000)) {
            let mut d = FrameDecoder::new();
            let mut rest = bytes.as_slice();
            while !rest.is_empty() {
                let (n, _) = d.feed(rest);
                rest = &rest[n..];
            }
        }
    }
}
