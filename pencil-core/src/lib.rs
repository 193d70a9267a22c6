//! Shared core of the Pencil Code coach: what both `pencil-trainer` and
//! `pencil-lsp` need, with no async, no LSP, no SQLite and no network.
//!
//! - [`trace`]: the trace data model (student, title, program states).
//! - [`text_format`]: the model's trace text format, read exactly as the
//!   paper's parser reads it, and written so that it round-trips.
//! - [`corpus`]: readers for corpus files (gzipped JSON Lines) and the
//!   paper's raw rollout format, with errors that name file and line.
//! - [`metrics`]: the paper's per-trace metrics, with exact parity.
//! - [`model`]: the trace model (candle), its presets and tokenizer loading.
//! - [`scrub`]: de-identification of program text (the paper's §A.2 rules and more),
//!   shared by the trainer and every export.
//! - [`inference`]: exported models under ONNX Runtime: KV cache, sampling, stop rules.
//! - [`training_text`]: how a trace becomes the token ids a model trains on
//!   (collapse, scrub, title region, text), for datasets and adaptation alike.
//! - [`adapt`]: fitting one student's vector on their own traces (candle, CPU).
//! - [`classroom`]: wire types shared by `pencil-hub` and `pencil-lsp`: joining, the
//!   teacher-signed hint policy (sign/verify), aggregate-only run events.
//! - [`research`]: consented research collection: signed studies, the teacher's
//!   offer to a class, consent, and the upload format.

pub mod adapt;
pub mod classroom;
pub mod corpus;
pub mod html;
pub mod inference;
pub mod metrics;
pub mod model;
pub mod research;
pub mod scrub;
pub mod text_format;
pub mod trace;
pub mod training_text;

pub use trace::{ProgramState, Provenance, Trace};
