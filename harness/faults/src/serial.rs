//! Serial line faults: what the line relay (`payhil_transport::relay`) does to the frames on the
//! cable between harness and terminal.
//!
//! A [`SerialFault`] names one fault, the direction it hits and when: every frame, a share of
//! the frames drawn from the seed, or a chosen frame (counted per direction from the moment the
//! fault is in force, 1 being the next frame). [`SerialPlan`] carries it out. Every choice (which
//! frames, which bits, which bytes, the noise itself) comes from a ChaCha stream of the run's
//! seed, and depends only on the frames in line order, never on time: a seed replays.
//!
//! Faults hit the frame's body (the COBS bytes between delimiters), so that a corrupted frame
//! still ends where it ended and the receiver resynchronises at its delimiter, as it would after
//! noise on a real line; garbage and floods are noise before the frame, zeros included.

use payhil_transport::relay::{Direction, LineFaults, NoiseSource, Piece, Verdict};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Which way a fault hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SerialDirection {
    /// Harness to terminal (requests).
    ToTerminal,
    /// Terminal to harness (responses, events, NAKs).
    FromTerminal,
    /// Both ways, each direction counting its own frames.
    Both,
}

impl SerialDirection {
    fn hits(self, dir: Direction) -> bool {
        matches!(
            (self, dir),
            (SerialDirection::Both, _)
                | (SerialDirection::ToTerminal, Direction::ToTerminal)
                | (SerialDirection::FromTerminal, Direction::FromTerminal)
        )
    }
}

/// What happens to a frame the fault hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineFault {
    /// This many bits of the body flipped (distinct bits; a flip may make a 0x00, which splits
    /// the frame in two, as on a real line).
    FlipBits(u32),
    /// This many bytes of the body lost (all of them if the body is shorter).
    DropBytes(u32),
    /// The body cut short (a random prefix kept), then the delimiter.
    Truncate,
    /// The frame sent twice.
    Duplicate,
    /// This many noise bytes (any value, 0x00 included) next to the frame.
    Garbage(u32),
    /// The frame written in pieces of at most this many bytes, each a write of its own.
    Split(u32),
    /// A flood: this many noise bytes next to the frame, made as they are written.
    Flood(u64),
    /// The frame lost: nothing reaches the other end.
    Silence,
}

/// Which frames a fault hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Every frame in its direction while it is in force.
    Every,
    /// Each frame with this probability, in parts per million, drawn from the seed.
    RatePpm(u32),
    /// The `first`-th frame (1-based, from when the fault is in force) and the `count - 1`
    /// frames after it.
    AtFrame {
        /// First frame hit.
        first: u64,
        /// How many frames in a row.
        count: u64,
    },
}

/// One serial line fault, as a scenario step sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SerialFault {
    /// What it does.
    pub fault: LineFault,
    /// Which way.
    pub direction: SerialDirection,
    /// Which frames.
    pub when: When,
}

/// A fault being carried out: the frames counted so far and the seeded choices.
pub struct SerialPlan {
    fault: SerialFault,
    rng: ChaCha8Rng,
    to_terminal: u64,
    from_terminal: u64,
}

impl SerialPlan {
    /// The plan for `fault`, the `nth` fault set in a run seeded `seed` (each gets a stream of
    /// its own, so a fault's choices do not depend on how many frames earlier ones saw).
    pub fn new(fault: SerialFault, seed: u64, nth: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(nth);
        Self {
            fault,
            rng,
            to_terminal: 0,
            from_terminal: 0,
        }
    }

    fn hit(&mut self, n: u64) -> bool {
        match self.fault.when {
            When::Every => true,
            When::RatePpm(ppm) => self.rng.random_range(0..1_000_000u32) < ppm,
            When::AtFrame { first, count } => n >= first && n - first < count,
        }
    }

    /// Noise with the frame. Towards the terminal the noise follows the frame, so that the
    /// terminal answers the frame before it NAKs the noise: NAKs for noise sent before a request
    /// would reach the harness while the terminal talks to its host about that request, and the
    /// harness's records of them would race with the host's, so a seed would not replay the
    /// transcript. From the terminal the noise comes first, as the harness reads it in order.
    fn around(&mut self, dir: Direction, len: u64, unit: &[u8]) -> (Vec<Piece>, &'static str) {
        let noise = self.noise(len);
        match dir {
            Direction::ToTerminal => (vec![Piece::Bytes(unit.to_vec()), noise], "after"),
            Direction::FromTerminal => (vec![noise, Piece::Bytes(unit.to_vec())], "before"),
        }
    }

    fn noise(&mut self, len: u64) -> Piece {
        Piece::Noise {
            len,
            source: Box::new(Noise(ChaCha8Rng::seed_from_u64(self.rng.next_u64()))),
        }
    }
}

struct Noise(ChaCha8Rng);

impl NoiseSource for Noise {
    fn fill(&mut self, buf: &mut [u8]) {
        self.0.fill_bytes(buf);
    }
}

/// A unit split into its leading delimiters, body and trailing delimiter.
fn parts(unit: &[u8]) -> (&[u8], &[u8], &[u8]) {
    let start = unit.iter().position(|&b| b != 0).unwrap_or(unit.len());
    let end = unit[start..]
        .iter()
        .position(|&b| b == 0)
        .map_or(unit.len(), |e| start + e);
    (&unit[..start], &unit[start..end], &unit[end..])
}

impl LineFaults for SerialPlan {
    fn frame(&mut self, dir: Direction, unit: &[u8]) -> Verdict {
        let n = match dir {
            Direction::ToTerminal => {
                self.to_terminal += 1;
                self.to_terminal
            }
            Direction::FromTerminal => {
                self.from_terminal += 1;
                self.from_terminal
            }
        };
        if !self.fault.direction.hits(dir) || !self.hit(n) {
            return Verdict::pass(unit);
        }
        let (lead, body, tail) = parts(unit);
        let join = |body: &[u8]| [lead, body, tail].concat();
        let (pieces, what) = match self.fault.fault {
            LineFault::FlipBits(bits) => {
                let mut b = body.to_vec();
                let total = b.len().saturating_mul(8);
                let want = usize::try_from(bits).unwrap_or(usize::MAX).min(total);
                let mut flipped: Vec<usize> = Vec::with_capacity(want);
                while flipped.len() < want {
                    let bit = self.rng.random_range(0..total);
                    if !flipped.contains(&bit) {
                        flipped.push(bit);
                        b[bit / 8] ^= 1 << (bit % 8);
                    }
                }
                flipped.sort_unstable();
                let at: Vec<String> = flipped
                    .iter()
                    .map(|bit| format!("{}.{}", bit / 8, bit % 8))
                    .collect();
                (
                    vec![Piece::Bytes(join(&b))],
                    format!("flipped bits (byte.bit) {}", at.join(" ")),
                )
            }
            LineFault::DropBytes(count) => {
                let mut b = body.to_vec();
                let want = usize::try_from(count).unwrap_or(usize::MAX).min(b.len());
                for _ in 0..want {
                    let i = self.rng.random_range(0..b.len());
                    b.remove(i);
                }
                (
                    vec![Piece::Bytes(join(&b))],
                    format!("dropped {want} of {} bytes", body.len()),
                )
            }
            LineFault::Truncate => {
                let keep = if body.len() > 1 {
                    self.rng.random_range(1..body.len())
                } else {
                    0
                };
                (
                    vec![Piece::Bytes(join(&body[..keep]))],
                    format!("truncated to {keep} of {} bytes", body.len()),
                )
            }
            LineFault::Duplicate => (
                vec![Piece::Bytes(unit.to_vec()), Piece::Bytes(unit.to_vec())],
                "sent twice".to_string(),
            ),
            LineFault::Garbage(len) => {
                let (pieces, at) = self.around(dir, u64::from(len), unit);
                (pieces, format!("{len} bytes of garbage {at} it"))
            }
            LineFault::Flood(len) => {
                let (pieces, at) = self.around(dir, len, unit);
                (pieces, format!("flooded with {len} bytes of noise {at} it"))
            }
            LineFault::Split(piece) => {
                let size = usize::try_from(piece).unwrap_or(usize::MAX).max(1);
                let pieces: Vec<Piece> = unit
                    .chunks(size)
                    .map(|c| Piece::Bytes(c.to_vec()))
                    .collect();
                let what = format!("split into {} writes", pieces.len());
                (pieces, what)
            }
            LineFault::Silence => (Vec::new(), "lost (silence)".to_string()),
        };
        Verdict {
            pieces,
            note: Some(format!("frame {n} {what}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(v: &Verdict) -> Vec<Vec<u8>> {
        v.pieces
            .iter()
            .map(|p| match p {
                Piece::Bytes(b) => b.clone(),
                Piece::Noise { len, .. } => vec![0xEE; usize::try_from(*len).unwrap()],
            })
            .collect()
    }

    const UNIT: &[u8] = &[0, 4, 1, 1, 7, 7, 1, 1, 0xd8, 0x62, 0x35, 0xb4, 0];

    fn plan(fault: LineFault, when: When) -> SerialPlan {
        SerialPlan::new(
            SerialFault {
                fault,
                direction: SerialDirection::ToTerminal,
                when,
            },
            7,
            0,
        )
    }

    #[test]
    fn at_frame_hits_only_the_chosen_frames_of_its_direction() {
        let mut p = plan(LineFault::Silence, When::AtFrame { first: 2, count: 2 });
        let lost: Vec<bool> = (0..5)
            .map(|_| {
                // Frames the other way are not counted and not hit.
                assert!(p.frame(Direction::FromTerminal, UNIT).note.is_none());
                p.frame(Direction::ToTerminal, UNIT).pieces.is_empty()
            })
            .collect();
        assert_eq!(lost, [false, true, true, false, false]);
    }

    #[test]
    fn corruption_keeps_the_delimiters_and_replays_from_the_seed() {
        for fault in [
            LineFault::FlipBits(3),
            LineFault::DropBytes(2),
            LineFault::Truncate,
        ] {
            let a = plan(fault, When::Every).frame(Direction::ToTerminal, UNIT);
            let b = plan(fault, When::Every).frame(Direction::ToTerminal, UNIT);
            assert_eq!(bytes(&a), bytes(&b), "{fault:?}");
            assert_eq!(a.note, b.note);
            let out = &bytes(&a)[0];
            assert_eq!(out.first(), Some(&0), "{fault:?}");
            assert_eq!(out.last(), Some(&0), "{fault:?}");
            assert_ne!(out.as_slice(), UNIT, "{fault:?}");
        }
    }

    #[test]
    fn flips_flip_exactly_the_bits_named() {
        let v = plan(LineFault::FlipBits(5), When::Every).frame(Direction::ToTerminal, UNIT);
        let out = &bytes(&v)[0];
        let diff: u32 = out
            .iter()
            .zip(UNIT)
            .map(|(a, b)| (a ^ b).count_ones())
            .sum();
        assert_eq!(diff, 5);
    }

    #[test]
    fn duplicate_split_garbage_and_flood_keep_the_frame_whole() {
        let d = plan(LineFault::Duplicate, When::Every).frame(Direction::ToTerminal, UNIT);
        assert_eq!(bytes(&d), [UNIT.to_vec(), UNIT.to_vec()]);
        let s = plan(LineFault::Split(3), When::Every).frame(Direction::ToTerminal, UNIT);
        assert_eq!(bytes(&s).concat(), UNIT);
        assert_eq!(s.pieces.len(), 5);
        let g = plan(LineFault::Garbage(40), When::Every).frame(Direction::ToTerminal, UNIT);
        assert_eq!(bytes(&g)[0], UNIT);
        assert_eq!(bytes(&g)[1].len(), 40);
        let mut from = SerialPlan::new(
            SerialFault {
                fault: LineFault::Garbage(40),
                direction: SerialDirection::FromTerminal,
                when: When::Every,
            },
            7,
            0,
        );
        let g = from.frame(Direction::FromTerminal, UNIT);
        assert_eq!(bytes(&g)[0].len(), 40);
        assert_eq!(bytes(&g)[1], UNIT);
        let f = plan(LineFault::Flood(1 << 40), When::Every).frame(Direction::ToTerminal, UNIT);
        // A flood of a terabyte is a promise, not a buffer.
        assert!(matches!(f.pieces[1], Piece::Noise { len, .. } if len == 1 << 40));
    }

    #[test]
    fn a_rate_hits_about_that_share_and_the_same_frames_each_time() {
        let run = || {
            let mut p = plan(LineFault::Silence, When::RatePpm(250_000));
            (0..4000)
                .map(|_| p.frame(Direction::ToTerminal, UNIT).pieces.is_empty())
                .collect::<Vec<_>>()
        };
        let a = run();
        assert_eq!(a, run());
        let hits = a.iter().filter(|h| **h).count();
        assert!((800..1200).contains(&hits), "{hits}");
    }
}
