//! The server's state: open documents and settings. Everything here is plain data
//! guarded by one short-held lock in the server; nothing here awaits.

mod index;
mod options;
mod settings;

pub use index::{title_of, DocumentEntry, DocumentIndex, RunSnapshot, StyleFixSlot};
pub use options::ClientOptions;
pub use settings::{Settings, DATA_DIR_ENV, DEFAULT_FIX_SAMPLES, MAX_FIX_SAMPLES};

/// Open documents plus the settings in force.
#[derive(Debug, Default)]
pub struct Session {
    /// Open documents by URI.
    pub documents: DocumentIndex,
    /// Resolved settings.
    pub settings: Settings,
    /// Messages for the student decided during `initialize`, shown once `initialized`
    /// arrives (the protocol forbids sending them earlier).
    pub pending_messages: Vec<String>,
    /// Whether the client accepts server-initiated `$/progress` (`window.workDoneProgress`).
    pub client_progress: bool,
}
