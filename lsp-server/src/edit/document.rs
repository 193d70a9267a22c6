//! A document's text and version as the client last sent them.

use super::position::{LineIndex, PositionError};
use tower_lsp_server::gen_lsp_types::TextDocumentContentChangeEvent;

/// Documents larger than this are not kept: a student's program is a few kilobytes,
/// and the sandbox and the store should never see megabytes from one keystroke.
pub const MAX_DOCUMENT_BYTES: usize = 1 << 20;

/// Why a document or a change to it was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    /// The change names a position that is not in the document.
    #[error(transparent)]
    Position(#[from] PositionError),
    /// The document would exceed [`MAX_DOCUMENT_BYTES`].
    #[error("the document is {bytes} bytes; the coach handles documents up to {MAX_DOCUMENT_BYTES} bytes")]
    TooLarge {
        /// Size it would have had.
        bytes: usize,
    },
    /// A change to a document that was never opened, which only its whole text can start.
    #[error("the document was never opened, so only a change with its whole text can start it")]
    NotOpen,
}

/// An open document: its text, the client's version number and a line index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextDocument {
    text: String,
    version: i32,
    index: LineIndex,
}

impl TextDocument {
    /// A document with the given text, refused if larger than [`MAX_DOCUMENT_BYTES`].
    pub fn new(text: String, version: i32) -> Result<TextDocument, DocumentError> {
        if text.len() > MAX_DOCUMENT_BYTES {
            return Err(DocumentError::TooLarge { bytes: text.len() });
        }
        let index = LineIndex::new(&text);
        Ok(TextDocument { text, version, index })
    }

    /// The current text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The client's version number.
    pub fn version(&self) -> i32 {
        self.version
    }

    /// The line index of the current text.
    pub fn index(&self) -> &LineIndex {
        &self.index
    }

    /// Applies a `didChange` batch atomically: either every change applies or the
    /// document stays as it was.
    pub fn apply_changes(
        &self,
        changes: &[TextDocumentContentChangeEvent],
        version: i32,
    ) -> Result<TextDocument, DocumentError> {
        let mut text = self.text.clone();
        let mut index = self.index.clone();
        for change in changes {
            match change {
                TextDocumentContentChangeEvent::TextDocumentContentChangeWholeDocument(whole) => {
                    text = whole.text.clone();
                }
                TextDocumentContentChangeEvent::TextDocumentContentChangePartial(part) => {
                    let (start, end) = index.byte_range(&text, part.range)?;
                    let bytes = text.len() - (end - start) + part.text.len();
                    if bytes > MAX_DOCUMENT_BYTES {
                        return Err(DocumentError::TooLarge { bytes });
                    }
                    text.replace_range(start..end, &part.text);
                }
            }
            if text.len() > MAX_DOCUMENT_BYTES {
                return Err(DocumentError::TooLarge { bytes: text.len() });
            }
            index = LineIndex::new(&text);
        }
        Ok(TextDocument { text, version, index })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower_lsp_server::gen_lsp_types::{
        Position, Range, TextDocumentContentChangePartial, TextDocumentContentChangeWholeDocument,
    };

    #[allow(deprecated)]
    fn partial(l0: u32, c0: u32, l1: u32, c1: u32, text: &str) -> TextDocumentContentChangeEvent {
        TextDocumentContentChangeEvent::TextDocumentContentChangePartial(TextDocumentContentChangePartial {
            range: Range {
                start: Position { line: l0, character: c0 },
                end: Position { line: l1, character: c1 },
            },
            range_length: None,
            text: text.into(),
        })
    }

    #[test]
    fn incremental_changes_apply_in_order() {
        let doc = TextDocument::new("pen red\nfd 100\n".into(), 1).expect("doc");
        let doc = doc
            .apply_changes(&[partial(0, 4, 0, 7, "blue"), partial(1, 3, 1, 6, "50\nrt 90")], 2)
            .expect("changes");
        assert_eq!(doc.text(), "pen blue\nfd 50\nrt 90\n");
        assert_eq!(doc.version(), 2);
    }

    #[test]
    fn a_bad_change_leaves_nothing_applied() {
        let doc = TextDocument::new("fd 10\n".into(), 1).expect("doc");
        let err = doc.apply_changes(&[partial(0, 0, 0, 2, "bk"), partial(9, 0, 9, 1, "x")], 2);
        assert!(matches!(err, Err(DocumentError::Position(_))));
        assert_eq!(doc.text(), "fd 10\n");
    }

    #[test]
    fn oversized_documents_are_refused() {
        let big = "x".repeat(MAX_DOCUMENT_BYTES + 1);
        assert!(matches!(TextDocument::new(big.clone(), 1), Err(DocumentError::TooLarge { .. })));
        let doc = TextDocument::new(String::new(), 1).expect("doc");
        let whole = TextDocumentContentChangeEvent::TextDocumentContentChangeWholeDocument(
            TextDocumentContentChangeWholeDocument { text: big },
        );
        assert!(matches!(doc.apply_changes(&[whole], 2), Err(DocumentError::TooLarge { .. })));
    }
}
