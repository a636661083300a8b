//! A terminal's print text-block (06 D3, PA00P015 3.6): the receipt's lines in the TLV
//! container (BMP `06`), each a text line (tag `07`) inside the print-texts template (tag
//! `25`), with the receipt type (tag `1F07`) beside them. Terminals that print through the
//! cash register send these instead of one 06 D1 per line when they can.

use crate::tlv::{self, Tag};

/// The print-texts template.
pub const PRINT_TEXTS: Tag = Tag(0x25);
/// One text line.
pub const TEXT_LINE: Tag = Tag(0x07);
/// The receipt type (01 merchant, 02 customer, 03 administration).
pub const RECEIPT_TYPE: Tag = Tag(0x1F07);

/// The text lines of a text block's TLV objects, in order: those inside print-texts
/// templates, and any at the top level (a lenient reading: some terminals leave the template
/// out). A malformed object ends the lines there; `Err` says so after the lines before it.
pub fn lines(objects: &[u8]) -> Lines<'_> {
    Lines {
        outer: tlv::iter(objects),
        inner: None,
    }
}

/// The iterator [`lines`] returns.
pub struct Lines<'a> {
    outer: tlv::Iter<'a>,
    inner: Option<tlv::Iter<'a>>,
}

impl<'a> Iterator for Lines<'a> {
    type Item = Result<&'a [u8], tlv::TlvError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(inner) = &mut self.inner {
                match inner.next() {
                    Some(Ok((t, v))) if t == TEXT_LINE => return Some(Ok(v)),
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => {
                        self.inner = None;
                        return Some(Err(e));
                    }
                    None => self.inner = None,
                }
            }
            match self.outer.next()? {
                Ok((t, v)) if t == PRINT_TEXTS => self.inner = Some(tlv::iter(v)),
                Ok((t, v)) if t == TEXT_LINE => return Some(Ok(v)),
                Ok(_) => {}
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    #[test]
    fn lines_come_from_the_print_texts_template_in_order() {
        // 1F07 01 (merchant receipt); 25 { 07 "AB", 07 "", 07 "CD" }; 07 "EF" at the top.
        let objects = [
            0x1F, 0x07, 0x01, 0x01, 0x25, 0x0A, 0x07, 0x02, b'A', b'B', 0x07, 0x00, 0x07, 0x02,
            b'C', b'D', 0x07, 0x02, b'E', b'F',
        ];
        let got: Vec<&[u8]> = lines(&objects).map(|l| l.unwrap()).collect();
        assert_eq!(got, [&b"AB"[..], b"", b"CD", b"EF"]);
    }

    #[test]
    fn a_malformed_object_ends_the_lines_with_an_error() {
        let objects = [0x25, 0x05, 0x07, 0x02, b'A', b'B', 0x07];
        let got: Vec<_> = lines(&objects).collect();
        assert_eq!(got.first(), Some(&Ok(&b"AB"[..])));
        assert!(got.last().is_some_and(Result::is_err), "{got:?}");
    }
}
