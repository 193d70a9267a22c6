//! Sandbox verdicts as LSP diagnostics at the right line and column.

use crate::edit::LineIndex;
use pencil_sandbox::{ProgramError, Status, Verdict};
use tower_lsp_server::gen_lsp_types::{Code, Diagnostic, DiagnosticSeverity, Message, Position, Range};

/// The `source` field of every diagnostic the coach publishes.
pub const SOURCE: &str = "pencil";

/// Diagnostics for a verdict on `text`: an error at its place, a warning for a program
/// that never finishes, nothing for a program that runs or waits for input; plus a note
/// on a resource the offline checker could not load.
pub fn from_verdict(text: &str, verdict: &Verdict) -> Vec<Diagnostic> {
    let index = LineIndex::new(text);
    let mut diagnostics = from_status(text, &index, verdict);
    if let Some(load) = &verdict.unchecked_load {
        diagnostics.push(unchecked_load(text, &index, load));
    }
    diagnostics
}

fn from_status(text: &str, index: &LineIndex, verdict: &Verdict) -> Vec<Diagnostic> {
    match verdict.status {
        Status::Ok | Status::WaitsForInput => Vec::new(),
        Status::Timeout => vec![diagnostic(
            whole_line(text, index, 0),
            DiagnosticSeverity::Warning,
            "Timeout",
            "This program did not finish in time: is there a loop that never stops?".to_string(),
        )],
        Status::Error => {
            let Some(error) = &verdict.error else {
                return vec![diagnostic(
                    whole_line(text, index, 0),
                    DiagnosticSeverity::Error,
                    "Error",
                    "This program stopped with an error.".to_string(),
                )];
            };
            vec![diagnostic(
                error_range(text, index, error),
                DiagnosticSeverity::Error,
                &error.kind,
                format!("{}: {}", error.kind, error.message),
            )]
        }
    }
}

/// An Information note on a load the offline checker could not make: the program may
/// well be right, so it is not an error (`pencil_sandbox::ResourceLoads::Unchecked`).
fn unchecked_load(text: &str, index: &LineIndex, load: &ProgramError) -> Diagnostic {
    let url = load_address(&load.message);
    let range = url.and_then(|u| locate_address(text, index, u)).unwrap_or_else(|| whole_line(text, index, 0));
    let what = url.map_or_else(|| "a resource".to_string(), |u| format!("`{u}`"));
    diagnostic(
        range,
        DiagnosticSeverity::Information,
        "UncheckedLoad",
        format!("The checker runs offline, so it could not load {what}; the rest of the program was checked. In Pencil Code, online, it should load."),
    )
}

/// The address in `Failed to load resource: URL (what)`.
fn load_address(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("Failed to load resource: ")?;
    let url = rest.rsplit_once(" (").map_or(rest, |(u, _)| u).trim();
    (!url.is_empty()).then_some(url)
}

/// Where the program names `url`: the whole address, else its last path segment
/// (`wear 'apple'` loads `//pencilcode.net/img/apple`).
fn locate_address(text: &str, index: &LineIndex, url: &str) -> Option<Range> {
    let last = url.rsplit('/').next().filter(|s| !s.is_empty());
    let (at, len) = text
        .find(url)
        .map(|i| (i, url.len()))
        .or_else(|| last.and_then(|l| text.find(l).map(|i| (i, l.len()))))?;
    Some(Range { start: index.position(text, at), end: index.position(text, at + len) })
}

fn diagnostic(range: Range, severity: DiagnosticSeverity, code: &str, message: String) -> Diagnostic {
    Diagnostic {
        range,
        severity: Some(severity),
        code: Some(Code::String(code.to_string())),
        code_description: None,
        source: Some(SOURCE.to_string()),
        message: Message::String(message),
        tags: None,
        related_information: None,
        data: None,
    }
}

/// The name a `ReferenceError` complains about (`babyblue is not defined` -> `babyblue`).
pub fn undefined_name(error: &ProgramError) -> Option<&str> {
    if error.kind != "ReferenceError" {
        return None;
    }
    // V8 writes `x is not defined`; QuickJS writes `'x' is not defined`.
    let name = error.message.trim().strip_suffix(" is not defined")?.trim().trim_matches(['\'', '"']);
    (!name.is_empty() && name.chars().all(is_ident_char)).then_some(name)
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$'
}

/// The range of an error: the undefined name nearest its column, else the word at its
/// column, else its whole line. Sandbox lines and columns are 1-based; columns count
/// UTF-16 units as JavaScript does.
pub fn error_range(text: &str, index: &LineIndex, error: &ProgramError) -> Range {
    let line = error.line.map_or(0, |l| l.saturating_sub(1) as usize).min(index.line_count() - 1);
    let Some((start, end)) = index.line_span(text, line) else { return whole_line(text, index, line) };
    let content = &text[start..end];
    let column = error.column.map(|c| c.saturating_sub(1));
    let at_column = column.and_then(|c| index.offset(text, Position { line: line as u32, character: c }).ok());
    if let Some(name) = undefined_name(error) {
        let target = at_column.unwrap_or(start);
        let best = word_occurrences(content, name)
            .map(|i| start + i)
            .min_by_key(|&i| i.abs_diff(target));
        if let Some(i) = best {
            return Range { start: index.position(text, i), end: index.position(text, i + name.len()) };
        }
    }
    if let Some(at) = at_column.filter(|&a| a < end) {
        let word_end = text[at..end]
            .char_indices()
            .find(|&(_, c)| !is_ident_char(c))
            .map_or(end, |(i, _)| at + i);
        let word_end = if word_end == at { at + text[at..].chars().next().map_or(0, char::len_utf8) } else { word_end };
        return Range { start: index.position(text, at), end: index.position(text, word_end) };
    }
    whole_line(text, index, line)
}

/// Byte offsets of whole-word occurrences of `word` in `line`.
pub fn word_occurrences<'a>(line: &'a str, word: &'a str) -> impl Iterator<Item = usize> + 'a {
    line.match_indices(word).map(|(i, _)| i).filter(move |&i| {
        let before = line[..i].chars().next_back();
        let after = line[i + word.len()..].chars().next();
        !before.is_some_and(is_ident_char) && !after.is_some_and(is_ident_char)
    })
}

fn whole_line(text: &str, index: &LineIndex, line: usize) -> Range {
    let (start, end) = index.line_span(text, line).unwrap_or((0, 0));
    let indent = text[start..end].len() - text[start..end].trim_start().len();
    Range { start: index.position(text, start + indent), end: index.position(text, end) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pencil_sandbox::Language;

    fn verdict(kind: &str, message: &str, line: Option<u32>, column: Option<u32>) -> Verdict {
        Verdict {
            status: Status::Error,
            paper_success: false,
            language: Language::Coffeescript,
            error: Some(ProgramError { kind: kind.into(), message: message.into(), line, column }),
            ms: 1.0,
            unchecked_load: None,
            drawing: None,
        }
    }

    fn check(text: &str, v: &Verdict, expected: Option<((u32, u32), (u32, u32))>) {
        let diags = from_verdict(text, v);
        let got = diags.first().map(|d| ((d.range.start.line, d.range.start.character), (d.range.end.line, d.range.end.character)));
        assert_eq!(got, expected, "{text:?}");
    }

    #[test]
    fn reference_errors_highlight_the_name() {
        let text = "speed 10\npen red\nfd 10; pen babyblue\n";
        check(text, &verdict("ReferenceError", "babyblue is not defined", Some(3), Some(8)), Some(((2, 11), (2, 19))));
        // Without a column the name is still found on its line.
        check(text, &verdict("ReferenceError", "babyblue is not defined", Some(3), None), Some(((2, 11), (2, 19))));
        check(text, &verdict("ReferenceError", "'babyblue' is not defined", Some(3), None), Some(((2, 11), (2, 19))));
    }

    #[test]
    fn syntax_errors_highlight_the_token_at_the_column() {
        let text = "moveto 100 100\n";
        check(text, &verdict("SyntaxError", "unexpected 100", Some(1), Some(12)), Some(((0, 11), (0, 14))));
        // Past the end of the line: the whole line.
        check("  fd (\n", &verdict("SyntaxError", "missing )", Some(1), Some(40)), Some(((0, 2), (0, 6))));
        // A line past the end of the text lands on the last line.
        check("fd 1", &verdict("SyntaxError", "unexpected end of input", Some(9), None), Some(((0, 0), (0, 4))));
    }

    #[test]
    fn columns_are_utf16() {
        let text = "label '😀', fdd\n";
        check(text, &verdict("SyntaxError", "x", Some(1), Some(13)), Some(((0, 12), (0, 15))));
    }

    #[test]
    fn running_programs_have_no_diagnostics_and_timeouts_warn() {
        let mut v = verdict("x", "y", None, None);
        v.status = Status::Ok;
        check("fd 1", &v, None);
        v.status = Status::WaitsForInput;
        check("await read defer x", &v, None);
        v.status = Status::Timeout;
        let d = from_verdict("forever ->\n  fd 1\n", &v);
        assert_eq!(d.first().and_then(|d| d.severity), Some(DiagnosticSeverity::Warning));
    }

    #[test]
    fn unchecked_loads_are_information_at_the_address() {
        let text = "pen red\nwear 'apple'\nfd 10\n";
        let mut v = verdict("x", "y", None, None);
        v.status = Status::Ok;
        v.error = None;
        v.unchecked_load = Some(ProgramError {
            kind: "ResourceError".into(),
            message: "Failed to load resource: //pencilcode.net/img/apple (wear)".into(),
            line: None,
            column: None,
        });
        let d = from_verdict(text, &v);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].severity, Some(DiagnosticSeverity::Information));
        assert_eq!((d[0].range.start, d[0].range.end), (Position { line: 1, character: 6 }, Position { line: 1, character: 11 }));
        let Message::String(m) = &d[0].message else { panic!("plain message") };
        assert!(m.contains("`//pencilcode.net/img/apple`"), "{m}");
        // With an error too, the error comes first.
        v.status = Status::Error;
        v.error = Some(ProgramError { kind: "ReferenceError".into(), message: "fdd is not defined".into(), line: Some(3), column: None });
        let d = from_verdict("pen red\nwear 'apple'\nfdd 10\n", &v);
        assert_eq!(d.iter().map(|d| d.severity).collect::<Vec<_>>(), [Some(DiagnosticSeverity::Error), Some(DiagnosticSeverity::Information)]);
    }
}
