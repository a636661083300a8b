//! ZVT's serial link layer: one APDU per frame, `DLE STX <APDU, each DLE doubled> DLE ETX
//! <CRC low> <CRC high>`; the receiver answers ACK (`06`) for a good frame and NAK (`15`) for a
//! bad one, and the sender repeats a NAKed frame (at most [`MAX_SENDS`] sends in all).
//!
//! The CRC is CRC-16/CCITT over the APDU as it is before stuffing, followed by the `ETX`, sent
//! low byte first. The specification (PA00P016 3.3) names it "CRC-XModem" and writes the
//! polynomial as x^16+x^15+x^10+x^3, which is `0x1021` bit-reversed: the algorithm is the
//! reflected one (poly `0x8408`, init 0, no final XOR), catalogued as CRC-16/KERMIT. The
//! non-reflected XMODEM algorithm gives other check bytes, which a real terminal NAKs; the
//! tests pin frames from public ZVT implementations.
//!
//! [`Decoder`] takes the line one byte at a time and never holds more than `N` bytes of APDU:
//! a frame that would exceed it is reported ([`LinkError::TooLong`]) and the decoder starts
//! over, so a flood from a terminal costs no memory.

/// Data link escape: starts and ends a frame; doubled inside one.
pub const DLE: u8 = 0x10;
/// Start of text (after `DLE`).
pub const STX: u8 = 0x02;
/// End of text (after `DLE`), covered by the CRC.
pub const ETX: u8 = 0x03;
/// Positive link acknowledgement: the frame arrived intact.
pub const ACK: u8 = 0x06;
/// Negative link acknowledgement: the frame arrived damaged; send it again.
pub const NAK: u8 = 0x15;
/// A frame is sent at most this often (the first send and two repeats after a NAK).
pub const MAX_SENDS: u32 = 3;

/// The frame check: CRC-16/KERMIT (poly `0x1021` reflected, init 0, no final XOR).
pub const CRC: crc::Crc<u16> = crc::Crc::<u16>::new(&crc::CRC_16_KERMIT);

/// The CRC of one APDU as its frame carries it (over the APDU and the `ETX`).
pub fn checksum(apdu: &[u8]) -> u16 {
    let mut d = CRC.digest();
    d.update(apdu);
    d.update(&[ETX]);
    d.finalize()
}

/// The longest serial frame an APDU of `apdu_len` bytes can need (every byte a `DLE`).
pub const fn max_framed(apdu_len: usize) -> usize {
    2 + 2 * apdu_len + 2 + 2
}

/// The output buffer is too small for the framed APDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoRoom;

/// Frames `apdu` into `out`; returns the bytes to send.
pub fn encode<'o>(apdu: &[u8], out: &'o mut [u8]) -> Result<&'o [u8], NoRoom> {
    let mut n = 0usize;
    let mut put = |b: u8, n: &mut usize| -> Result<(), NoRoom> {
        *out.get_mut(*n).ok_or(NoRoom)? = b;
        *n += 1;
        Ok(())
    };
    put(DLE, &mut n)?;
    put(STX, &mut n)?;
    for &b in apdu {
        put(b, &mut n)?;
        if b == DLE {
            put(DLE, &mut n)?;
        }
    }
    put(DLE, &mut n)?;
    put(ETX, &mut n)?;
    let [lo, hi] = checksum(apdu).to_le_bytes();
    put(lo, &mut n)?;
    put(hi, &mut n)?;
    Ok(&out[..n])
}

/// What the line delivered, byte by byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// An intact frame: its APDU is [`Decoder::apdu`] until the next byte is fed.
    Frame,
    /// A positive acknowledgement (`06`) outside a frame.
    Ack,
    /// A negative acknowledgement (`15`) outside a frame.
    Nak,
    /// A byte that is neither an acknowledgement nor the start of a frame, outside a frame.
    Stray(u8),
    /// A damaged frame; the decoder has started over.
    Damaged(LinkError),
}

/// Why a frame was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkError {
    /// The CRC did not match: what the frame carried and what its bytes give.
    BadCrc {
        /// The CRC the frame carried.
        carried: u16,
        /// The CRC of the bytes received.
        computed: u16,
    },
    /// A `DLE` inside a frame followed by something other than `DLE`, `ETX` or `STX`.
    BadEscape(u8),
    /// A new `DLE STX` before the frame in progress ended (the first is dropped).
    Restarted,
    /// The frame's APDU is longer than the decoder holds.
    TooLong,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Idle,
    IdleDle,
    Body,
    BodyDle,
    CrcLow,
    CrcHigh(u8),
}

/// Decodes the serial line, holding at most `N` bytes of one APDU.
#[derive(Debug, Clone)]
pub struct Decoder<const N: usize> {
    buf: [u8; N],
    len: usize,
    state: State,
    /// The last frame was complete: `len` holds it until the next byte.
    complete: bool,
    overflowed: bool,
}

impl<const N: usize> Default for Decoder<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Decoder<N> {
    /// A decoder waiting for the start of a frame.
    pub const fn new() -> Self {
        Self {
            buf: [0; N],
            len: 0,
            state: State::Idle,
            complete: false,
            overflowed: false,
        }
    }

    /// The APDU of the frame last reported as [`Received::Frame`].
    pub fn apdu(&self) -> &[u8] {
        if self.complete {
            &self.buf[..self.len]
        } else {
            &[]
        }
    }

    /// Whether the decoder is inside a frame (a timeout there means a frame was cut off).
    pub fn in_frame(&self) -> bool {
        !matches!(self.state, State::Idle | State::IdleDle)
    }

    /// Forgets any partial frame.
    pub fn reset(&mut self) {
        self.state = State::Idle;
        self.len = 0;
        self.complete = false;
        self.overflowed = false;
    }

    fn push(&mut self, b: u8) {
        match self.buf.get_mut(self.len) {
            Some(slot) => {
                *slot = b;
                self.len += 1;
            }
            None => self.overflowed = true,
        }
    }

    fn start(&mut self) {
        self.state = State::Body;
        self.len = 0;
        self.overflowed = false;
    }

    /// Feeds one byte; returns what it completed, if anything.
    pub fn feed(&mut self, b: u8) -> Option<Received> {
        if self.complete {
            self.complete = false;
            self.len = 0;
        }
        match self.state {
            State::Idle => match b {
                ACK => Some(Received::Ack),
                NAK => Some(Received::Nak),
                DLE => {
                    self.state = State::IdleDle;
                    None
                }
                other => Some(Received::Stray(other)),
            },
            State::IdleDle => {
                if b == STX {
                    self.start();
                    None
                } else {
                    self.state = State::Idle;
                    Some(Received::Stray(b))
                }
            }
            State::Body => {
                if b == DLE {
                    self.state = State::BodyDle;
                } else {
                    self.push(b);
                }
                None
            }
            State::BodyDle => match b {
                DLE => {
                    self.push(DLE);
                    self.state = State::Body;
                    None
                }
                ETX => {
                    self.state = State::CrcLow;
                    None
                }
                STX => {
                    self.start();
                    Some(Received::Damaged(LinkError::Restarted))
                }
                other => {
                    self.reset();
                    Some(Received::Damaged(LinkError::BadEscape(other)))
                }
            },
            State::CrcLow => {
                self.state = State::CrcHigh(b);
                None
            }
            State::CrcHigh(lo) => {
                self.state = State::Idle;
                if self.overflowed {
                    self.reset();
                    return Some(Received::Damaged(LinkError::TooLong));
                }
                let carried = u16::from_le_bytes([lo, b]);
                let computed = checksum(&self.buf[..self.len]);
                if carried == computed {
                    self.complete = true;
                    Some(Received::Frame)
                } else {
                    self.reset();
                    Some(Received::Damaged(LinkError::BadCrc { carried, computed }))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all<const N: usize>(d: &mut Decoder<N>, bytes: &[u8]) -> ([u8; 64], usize, usize) {
        let mut last = [0u8; 64];
        let mut len = 0;
        let mut frames = 0;
        for &b in bytes {
            if d.feed(b) == Some(Received::Frame) {
                frames += 1;
                len = d.apdu().len();
                last[..len].copy_from_slice(d.apdu());
            }
        }
        (last, len, frames)
    }

    /// Frames as public ZVT implementations send them (the completion is a test vector of
    /// the Python `ecrterm`; the others were checked against it).
    #[test]
    fn frames_match_those_of_other_implementations() {
        let cases: [(&[u8], &[u8]); 3] = [
            (
                &[0x80, 0x00, 0x00],
                &[0x10, 0x02, 0x80, 0x00, 0x00, 0x10, 0x03, 0xF5, 0x1F],
            ),
            (
                &[
                    0x06, 0x0F, 0x0B, 0xF0, 0xF0, 0xF7, 0x32, 0x2E, 0x31, 0x34, 0x2E, 0x31, 0x35,
                    0x00,
                ],
                &[
                    0x10, 0x02, 0x06, 0x0F, 0x0B, 0xF0, 0xF0, 0xF7, 0x32, 0x2E, 0x31, 0x34, 0x2E,
                    0x31, 0x35, 0x00, 0x10, 0x03, 0xB1, 0x11,
                ],
            ),
            // 10.00: the amount's 10 is a DLE, doubled on the line and not in the CRC.
            (
                &[0x06, 0x01, 0x07, 0x04, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00],
                &[
                    0x10, 0x02, 0x06, 0x01, 0x07, 0x04, 0x00, 0x00, 0x00, 0x00, 0x10, 0x10, 0x00,
                    0x10, 0x03, 0x62, 0x91,
                ],
            ),
        ];
        for (apdu, framed) in cases {
            let mut out = [0u8; 64];
            assert_eq!(encode(apdu, &mut out).expect("room"), framed);
            let mut d = Decoder::<64>::new();
            let (last, len, frames) = decode_all(&mut d, framed);
            assert_eq!((frames, &last[..len]), (1, apdu));
        }
        // The catalogue's check value of CRC-16/KERMIT.
        assert_eq!(CRC.checksum(b"123456789"), 0x2189);
    }

    #[test]
    fn a_dle_in_the_apdu_is_doubled_and_comes_back_single() {
        let apdu = [0x06, 0x01, 0x03, DLE, DLE, 0x00];
        let mut out = [0u8; 32];
        let f = encode(&apdu, &mut out).expect("room").to_vec_for_test();
        assert_eq!(&f[2..10], &[0x06, 0x01, 0x03, DLE, DLE, DLE, DLE, 0x00]);
        let mut d = Decoder::<64>::new();
        let (last, len, frames) = decode_all(&mut d, &f);
        assert_eq!(frames, 1);
        assert_eq!(&last[..len], &apdu);
    }

    #[test]
    fn a_flipped_bit_is_a_bad_crc_and_the_next_frame_is_still_taken() {
        let mut out = [0u8; 32];
        let mut f = encode(&[0x06, 0x50, 0x00], &mut out)
            .expect("room")
            .to_vec_for_test();
        f[3] ^= 0x01;
        let mut d = Decoder::<64>::new();
        let got: [Option<Received>; 9] = core::array::from_fn(|i| d.feed(f[i]));
        assert!(matches!(
            got[8],
            Some(Received::Damaged(LinkError::BadCrc { .. }))
        ));
        let mut out2 = [0u8; 32];
        let good = encode(&[0x06, 0x50, 0x00], &mut out2).expect("room");
        let (_, len, frames) = decode_all(&mut d, good);
        assert_eq!((frames, len), (1, 3));
    }

    #[test]
    fn acknowledgements_and_strays_outside_a_frame_are_told_apart() {
        let mut d = Decoder::<8>::new();
        assert_eq!(d.feed(ACK), Some(Received::Ack));
        assert_eq!(d.feed(NAK), Some(Received::Nak));
        assert_eq!(d.feed(0x41), Some(Received::Stray(0x41)));
        assert_eq!(d.feed(DLE), None);
        assert_eq!(d.feed(0x42), Some(Received::Stray(0x42)));
    }

    #[test]
    fn an_apdu_longer_than_the_decoder_is_refused_and_memory_stays_bounded() {
        let apdu = [0x04u8; 40];
        let mut out = [0u8; 128];
        let f = encode(&apdu, &mut out).expect("room");
        let mut d = Decoder::<16>::new();
        let mut seen = None;
        for &b in f {
            if let Some(r) = d.feed(b) {
                seen = Some(r);
            }
        }
        assert_eq!(seen, Some(Received::Damaged(LinkError::TooLong)));
        assert!(!d.in_frame());
    }

    #[test]
    fn a_bad_escape_and_a_restart_are_named() {
        let mut d = Decoder::<16>::new();
        for b in [DLE, STX, 0x01] {
            assert_eq!(d.feed(b), None);
        }
        assert_eq!(d.feed(DLE), None);
        assert_eq!(d.feed(STX), Some(Received::Damaged(LinkError::Restarted)));
        assert_eq!(d.feed(DLE), None);
        assert_eq!(
            d.feed(0x55),
            Some(Received::Damaged(LinkError::BadEscape(0x55)))
        );
        assert!(!d.in_frame());
    }

    /// Test-only: the framed bytes as an owned array slice (no alloc in this crate).
    trait ToVecForTest {
        fn to_vec_for_test(&self) -> TestBuf;
    }
    struct TestBuf([u8; 64], usize);
    impl core::ops::Deref for TestBuf {
        type Target = [u8];
        fn deref(&self) -> &[u8] {
            &self.0[..self.1]
        }
    }
    impl core::ops::DerefMut for TestBuf {
        fn deref_mut(&mut self) -> &mut [u8] {
            &mut self.0[..self.1]
        }
    }
    impl ToVecForTest for [u8] {
        fn to_vec_for_test(&self) -> TestBuf {
            let mut b = [0u8; 64];
            b[..self.len()].copy_from_slice(self);
            TestBuf(b, self.len())
        }
    }
}
