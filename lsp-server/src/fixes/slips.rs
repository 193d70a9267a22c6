//! Slips that any kind of error can come from, found in the text rather than in the
//! error message: a letter O typed for a zero (`fd 1O0`), a broken arrow (`- >`,
//! `-->`, a lone `>` or `-` ending a definition), a line that closes a block the way
//! another language does (`end`, `}`), a comma right after a command (`fd, 100`) or
//! doubled, `defer` without `await`, and lines that use a function's parameter
//! moved out of its body. Each yields a whole fixed program; the sandbox decides
//! whether it helps.

use super::rebuild;
use super::distance::is_foreign_block_end;
use super::{code_only, parameter_list, Fix, Rule};
use pencil_sandbox::{names, ProgramError};

/// Candidate fixes for `error` in `code` from the program's text.
pub fn slip_fixes(code: &str, error: &ProgramError) -> Vec<Fix> {
    let lines: Vec<&str> = code.split_inclusive('\n').collect();
    if lines.is_empty() {
        return Vec::new();
    }
    let at = error.line.map_or(0, |l| l.saturating_sub(1) as usize).min(lines.len() - 1);
    let mut out = Vec::new();
    out.extend(letter_o_for_zero(&lines));
    out.extend(broken_arrow(&lines));
    out.extend(foreign_block_end(&lines));
    out.extend(stray_commas(&lines, at));
    out.extend(await_before_defer(&lines));
    if let Some(name) = crate::diagnostics::undefined_name(error) {
        out.extend(reenter_function_body(&lines, at, name));
    }
    out
}

/// Whether `word` occurs in `code` as a whole word.
fn has_word(code: &str, word: &str) -> bool {
    code.match_indices(word).any(|(i, _)| {
        let before = code[..i].chars().next_back();
        let after = code[i + word.len()..].chars().next();
        !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$')
            && !after.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$')
    })
}

/// `readnum 'Size?', defer n` with no `await` before it: `defer` only works inside
/// an `await` (the runtime says `__iced_deferrals is not defined`). Put `await` in
/// front of every such line.
fn await_before_defer(lines: &[&str]) -> Option<Fix> {
    let found: Vec<usize> = (0..lines.len())
        .filter(|&i| {
            let code = code_only(lines[i]);
            has_word(&code, "defer") && !has_word(&code, "await")
        })
        .collect();
    let first = *found.first()?;
    let replaced: Vec<(usize, String)> = found
        .iter()
        .map(|&i| {
            let indent = indent_len(lines[i]);
            (i, format!("{}await {}", &lines[i][..indent], &lines[i][indent..]))
        })
        .collect();
    Some(Fix {
        rule: Rule::Syntax,
        title: format!("Put `await` before line {}: its `defer` waits only inside an `await`", first + 1),
        new_code: rebuild(lines, &replaced),
    })
}

/// The parameters of a function whose header (`(ir, optical) ->`) ends `line`.
fn header_parameters(line: &str) -> Option<Vec<String>> {
    let code = code_only(line);
    let head = code.trim_end().strip_suffix("->").or_else(|| code.trim_end().strip_suffix("=>"))?;
    Some(parameter_list(head)?.into_iter().map(str::to_string).collect())
}

/// `red: ir * .7` moved out of `(ir, optical) ->`'s body, where `ir` means something:
/// the lines from the end of the body through the error line's paragraph go back in.
fn reenter_function_body(lines: &[&str], at: usize, name: &str) -> Option<Fix> {
    let header = (0..at).rev().find(|&i| header_parameters(lines[i]).is_some_and(|ps| ps.iter().any(|p| p == name)))?;
    let own = indent_len(lines[header]);
    let first_body = (header + 1..at).find(|&j| !lines[j].trim().is_empty())?;
    let body = indent_len(lines[first_body]);
    if body <= own || indent_len(lines[at]) > own {
        return None;
    }
    let out_start = (first_body..=at).find(|&j| !lines[j].trim().is_empty() && indent_len(lines[j]) <= own)?;
    let end = (at..lines.len()).take_while(|&j| !lines[j].trim().is_empty()).last()?;
    let pad = " ".repeat(body - own);
    let replaced: Vec<(usize, String)> =
        (out_start..=end).filter(|&j| !lines[j].trim().is_empty()).map(|j| (j, format!("{pad}{}", lines[j]))).collect();
    Some(Fix {
        rule: Rule::Syntax,
        title: format!(
            "Indent lines {}-{} into the function of line {}: they use its `{name}`",
            out_start + 1,
            end + 1,
            header + 1
        ),
        new_code: rebuild(lines, &replaced),
    })
}

fn indent_len(line: &str) -> usize {
    line.len() - line.trim_start_matches([' ', '\t']).len()
}

/// `fd 1O0`, `rt O`, `moveto 5o, 2O0`: a number with a letter O in it. Every such
/// token in the program gets its Os turned into zeros.
fn letter_o_for_zero(lines: &[&str]) -> Option<Fix> {
    let mut replaced = Vec::new();
    let mut first: Option<(usize, String, String)> = None;
    for (i, line) in lines.iter().enumerate() {
        let code = code_only(line);
        let b = code.as_bytes();
        let mut new = String::new();
        let mut last = 0;
        let mut j = 0;
        while j < b.len() {
            let starts = b[j].is_ascii_alphanumeric() && (j == 0 || !(b[j - 1].is_ascii_alphanumeric() || b[j - 1] == b'_' || b[j - 1] == b'$' || b[j - 1] == b'.'));
            if !starts {
                j += 1;
                continue;
            }
            let mut k = j;
            while k < b.len() && (b[k].is_ascii_alphanumeric() || b[k] == b'_' || b[k] == b'$') {
                k += 1;
            }
            let token = &code[j..k];
            let has_digit = token.bytes().any(|c| c.is_ascii_digit());
            let only_digits_and_os = token.bytes().all(|c| c.is_ascii_digit() || c == b'o' || c == b'O');
            // A lone `O` is a number only where a number stands: after a command and a space or a comma.
            // So is one at either end of a range (`[O...4]`, `[1..O]`).
            let lone_o = token == "O"
                && ((code[..j].trim_end().ends_with(|c: char| c == ',' || c.is_ascii_alphanumeric()) && code[..j].ends_with(' '))
                    || (code[..j].ends_with('[') && code[k..].starts_with(".."))
                    || (code[..j].ends_with("..") && code[k..].starts_with(']')));
            if only_digits_and_os && (has_digit || lone_o) && token.bytes().any(|c| c == b'o' || c == b'O') {
                let fixed = token.replace(['o', 'O'], "0");
                new.push_str(&line[last..j]);
                new.push_str(&fixed);
                last = k;
                if first.is_none() {
                    first = Some((i, token.to_string(), fixed));
                }
            }
            j = k;
        }
        if last > 0 {
            new.push_str(&line[last..]);
            replaced.push((i, new));
        }
    }
    let (i, token, fixed) = first?;
    let more = if replaced.len() > 1 { " and the like elsewhere" } else { "" };
    Some(Fix {
        rule: Rule::Syntax,
        title: format!("Write `{token}` on line {} as `{fixed}`: a letter O is not a zero{more}", i + 1),
        new_code: rebuild(lines, &replaced),
    })
}

/// `f = (x) - >`, `f = -->`, `f = (x) >`, `f = -`: the function arrow `->` broken.
fn broken_arrow(lines: &[&str]) -> Vec<Fix> {
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let code = code_only(line);
        let body = code.trim_end();
        // A broken arrow as a call's last argument (`tick 100, -->`, `f 3, - > fd 1`,
        // `forever 100, >`, `f 3, - fd 1`) or its only one (`tick -->`).
        for broken in ["- >", "-->", "- ->", "->>", ">", "-"] {
            let Some(pos) = body.find(broken) else { continue };
            let head = body[..pos].trim_end();
            let lone = broken == ">" || broken == "-";
            // After a bare command, `>` or `-` alone could be a comparison or a
            // subtraction; an arrow only when a block follows (`tick >` + body).
            let after_command = is_bare_command(head) && (!lone || (body[pos + broken.len()..].trim().is_empty() && block_follows(lines, i)));
            if !head.ends_with(',') && !after_command {
                continue;
            }
            // A lone `-` is an arrow only before a command or at the end (`, -5` is a number).
            if broken == "-" && !arrow_may_follow(&body[pos + 1..]) {
                continue;
            }
            let fixed = format!("{}->{}", &line[..pos], &line[pos + broken.len()..]);
            out.push(Fix {
                rule: Rule::Syntax,
                title: format!("Write the function arrow on line {} as `->`", i + 1),
                new_code: rebuild(lines, &[(i, fixed)]),
            });
            break;
        }
        // An assignment that ends in a broken arrow.
        let Some(eq) = body.find('=') else { continue };
        if body[eq + 1..].starts_with(['=', '>']) && !body[eq + 1..].starts_with("=>") {
            continue;
        }
        let after_eq = &body[eq + 1..];
        for broken in ["- >", "-->", "- ->", "->>", "=>>", "->-", "-"] {
            let Some(pos) = after_eq.find(broken) else { continue };
            let before = after_eq[..pos].trim();
            // A lone `-` is an arrow only at the end of the line or before a turtle
            // command (`x = -5` is a number, `x = - y` a negation).
            if broken == "-" && !arrow_may_follow(&after_eq[pos + 1..]) {
                continue;
            }
            // Only where an arrow can stand: right after `=` or after a parameter list.
            if !(before.is_empty() || (before.starts_with('(') && before.ends_with(')'))) {
                continue;
            }
            let start = eq + 1 + pos;
            let fixed = format!("{}->{}", &line[..start], &line[start + broken.len()..]);
            out.push(Fix {
                rule: Rule::Syntax,
                title: format!("Write the function arrow on line {} as `->`", i + 1),
                new_code: rebuild(lines, &[(i, fixed)]),
            });
            break;
        }
        // A lone `>` where the arrow should be.
        if after_eq.trim_start().starts_with('>') || after_eq.trim_start().strip_prefix('(').and_then(|p| p.split_once(')')).is_some_and(|(_, rest)| rest.trim_start().starts_with('>')) {
            let start = eq + 1 + after_eq.find('>').unwrap_or(0);
            if !line[..start].ends_with('-') && !line[..start].ends_with('=') {
                let fixed = format!("{}->{}", &line[..start], &line[start + 1..]);
                out.push(Fix {
                    rule: Rule::Syntax,
                    title: format!("Write the function arrow on line {} as `->`", i + 1),
                    new_code: rebuild(lines, &[(i, fixed)]),
                });
            }
        }
    }
    out.truncate(2);
    out
}

/// Whether `head` is only a command's name (`tick`, `t.click`): what a
/// function argument can follow without a comma.
fn is_bare_command(head: &str) -> bool {
    const KEYWORDS: [&str; 14] = ["if", "unless", "else", "for", "while", "until", "loop", "switch", "when", "return", "and", "or", "not", "then"];
    let head = head.trim_start();
    head.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && head.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '$' | '.'))
        && !head.ends_with('.')
        && !KEYWORDS.contains(&head)
}

/// Whether the next non-blank line after `i` is indented deeper than line `i`.
fn block_follows(lines: &[&str], i: usize) -> bool {
    let own = indent_len(lines[i]);
    lines[i + 1..].iter().find(|l| !l.trim().is_empty()).is_some_and(|next| indent_len(next) > own)
}

/// Whether what follows a lone `-` reads as a function's body rather than a
/// number to negate: nothing, or a space and a turtle command (`- fd 30`).
fn arrow_may_follow(rest: &str) -> bool {
    let rest = rest.trim_end();
    if rest.is_empty() {
        return true;
    }
    let Some(body) = rest.strip_prefix([' ', '\t']) else { return false };
    let word: String = body.trim_start().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
    names::turtle_functions().contains(&word.as_str())
}

fn foreign_block_end(lines: &[&str]) -> Option<Fix> {
    // A program with braces may be JavaScript, where `}` belongs.
    let braces = lines.iter().any(|l| code_only(l).contains('{'));
    let found: Vec<usize> = (0..lines.len())
        .filter(|&i| {
            is_foreign_block_end(&code_only(lines[i])) && !(braces && lines[i].trim().starts_with('}'))
        })
        .collect();
    let first = *found.first()?;
    let word = lines[first].trim();
    let new_code: String = lines.iter().enumerate().filter(|(i, _)| !found.contains(i)).map(|(_, l)| *l).collect();
    let where_ = if found.len() == 1 {
        format!("line {}", first + 1)
    } else {
        format!("lines {}", found.iter().map(|i| (i + 1).to_string()).collect::<Vec<_>>().join(", "))
    };
    Some(Fix {
        rule: Rule::Syntax,
        title: format!("Remove `{word}` on {where_}: blocks end where the indentation ends"),
        new_code,
    })
}

/// `fd, 100` (a comma between a command and its first argument) and `a,, b`.
fn stray_commas(lines: &[&str], at: usize) -> Vec<Fix> {
    let mut out = Vec::new();
    for i in [at, at.saturating_sub(1)] {
        let line = lines[i];
        let code = code_only(line);
        let indent = indent_len(&code);
        let word_end = code[indent..].find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$')).map_or(code.len(), |k| indent + k);
        if word_end > indent && code[indent..].starts_with(|c: char| c.is_alphabetic()) && code[word_end..].starts_with(',') {
            let fixed = format!("{}{}", &line[..word_end], &line[word_end + 1..]);
            out.push(Fix {
                rule: Rule::Syntax,
                title: format!("Remove the comma after `{}` on line {}", &line[indent..word_end], i + 1),
                new_code: rebuild(lines, &[(i, fixed)]),
            });
        }
        if let Some(pos) = code.find(",,").or_else(|| code.find(", ,")) {
            let width = if code[pos..].starts_with(",,") { 1 } else { 2 };
            let fixed = format!("{}{}", &line[..pos], &line[pos + width..]);
            out.push(Fix { rule: Rule::Syntax, title: format!("Remove the doubled comma on line {}", i + 1), new_code: rebuild(lines, &[(i, fixed)]) });
        }
        if i == 0 {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(code: &str, message: &str, line: u32, expected: &[&str]) {
        let e = ProgramError { kind: "SyntaxError".into(), message: message.into(), line: Some(line), column: None };
        let got: Vec<String> = slip_fixes(code, &e).into_iter().map(|f| f.new_code).collect();
        for want in expected {
            assert!(got.iter().any(|g| g == want), "{code:?}: want {want:?} in {got:?}");
        }
        if expected.is_empty() {
            assert!(got.is_empty(), "{code:?}: {got:?}");
        }
    }

    #[test]
    fn letter_o_becomes_zero_in_numbers_only() {
        check("pen red\nfd 1O0\n", "unexpected identifier", 2, &["pen red\nfd 100\n"]);
        check("rt 9o\nfd 5O, 2O\n", "x", 1, &["rt 90\nfd 50, 20\n"]);
        check("moveto O, 50\n", "x", 1, &["moveto 0, 50\n"]);
        // Names and strings stay.
        check("Oops = 1\nlabel 'fd 1O0'\nfd Oops\n", "x", 1, &[]);
        check("fd x1O\n", "x", 1, &[]);
    }

    #[test]
    fn broken_arrows_are_mended() {
        check("sq = (s) - >\n  fd s\nsq 10\n", "unexpected >", 1, &["sq = (s) ->\n  fd s\nsq 10\n"]);
        check("sq = -->\n  fd 1\n", "x", 1, &["sq = ->\n  fd 1\n"]);
        check("sq = (s) >\n  fd s\n", "x", 1, &["sq = (s) ->\n  fd s\n"]);
        check("sq = -\n  fd 1\n", "x", 1, &["sq = ->\n  fd 1\n"]);
        check("tick 100, -->\n  fd 1\n", "x", 1, &["tick 100, ->\n  fd 1\n"]);
        check("star 10, - > fd 30; bk 30\n", "x", 1, &["star 10, -> fd 30; bk 30\n"]);
        check("stick = - fd 30; bk 30\n", "x", 1, &["stick = -> fd 30; bk 30\n"]);
        check("forever 100, >\n  fd 1\n", "unexpected >", 1, &["forever 100, ->\n  fd 1\n"]);
        check("star 10, - fd 30\n", "x", 1, &["star 10, -> fd 30\n"]);
        // The arrow as a command's only argument.
        check("s = 5\ntick -->\n  fd 1\n", "unexpected >", 2, &["s = 5\ntick ->\n  fd 1\n"]);
        check("tick - > \n  fd 1\n", "x", 1, &["tick -> \n  fd 1\n"]);
        check("tick >\n  fd 1\n", "x", 1, &["tick ->\n  fd 1\n"]);
        check("t.click - >\n  fd 1\n", "x", 1, &["t.click ->\n  fd 1\n"]);
        // Subtraction and comparisons are not arrows.
        check("x = - y\nmoveto 10, -5\nmoveto 10, - 5\n", "x", 1, &[]);
        check("x = y - 1\nif x >= 2\n  fd 1\n", "x", 1, &[]);
        check("x = 5 > 3\n", "x", 1, &[]);
        check("x = -5\nfd x\n", "x", 1, &[]);
        // After a bare name, a lone `>` or `-` with no block below is a comparison or a subtraction.
        check("tick >\nfd 1\n", "x", 1, &[]);
        check("tick -\nfd 1\n", "x", 1, &[]);
    }

    #[test]
    fn block_ends_from_other_languages_go() {
        check("for [1..4]\n  fd 10\nend\nrt 90\n", "end is not defined", 3, &["for [1..4]\n  fd 10\nrt 90\n"]);
        check("if x\n  fd 1\n}\n", "unmatched }", 3, &["if x\n  fd 1\n"]);
        check("fd 1\nlabel 'end'\n", "x", 1, &[]);
    }

    #[test]
    fn stray_commas_go() {
        check("pen red\nfd, 100\n", "unexpected ,", 2, &["pen red\nfd 100\n"]);
        check("dot red,, 30\n", "unexpected ,", 1, &["dot red, 30\n"]);
        check("moveto 1, 2\n", "x", 1, &[]);
    }

    #[test]
    fn defer_gets_its_await() {
        let e = ProgramError { kind: "ReferenceError".into(), message: "__iced_deferrals is not defined".into(), line: Some(1), column: None };
        let got: Vec<String> = slip_fixes("readnum 'n?', defer n\nif n\n  await read defer s\n  write 'defer'\n", &e).into_iter().map(|f| f.new_code).collect();
        assert!(got.contains(&"await readnum 'n?', defer n\nif n\n  await read defer s\n  write 'defer'\n".to_string()), "{got:?}");
        check("x = deferred + 1\n", "x", 1, &[]);
    }

    #[test]
    fn lines_that_use_a_parameter_go_back_into_the_function() {
        let code = "f [1, 2], (a, b) ->\n  red: a\n  green: b\nblue: a + b\nfd 1\n\npen red\n";
        let e = ProgramError { kind: "ReferenceError".into(), message: "a is not defined".into(), line: Some(4), column: Some(7) };
        let got: Vec<String> = slip_fixes(code, &e).into_iter().map(|f| f.new_code).collect();
        assert!(got.contains(&"f [1, 2], (a, b) ->\n  red: a\n  green: b\n  blue: a + b\n  fd 1\n\npen red\n".to_string()), "{got:?}");
        // A name that is not a parameter there: no such fix.
        let e = ProgramError { kind: "ReferenceError".into(), message: "c is not defined".into(), line: Some(4), column: Some(7) };
        assert!(slip_fixes(code, &e).iter().all(|f| !f.title.contains("into the function")));
    }

}
