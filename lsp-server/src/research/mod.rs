//! Consented research collection, the student's side (`pencil-lsp research ...`).
//!
//! A researcher's signed study reaches the machine from the class's hub or a
//! file ([`study`]); the student (or a parent, or the school, when the study's
//! age rule says so) consents and gets a receipt ([`consent`]); from that moment
//! on, and never before, what the study's scope names is collected, scrubbed
//! ([`scrub`]) and shown byte for byte ([`outbox::next_upload`]) before
//! [`outbox::upload`] sends exactly those bytes; revoking stops collection at
//! once and asks the hub to delete what it has. The hub files uploads under a
//! SubjectID it derives from a per-study secret ([`hub`] is the HTTP side), so
//! the machine never holds a key that could link two studies.
//!
//! Plain code over the store's [`crate::store::Database`]; [`cli`] is the command line.

pub mod cli;
pub mod consent;
pub mod hub;
pub mod outbox;
pub mod scrub;
pub mod study;

pub use cli::{run, Args};

use crate::classroom::hub::HubError;
use crate::store::StoreError;
use pencil_core::research::StudyError;

/// Why a research step did not happen, in words a student can act on.
#[derive(Debug, thiserror::Error)]
pub enum ResearchError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The hub could not be reached or refused.
    #[error(transparent)]
    Hub(#[from] HubError),
    /// A study document was refused.
    #[error("the study was refused: {0}")]
    Study(#[from] StudyError),
    /// The scrubber could not be set up, so nothing may be sent.
    #[error("nothing can be sent without the scrub: {0}")]
    Scrub(#[from] scrub::ScrubSetupError),
    /// A file could not be read or a value not encoded.
    #[error("{0}")]
    File(String),
    /// No such study on this machine.
    #[error("no study '{0}' on this machine; read it with `pencil-lsp research study show FILE` or `pencil-lsp research study list`")]
    UnknownStudy(String),
    /// Another document already holds this study id.
    #[error("a different document was seen before as study '{0}'; a study never changes after publication, so this one was refused")]
    StudyChanged(String),
    /// A stored row no longer verifies.
    #[error("stored research data does not verify ({0}); nothing was used")]
    Tampered(String),
    /// The student is under the study's age.
    #[error("students under {0} cannot consent to this study themselves: a parent (--by parent) or the school (--by school) must")]
    NeedsGuardian(u32),
    /// The study has an age rule and no age was given.
    #[error("this study asks students under {0} for a parent's or the school's consent: give your age with --age, or consent --by parent / --by school")]
    AgeNeeded(u32),
    /// Consent is already in force.
    #[error("consent to study '{0}' is already in force (see `pencil-lsp research receipts`)")]
    AlreadyConsented(String),
    /// No consent in force.
    #[error("no consent to study '{0}' is in force, so nothing is collected or sent for it")]
    NoConsent(String),
    /// What would be sent is not what was previewed.
    #[error("what would be sent changed since the preview (a new run, or another upload); nothing was sent: preview again")]
    PreviewChanged,
}
