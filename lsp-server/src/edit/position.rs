//! Conversion between byte offsets and LSP positions (line, UTF-16 code unit).

use tower_lsp_server::gen_lsp_types::{Position, Range};

/// Why a client position does not name a place in the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PositionError {
    /// The line is past the end of the document.
    #[error("line {line} is past the end of the document ({lines} lines)")]
    LineOutOfRange {
        /// The requested line (0-based).
        line: u32,
        /// How many lines the document has.
        lines: usize,
    },
    /// The character offset falls between the two halves of a surrogate pair.
    #[error("character {character} on line {line} splits a UTF-16 surrogate pair")]
    InsideSurrogatePair {
        /// The requested line (0-based).
        line: u32,
        /// The requested UTF-16 offset.
        character: u32,
    },
    /// The range ends before it starts.
    #[error("range end {end_line}:{end_character} is before its start")]
    Reversed {
        /// End line.
        end_line: u32,
        /// End character.
        end_character: u32,
    },
}

/// Byte offsets of line starts, so positions convert without rescanning the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    /// Indexes `text`; lines end at `\n` (a `\r` before it belongs to the line break).
    pub fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { starts }
    }

    /// Number of lines (a text ending in `\n` has an empty last line).
    pub fn line_count(&self) -> usize {
        self.starts.len()
    }

    /// Byte range of line `line`'s content, without its line break.
    pub fn line_span(&self, text: &str, line: usize) -> Option<(usize, usize)> {
        let start = *self.starts.get(line)?;
        let mut end = self.starts.get(line + 1).map_or(text.len(), |next| next - 1);
        if end > start && text.as_bytes().get(end - 1) == Some(&b'\r') {
            end -= 1;
        }
        Some((start, end))
    }

    /// Byte offset of an LSP position. A character past the end of its line means the
    /// line's end (as the LSP specification says); a line past the end is an error.
    pub fn offset(&self, text: &str, pos: Position) -> Result<usize, PositionError> {
        let line = pos.line as usize;
        let Some((start, end)) = self.line_span(text, line) else {
            return Err(PositionError::LineOutOfRange { line: pos.line, lines: self.line_count() });
        };
        let mut units = 0u32;
        for (i, ch) in text[start..end].char_indices() {
            if units == pos.character {
                return Ok(start + i);
            }
            let width = ch.len_utf16() as u32;
            if units + width > pos.character {
                return Err(PositionError::InsideSurrogatePair {
                    line: pos.line,
                    character: pos.character,
                });
            }
            units += width;
        }
        Ok(end)
    }

    /// Byte range of an LSP range.
    pub fn byte_range(&self, text: &str, range: Range) -> Result<(usize, usize), PositionError> {
        let start = self.offset(text, range.start)?;
        let end = self.offset(text, range.end)?;
        if end < start {
            return Err(PositionError::Reversed {
                end_line: range.end.line,
                end_character: range.end.character,
            });
        }
        Ok((start, end))
    }

    /// LSP position of a byte offset (clamped to the text, snapped back to a char boundary).
    pub fn position(&self, text: &str, offset: usize) -> Position {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.starts.partition_point(|&s| s <= offset).saturating_sub(1);
        let start = self.starts.get(line).copied().unwrap_or(0);
        let character: usize = text[start..offset].chars().map(char::len_utf16).sum();
        Position { line: line as u32, character: character as u32 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(line: u32, character: u32) -> Position {
        Position { line, character }
    }

    #[test]
    fn ascii_round_trip() {
        let text = "pen red\nfd 100\n";
        let idx = LineIndex::new(text);
        assert_eq!(idx.line_count(), 3);
        assert_eq!(idx.offset(text, pos(1, 3)), Ok(11));
        assert_eq!(idx.position(text, 11), pos(1, 3));
        assert_eq!(idx.offset(text, pos(2, 0)), Ok(text.len()));
    }

    #[test]
    fn emoji_counts_two_units_and_cannot_be_split() {
        let text = "label '😀x'\n";
        let idx = LineIndex::new(text);
        // `'` at 6, emoji at 7..9 in UTF-16, `x` at 9.
        assert_eq!(idx.offset(text, pos(0, 9)), Ok(text.find('x').expect("x")));
        assert_eq!(
            idx.offset(text, pos(0, 8)),
            Err(PositionError::InsideSurrogatePair { line: 0, character: 8 })
        );
        assert_eq!(idx.position(text, text.find('x').expect("x")), pos(0, 9));
    }

    #[test]
    fn crlf_line_end_excludes_carriage_return() {
        let text = "fd 10\r\nrt 90\r\n";
        let idx = LineIndex::new(text);
        assert_eq!(idx.offset(text, pos(0, 99)), Ok(5));
        assert_eq!(idx.offset(text, pos(1, 0)), Ok(7));
        assert_eq!(idx.position(text, 7), pos(1, 0));
    }

    #[test]
    fn out_of_range_line_and_reversed_range_are_errors() {
        let text = "fd 10";
        let idx = LineIndex::new(text);
        assert!(matches!(idx.offset(text, pos(5, 0)), Err(PositionError::LineOutOfRange { .. })));
        let r = Range { start: pos(0, 3), end: pos(0, 1) };
        assert!(matches!(idx.byte_range(text, r), Err(PositionError::Reversed { .. })));
    }

    #[test]
    fn position_of_offset_inside_a_char_snaps_back() {
        let text = "é";
        let idx = LineIndex::new(text);
        assert_eq!(idx.position(text, 1), pos(0, 0));
    }
}
