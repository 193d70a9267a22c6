//! The model's trace text format, read exactly as the paper's parser reads it.
//!
//! ```text
//! {title}<mask>...<mask><start>CODE 1 (2019-05-09 16:18:59):
//! {program 1}CODE 2 (2019-05-09 16:19:30):
//! {program 2}<|endoftext|>
//! ```
//!
//! Programs keep their own trailing newline, so nothing separates one program
//! from the next header. Parsing rules (the paper's `Trace.parse_trace`):
//! the text is cut into blocks, each starting at `CODE <digit>` and running to
//! the next `CODE <digit>` or the end; every block but the last must be a
//! `CODE n (time):\n` header followed by the program; the last block counts
//! only when `<|endoftext|>` follows it, and its program ends before the first
//! such token; a whitespace-only last program is dropped.

use crate::trace::{ProgramState, Provenance, Trace};

/// Token that pads the title region.
pub const MASK: &str = "<mask>";
/// Token that ends the title region.
pub const START: &str = "<start>";
/// End-of-trace token.
pub const END_OF_TEXT: &str = "<|endoftext|>";
/// Padding token after the end of a trace.
pub const PAD: &str = "<pad>";

/// What the parser found in one trace text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedText {
    /// Title before the first `<mask>`/`<start>` (trimmed), if any text precedes it.
    pub title: Option<String>,
    /// Program states that matched, in order.
    pub programs: Vec<ProgramState>,
    /// Whether `<|endoftext|>` occurred in the last block.
    pub eos: bool,
    /// Blocks that did not match the header pattern (the paper allows at most
    /// one: an unterminated last program).
    pub unmatched_blocks: usize,
}

/// Parses a trace text with the paper's rules (see the module docs).
pub fn parse(text: &str) -> ParsedText {
    let blocks = split_blocks(text);
    let mut programs = Vec::with_capacity(blocks.len());
    let mut eos = false;
    let mut unmatched_blocks = 0;
    for (i, block) in blocks.iter().enumerate() {
        let is_last = i + 1 == blocks.len();
        let parsed = if is_last {
            eos = block.contains(END_OF_TEXT);
            parse_header(block).and_then(|(n, time, body)| {
                body.find(END_OF_TEXT).map(|end| (n, time, &body[..end]))
            })
        } else {
            parse_header(block)
        };
        match parsed {
            Some((n, time, code)) => programs.push(ProgramState { n, time: time.to_string(), code: code.to_string() }),
            None => unmatched_blocks += 1,
        }
    }
    if programs.last().is_some_and(|p| is_blank(&p.code)) {
        programs.pop();
    }
    ParsedText { title: parse_title(text), programs, eos, unmatched_blocks }
}

/// Parses a trace text into a [`Trace`] for the given student; the title
/// comes from the text unless given.
pub fn parse_trace(text: &str, student: &str, title: Option<&str>, provenance: Provenance) -> Trace {
    let parsed = parse(text);
    Trace {
        student: student.to_string(),
        title: title.map(str::to_string).or(parsed.title).unwrap_or_default(),
        programs: parsed.programs,
        eos: parsed.eos,
        provenance,
    }
}

/// Why a trace cannot be written so that it reads back unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    /// A program contains text the parser would take for a header or end token.
    #[error("program {n} contains {what:?}, which the trace format cannot carry")]
    ReservedText {
        /// Header number of the program.
        n: u32,
        /// The offending text.
        what: &'static str,
    },
    /// A timestamp contains `):` + newline, which would end the header early.
    #[error("program {n} has a timestamp the trace format cannot carry: {time:?}")]
    BadTime {
        /// Header number of the program.
        n: u32,
        /// The timestamp.
        time: String,
    },
    /// The last program is empty or whitespace, which the parser drops.
    #[error("the last program is blank; the parser would drop it")]
    BlankLast,
}

/// Writes the title region: the title then `masks` `<mask>` tokens, then `<start>`.
pub fn write_title_region(title: &str, masks: usize) -> String {
    let mut s = String::with_capacity(title.len() + masks * MASK.len() + START.len());
    s.push_str(title);
    for _ in 0..masks {
        s.push_str(MASK);
    }
    s.push_str(START);
    s
}

/// Writes one program's block: `CODE n (time):\n{code}`.
pub fn write_program(p: &ProgramState) -> String {
    format!("CODE {} ({}):\n{}", p.n, p.time, p.code)
}

/// Writes a whole trace: title region (title plus `masks` masks), every
/// program block, then `<|endoftext|>` when the trace is complete.
///
/// An open trace (`eos == false`) ends instead with the opening of the next
/// state's header, `CODE n+1 (`: the parser keeps only blocks that a further
/// header or the end token closes, so this is what lets an open trace's last
/// program read back; it is also exactly where the model would continue.
///
/// Errors when [`parse`] could not read the result back unchanged.
pub fn write(trace: &Trace, masks: usize) -> Result<String, WriteError> {
    check_writable(trace)?;
    let mut s = write_title_region(&trace.title, masks);
    for p in &trace.programs {
        s.push_str(&write_program(p));
    }
    if trace.eos {
        s.push_str(END_OF_TEXT);
    } else if let Some(last) = trace.programs.last() {
        s.push_str(&format!("CODE {} (", last.n.saturating_add(1)));
    }
    Ok(s)
}

fn check_writable(trace: &Trace) -> Result<(), WriteError> {
    for p in &trace.programs {
        if find_code_header(&p.code, 0).is_some() {
            return Err(WriteError::ReservedText { n: p.n, what: "CODE <digit>" });
        }
        if p.code.contains(END_OF_TEXT) {
            return Err(WriteError::ReservedText { n: p.n, what: END_OF_TEXT });
        }
        if p.time.contains("):\n") || find_code_header(&p.time, 0).is_some() {
            return Err(WriteError::BadTime { n: p.n, time: p.time.clone() });
        }
    }
    if trace.programs.last().is_some_and(|p| is_blank(&p.code)) {
        return Err(WriteError::BlankLast);
    }
    Ok(())
}

/// Python's `s.strip() == ''`: Python also counts the separators U+001C..U+001F
/// as whitespace, which Rust's `trim` does not.
fn is_blank(s: &str) -> bool {
    s.chars().all(|c| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
}

/// The paper's `get_title`: the text before the first `<mask>`, trimmed; we
/// also stop at `<start>` for texts with an unpadded title region.
fn parse_title(text: &str) -> Option<String> {
    let end = [text.find(MASK), text.find(START)].into_iter().flatten().min()?;
    let title = text[..end].trim();
    (!title.is_empty()).then(|| title.to_string())
}

/// Cuts the text into blocks at every `CODE <digit>`, as the paper's
/// `re.findall(r"CODE \d+.*?(?=CODE \d+|\Z)", text, re.DOTALL)` does.
fn split_blocks(text: &str) -> Vec<&str> {
    let mut blocks = Vec::new();
    let Some(mut start) = find_code_header(text, 0) else { return blocks };
    loop {
        let digits_end = start + "CODE ".len() + leading_digits(&text[start + "CODE ".len()..]);
        match find_code_header(text, digits_end) {
            Some(next) => {
                blocks.push(&text[start..next]);
                start = next;
            }
            None => {
                blocks.push(&text[start..]);
                return blocks;
            }
        }
    }
}

/// Byte offset of the first `CODE ` followed by a decimal digit, at or after `from`.
fn find_code_header(text: &str, from: usize) -> Option<usize> {
    let mut pos = from;
    while let Some(i) = text.get(pos..)?.find("CODE ") {
        let at = pos + i;
        let after = &text[at + "CODE ".len()..];
        if after.chars().next().is_some_and(is_decimal_digit) {
            return Some(at);
        }
        pos = at + 1;
    }
    None
}

/// Python's `\d` matches any Unicode decimal digit; `char::is_numeric` is
/// wider (it includes e.g. `½`), so we keep to characters with a digit value.
fn is_decimal_digit(c: char) -> bool {
    c.is_ascii_digit() || (!c.is_ascii() && c.is_numeric() && unicode_digit_value(c).is_some())
}

/// Value of a Unicode decimal digit in the common contiguous blocks whose
/// zero is at a code point ending in 0 (Arabic-Indic, Devanagari, fullwidth, ...).
fn unicode_digit_value(c: char) -> Option<u32> {
    const ZEROS: &[u32] = &[
        0x0660, 0x06F0, 0x07C0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0BE6, 0x0C66, 0x0CE6, 0x0D66,
        0x0DE6, 0x0E50, 0x0ED0, 0x0F20, 0x1040, 0x1090, 0x17E0, 0x1810, 0xFF10,
    ];
    let cp = c as u32;
    ZEROS.iter().find(|&&z| (z..z + 10).contains(&cp)).map(|&z| cp - z)
}

/// Length in bytes of the run of decimal digits at the start of `s`.
fn leading_digits(s: &str) -> usize {
    s.char_indices().find(|&(_, c)| !is_decimal_digit(c)).map_or(s.len(), |(i, _)| i)
}

/// Matches `CODE (\d+) \((.*?)\):\n(.*)` at the start of a block; returns
/// the number, the time and the rest of the block.
fn parse_header(block: &str) -> Option<(u32, &str, &str)> {
    let rest = block.strip_prefix("CODE ")?;
    let digits = leading_digits(rest);
    if digits == 0 {
        return None;
    }
    let n = digits_value(&rest[..digits]);
    let rest = rest[digits..].strip_prefix(" (")?;
    let close = rest.find("):\n")?;
    Some((n, &rest[..close], &rest[close + "):\n".len()..]))
}

/// Numeric value of a run of decimal digits (saturating: the number is only
/// a label, and Python would accept any length).
fn digits_value(s: &str) -> u32 {
    s.chars().fold(0u32, |acc, c| {
        let d = c.to_digit(10).or_else(|| unicode_digit_value(c)).unwrap_or(0);
        acc.saturating_mul(10).saturating_add(d)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(n: u32, time: &str, code: &str) -> ProgramState {
        ProgramState { n, time: time.into(), code: code.into() }
    }

    #[test]
    fn parses_a_complete_trace() {
        let text = "car<mask><mask><start>CODE 1 (2019-05-09 16:18:59):\nfd 1\nCODE 2 (2019-05-09 16:19:30):\nfd 2\nrt 90<|endoftext|><|endoftext|><pad>";
        let p = parse(text);
        assert_eq!(p.title.as_deref(), Some("car"));
        assert!(p.eos);
        assert_eq!(p.unmatched_blocks, 0);
        assert_eq!(p.programs, vec![st(1, "2019-05-09 16:18:59", "fd 1\n"), st(2, "2019-05-09 16:19:30", "fd 2\nrt 90")]);
    }

    #[test]
    fn last_block_without_end_token_is_dropped() {
        let text = "t<mask><start>CODE 1 (a):\nfd 1\nCODE 2 (b):\nfd 2\n";
        let p = parse(text);
        assert!(!p.eos);
        assert_eq!(p.unmatched_blocks, 1);
        assert_eq!(p.programs, vec![st(1, "a", "fd 1\n")]);
    }

    #[test]
    fn blank_last_program_is_dropped() {
        let p = parse("t<start>CODE 1 (a):\nfd 1\nCODE 2 (b):\n  \n<|endoftext|>");
        assert!(p.eos);
        assert_eq!(p.programs, vec![st(1, "a", "fd 1\n")]);
    }

    #[test]
    fn header_needs_the_exact_shape() {
        // `CODE 3x` starts a block (the digit is enough) but does not match a header.
        let p = parse("t<start>CODE 1 (a):\nfd 1\nCODE 3x\nCODE 2 (b):\nfd 2<|endoftext|>");
        assert_eq!(p.unmatched_blocks, 1);
        assert_eq!(p.programs.len(), 2);
        assert_eq!(p.programs[0].code, "fd 1\n");
    }

    #[test]
    fn time_runs_to_the_first_close_paren_colon_newline() {
        let p = parse("t<start>CODE 7 (x (y)):\nz):\nfd 1<|endoftext|>");
        assert_eq!(p.programs, vec![st(7, "x (y)", "z):\nfd 1")]);
    }

    #[test]
    fn no_header_means_no_programs() {
        let p = parse("just text<|endoftext|>");
        assert!(p.programs.is_empty());
        assert!(!p.eos);
    }

    #[test]
    fn write_then_parse_round_trips() {
        let t = Trace {
            student: "s".into(),
            title: "snowman".into(),
            programs: vec![st(1, "2019-05-09 16:18:59", "fd 1\n"), st(2, "2019-05-09 16:19:30", "pen red\nfd 2")],
            eos: true,
            provenance: Provenance::default(),
        };
        let text = write(&t, 3).expect("writable");
        assert_eq!(text, "snowman<mask><mask><mask><start>CODE 1 (2019-05-09 16:18:59):\nfd 1\nCODE 2 (2019-05-09 16:19:30):\npen red\nfd 2<|endoftext|>");
        let back = parse_trace(&text, "s", None, Provenance::default());
        assert_eq!(back, t);
    }

    #[test]
    fn open_traces_end_with_the_next_header() {
        let t = Trace {
            student: "s".into(),
            title: "x".into(),
            programs: vec![st(1, "a", "fd 1\n"), st(2, "b", "fd 2\n")],
            eos: false,
            provenance: Provenance::default(),
        };
        let text = write(&t, 0).expect("writable");
        assert_eq!(text, "x<start>CODE 1 (a):\nfd 1\nCODE 2 (b):\nfd 2\nCODE 3 (");
        assert_eq!(parse_trace(&text, "s", None, Provenance::default()), t);
    }

    #[test]
    fn unwritable_traces_are_refused() {
        let mut t = Trace {
            student: "s".into(),
            title: "x".into(),
            programs: vec![st(1, "a", "write 'CODE 5'\n")],
            eos: true,
            provenance: Provenance::default(),
        };
        assert!(matches!(write(&t, 0), Err(WriteError::ReservedText { .. })));
        t.programs[0].code = " \n".into();
        assert_eq!(write(&t, 0), Err(WriteError::BlankLast));
    }

    /// Every trace of the public corpus that the format can carry reads back
    /// unchanged after writing; the rest are refused, never garbled.
    #[test]
    fn public_corpus_round_trips() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/public/trace-model.jsonl.gz");
        let corpus = crate::corpus::read_corpus(&path, crate::corpus::ReadOptions::default()).expect("corpus");
        assert!(corpus.traces.len() > 9_000);
        let mut refused = 0;
        for t in &corpus.traces {
            match write(t, 49) {
                Ok(text) => {
                    let back = parse_trace(&text, &t.student, None, t.provenance.clone());
                    assert_eq!(back, *t, "trace {:?} did not round-trip", t.provenance.index);
                }
                Err(_) => refused += 1,
            }
        }
        // Only traces whose last program is blank or whose text holds `CODE <digit>` are refused.
        assert!(refused < corpus.traces.len() / 100, "{refused} refused");
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn program() -> impl Strategy<Value = String> {
            // Turtle-ish lines plus awkward characters (parentheses, colons, unicode, CR).
            proptest::collection::vec(
                prop_oneof![
                    Just("fd 100".to_string()),
                    Just("pen red, 5".to_string()),
                    Just("  rt 90 # turn".to_string()),
                    Just("write '):'".to_string()),
                    Just("say 'héllo ✓'".to_string()),
                    Just("\r".to_string()),
                    "[a-z0-9 ,'()#:]{0,12}",
                ],
                1..6,
            )
            .prop_map(|lines| lines.join("\n") + "\n")
        }

        proptest! {
            #[test]
            fn write_parse_round_trip(
                title in "[a-z]{1,10}",
                codes in proptest::collection::vec(program(), 1..6),
                eos in any::<bool>(),
                masks in 0usize..60,
            ) {
                let programs: Vec<ProgramState> = codes.into_iter().enumerate().map(|(i, code)| ProgramState {
                    n: i as u32 + 1,
                    time: format!("2019-05-09 16:{:02}:00", i % 60),
                    code,
                }).collect();
                let t = Trace { student: "s".into(), title, programs, eos, provenance: Provenance::default() };
                match write(&t, masks) {
                    Ok(text) => {
                        let back = parse_trace(&text, "s", None, Provenance::default());
                        prop_assert_eq!(back, t);
                    }
                    Err(WriteError::BlankLast) => prop_assert!(t.programs.last().is_some_and(|p| is_blank(&p.code))),
                    Err(e) => prop_assert!(false, "unexpected refusal: {}", e),
                }
            }
        }
    }
}
