//! Rules for CoffeeScript syntax errors: over-indented lines, unclosed brackets and
//! strings, stray closing brackets and unexpected punctuation. Each yields a whole
//! fixed program; the sandbox decides whether it helps.

use super::rebuild;
use super::{comment_start, Fix, Rule};
use pencil_sandbox::ProgramError;

/// Candidate fixes for a `SyntaxError`.
pub fn syntax_fixes(code: &str, error: &ProgramError) -> Vec<Fix> {
    if error.kind != "SyntaxError" {
        return Vec::new();
    }
    let lines: Vec<&str> = code.split_inclusive('\n').collect();
    if lines.is_empty() {
        return Vec::new();
    }
    let at = error.line.map_or(0, |l| l.saturating_sub(1) as usize).min(lines.len() - 1);
    let message = error.message.as_str();
    let mut out = Vec::new();
    if message.contains("unexpected indentation") {
        out.extend(realign_else(&lines, at));
        // The compiler may report the end of the line before the misplaced `else`.
        if let Some(next) = (at + 1..lines.len()).find(|&j| !lines[j].trim().is_empty()) {
            out.extend(realign_else(&lines, next));
        }
        out.extend(rejoin_block(&lines, at));
        out.extend(realign(&lines, at));
    }
    if message.starts_with("unexpected") || message.starts_with("missing") {
        out.extend(drop_dangling_end(&lines, at));
        out.extend(join_empty_call(&lines, at));
    }
    if message.starts_with("unexpected ,") {
        out.extend(join_spaced_call(&lines, at));
    }
    if message.starts_with("unexpected '") || message.starts_with("unexpected \"") {
        out.extend(space_before_string(&lines, at));
    }
    // A block whose first line fell out of it: the compiler stops at the opener
    // (`for sides in [3..6]` / `pen path` / `    for [1..sides]`).
    let opener_left_empty = message.contains("unexpected indentation") && opens_block(lines[at]);
    if message.contains("unexpected newline") || is_unexpected_opener(message, lines[at]) || opener_left_empty {
        out.extend(indent_body(&lines, at));
    }
    if message.contains("unexpected newline") || message.contains("unexpected indentation") || message.contains("missing ]") {
        out.extend(close_list_before_body(&lines, at));
    }
    if let Some(missing) = message.strip_prefix("missing ").and_then(|m| m.trim().chars().next()) {
        out.extend(close_unclosed(&lines, at, missing).into_iter().flatten());
        if matches!(missing, '"' | '\'') {
            out.extend(close_block_text(&lines, missing));
            // The compiler reports where the input ended; the string opened on the last
            // line (from there upwards) with an odd count of that quote.
            let quote = missing.to_string();
            let open = (0..=at).rev().find(|&i| !lines[i].matches(quote.as_str()).count().is_multiple_of(2)).unwrap_or(at);
            out.extend(match_closing_quote(&lines, open, missing));
            out.extend(close_string(&lines, open, &quote));
        }
    }
    if message.contains("unmatched OUTDENT") {
        // A bracket left open at the end of a line inside a block: the compiler
        // only notices at the next dedent, lines below.
        for missing in [')', ']', '}'] {
            out.extend(close_unclosed(&lines, at, missing).into_iter().flatten());
        }
    }
    if message.starts_with("unexpected") {
        out.extend(apostrophe_in_quotes(&lines, at));
    }
    // A string left open mid-line runs on to the next quote, lines further on, and
    // the compiler complains there: close it where its text plainly ends.
    out.extend(close_string_before_separator(&lines));
    if let Some(token) = message.strip_prefix("unmatched ").or_else(|| message.strip_prefix("unexpected ")) {
        let token = token.trim().trim_start_matches("token in expression:").trim().trim_matches('\'');
        let token = if token.is_empty() { "'" } else { token };
        if matches!(token, "'" | "\"") {
            out.extend(close_string(&lines, at, token));
        }
        if let Some(column) = error.column {
            // Where a `(` plainly went (`pu)`, `random100)`), that comes before
            // removing the `)`, an edit as small.
            if token == ")" && message.starts_with("unmatched") {
                out.extend(open_paren(&lines, at, column));
            }
            out.extend(remove_at(&lines, at, column, token));
        }
    }
    out
}

/// Whether `message` is the compiler's complaint about the block opener that
/// starts `line` (`unexpected if` at `if seconds is 0` when the line below fell
/// out of its block).
fn is_unexpected_opener(message: &str, line: &str) -> bool {
    let Some(word) = message.strip_prefix("unexpected ").map(str::trim) else { return false };
    BLOCK_OPENERS.contains(&word) && line.trim_start().split([' ', '\t']).next() == Some(word)
}

/// Keywords that start a block.
const BLOCK_OPENERS: [&str; 9] = ["if", "unless", "else", "for", "while", "until", "loop", "switch", "try"];

/// Whether `line` opens a block: it starts with a block keyword (and has no
/// `then`) or ends with a function arrow.
fn opens_block(line: &str) -> bool {
    let code = line[..comment_start(line).unwrap_or(line.len())].trim();
    let first = code.split([' ', '\t']).next().unwrap_or("");
    (BLOCK_OPENERS.contains(&first) && !code.contains(" then ")) || code.ends_with("->") || code.ends_with("=>")
}

fn indent_of(line: &str) -> &str {
    &line[..line.len() - line.trim_start_matches([' ', '\t']).len()]
}

/// Moves the over-indented line (and the block under it) back to the indentation of
/// the previous non-blank line.
fn realign(lines: &[&str], at: usize) -> Option<Fix> {
    let previous = lines[..at].iter().rev().find(|l| !l.trim().is_empty());
    // A block's first line is meant to be deeper than its opener.
    if previous.is_some_and(|l| opens_block(l)) {
        return None;
    }
    let target = previous.map_or("", |l| indent_of(l));
    let own = indent_of(lines[at]);
    if own.len() <= target.len() && !own.contains('\t') {
        return None;
    }
    let mut replaced = Vec::new();
    for (i, line) in lines.iter().enumerate().skip(at) {
        let indent = indent_of(line);
        if i > at && (line.trim().is_empty() || indent.len() < own.len()) {
            if line.trim().is_empty() {
                continue;
            }
            break;
        }
        let deeper = &indent[own.len().min(indent.len())..];
        replaced.push((i, format!("{target}{deeper}{}", &line[indent.len()..])));
    }
    Some(Fix {
        rule: Rule::Syntax,
        title: format!("Line {} is indented more than the line before it: line it up", at + 1),
        new_code: rebuild(lines, &replaced),
    })
}

/// A block cut in half: a line moved back out of its block leaves the lines after it
/// "over-indented". Indent the lines between the block's last line and the error
/// line back into the block. This comes before [`realign`], which would end the
/// block there instead: one line typed at the margin in the middle of a block
/// (a line inserted and not yet indented) is the likelier slip, and the trace
/// model prefers it too.
fn rejoin_block(lines: &[&str], at: usize) -> Option<Fix> {
    let deep = indent_of(lines[at]).len();
    let prev = (0..at).rev().find(|&j| !lines[j].trim().is_empty())?;
    let shallow = indent_of(lines[prev]).len();
    if shallow >= deep {
        return None;
    }
    // The block's earlier lines sit at the error line's depth.
    let opener_side = (0..prev).rev().find(|&j| !lines[j].trim().is_empty() && indent_of(lines[j]).len() <= deep)?;
    if indent_of(lines[opener_side]).len() != deep {
        return None;
    }
    let indent = &lines[at][..deep];
    let mut replaced = Vec::new();
    for (j, line) in lines.iter().enumerate().take(at).skip(opener_side + 1) {
        if !line.trim().is_empty() && indent_of(line).len() < deep {
            replaced.push((j, format!("{indent}{}", line.trim_start_matches([' ', '\t']))));
        }
    }
    let first = replaced.first()?.0;
    Some(Fix {
        rule: Rule::Syntax,
        title: format!("Indent line {} back into the block it belongs to", first + 1),
        new_code: rebuild(lines, &replaced),
    })
}

/// An `else` indented under its `if`'s body moves back to the `if`.
fn realign_else(lines: &[&str], at: usize) -> Option<Fix> {
    let line = lines[at];
    let own = indent_of(line);
    let rest = line.trim_start();
    if !(rest.starts_with("else") && rest[4..].chars().next().is_none_or(|c| !c.is_alphanumeric())) {
        return None;
    }
    let target = lines[..at].iter().rev().find_map(|l| {
        let t = l.trim_start();
        let i = indent_of(l);
        (i.len() < own.len() && (t.starts_with("if ") || t.starts_with("unless "))).then_some(i)
    })?;
    // Its block moves with it, so the body keeps the depth the student gives
    // every other block.
    let shift = own.len() - target.len();
    let mut replaced = vec![(at, format!("{target}{rest}"))];
    for (i, body) in lines.iter().enumerate().skip(at + 1) {
        let indent = indent_of(body);
        if body.trim().is_empty() {
            continue;
        }
        if indent.len() <= own.len() || indent.contains('\t') || own.contains('\t') {
            break;
        }
        replaced.push((i, body[shift..].to_string()));
    }
    Some(Fix {
        rule: Rule::Syntax,
        title: format!("Line up the `else` on line {} (and its block) with its `if`", at + 1),
        new_code: rebuild(lines, &replaced),
    })
}

/// A line left unfinished (`fd x +`, `pen.`): drop the dangling operator.
fn drop_dangling_end(lines: &[&str], at: usize) -> Option<Fix> {
    // The error is often reported on the line after the unfinished one.
    let i = (0..=at.min(lines.len() - 1)).rev().find(|&i| !lines[i].trim().is_empty())?;
    let line = lines[i];
    let body = line.trim_end();
    let dangling = ["+", "-", "*", "/", ".", ",", "=", "and", "or", "(", "["]
        .iter()
        .find(|op| body.ends_with(*op) && !body.ends_with("->") && !body.ends_with("=>"))?;
    let before = &body[..body.len() - dangling.len()];
    // `pu(` is a call left open: closing it (`close_unclosed`) calls `pu`;
    // removing the `(` leaves a name that does nothing.
    if *dangling == "(" && before.ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == '$') {
        return None;
    }
    // `and`/`or` only as whole words (`color` does not end in the operator `or`).
    let whole_word = !dangling.chars().all(char::is_alphabetic) || before.ends_with([' ', '\t']);
    let kept = before.trim_end();
    if kept.trim().is_empty() || !whole_word {
        return None;
    }
    let new = format!("{kept}{}", &line[body.len()..]);
    Some(Fix {
        rule: Rule::Syntax,
        title: format!("Remove the unfinished `{dangling}` at the end of line {}", i + 1),
        new_code: rebuild(lines, &[(i, new)]),
    })
}

/// `dot ()` passes `()` as an argument, which is not an expression: call `dot()`.
fn join_empty_call(lines: &[&str], at: usize) -> Option<Fix> {
    let line = lines[at];
    let idx = line.find(" ()")?;
    if !line[..idx].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
        return None;
    }
    let new = format!("{}(){}", &line[..idx], &line[idx + 3..]);
    Some(Fix {
        rule: Rule::Syntax,
        title: format!("Write the call on line {} without a space before `()`", at + 1),
        new_code: rebuild(lines, &[(at, new)]),
    })
}

/// Words that may stand before a parenthesis without calling anything.
const NOT_CALLABLE: &[&str] = &[
    "if", "unless", "while", "until", "for", "return", "and", "or", "not", "in", "of", "is", "isnt", "when", "then",
    "else", "new", "typeof", "delete", "throw", "switch", "by", "await", "yield",
];

/// `polygon (orange, 25, 6)`: with a space, CoffeeScript reads the parenthesis as
/// one argument, a comma expression it refuses. Call the function with the list
/// instead: `polygon(orange, 25, 6)`.
fn join_spaced_call(lines: &[&str], at: usize) -> Option<Fix> {
    let line = lines[at];
    let bytes = line.as_bytes();
    let mut search = 0;
    while let Some(rel) = line[search..].find(" (") {
        let space = search + rel;
        search = space + 2;
        let name_start = line[..space].rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$' || c == '.')).map_or(0, |i| i + 1);
        let name = &line[name_start..space];
        let last = name.rsplit('.').next().unwrap_or(name);
        if last.is_empty() || last.starts_with(|c: char| c.is_ascii_digit()) || NOT_CALLABLE.contains(&last) {
            continue;
        }
        // The parenthesis must close on this line with a comma at its own depth.
        let mut depth = 0i32;
        let mut top_comma = false;
        let mut closed = false;
        for &b in &bytes[space + 1..] {
            match b {
                b'(' | b'[' | b'{' => depth += 1,
                b')' | b']' | b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        closed = true;
                        break;
                    }
                }
                b',' if depth == 1 => top_comma = true,
                _ => {}
            }
        }
        if !(closed && top_comma) {
            continue;
        }
        let new = format!("{}{}", &line[..space], &line[space + 1..]);
        return Some(Fix {
            rule: Rule::Syntax,
            title: format!("Write the call to `{last}` on line {} without a space before `(`", at + 1),
            new_code: rebuild(lines, &[(at, new)]),
        });
    }
    None
}

/// `wear'gold star'`: a command written against its text reads as one odd token.
/// Put the space back between the name and the quote.
fn space_before_string(lines: &[&str], at: usize) -> Option<Fix> {
    let line = lines[at];
    let mut in_string: Option<char> = None;
    let mut prev: Option<char> = None;
    for (i, c) in line.char_indices() {
        match in_string {
            Some(q) if c == q => in_string = None,
            Some(_) => {}
            None if c == '#' => break,
            None if c == '\'' || c == '"' => {
                if prev.is_some_and(|p| p.is_alphanumeric() || p == '_') {
                    let word_start = line[..i].rfind(|ch: char| !(ch.is_alphanumeric() || ch == '_' || ch == '$' || ch == '.')).map_or(0, |k| k + 1);
                    let word = &line[word_start..i];
                    if word.starts_with(|ch: char| ch.is_ascii_digit()) {
                        return None;
                    }
                    let new = format!("{} {}", &line[..i], &line[i..]);
                    return Some(Fix {
                        rule: Rule::Syntax,
                        title: format!("Put a space between `{word}` and its text on line {}", at + 1),
                        new_code: rebuild(lines, &[(at, new)]),
                    });
                }
                in_string = Some(c);
            }
            None => {}
        }
        prev = Some(c);
    }
    None
}

/// Appends the missing closing bracket to the nearest line (from the error upwards)
/// that opens more than it closes.
fn close_unclosed(lines: &[&str], at: usize, missing: char) -> Option<Vec<Fix>> {
    let open = match missing {
        ')' => '(',
        ']' => '[',
        '}' => '{',
        _ => return None,
    };
    let i = (0..=at).rev().find(|&i| {
        let l = lines[i];
        l.matches(open).count() > l.matches(missing).count()
    })?;
    let close_at = |j: usize| {
        let line = lines[j];
        // Before a statement's closing `;` (`pen(brown, 20;`) or a comment
        // (`ht( # hide`), else at the end.
        let body = match comment_start(line) {
            Some(hash) => line[..hash].trim_end(),
            None => line.trim_end_matches(['\r', '\n']),
        };
        let body = body.strip_suffix(';').unwrap_or(body);
        rebuild(lines, &[(j, format!("{body}{missing}{}", &line[body.len()..]))])
    };
    let mut fixes = Vec::new();
    // A parameter list left open before its arrow (`f = (x, y ->`).
    if missing == ')' {
        if let Some(arrow) = lines[i].rfind("->").filter(|&a| lines[i][..a].rfind(open).is_some()) {
            let head = lines[i][..arrow].trim_end();
            let new = format!("{head}{missing} {}", &lines[i][arrow..]);
            fixes.push(Fix { rule: Rule::Syntax, title: format!("Close the `(` on line {} before its `->`", i + 1), new_code: rebuild(lines, &[(i, new)]) });
        }
    }
    fixes.push(Fix {
        rule: Rule::Syntax,
        title: format!("Close the `{open}` on line {} with `{missing}`", i + 1),
        new_code: close_at(i),
    });
    // A bracket opened over several lines closes after the last of them.
    if let Some(last) = (i + 1..lines.len()).rev().find(|&j| !lines[j].trim().is_empty()) {
        fixes.push(Fix {
            rule: Rule::Syntax,
            title: format!("Close the `{open}` from line {} with `{missing}` on line {}", i + 1, last + 1),
            new_code: close_at(last),
        });
    }
    Some(fixes)
}

/// A block opener (`for`, `if`, `->`, ...) with nothing indented under it: indent the
/// next line, or the run of lines after it at the opener's indentation.
fn indent_body(lines: &[&str], at: usize) -> Vec<Fix> {
    let opener = lines[at];
    let own = indent_of(opener);
    let Some(next) = (at + 1..lines.len()).find(|&j| !lines[j].trim().is_empty()) else { return Vec::new() };
    if indent_of(lines[next]).len() > own.len() {
        return Vec::new();
    }
    let step = if own.contains('\t') { "\t" } else { "  " };
    let indent = |j: usize| (j, format!("{step}{}", lines[j]));
    // The line under the opener takes the body's indentation where the lines
    // after it show one (`if x` / `write a` fallen out / `    tick null`).
    let body = (next + 1..lines.len()).find(|&j| !lines[j].trim().is_empty()).map(|j| indent_of(lines[j])).filter(|i| i.len() > own.len());
    let first = match body {
        Some(body) => (next, format!("{body}{}", lines[next].trim_start())),
        None => indent(next),
    };
    let mut fixes = vec![Fix { rule: Rule::Syntax, title: format!("Indent line {} so it belongs to line {}", next + 1, at + 1), new_code: rebuild(lines, &[first]) }];
    let run: Vec<(usize, String)> = (next..lines.len())
        .take_while(|&j| !lines[j].trim().is_empty() && indent_of(lines[j]) == own)
        .map(indent)
        .collect();
    if run.len() > 1 {
        fixes.push(Fix {
            rule: Rule::Syntax,
            title: format!("Indent lines {}-{} so they belong to line {}", next + 1, next + run.len(), at + 1),
            new_code: rebuild(lines, &run),
        });
    }
    // `while turns > 0` over a `for` whose own body is indented: the whole block
    // below, nested lines and all, belongs to the opener.
    let block: Vec<(usize, String)> =
        (next..lines.len()).take_while(|&j| !lines[j].trim().is_empty() && indent_of(lines[j]).len() >= own.len()).map(indent).collect();
    if block.len() > run.len().max(1) {
        fixes.push(Fix {
            rule: Rule::Syntax,
            title: format!("Indent lines {}-{} so they belong to line {}", next + 1, next + block.len(), at + 1),
            new_code: rebuild(lines, &block),
        });
    }
    fixes
}

/// A list item alone on its line: one word, number or string (`red`, `'a.png',`).
fn is_list_item(line: &str) -> bool {
    let t = line.trim().trim_end_matches(',');
    !t.is_empty() && !t.contains([' ', '\t', '[', ']', '(', ')', '=']) && !t.ends_with("->")
}

/// `for c in [` with one color per line and then the loop's body, with no `]` between
/// them (or a `]` out of line): the list swallows the body. Close the list after its
/// last item, drop a `]` left at the end of the body, and indent the body under the
/// loop.
fn close_list_before_body(lines: &[&str], at: usize) -> Option<Fix> {
    let open = (0..=at).rev().find(|&i| {
        let t = lines[i].trim_end();
        t.ends_with('[') && !t.trim_start().starts_with('#')
    })?;
    let items: Vec<usize> = (open + 1..lines.len()).take_while(|&j| is_list_item(lines[j])).collect();
    let last_item = *items.last()?;
    let item_indent = indent_of(lines[open + 1]);
    let after = (last_item + 1..lines.len()).find(|&j| !lines[j].trim().is_empty())?;
    let closer = (lines[after].trim() == "]").then_some(after);
    let body_start = closer.map_or(after, |c| c + 1);
    let body: Vec<usize> = (body_start..lines.len()).take_while(|&j| !lines[j].trim().is_empty()).collect();
    let opener_indent = indent_of(lines[open]);
    let header = ["for ", "while ", "until ", "if ", "unless "].iter().any(|k| lines[open].trim_start().starts_with(k));
    let mut replaced: Vec<(usize, String)> = Vec::new();
    let close_line = format!("{item_indent}]\n");
    match closer {
        Some(c) if lines[c] != close_line => replaced.push((c, close_line)),
        Some(_) => {}
        None => replaced.push((last_item, format!("{}{close_line}", lines[last_item]))),
    }
    let step = if opener_indent.contains('\t') { "\t" } else { "  " };
    let indent_body = header && body.first().is_some_and(|&b| indent_of(lines[b]).len() <= opener_indent.len());
    let mut stray_closer = false;
    for (k, &j) in body.iter().enumerate() {
        let mut text = lines[j].to_string();
        if closer.is_none() && k + 1 == body.len() {
            let code = text.trim_end();
            if code.ends_with(']') && code.matches(']').count() > code.matches('[').count() {
                let kept = code[..code.len() - 1].trim_end();
                text = format!("{kept}{}", &text[code.len()..]);
                stray_closer = true;
            }
        }
        if indent_body {
            text = format!("{step}{text}");
        }
        if text != lines[j] {
            replaced.push((j, text));
        }
    }
    if closer.is_none() && !stray_closer && body.is_empty() {
        return None;
    }
    let mut title = format!("Close the list of line {} after line {}", open + 1, last_item + 1);
    if indent_body {
        title.push_str(&format!(" and indent the loop's body (lines {}-{})", body[0] + 1, body[body.len() - 1] + 1));
    }
    Some(Fix { rule: Rule::Syntax, title, new_code: rebuild(lines, &replaced) })
}

/// Closes a string left open on the error line.
fn close_string(lines: &[&str], at: usize, quote: &str) -> Option<Fix> {
    let line = lines[at];
    if line.matches(quote).count().is_multiple_of(2) {
        return None;
    }
    let body = line.trim_end_matches(['\r', '\n']);
    let new = format!("{body}{quote}{}", &line[body.len()..]);
    Some(Fix {
        rule: Rule::Syntax,
        title: format!("Close the text started with {quote} on line {}", at + 1),
        new_code: rebuild(lines, &[(at, new)]),
    })
}

/// `readnum "How many?', defer x`: a text opened with one quote and closed with the
/// other. The other quote, where a text ends (before a `,`, a `)` or the end of the
/// line), becomes the opening one.
fn match_closing_quote(lines: &[&str], at: usize, quote: char) -> Option<Fix> {
    let other = if quote == '"' { '\'' } else { '"' };
    let line = lines[at];
    if line.contains('#') || line.matches(quote).count().is_multiple_of(2) || line.matches(other).count().is_multiple_of(2) {
        return None;
    }
    let open = line.find(quote)?;
    let close = line[open + 1..]
        .match_indices(other)
        .map(|(k, _)| open + 1 + k)
        .rfind(|&k| {
            let after = line[k + 1..].trim_start_matches(' ');
            after.is_empty() || after.starts_with([',', ')', '\r', '\n'])
        })?;
    let new = format!("{}{quote}{}", &line[..close], &line[close + 1..]);
    Some(Fix {
        rule: Rule::Syntax,
        title: format!("End the text on line {} with {quote}, the quote it starts with", at + 1),
        new_code: rebuild(lines, &[(at, new)]),
    })
}

/// The first line with an odd count of `'` (or `"`) outside comments: a quote put
/// back before the `,`, `)` or `}` that follows an opening quote, for each opening
/// quote (at most three).
fn close_string_before_separator(lines: &[&str]) -> Vec<Fix> {
    let mut out = Vec::new();
    // Every line with an odd count of the quote: a text that spans lines on
    // purpose (`write 'a` ... `b'`) opens on one too.
    let odd = |quote: char| {
        lines.iter().enumerate().filter(move |(_, l)| {
            let code = l.split('#').next().unwrap_or("");
            !code.contains("#{") && code.matches(quote).count() % 2 == 1
        })
    };
    for (i, quote) in odd('\'').map(|(i, _)| (i, '\'')).chain(odd('"').map(|(i, _)| (i, '"'))) {
        let line = lines[i];
        let quotes: Vec<usize> = line.match_indices(quote).map(|(k, _)| k).collect();
        for &q in &quotes {
            let rest = &line[q + 1..];
            let next_quote = rest.find(quote).unwrap_or(rest.len());
            let Some(sep) = separator_after_text(&rest[..next_quote]) else { continue };
            // The text ends where the separator is, less the spaces before it.
            let end = q + 1 + rest[..sep].trim_end().len();
            if end == q + 1 {
                continue;
            }
            let new = format!("{}{quote}{}", &line[..end], &line[end..]);
            out.push(Fix {
                rule: Rule::Syntax,
                title: format!("Close the text started with {quote} on line {}", i + 1),
                new_code: rebuild(lines, &[(i, new)]),
            });
            if out.len() >= 3 {
                return out;
            }
        }
    }
    out
}

/// `write """` with lines of text under it and no closing `"""` (a story
/// still being written): close the block text after its last line, at the
/// opening line's indentation.
fn close_block_text(lines: &[&str], quote: char) -> Option<Fix> {
    let triple = quote.to_string().repeat(3);
    let count: usize = lines.iter().map(|l| l.matches(triple.as_str()).count()).sum();
    if count.is_multiple_of(2) {
        return None;
    }
    let open = (0..lines.len()).rev().find(|&i| lines[i].contains(triple.as_str()))?;
    let last = (open..lines.len()).rev().find(|&j| !lines[j].trim().is_empty())?;
    let mut new_code: String = lines[..=last].concat();
    if !new_code.ends_with('\n') {
        new_code.push('\n');
    }
    new_code.push_str(&format!("{}{triple}\n", indent_of(lines[open])));
    new_code.push_str(&lines[last + 1..].concat());
    Some(Fix { rule: Rule::Syntax, title: format!("Close the text started with {triple} on line {}", open + 1), new_code })
}

/// Where code plainly resumes in `text`, the rest of a line after a quote that
/// was never closed: a `,`, `)` or `}`, a ` then ` (`if pressed "left then lt 1`)
/// or a ` + ` (also at the end: `"http://a +`).
fn separator_after_text(text: &str) -> Option<usize> {
    let trailing_plus = text.trim_end().strip_suffix(" +").map(str::len);
    [text.find([',', ')', '}']), text.find(" then "), text.find(" + "), trailing_plus].into_iter().flatten().min()
}

/// `write 'that's it'`: the apostrophe ends the text early. Quote the text with `"`.
fn apostrophe_in_quotes(lines: &[&str], at: usize) -> Option<Fix> {
    let line = lines[at];
    let quotes: Vec<usize> = line.match_indices('\'').map(|(i, _)| i).collect();
    // An odd count of at least three: one is an apostrophe inside the text.
    if quotes.len() < 3 || quotes.len().is_multiple_of(2) || line.contains('"') || line.contains("#{") {
        return None;
    }
    let (first, last) = (quotes[0], quotes[quotes.len() - 1]);
    let new = format!("{}\"{}\"{}", &line[..first], &line[first + 1..last], &line[last + 1..]);
    Some(Fix {
        rule: Rule::Syntax,
        title: format!("Put the text on line {} in double quotes: its apostrophe ends '…' early", at + 1),
        new_code: rebuild(lines, &[(at, new)]),
    })
}

/// `random100)` or `f = x, y) ->`: the `(` of a call or a parameter list left out.
/// Put it back after the function's name where the name runs into a number, or
/// after the `=` of a definition. Only lines whose text before the `)` has no other
/// bracket.
fn open_paren(lines: &[&str], at: usize, column: u32) -> Option<Fix> {
    let line = lines[at];
    let close = (column as usize).checked_sub(1).filter(|&c| line.is_char_boundary(c) && line[c..].starts_with(')'))?;
    let before = &line[..close];
    if before.contains(['(', ')', '\'', '"']) {
        return None;
    }
    let mut insert_at = None;
    let mut start = None;
    for (i, c) in before.char_indices().chain([(before.len(), ' ')]) {
        let ident = c.is_ascii_alphanumeric() || c == '_' || c == '$';
        match (ident, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                let token = &before[s..i];
                // A command run into its argument: a number (`random100`) or a
                // name the runtime knows (`insidewindow`).
                let argument = |rest: &str| rest.starts_with(|c: char| c.is_ascii_digit()) || is_known_value(rest);
                if let Some(name) = pencil_sandbox::names::turtle_functions()
                    .iter()
                    .filter(|n| n.len() >= 2 && token.len() > n.len() && token.starts_with(**n) && argument(&token[n.len()..]))
                    .max_by_key(|n| n.len())
                {
                    insert_at = Some(s + name.len());
                    break;
                }
                start = None;
            }
            _ => {}
        }
    }
    // A parameter list (`f = x, y) ->`) opens right after the `=`.
    let parameters = line[close + 1..].trim_start().starts_with("->").then(|| before.find('=').map(|e| e + 1 + (before[e + 1..].len() - before[e + 1..].trim_start().len()))).flatten();
    // A statement that is one name and a `)` (`pu)`, `fd 30; dot)`) calls it with nothing.
    let statement = before.rsplit(';').next().unwrap_or(before);
    let call = line[close + 1..].trim().is_empty() && statement.trim().split('.').all(is_plain_name) && before.ends_with(|c: char| !c.is_whitespace());
    // Nothing else says where a `(` went (`fd 100)` is likelier an extra `)`).
    let at_byte = parameters.or(insert_at).or(call.then_some(close))?;
    let new = format!("{}({}", &line[..at_byte], &line[at_byte..]);
    Some(Fix {
        rule: Rule::Syntax,
        title: format!("Open the `(` that the `)` on line {} closes", at + 1),
        new_code: rebuild(lines, &[(at, new)]),
    })
}

/// Whether `name` is a value the runtime defines: a color, a browser global or
/// a turtle object (`window`, `red`, `turtle`).
fn is_known_value(name: &str) -> bool {
    use pencil_sandbox::names;
    names::colors().contains(&name) || names::browser_globals().contains(&name) || names::turtle_objects().contains(&name)
}

/// Whether `text` is one identifier.
fn is_plain_name(text: &str) -> bool {
    text.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_' || c == '$') && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// Removes a one-character token at the error's (1-based, UTF-16) column.
fn remove_at(lines: &[&str], at: usize, column: u32, token: &str) -> Option<Fix> {
    let line = lines[at];
    let mut units = 0u32;
    let (offset, ch) = line.char_indices().find(|&(_, c)| {
        let here = units + 1 == column;
        units += c.len_utf16() as u32;
        here
    })?;
    if token.chars().count() != 1 || !token.starts_with(ch) || ch.is_alphanumeric() {
        return None;
    }
    // `- >` and `forever 1, >`: the `>` of a broken arrow, which `slips.rs` mends;
    // removing it leaves a `-` or a dangling comma.
    if ch == '>' && line[..offset].trim_end().ends_with(['-', ',']) {
        return None;
    }
    let new = format!("{}{}", &line[..offset], &line[offset + ch.len_utf8()..]);
    // A line that held only the token (a `}` closing a block) goes with it.
    let new_code = if new.trim().is_empty() {
        lines.iter().enumerate().filter(|&(i, _)| i != at).map(|(_, l)| *l).collect()
    } else {
        rebuild(lines, &[(at, new)])
    };
    Some(Fix { rule: Rule::Syntax, title: format!("Remove the extra `{ch}` on line {}", at + 1), new_code })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixes(code: &str, message: &str, line: u32, column: Option<u32>) -> Vec<String> {
        let e = ProgramError { kind: "SyntaxError".into(), message: message.into(), line: Some(line), column };
        syntax_fixes(code, &e).into_iter().map(|f| f.new_code).collect()
    }

    #[test]
    fn a_call_written_with_a_space_before_its_argument_list_is_joined() {
        assert_eq!(
            fixes("bk 50\npolygon (orange, 25, 6)\n", "unexpected ,", 2, Some(17)),
            vec!["bk 50\npolygon(orange, 25, 6)\n"]
        );
        assert_eq!(fixes("t.dot (red, 10)\n", "unexpected ,", 1, None), vec!["t.dot(red, 10)\n"]);
        // One argument in parentheses is fine CoffeeScript; keywords call nothing.
        assert!(fixes("fd (50)\nif (a, b)\n", "unexpected ,", 2, None).iter().all(|f| !f.contains("if(")));
        assert!(fixes("fd (50)\n", "unexpected ,", 1, None).is_empty());
    }

    #[test]
    fn a_command_written_against_its_string_gets_its_space() {
        assert_eq!(fixes("fill gold\nwear'gold star'\n", "unexpected 'gold star'", 2, None), vec!["fill gold\nwear 'gold star'\n"]);
        assert_eq!(fixes("write\"hi\" # a\"b\n", "unexpected \"hi\"", 1, None), vec!["write \"hi\" # a\"b\n"]);
        // Inside a string or after a number, nothing is split.
        assert!(fixes("write 'it''s'\n", "unexpected 's'", 1, None).iter().all(|f| f != "write 'it' 's'\n"));
        assert!(fixes("x = 3'a'\n", "unexpected 'a'", 1, None).iter().all(|f| !f.contains("3 'a'")));
    }

    #[test]
    fn over_indented_blocks_move_back() {
        assert_eq!(fixes("pen red\n  fd 100\n", "unexpected indentation", 2, None), vec!["pen red\nfd 100\n"]);
        assert_eq!(
            fixes("for i in [1..4]\n  fd 10\n    rt 90\n    fd 5\n", "unexpected indentation", 3, None),
            vec!["for i in [1..4]\n  fd 10\n  rt 90\n  fd 5\n"]
        );
        assert_eq!(fixes("pen red\nfd 100\n\tfd 3\n", "unexpected indentation", 3, None), vec!["pen red\nfd 100\nfd 3\n"]);
    }

    #[test]
    fn a_line_fallen_out_of_its_block_goes_back_to_the_blocks_indentation() {
        // The block's first line, reported at the opener it left empty.
        let code = "for c in [red, blue]\n  for s in [3..6]\npen path\n    for [1..s]\n      fd 10\n";
        assert_eq!(
            fixes(code, "unexpected indentation", 2, None).first().map(String::as_str),
            Some("for c in [red, blue]\n  for s in [3..6]\n    pen path\n    for [1..s]\n      fd 10\n")
        );
        assert!(opens_block("tick 60, -> # go") && opens_block("if x") && !opens_block("if x then fd 1") && !opens_block("fd 10"));
        let code = "tick ->\n  if seconds is 0\nwrite \"Times Up!\"\n    tick null\n  else\n    write seconds\n";
        assert!(fixes(code, "unexpected if", 2, Some(3)).contains(&"tick ->\n  if seconds is 0\n    write \"Times Up!\"\n    tick null\n  else\n    write seconds\n".to_string()));
        // Only the opener the message names.
        assert!(fixes("x = 1\nif x\nfd 1\n", "unexpected if", 1, None).is_empty());
    }

    #[test]
    fn a_bracket_left_open_in_a_block_is_closed_where_it_opened() {
        let code = "f = (x) ->\n  for z in [1..x]\n    shape(\n    rt 360 / x\nfd 1\n";
        assert!(fixes(code, "unmatched OUTDENT", 4, Some(15)).contains(&"f = (x) ->\n  for z in [1..x]\n    shape()\n    rt 360 / x\nfd 1\n".to_string()));
    }

    #[test]
    fn empty_blocks_get_their_body_indented() {
        assert_eq!(
            fixes("for d in [1, 2]\nfd d\nrt 90\n\npen red\n", "unexpected newline", 1, Some(16)),
            vec!["for d in [1, 2]\n  fd d\nrt 90\n\npen red\n", "for d in [1, 2]\n  fd d\n  rt 90\n\npen red\n"]
        );
        assert!(fixes("for d in [1, 2]\n  fd d\n", "unexpected newline", 1, None).is_empty());
        // A nested block under the opener moves with it.
        let code = "while n > 0\nfor c in s\n  write c\nn -= 1\n";
        assert!(fixes(code, "unexpected newline", 1, None).contains(&"while n > 0\n  for c in s\n    write c\n  n -= 1\n".to_string()));
    }

    #[test]
    fn a_list_that_swallowed_the_loop_body_is_closed() {
        let want = "for c in [\n  red\n  blue\n  ]\n  pen c\n  fd 10\n";
        // No `]`, or one left at the end of the body.
        assert!(fixes("for c in [\n  red\n  blue\npen c\nfd 10\n", "missing ]", 6, None).contains(&want.to_string()));
        assert!(fixes("for c in [\n  red\n  blue\npen c\nfd 10]\n", "unexpected newline", 5, Some(7)).contains(&want.to_string()));
        // A `]` out of line.
        assert!(fixes("for c in [\n  red\n  blue\n   ]\npen c\nfd 10\n", "unexpected indentation", 4, Some(4)).contains(&want.to_string()));
        // Not a loop: only the list is closed.
        assert!(fixes("c = [\n  red\n  blue\npen c[0]\n", "missing ]", 5, None).contains(&"c = [\n  red\n  blue\n  ]\npen c[0]\n".to_string()));
    }

    #[test]
    fn a_block_cut_in_half_is_rejoined() {
        assert_eq!(fixes("for [1..4]\n  fd 1\nrt 90\n  fd 2\n", "unexpected indentation", 4, None).first().map(String::as_str), Some("for [1..4]\n  fd 1\n  rt 90\n  fd 2\n"));
        // A plain over-indented line is only lined up.
        assert_eq!(fixes("fd 1\n  rt 90\n", "unexpected indentation", 2, None), ["fd 1\nrt 90\n"]);
    }

    #[test]
    fn else_dangling_ends_and_empty_calls() {
        let code = "if x\n  write 1\n  else\n  write 2\n";
        assert!(fixes(code, "unexpected indentation", 3, Some(3)).contains(&"if x\n  write 1\nelse\n  write 2\n".to_string()));
        assert!(fixes(code, "unexpected indentation", 2, Some(10)).contains(&"if x\n  write 1\nelse\n  write 2\n".to_string()));
        // Its block comes along, keeping the student's two-space depth.
        let code = "if x\n  write 1\n    else\n      write 2\n\n      fd 3\nrt 9\n";
        assert!(fixes(code, "unexpected indentation", 3, None).contains(&"if x\n  write 1\nelse\n  write 2\n\n  fd 3\nrt 9\n".to_string()));
        assert!(fixes("fd 10\nrt x +\n", "unexpected newline", 2, None).contains(&"fd 10\nrt x\n".to_string()));
        assert!(!fixes("pen color\n", "unexpected newline", 1, None).iter().any(|c| c.contains("pen col\n")));
        assert!(fixes("fd 30; dot ()\n", "unexpected )", 1, Some(13)).contains(&"fd 30; dot()\n".to_string()));
    }

    #[test]
    fn brackets_and_strings_get_closed_or_removed() {
        assert_eq!(fixes("pen red\nfd (100\n", "missing )", 3, None), vec!["pen red\nfd (100)\n"]);
        assert_eq!(
            fixes("a = [[1,2],\n  [3,4]\nfd 1\n", "missing ]", 4, None),
            vec!["a = [[1,2],]\n  [3,4]\nfd 1\n", "a = [[1,2],\n  [3,4]\nfd 1]\n"]
        );
        assert_eq!(fixes("fd 100)\nrt 90\n", "unmatched )", 1, Some(7)), vec!["fd 100\nrt 90\n"]);
        assert_eq!(fixes("if x\n  fd 1\n  }\nrt 9\n", "unmatched }", 3, Some(3)), vec!["if x\n  fd 1\nrt 9\n"]);
        assert_eq!(fixes("fd random100)\n", "unmatched )", 1, Some(13)), vec!["fd random(100)\n", "fd random100\n"]);
        assert!(fixes("sq = x, y) ->\n  fd x\n", "unmatched )", 1, Some(10)).contains(&"sq = (x, y) ->\n  fd x\n".to_string()));
        assert!(fixes("pen(brown, 20;\nfd(1);\n", "missing )", 5, None).contains(&"pen(brown, 20);\nfd(1);\n".to_string()));
        assert!(fixes("sq = (x, y ->\n  fd x\n", "missing )", 4, None).contains(&"sq = (x, y) ->\n  fd x\n".to_string()));
        // A call left open is closed, before a comment; its `(` is not removed.
        assert_eq!(fixes("fd 10\nht( # hide\n", "missing )", 2, None), vec!["fd 10\nht() # hide\n"]);
        assert_eq!(fixes("fd 10\npu(\n", "missing )", 2, None), vec!["fd 10\npu()\n"]);
        assert!(fixes("fd 10 +\n", "unexpected end of input", 1, None).contains(&"fd 10\n".to_string()));
        // A string left open mid-line is closed before the separator after it.
        assert!(fixes("keydown '6, ->\n  pen brown\nfd 'x'\n", "unexpected 7", 3, None).contains(&"keydown '6', ->\n  pen brown\nfd 'x'\n".to_string()));
        assert!(fixes("a = {ob: 'top', ib: 'left}\n", "unmatched OUTDENT", 1, None).contains(&"a = {ob: 'top', ib: 'left'}\n".to_string()));
        assert!(fixes("if pressed \"left then lt 1\n", "missing \", starting", 1, None).contains(&"if pressed \"left\" then lt 1\n".to_string()));
        assert!(fixes("url =\n  \"http://a/b +\n  \"c.png\"\n", "missing \", starting", 2, None).contains(&"url =\n  \"http://a/b\" +\n  \"c.png\"\n".to_string()));
        assert_eq!(fixes("label 'hi\nfd 10\n", "unexpected '", 1, Some(7)), vec!["label 'hi'\nfd 10\n", "label hi\nfd 10\n"]);
        assert!(fixes("fd 10\n", "unexpected if", 1, Some(1)).is_empty());
        assert!(fixes("write \"the end\nfd 1\n", "missing \", starting", 1, Some(7)).contains(&"write \"the end\"\nfd 1\n".to_string()));
        // A block text still being written is closed under its last line.
        let story = "if x\n  write \"\"\"\n    Once upon\n    a time\n";
        assert!(fixes(story, "missing \", starting", 2, None).contains(&format!("{story}  \"\"\"\n")));
        // Reported where the input ends: the string opened on the last line with an odd quote count.
        assert!(fixes("pen red\nwrite \"hello\nfd 100\n", "missing \", starting", 6, Some(25)).contains(&"pen red\nwrite \"hello\"\nfd 100\n".to_string()));
    }

    #[test]
    fn a_name_with_only_its_closing_paren_is_called() {
        let got = fixes("pen red\npu)\nfd 10\n", "unmatched )", 2, Some(3));
        assert_eq!(got.first().map(String::as_str), Some("pen red\npu()\nfd 10\n"), "{got:?}");
        // `fd 100)`: the `)` is extra.
        let got = fixes("fd 100)\n", "unmatched )", 1, Some(7));
        assert_eq!(got, ["fd 100\n"]);
        let got = fixes("bg.hide)\n", "unmatched )", 1, Some(8));
        assert_eq!(got.first().map(String::as_str), Some("bg.hide()\n"), "{got:?}");
        let got = fixes("fd 30; dot)\n", "unmatched )", 1, Some(11));
        assert_eq!(got.first().map(String::as_str), Some("fd 30; dot()\n"), "{got:?}");
        // A command run into a name the runtime knows.
        let got = fixes("if insidewindow)\n  fd 1\n", "unmatched )", 1, Some(16));
        assert_eq!(got.first().map(String::as_str), Some("if inside(window)\n  fd 1\n"), "{got:?}");
        // The `>` of a broken arrow is not removed.
        assert!(fixes("tick 100, - >\n  fd 1\n", "unexpected >", 1, Some(13)).iter().all(|c| !c.starts_with("tick 100, - \n")));
    }

    #[test]
    fn a_text_closed_with_the_other_quote_gets_its_own() {
        let got = fixes("await readnum \"How many?', defer x\nfd x\n", "missing \", starting", 1, None);
        assert_eq!(got.first().map(String::as_str), Some("await readnum \"How many?\", defer x\nfd x\n"), "{got:?}");
        let got = fixes("write 'hi\"\n", "missing ', starting", 1, None);
        assert_eq!(got.first().map(String::as_str), Some("write 'hi'\n"), "{got:?}");
        // An apostrophe inside the text is not where it ends.
        let got = fixes("write \"it's\n", "missing \", starting", 1, None);
        assert_eq!(got, ["write \"it's\"\n"]);
    }

    #[test]
    fn apostrophes_inside_single_quotes_get_double_quotes() {
        assert!(fixes("write 'that's right'\n", "unexpected s", 1, Some(13)).contains(&"write \"that's right\"\n".to_string()));
        // Balanced quotes, or a line with double quotes already: no change of quotes.
        assert!(!fixes("write 'a', 'b'\n", "unexpected s", 1, None).iter().any(|c| c.contains('"')));
    }
}
