//! Open documents by URI, each with the snapshot of its last run.

use crate::coach::style_fix::StyleFix;
use crate::edit::{DocumentError, TextDocument};
use crate::error::ServerError;
use crate::fixes::VerifiedFix;
use std::collections::HashMap;
use std::sync::Arc;
use tower_lsp_server::gen_lsp_types::{Diagnostic, TextDocumentContentChangeEvent, Uri};

/// What a run left behind for code actions: valid while the text is unchanged.
#[derive(Debug, Clone)]
pub struct RunSnapshot {
    /// The text that ran.
    pub text: String,
    /// The diagnostics published for it.
    pub diagnostics: Vec<Diagnostic>,
    /// Quick fixes verified in the sandbox, best first.
    pub fixes: Vec<VerifiedFix>,
    /// For a failing run with a model loaded: where "Fix in my style" looks.
    pub style: Option<StyleFixSlot>,
    /// The run's error class and message (`classroom::reflect::error_key`), when it failed.
    pub error_key: Option<String>,
}

/// "Fix in my style" for one failing run: computed once, on the first code action
/// request, and shared by every later request for the same text.
#[derive(Debug, Clone)]
pub struct StyleFixSlot {
    /// Whose trace.
    pub student: String,
    /// The title.
    pub title: String,
    /// The recorded state the fixes are offered on, when recorded.
    pub state_id: Option<i64>,
    /// When the run happened (the program clock).
    pub time: String,
    /// The fixes, once computed.
    pub fixes: Arc<tokio::sync::OnceCell<Vec<StyleFix>>>,
}

/// One open document.
#[derive(Debug, Clone)]
pub struct DocumentEntry {
    /// The text, or why the client's latest text is not held (too large, a change at
    /// a bad position) until the next whole-document change or a reopen.
    pub text: Result<Arc<TextDocument>, DocumentError>,
    /// The last run, for code actions.
    pub last_run: Option<Arc<RunSnapshot>>,
}

/// Open documents by URI.
#[derive(Debug, Default)]
pub struct DocumentIndex {
    entries: HashMap<Uri, DocumentEntry>,
}

impl DocumentIndex {
    /// Opens (or reopens) a document; a refused text is remembered as refused.
    pub fn open(&mut self, uri: Uri, text: String, version: i32) -> Result<(), DocumentError> {
        let text = TextDocument::new(text, version).map(Arc::new);
        let result = text.as_ref().map(|_| ()).map_err(Clone::clone);
        self.entries.insert(uri, DocumentEntry { text, last_run: None });
        result
    }

    /// Applies a change batch; on refusal the document is dropped until resynchronised.
    /// A change to a document never opened is refused without opening it, unless it
    /// starts with the whole text.
    pub fn change(
        &mut self,
        uri: &Uri,
        changes: &[TextDocumentContentChangeEvent],
        version: i32,
    ) -> Result<(), DocumentError> {
        let whole_first = changes
            .first()
            .is_some_and(|c| matches!(c, TextDocumentContentChangeEvent::TextDocumentContentChangeWholeDocument(_)));
        let result = match (self.entries.get(uri).map(|e| &e.text), whole_first) {
            (Some(Ok(doc)), _) => doc.apply_changes(changes, version),
            // Without a base text only a whole-document change can resynchronise.
            (Some(Err(reason)), false) => return Err(reason.clone()),
            (None, false) => return Err(DocumentError::NotOpen),
            (_, true) => TextDocument::new(String::new(), version).and_then(|empty| empty.apply_changes(changes, version)),
        };
        let text = result.map(Arc::new);
        let outcome = text.as_ref().map(|_| ()).map_err(Clone::clone);
        match self.entries.get_mut(uri) {
            Some(entry) => entry.text = text,
            None => {
                self.entries.insert(uri.clone(), DocumentEntry { text, last_run: None });
            }
        }
        outcome
    }

    /// The current text of a document, or why a request cannot use it.
    pub fn text(&self, uri: &Uri) -> Result<Arc<TextDocument>, ServerError> {
        match self.entries.get(uri).map(|e| &e.text) {
            Some(Ok(doc)) => Ok(Arc::clone(doc)),
            Some(Err(reason)) => Err(ServerError::Refused { uri: uri.to_string(), reason: reason.clone() }),
            None => Err(ServerError::NotOpen(uri.to_string())),
        }
    }

    /// Closes a document, forgetting its text and last run.
    pub fn close(&mut self, uri: &Uri) {
        self.entries.remove(uri);
    }

    /// The entry of an open document.
    pub fn get(&self, uri: &Uri) -> Option<&DocumentEntry> {
        self.entries.get(uri)
    }

    /// Stores the last run of a document if its text is still the one that ran.
    pub fn set_last_run(&mut self, uri: &Uri, snapshot: Arc<RunSnapshot>) {
        if let Some(entry) = self.entries.get_mut(uri) {
            if entry.text.as_ref().is_ok_and(|d| d.text() == snapshot.text) {
                entry.last_run = Some(snapshot);
            }
        }
    }
}

/// The trace title of a document: its file stem (`.../snowman.coffee` -> `snowman`),
/// percent-decoded; `untitled` when the URI has no usable name.
pub fn title_of(uri: &Uri) -> String {
    let s = uri.as_ref();
    let path = s.split(['?', '#']).next().unwrap_or(s);
    let name = path.rsplit('/').next().unwrap_or(path);
    let decoded = percent_decode(name);
    let stem = match decoded.rfind('.') {
        Some(i) if i > 0 => &decoded[..i],
        _ => decoded.as_str(),
    };
    let stem = stem.trim();
    if stem.is_empty() { "untitled".to_string() } else { stem.to_string() }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1).and_then(|&b| hex(b)), bytes.get(i + 2).and_then(|&b| hex(b))) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower_lsp_server::gen_lsp_types::TextDocumentContentChangeWholeDocument;

    #[test]
    fn titles_are_file_stems() {
        for (uri, title) in [
            ("file:///home/ann/snowman.coffee", "snowman"),
            ("file:///tmp/my%20house.coffee?x=1", "my house"),
            ("untitled:Untitled-1", "untitled:Untitled-1"),
            ("file:///tmp/.coffee", ".coffee"),
            ("file:///tmp/", "untitled"),
        ] {
            assert_eq!(title_of(&Uri::from(uri)), title, "{uri}");
        }
    }

    #[test]
    fn refused_documents_resync_on_whole_text() {
        let uri = Uri::from("file:///a.coffee");
        let mut index = DocumentIndex::default();
        let big = "x".repeat(crate::edit::MAX_DOCUMENT_BYTES + 1);
        assert!(index.open(uri.clone(), big, 1).is_err());
        assert!(matches!(index.text(&uri), Err(ServerError::Refused { reason: DocumentError::TooLarge { .. }, .. })));
        let whole = TextDocumentContentChangeEvent::TextDocumentContentChangeWholeDocument(
            TextDocumentContentChangeWholeDocument { text: "fd 1\n".into() },
        );
        assert!(index.change(&uri, &[whole], 2).is_ok());
        assert_eq!(index.text(&uri).ok().map(|d| d.text().to_string()), Some("fd 1\n".to_string()));
    }

    #[test]
    #[allow(deprecated)]
    fn changes_to_documents_never_opened_say_so() {
        use tower_lsp_server::gen_lsp_types::{Position, Range, TextDocumentContentChangePartial};
        let uri = Uri::from("file:///never.coffee");
        let mut index = DocumentIndex::default();
        let at = Position { line: 0, character: 0 };
        let partial = TextDocumentContentChangeEvent::TextDocumentContentChangePartial(TextDocumentContentChangePartial {
            range: Range { start: at, end: at },
            range_length: None,
            text: "fd 1".into(),
        });
        // It used to be refused as "the document is 0 bytes" (a made-up TooLarge).
        assert_eq!(index.change(&uri, &[partial], 2), Err(DocumentError::NotOpen));
        assert!(matches!(index.text(&uri), Err(ServerError::NotOpen(_))));
    }
}
