//! BER-TLV (ISO/IEC 8825-1 as EMV Book 3 annex B uses it) for ISO 8583 DE 55: multi-byte tags
//! and long-form lengths, `no_std` and without allocation: decoding borrows values from the
//! input, encoding writes into a caller's buffer.
//!
//! Written here rather than taken from crates.io: the maintained Rust BER-TLV crates build
//! their values on `alloc` (`iso7816-tlv` keeps constructed values in a `Vec`), and this crate
//! must link into firmware without an allocator.
//!
//! * **Tag**: one byte, or, when its low five bits are all set (`0x1F`), more bytes, each but
//!   the last with bit 8 set (`9F26`, `DF8101`). At most [`MAX_TAG_LEN`] bytes.
//! * **Length**: `0x00..=0x7F` is the length itself; `0x81 n` and `0x82 nn` (big endian) are
//!   the long forms, up to 65,535 bytes. The indefinite form (`0x80`) and longer forms are
//!   rejected: EMV never uses them. The encoder always writes the shortest form.
//!
//! Malformed input is an error, never a panic.

/// Longest tag handled, in bytes.
pub const MAX_TAG_LEN: usize = 3;

/// A tag as its bytes, first byte most significant: `Tag(0x9F26)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tag(pub u32);

impl Tag {
    /// The tag's bytes on the wire (1..=3 of them), in `buf`; returns how many.
    fn write(self, buf: &mut [u8; MAX_TAG_LEN]) -> usize {
        let b = self.0.to_be_bytes();
        // Leading zero bytes are not part of the tag; a tag of 0 is the single byte 00.
        let skip = b.iter().take(3).take_while(|x| **x == 0).count();
        let n = 4 - skip;
        let n = n.min(MAX_TAG_LEN);
        buf[..n].copy_from_slice(&b[4 - n..]);
        n
    }

    /// Whether the tag is constructed (bit 6 of its first byte): its value is itself TLV.
    pub fn constructed(self) -> bool {
        let mut b = [0u8; MAX_TAG_LEN];
        self.write(&mut b);
        b[0] & 0x20 != 0
    }
}

/// Why bytes are not BER-TLV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlvError {
    /// The input ends inside a tag, length or value.
    Truncated,
    /// A tag longer than [`MAX_TAG_LEN`] bytes.
    TagTooLong,
    /// The indefinite length form, or a long form of more than two bytes.
    UnsupportedLength,
    /// The output buffer is too small, or a value is longer than 65,535 bytes.
    NoRoom,
}

/// Reads one tag from the start of `b`; returns it and its length in bytes.
fn read_tag(b: &[u8]) -> Result<(Tag, usize), TlvError> {
    let first = *b.first().ok_or(TlvError::Truncated)?;
    let mut tag = u32::from(first);
    let mut n = 1;
    if first & 0x1F == 0x1F {
        loop {
            let next = *b.get(n).ok_or(TlvError::Truncated)?;
            n += 1;
            if n > MAX_TAG_LEN {
                return Err(TlvError::TagTooLong);
            }
            tag = (tag << 8) | u32::from(next);
            if next & 0x80 == 0 {
                break;
            }
        }
    }
    Ok((Tag(tag), n))
}

/// Reads one length from the start of `b`; returns it and its length in bytes.
fn read_len(b: &[u8]) -> Result<(usize, usize), TlvError> {
    match *b.first().ok_or(TlvError::Truncated)? {
        n @ 0x00..=0x7F => Ok((usize::from(n), 1)),
        0x81 => Ok((usize::from(*b.get(1).ok_or(TlvError::Truncated)?), 2)),
        0x82 => {
            let hi = *b.get(1).ok_or(TlvError::Truncated)?;
            let lo = *b.get(2).ok_or(TlvError::Truncated)?;
            Ok((usize::from(u16::from_be_bytes([hi, lo])), 3))
        }
        _ => Err(TlvError::UnsupportedLength),
    }
}

/// The data objects of a BER-TLV sequence, in order, each as its tag and value (a constructed
/// object's value is its encoded children: iterate them with another `Iter`).
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    rest: &'a [u8],
    failed: bool,
}

/// Iterates over the data objects of `b`.
pub fn iter(b: &[u8]) -> Iter<'_> {
    Iter {
        rest: b,
        failed: false,
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = Result<(Tag, &'a [u8]), TlvError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() || self.failed {
            return None;
        }
        let r = (|| {
            let (tag, t) = read_tag(self.rest)?;
            let after_tag = self.rest.get(t..).ok_or(TlvError::Truncated)?;
            let (len, l) = read_len(after_tag)?;
            let start = t.checked_add(l).ok_or(TlvError::Truncated)?;
            let end = start.checked_add(len).ok_or(TlvError::Truncated)?;
            let value = self.rest.get(start..end).ok_or(TlvError::Truncated)?;
            self.rest = self.rest.get(end..).ok_or(TlvError::Truncated)?;
            Ok((tag, value))
        })();
        // After an error the position is unknown: nothing more can be read.
        self.failed = r.is_err();
        Some(r)
    }
}

/// The value of the first top-level object with tag `tag`; `Ok(None)` if there is none.
/// The whole of `b` must be well formed, even past the object found.
pub fn find(b: &[u8], tag: Tag) -> Result<Option<&[u8]>, TlvError> {
    let mut found = None;
    for item in iter(b) {
        let (t, v) = item?;
        if t == tag && found.is_none() {
            found = Some(v);
        }
    }
    Ok(found)
}

/// Writes data objects one after another into a caller's buffer.
#[derive(Debug)]
pub struct Writer<'o> {
    out: &'o mut [u8],
    at: usize,
}

impl<'o> Writer<'o> {
    /// A writer at the start of `out`.
    pub fn new(out: &'o mut [u8]) -> Self {
        Self { out, at: 0 }
    }

    /// Appends one object: its tag, the shortest length form, its value.
    pub fn push(&mut self, tag: Tag, value: &[u8]) -> Result<&mut Self, TlvError> {
        if tag.0 > 0xFF_FFFF {
            return Err(TlvError::TagTooLong);
        }
        let mut t = [0u8; MAX_TAG_LEN];
        let tn = tag.write(&mut t);
        let len = u16::try_from(value.len()).map_err(|_| TlvError::NoRoom)?;
        let [hi, lo] = len.to_be_bytes();
        let (l, ln): ([u8; 3], usize) = match len {
            0..=0x7F => ([lo, 0, 0], 1),
            0x80..=0xFF => ([0x81, lo, 0], 2),
            _ => ([0x82, hi, lo], 3),
        };
        self.put(&t[..tn])?;
        self.put(&l[..ln])?;
        self.put(value)?;
        Ok(self)
    }

    fn put(&mut self, v: &[u8]) -> Result<(), TlvError> {
        let end = self.at.checked_add(v.len()).ok_or(TlvError::NoRoom)?;
        self.out
            .get_mut(self.at..end)
            .ok_or(TlvError::NoRoom)?
            .copy_from_slice(v);
        self.at = end;
        Ok(())
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.at
    }

    /// Whether nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.at == 0
    }

    /// What has been written.
    pub fn written(&self) -> &[u8] {
        &self.out[..self.at]
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    fn encode(objects: &[(Tag, &[u8])]) -> Vec<u8> {
        let mut buf = std::vec![0u8; 70_000 * 2];
        let mut w = Writer::new(&mut buf);
        for (t, v) in objects {
            w.push(*t, v).unwrap();
        }
        w.written().to_vec()
    }

    #[test]
    fn short_and_long_lengths_and_multi_byte_tags() {
        let v200 = [0xAB; 200];
        let v300 = [0xCD; 300];
        let b = encode(&[
            (Tag(0x4F), &[1, 2]),
            (Tag(0x9F26), &[9; 8]),
            (Tag(0xDF8101), &v200),
            (Tag(0x71), &v300),
            (Tag(0x9F10), &[]),
        ]);
        // 4F 02 01 02 | 9F 26 08 .. | DF 81 01 81 C8 .. | 71 82 01 2C .. | 9F 10 00
        assert_eq!(&b[..4], &[0x4F, 0x02, 1, 2]);
        assert_eq!(&b[4..7], &[0x9F, 0x26, 0x08]);
        assert_eq!(&b[15..20], &[0xDF, 0x81, 0x01, 0x81, 0xC8]);
        assert_eq!(&b[220..224], &[0x71, 0x82, 0x01, 0x2C]);
        assert_eq!(&b[524..], &[0x9F, 0x10, 0x00]);
        let all: Vec<_> = iter(&b).map(Result::unwrap).collect();
        assert_eq!(all.len(), 5);
        assert_eq!(all[2], (Tag(0xDF8101), &v200[..]));
        assert_eq!(all[3], (Tag(0x71), &v300[..]));
        assert!(Tag(0x71).constructed() && !Tag(0x9F26).constructed());
        assert_eq!(find(&b, Tag(0x9F26)), Ok(Some(&[9u8; 8][..])));
        assert_eq!(find(&b, Tag(0x9F27)), Ok(None));
    }

    #[test]
    fn the_shortest_length_form_at_each_boundary() {
        for (n, head) in [
            (0x7F, &[0x7F][..]),
            (0x80, &[0x81, 0x80][..]),
            (0xFF, &[0x81, 0xFF][..]),
            (0x100, &[0x82, 0x01, 0x00][..]),
            (0xFFFF, &[0x82, 0xFF, 0xFF][..]),
        ] {
            let v = std::vec![0u8; n];
            let b = encode(&[(Tag(0x5A), &v)]);
            assert_eq!(&b[1..1 + head.len()], head, "length {n}");
            assert_eq!(find(&b, Tag(0x5A)), Ok(Some(&v[..])));
        }
        let mut big = std::vec![0u8; 0x1_0010];
        let too_long = std::vec![0u8; 0x1_0000];
        assert_eq!(
            Writer::new(&mut big).push(Tag(0x5A), &too_long).err(),
            Some(TlvError::NoRoom)
        );
    }

    #[test]
    fn malformed_input_is_an_error() {
        for (b, e) in [
            (&[0x9F][..], TlvError::Truncated),
            (&[0x9F, 0x26][..], TlvError::Truncated),
            (&[0x9F, 0x26, 0x08, 1, 2][..], TlvError::Truncated),
            (&[0x4F, 0x81][..], TlvError::Truncated),
            (&[0x4F, 0x82, 0x01][..], TlvError::Truncated),
            (&[0x4F, 0x80][..], TlvError::UnsupportedLength),
            (&[0x4F, 0x83, 0, 0, 1, 0][..], TlvError::UnsupportedLength),
            (&[0x1F, 0x81, 0x81, 0x01, 0x00][..], TlvError::TagTooLong),
        ] {
            assert_eq!(find(b, Tag(0x01)), Err(e), "{b:02x?}");
        }
        // An error ends the iteration.
        let mut it = iter(&[0x4F, 0x80, 0x4F, 0x00]);
        assert!(matches!(it.next(), Some(Err(_))));
        assert!(it.next().is_none());
        let mut small = [0u8; 3];
        assert_eq!(
            Writer::new(&mut small).push(Tag(0x9F26), &[1]).err(),
            Some(TlvError::NoRoom)
        );
    }
}
