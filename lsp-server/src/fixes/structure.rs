//! Rules about the program's shape rather than one token: a function called before the
//! line that defines it, a `break` outside any loop, and a last line the student had not
//! finished typing when they pressed Run. Each yields a whole fixed program; the sandbox
//! decides whether it helps.

use super::{Fix, Rule};
use crate::diagnostics::undefined_name;
use pencil_sandbox::ProgramError;

/// Candidate fixes that move or remove whole lines.
pub fn structure_fixes(code: &str, error: &ProgramError) -> Vec<Fix> {
    let lines: Vec<&str> = code.split_inclusive('\n').collect();
    if lines.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    match error.kind.as_str() {
        "TypeError" => out.extend(define_before_use(&lines, error)),
        // A name cut short on the last line (`w` of `wander`): the line was still being typed.
        "ReferenceError" if lines.iter().rev().find(|l| !is_blank(l)).is_some_and(|l| is_lone_name(l)) => {
            out.extend(drop_unfinished_last_line(&lines, error));
        }
        "SyntaxError" => {
            out.extend(drop_stray_jump(&lines, error));
            out.extend(drop_unfinished_last_line(&lines, error));
            out.extend(drop_unfinished_last_block(&lines, error));
            out.extend(close_at_end(&lines));
        }
        _ => {}
    }
    if matches!(error.kind.as_str(), "TypeError" | "ReferenceError" | "RangeError") {
        out.extend(drop_dangling_last_call(&lines));
    }
    if let Some(name) = undefined_name(error) {
        out.extend(drop_line_with_unknown_name(&lines, error, name));
    }
    out
}

/// A line holding one bare name and nothing else.
fn is_lone_name(line: &str) -> bool {
    let t = line.trim();
    let mut chars = t.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

fn indent_len(line: &str) -> usize {
    line.len() - line.trim_start_matches([' ', '\t']).len()
}

fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

/// The line `name = (...) ->` (or `name = ->`, `=>`) that defines a function at the top level.
fn top_level_definition(lines: &[&str], name: &str) -> Option<usize> {
    lines.iter().position(|line| {
        let Some(rest) = line.strip_prefix(name) else { return false };
        let Some(value) = rest.trim_start().strip_prefix('=') else { return false };
        if value.starts_with('=') {
            return false;
        }
        let value = value.trim();
        let after_params = match value.strip_prefix('(') {
            Some(params) => params.find(')').map_or("", |i| params[i + 1..].trim_start()),
            None => value,
        };
        after_params.starts_with("->") || after_params.starts_with("=>")
    })
}

/// `jellyfish()` on line 3, `jellyfish = -> ...` on line 10: CoffeeScript defines a
/// function only when its line runs, so the call finds nothing. Move the definition
/// (with its indented body) above the top-level statement that makes the call.
fn define_before_use(lines: &[&str], error: &ProgramError) -> Option<Fix> {
    let name = error.message.trim().strip_suffix(" is not a function")?.trim().trim_matches(['\'', '"']);
    if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '$') {
        return None;
    }
    let definition = top_level_definition(lines, name)?;
    let use_line = error.line.map(|l| l.saturating_sub(1) as usize).filter(|&u| u < lines.len())?;
    if use_line >= definition {
        return None;
    }
    // The top-level statement the call belongs to.
    let statement = (0..=use_line).rev().find(|&i| !is_blank(lines[i]) && indent_len(lines[i]) == 0)?;
    // The definition's block: its line and every deeper or blank line after it, less trailing blanks.
    let mut end = definition + 1;
    while end < lines.len() && (is_blank(lines[end]) || indent_len(lines[end]) > 0) {
        end += 1;
    }
    while end > definition + 1 && is_blank(lines[end - 1]) {
        end -= 1;
    }
    let mut block: String = lines[definition..end].concat();
    if !block.ends_with('\n') {
        block.push('\n');
    }
    let mut new_code = String::new();
    for (i, line) in lines.iter().enumerate() {
        if i == statement {
            new_code.push_str(&block);
        }
        if !(definition..end).contains(&i) {
            new_code.push_str(line);
        }
    }
    Some(Fix {
        rule: Rule::DefineBeforeUse,
        title: format!("Move the definition of `{name}` (line {}) above line {}, where it is first used", definition + 1, statement + 1),
        new_code,
    })
}

/// `break` or `continue` with no loop around it: remove that line.
fn drop_stray_jump(lines: &[&str], error: &ProgramError) -> Option<Fix> {
    if !error.message.contains("must be inside loop") {
        return None;
    }
    let at = error.line.map(|l| l.saturating_sub(1) as usize).filter(|&a| a < lines.len())?;
    let word = lines[at].trim();
    if word != "break" && word != "continue" {
        return None;
    }
    Some(Fix {
        rule: Rule::Syntax,
        title: format!("Remove the `{word}` on line {}: it is not inside a loop", at + 1),
        new_code: without_line(lines, at),
    })
}

/// A syntax error on the last line, which the student was still typing (`for`,
/// `vy = vy + (a`): run what comes before it.
fn drop_unfinished_last_line(lines: &[&str], error: &ProgramError) -> Option<Fix> {
    let last = (0..lines.len()).rev().find(|&i| !is_blank(lines[i]))?;
    // The compiler may report the end of the input, past the last line.
    let at = error.line.map(|l| l.saturating_sub(1) as usize)?;
    if at < last {
        return None;
    }
    let new_code = without_line(lines, last);
    if is_blank(&new_code) {
        return None;
    }
    let shown: String = lines[last].trim().chars().take(30).collect();
    Some(Fix {
        rule: Rule::UnfinishedLine,
        title: format!("Leave out the unfinished last line {} (`{shown}`) for now", last + 1),
        new_code,
    })
}

/// Brackets still open at the end of the program (`function f() {` with no `}`, a
/// call cut off at `shape(`): close them at the end, as the program stands and without
/// its unfinished last line.
fn close_at_end(lines: &[&str]) -> Vec<Fix> {
    let mut out = Vec::new();
    let last = (0..lines.len()).rev().find(|&i| !is_blank(lines[i]));
    let whole: String = lines.concat();
    let shortened = last.filter(|&l| l > 0).map(|l| without_line(lines, l));
    for (code, title) in [(Some(whole), "at the end"), (shortened, "after leaving out the unfinished last line")] {
        let Some(code) = code else { continue };
        let open = unclosed_brackets(&code);
        if open.is_empty() {
            continue;
        }
        let mut new_code = code.trim_end().to_string();
        for &(bracket, line) in open.iter().rev() {
            match bracket {
                '{' => {
                    let indent = code.lines().nth(line).map_or("", |l| &l[..indent_len(l)]);
                    new_code.push('\n');
                    new_code.push_str(indent);
                    new_code.push('}');
                }
                '(' => new_code.push(')'),
                _ => new_code.push(']'),
            }
        }
        new_code.push('\n');
        let (first, line) = open[open.len() - 1];
        let more = if open.len() > 1 { format!(" and {} more", open.len() - 1) } else { String::new() };
        out.push(Fix {
            rule: Rule::Syntax,
            title: format!("Close the `{first}` from line {}{more} {title}", line + 1),
            new_code,
        });
    }
    out
}

/// Brackets opened and never closed, outermost first, with their 0-based lines; strings
/// and comments (`//`, `/* */`, `#`) are skipped. Empty if a closer has no opener.
fn unclosed_brackets(code: &str) -> Vec<(char, usize)> {
    let mut stack: Vec<(char, usize)> = Vec::new();
    let mut chars = code.chars().peekable();
    let mut line = 0;
    while let Some(c) = chars.next() {
        match c {
            '\n' => line += 1,
            '\'' | '"' | '`' => {
                while let Some(d) = chars.next() {
                    match d {
                        '\\' => {
                            chars.next();
                        }
                        '\n' if c != '`' => {
                            line += 1;
                            break;
                        }
                        '\n' => line += 1,
                        d if d == c => break,
                        _ => {}
                    }
                }
            }
            '#' => {
                for d in chars.by_ref() {
                    if d == '\n' {
                        line += 1;
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'/') => {
                for d in chars.by_ref() {
                    if d == '\n' {
                        line += 1;
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                let mut prev = ' ';
                for d in chars.by_ref() {
                    if d == '\n' {
                        line += 1;
                    }
                    if prev == '*' && d == '/' {
                        break;
                    }
                    prev = d;
                }
            }
            '(' | '[' | '{' => stack.push((c, line)),
            ')' | ']' | '}' => {
                let opener = match c {
                    ')' => '(',
                    ']' => '[',
                    _ => '{',
                };
                if stack.pop().map(|(o, _)| o) != Some(opener) {
                    return Vec::new();
                }
            }
            _ => {}
        }
    }
    stack
}

/// The unfinished last line was the only line of the block above it (`for [1..3]` /
/// `  do`): leave out both, since the block cannot stay empty.
fn drop_unfinished_last_block(lines: &[&str], error: &ProgramError) -> Option<Fix> {
    let last = (0..lines.len()).rev().find(|&i| !is_blank(lines[i]))?;
    let at = error.line.map(|l| l.saturating_sub(1) as usize)?;
    let opener = (0..last).rev().find(|&i| !is_blank(lines[i]))?;
    if at < last || indent_len(lines[opener]) >= indent_len(lines[last]) {
        return None;
    }
    let new_code: String = lines.iter().enumerate().filter(|&(i, _)| i != opener && i != last).map(|(_, l)| *l).collect();
    if is_blank(&new_code) {
        return None;
    }
    let shown: String = lines[opener].trim().chars().take(30).collect();
    Some(Fix {
        rule: Rule::UnfinishedLine,
        title: format!("Leave out the unfinished block at lines {}-{} (`{shown}`) for now", opener + 1, last + 1),
        new_code,
    })
}

/// `starburst 7,` as the last line: a call whose arguments were still being typed
/// runs with what is there and fails inside the function. Run what comes before it.
fn drop_dangling_last_call(lines: &[&str]) -> Option<Fix> {
    let last = (0..lines.len()).rev().find(|&i| !is_blank(lines[i]))?;
    let code = lines[last].split(" #").next().unwrap_or_default().trim_end();
    if !(code.ends_with(',') || code.ends_with('(')) || last == 0 {
        return None;
    }
    let shown: String = lines[last].trim().chars().take(30).collect();
    Some(Fix {
        rule: Rule::UnfinishedLine,
        title: format!("Leave out the unfinished last line {} (`{shown}`) for now", last + 1),
        new_code: without_line(lines, last),
    })
}

/// `debug(x)` where `x` is written nowhere else and no other rule finds what it
/// meant: leave that one line out. The ranking offers it only when no fix that keeps
/// every line runs, and its title says it removes a line.
fn drop_line_with_unknown_name(lines: &[&str], error: &ProgramError, name: &str) -> Option<Fix> {
    let at = error.line.map(|l| l.saturating_sub(1) as usize)?;
    let line = *lines.get(at)?;
    // A lone name is a line still being typed: `drop_unfinished_last_line`'s business.
    if !line.contains(name) || is_lone_name(line) {
        return None;
    }
    // A line that opens a block takes its block with it: not a one-line fix.
    let next = (at + 1..lines.len()).find(|&j| !is_blank(lines[j]));
    if next.is_some_and(|j| indent_len(lines[j]) > indent_len(line)) {
        return None;
    }
    let new_code = without_line(lines, at);
    if new_code.lines().all(|l| is_blank(l) || l.trim_start().starts_with('#') || l.trim_start().starts_with("//")) {
        return None;
    }
    let shown: String = line.trim().chars().take(30).collect();
    Some(Fix {
        rule: Rule::UnfinishedLine,
        title: format!("Leave out line {} (`{shown}`): nothing in the program defines `{name}`", at + 1),
        new_code,
    })
}

fn without_line(lines: &[&str], at: usize) -> String {
    lines.iter().enumerate().filter(|&(i, _)| i != at).map(|(_, l)| *l).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(kind: &str, message: &str, line: u32) -> ProgramError {
        ProgramError { kind: kind.into(), message: message.into(), line: Some(line), column: None }
    }

    fn codes(code: &str, error: &ProgramError) -> Vec<String> {
        structure_fixes(code, error).into_iter().map(|f| f.new_code).collect()
    }

    #[test]
    fn a_function_called_before_its_definition_moves_up() {
        let code = "pen red\nfor [1..4]\n  seaweed()\n  fd 10\nseaweed = ->\n  fd 20\n\n  rt 90\n\ndot blue\n";
        assert_eq!(
            codes(code, &err("TypeError", "seaweed is not a function", 3)),
            ["pen red\nseaweed = ->\n  fd 20\n\n  rt 90\nfor [1..4]\n  seaweed()\n  fd 10\n\ndot blue\n"]
        );
        // With parameters, at the end of the file without a newline.
        let code = "star 5\nstar = (n) -> fd n";
        assert_eq!(codes(code, &err("TypeError", "star is not a function", 1)), ["star = (n) -> fd n\nstar 5\n"]);
        // Defined first: the call is not the problem.
        assert!(codes("f = -> fd 1\nf()\n", &err("TypeError", "f is not a function", 2)).is_empty());
        // Not a function definition.
        assert!(codes("x()\nx = 5\n", &err("TypeError", "x is not a function", 1)).is_empty());
    }

    #[test]
    fn break_outside_a_loop_is_removed() {
        let code = "if won\n  write 'You win!'\n  break\nfd 10\n";
        assert_eq!(
            codes(code, &err("SyntaxError", "break must be inside loop or switch", 3)),
            ["if won\n  write 'You win!'\nfd 10\n"]
        );
    }

    #[test]
    fn brackets_left_open_are_closed_at_the_end() {
        let code = "function square() {\n  for (var i = 0; i < 4; i++) {\n    fd(10); // {\n    rt(90);\n";
        let fixes = codes(code, &err("SyntaxError", "Unexpected end of input", 6));
        assert!(fixes.contains(&format!("{}\n  }}\n}}\n", code.trim_end())), "{fixes:?}");
        let code = "button('go', function() {\n  fd(10);\n  shape(\n";
        let fixes = codes(code, &err("SyntaxError", "Unexpected end of input", 4));
        assert!(fixes.contains(&"button('go', function() {\n  fd(10);\n  shape()\n})\n".to_string()), "{fixes:?}");
        assert!(fixes.contains(&"button('go', function() {\n  fd(10);\n})\n".to_string()), "{fixes:?}");
        assert!(unclosed_brackets("write '(', \"[\"\nfd(1)\n").is_empty());
        assert!(unclosed_brackets("fd 1)\n(").is_empty());
    }

    #[test]
    fn an_unfinished_last_line_is_left_out() {
        let code = "pen red\nfd 100\nfor\n\n";
        assert_eq!(codes(code, &err("SyntaxError", "unexpected newline", 3)), ["pen red\nfd 100\n\n"]);
        // Reported past the end (the harness's END line).
        assert_eq!(codes("fd 1\nvy = vy + (a", &err("SyntaxError", "missing )", 4)).first().map(String::as_str), Some("fd 1\n"));
        // The last line was the only line of its block: both go.
        let code = "fd 1\nfor [1..3]\n  do\n";
        assert!(codes(code, &err("SyntaxError", "unexpected indentation", 3)).contains(&"fd 1\n".to_string()));
        // An error before the last line, or a program of one line: nothing.
        assert!(codes("fd 1 )\nrt 90\n", &err("SyntaxError", "unmatched )", 1)).is_empty());
        assert!(codes("for\n", &err("SyntaxError", "unexpected newline", 1)).is_empty());
        // A name cut short on the last line.
        assert_eq!(codes("fd 1\nw\n", &err("ReferenceError", "w is not defined", 2)), ["fd 1\n"]);
        // An unknown name inside a longer last line is another rule's business (the
        // last resort of leaving out a line using a name defined nowhere aside).
        let unfinished = |code: &str, e: &ProgramError| structure_fixes(code, e).iter().any(|f| f.title.contains("unfinished"));
        assert!(!unfinished("fd 1\nfd w\n", &err("ReferenceError", "w is not defined", 2)));
        // ... and so is an unknown name before the last line.
        assert!(!unfinished("w\nfd 1\n", &err("ReferenceError", "w is not defined", 1)));
    }

    #[test]
    fn a_call_cut_off_at_its_comma_is_left_out() {
        let code = "f = (n, g) ->\n  g()\nf 3, -> fd 1\nf 7,\n";
        assert!(codes(code, &err("TypeError", "g is not a function", 2)).contains(&"f = (n, g) ->\n  g()\nf 3, -> fd 1\n".to_string()));
        assert!(codes("fd 1\nrt 2\n", &err("TypeError", "x", 1)).is_empty());
    }

    #[test]
    fn a_line_using_a_name_defined_nowhere_can_be_left_out() {
        let code = "write 'hi'\ndebug(x);\nfd 10\n";
        assert!(codes(code, &err("ReferenceError", "x is not defined", 2)).contains(&"write 'hi'\nfd 10\n".to_string()));
        // Not a line that opens a block, and not the program's only statement.
        assert!(codes("for i in xs\n  fd i\n", &err("ReferenceError", "xs is not defined", 1)).is_empty());
        assert!(codes("# board\nDraw board\n", &err("ReferenceError", "Draw is not defined", 2)).is_empty());
    }
}
