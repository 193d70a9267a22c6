//! The paper's per-trace metrics, with exact parity to its Python code
//! (`src/metrics/trace.py`, `src/nlp_utils.py` of the paper's repository, run
//! under CPython 3.11's `difflib` and nltk's `corpus_bleu`).
//!
//! - [`trace_metrics()`]: the whole per-trace record, serialising with the
//!   paper's key names; the CLI and the golden parity tests share it.
//! - [`edit_distance`]: `int(max(len) * (1 - SequenceMatcher ratio))`.
//! - [`sequence_matcher`] and [`differ`]: ports of `difflib.SequenceMatcher`
//!   (autojunk included) and `difflib.Differ` (`_fancy_replace` included).
//! - [`edit_types`]: the paper's classification of edits between programs.
//! - [`program_counts`]: comments, functions, keywords and colors of a program.
//! - [`bleu`] and [`bleu_groups`]: BLEU and self-BLEU as nltk computes them.
//! - [`python_text`]: Python's whitespace, line, word and digit semantics.
//!
//! Known limits of parity: Unicode tables follow Rust's `char`/`regex`
//! (Unicode 15+) where CPython 3.11 uses Unicode 14, which matters only for
//! characters assigned since; timestamps must be exactly `YYYY-MM-DD HH:MM:SS`
//! (Python's `strptime` also accepts unpadded fields).

pub mod bleu;
pub mod bleu_groups;
pub mod differ;
pub mod edit_distance;
pub mod edit_types;
pub mod program_counts;
pub mod python_text;
pub mod sequence_matcher;
pub mod trace_metrics;

pub use bleu_groups::{bleu_groups, BleuGroup};
pub use edit_distance::edit_distance;
pub use trace_metrics::{trace_metrics, MetricsError, PaperMetrics, TraceMetrics};
