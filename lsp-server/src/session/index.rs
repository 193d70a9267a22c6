//! Open documents by URI, each with the snapshot of its last run.

use crate::edit::{DocumentError, TextDocument};
use crate::coach::style_fix::StyleFix;
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
#[derive(Debug, Clone, Default)]
pub struct DocumentEntry {
    /// The text, unless the client's latest text was refused.
    pub document: Option<Arc<TextDocument>>,
    /// Why the client's latest text is not held (too large, a change at a bad position);
    /// cleared by the next whole-document change or a reopen.
    pub refused: Option<DocumentError>,
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
        let entry = match TextDocument::new(text, version) {
            Ok(doc) => DocumentEntry { document: Some(Arc::new(doc)), ..Default::default() },
            Err(e) => DocumentEntry { refused: Some(e), ..Default::default() },
        };
        let refused = entry.refused.clone();
        self.entries.insert(uri, entry);
        refused.map_or(Ok(()), Err)
    }

    /// Applies a change batch; on refusal the document is dropped until resynchronised.
    pub fn change(
        &mut self,
        uri: &Uri,
        changes: &[TextDocumentContentChangeEvent],
        version: i32,
    ) -> Result<(), DocumentError> {
        let entry = self.entries.entry(uri.clone()).or_default();
        let base = match &entry.document {
            Some(doc) => Ok(doc.as_ref().clone()),
            None => TextDocument::new(String::new(), version),
        };
        // Without a base text only a whole-document change can resynchronise.
        let resync = entry.document.is_some()
            || changes
                .first()
                .is_some_and(|c| matches!(c, TextDocumentContentChangeEvent::TextDocumentContentChangeWholeDocument(_)));
        let result = match (base, resync) {
            (Ok(base), true) => base.apply_changes(changes, version),
            (Ok(_), false) => Err(entry.refused.clone().unwrap_or(DocumentError::TooLarge { bytes: 0 })),
            (Err(e), _) => Err(e),
        };
        match result {
            Ok(doc) => {
                entry.document = Some(Arc::new(doc));
                entry.refused = None;
                Ok(())
            }
            Err(e) => {
                entry.document = None;
                entry.refused = Some(e.clone());
                Err(e)
            }
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
            if entry.document.as_ref().is_some_and(|d| d.text() == snapshot.text) {
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
        assert!(index.get(&uri).is_some_and(|e| e.document.is_none() && e.refused.is_some()));
        let whole = TextDocumentContentChangeEvent::TextDocumentContentChangeWholeDocument(
            TextDocumentContentChangeWholeDocument { text: "fd 1\n".into() },
        );
        assert!(index.change(&uri, &[whole], 2).is_ok());
        assert_eq!(index.get(&uri).and_then(|e| e.document.as_ref()).map(|d| d.text()), Some("fd 1\n"));
    }
}
