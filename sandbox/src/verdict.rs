//! The verdict on one program: what the student sees and what the paper counts.

use crate::drawing::Drawing;
use serde::{Deserialize, Serialize};

/// The outcome of checking one program.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// What the student should be told.
    pub status: Status,
    /// The paper's rule: CoffeeScript run with no error that reaches the end, else JavaScript run with no error.
    pub paper_success: bool,
    /// The language the verdict (and its error) is about.
    pub language: Language,
    /// The first error, mapped to the student's source.
    pub error: Option<ProgramError>,
    /// Wall time of the check, in milliseconds.
    pub ms: f64,
    /// With [`crate::ResourceLoads::Unchecked`]: the first resource the offline sandbox could not
    /// load, which did not count against `status` (it did against `paper_success`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unchecked_load: Option<ProgramError>,
    /// What the turtles drew in the run the verdict is about, up to its end or its
    /// error; none when the program did not compile or ran out of time or memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drawing: Option<Drawing>,
}

/// The student-facing state of a program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Ran to the end without an error.
    Ok,
    /// Failed to compile or threw.
    Error,
    /// Ran past its time budget (an infinite loop or a very long computation).
    Timeout,
    /// Stopped, without error, waiting for input (`await read`, `readnum`, `recv`, ...).
    WaitsForInput,
}

/// The language a program was judged as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// Pencil Code's IcedCoffeeScript.
    Coffeescript,
    /// Plain JavaScript (the paper's fallback run).
    Javascript,
}

/// An error, with its position in the student's source.
///
/// kind: "SyntaxError" | "ReferenceError" | "TypeError" | "ResourceError" | "RangeError" | ...; line/column 1-based in the student's source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgramError {
    /// The JavaScript error class, or `ResourceError` for a failed resource load.
    pub kind: String,
    /// The message, as the runtime words it.
    pub message: String,
    /// 1-based line in the student's source, when known.
    pub line: Option<u32>,
    /// 1-based column in the student's source, when known.
    pub column: Option<u32>,
}
