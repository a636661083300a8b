//! Where in the file: byte offsets to line and column, and errors that name them.

use super::*;

pub(super) struct Ctx<'a> {
    pub(super) path: &'a Path,
    pub(super) lines: LineIndex,
    /// Test cards the scenario defines itself (`[[card]]`), found before the catalogue's.
    pub(super) cards: Vec<TestCard>,
}

impl Ctx<'_> {
    /// A test card by name: the scenario's own first, then the catalogue's.
    pub(super) fn card(&self, name: &str) -> Option<TestCard> {
        self.cards
            .iter()
            .find(|c| c.name == name)
            .or_else(|| catalogue::by_name(name))
            .cloned()
    }

    /// Every card name a scenario may use, for error messages.
    pub(super) fn card_names(&self) -> String {
        let mut names: Vec<&str> = self.cards.iter().map(|c| c.name.as_str()).collect();
        names.extend(catalogue::names());
        names.join(", ")
    }

    pub(super) fn line_col(&self, offset: usize) -> (usize, usize) {
        self.lines.line_col(offset)
    }

    pub(super) fn err(&self, span: Range<usize>, message: impl Into<String>) -> ScenarioError {
        let (line, column) = self.line_col(span.start);
        ScenarioError {
            file: self.path.to_owned(),
            line,
            column,
            message: message.into(),
        }
    }
}

/// Byte offset to 1-based line and column (in characters), in O(log n) per lookup.
///
/// Every step asks for its line, so scanning the text from its start for each one made a
/// 100,000-step file take minutes. The index is built in one pass instead.
pub(super) struct LineIndex {
    /// Byte offset where each line starts; the first is 0.
    pub(super) line_starts: Vec<usize>,
    /// For each character of more than one byte: its byte offset, and the extra bytes (bytes
    /// beyond one) of it and all such characters before it. Columns count characters, and
    /// this turns a byte distance into a character distance without rescanning the line.
    pub(super) wide: Vec<(usize, usize)>,
    /// Length of the text in bytes.
    pub(super) len: usize,
}

impl LineIndex {
    pub(super) fn new(text: &str) -> Self {
        // Every parse builds this: the standard library's searches (memchr, a word-wise ASCII
        // check) rather than a loop over each character.
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(at, _)| at + 1))
            .collect();
        let mut wide = Vec::new();
        if !text.is_ascii() {
            let mut extra = 0;
            for (at, c) in text.char_indices().filter(|(_, c)| !c.is_ascii()) {
                extra += c.len_utf8() - 1;
                wide.push((at, extra));
            }
        }
        Self {
            line_starts,
            wide,
            len: text.len(),
        }
    }

    /// Extra bytes of the multi-byte characters that start before `offset`.
    pub(super) fn extra_before(&self, offset: usize) -> usize {
        match self.wide.partition_point(|(at, _)| *at < offset) {
            0 => 0,
            n => self.wide[n - 1].1,
        }
    }

    pub(super) fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.len);
        // The number of lines starting at or before `offset` is its 1-based line; there is
        // always one, the first line at 0.
        let line = self.line_starts.partition_point(|start| *start <= offset);
        let start = self.line_starts[line.saturating_sub(1)];
        let chars =
            (offset - start).saturating_sub(self.extra_before(offset) - self.extra_before(start));
        (line, chars + 1)
    }
}
