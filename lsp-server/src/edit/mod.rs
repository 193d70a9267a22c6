//! Text and position handling: documents as the client sees them, UTF-16 positions,
//! and minimal edits between two versions of a program.

mod document;
mod minimal;
mod position;

pub use document::{DocumentError, TextDocument, MAX_DOCUMENT_BYTES};
pub use minimal::{apply_edits, minimal_edits};
pub use position::{LineIndex, PositionError};
