//! Student-like mistakes planted in programs that run: a misspelled command or color,
//! a word in the wrong case, a comma or bracket missing or extra, broken indentation,
//! a block cut in half, an `end` from another language, a string left open, a call
//! moved before its definition, a broken `->`, a letter O typed for a zero. Each
//! mutation is seeded and deterministic; whether the mutant fails is for the sandbox
//! to say (the benchmark keeps only those that do).

use pencil_sandbox::names;

/// The kinds of mistake, in report order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MutantKind {
    /// `fd` -> `df`, `pen` -> `pne`, `moveto` -> `moevto`.
    MisspelledCommand,
    /// `red` -> `rde`, `skyblue` -> `skyble`.
    MisspelledColor,
    /// `Fd 100`, `pen Red`.
    WrongCase,
    /// `moveto 10, 20` -> `moveto 10 20`.
    MissingComma,
    /// `fd, 100`, `dot red,, 30`.
    ExtraComma,
    /// One `(` or `)` left out.
    MissingParen,
    /// A stray `)` at the end of a line.
    ExtraParen,
    /// A line indented more, or a block's first line not indented.
    BrokenIndent,
    /// A line in the middle of a block moved back to the block's opener.
    BlockCutInHalf,
    /// `end` (or `}`) closing a block, as in Ruby, Lua or JavaScript.
    EndLine,
    /// A string's closing quote left out.
    OpenString,
    /// A function's definition moved after the line that first calls it.
    CallBeforeDefinition,
    /// `->` written `- >`, `=>`, `>` or `-`.
    BrokenArrow,
    /// A letter O typed for a zero in a number (`fd 1O0`).
    LetterOForZero,
}

impl MutantKind {
    /// Every kind, in report order.
    pub const ALL: [MutantKind; 14] = [
        MutantKind::MisspelledCommand,
        MutantKind::MisspelledColor,
        MutantKind::WrongCase,
        MutantKind::MissingComma,
        MutantKind::ExtraComma,
        MutantKind::MissingParen,
        MutantKind::ExtraParen,
        MutantKind::BrokenIndent,
        MutantKind::BlockCutInHalf,
        MutantKind::EndLine,
        MutantKind::OpenString,
        MutantKind::CallBeforeDefinition,
        MutantKind::BrokenArrow,
        MutantKind::LetterOForZero,
    ];

    /// Stable name, as printed in the report.
    pub fn as_str(self) -> &'static str {
        match self {
            MutantKind::MisspelledCommand => "misspelled_command",
            MutantKind::MisspelledColor => "misspelled_color",
            MutantKind::WrongCase => "wrong_case",
            MutantKind::MissingComma => "missing_comma",
            MutantKind::ExtraComma => "extra_comma",
            MutantKind::MissingParen => "missing_paren",
            MutantKind::ExtraParen => "extra_paren",
            MutantKind::BrokenIndent => "broken_indent",
            MutantKind::BlockCutInHalf => "block_cut_in_half",
            MutantKind::EndLine => "end_line",
            MutantKind::OpenString => "open_string",
            MutantKind::CallBeforeDefinition => "call_before_definition",
            MutantKind::BrokenArrow => "broken_arrow",
            MutantKind::LetterOForZero => "letter_o_for_zero",
        }
    }

    /// The program with this kind of mistake planted once, or None if the program
    /// has no place for it. Deterministic in `seed`.
    pub fn apply(self, code: &str, seed: u64) -> Option<String> {
        let mut rng = SplitMix(seed ^ (self as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let lines: Vec<&str> = code.split_inclusive('\n').collect();
        let mutant = match self {
            MutantKind::MisspelledCommand => misspell_word(&lines, &mut rng, WordPlace::Command),
            MutantKind::MisspelledColor => misspell_word(&lines, &mut rng, WordPlace::Color),
            MutantKind::WrongCase => wrong_case(&lines, &mut rng),
            MutantKind::MissingComma => missing_comma(&lines, &mut rng),
            MutantKind::ExtraComma => extra_comma(&lines, &mut rng),
            MutantKind::MissingParen => missing_paren(&lines, &mut rng),
            MutantKind::ExtraParen => extra_paren(&lines, &mut rng),
            MutantKind::BrokenIndent => broken_indent(&lines, &mut rng),
            MutantKind::BlockCutInHalf => block_cut_in_half(&lines, &mut rng),
            MutantKind::EndLine => end_line(&lines, &mut rng),
            MutantKind::OpenString => open_string(&lines, &mut rng),
            MutantKind::CallBeforeDefinition => call_before_definition(&lines),
            MutantKind::BrokenArrow => broken_arrow(&lines, &mut rng),
            MutantKind::LetterOForZero => letter_o_for_zero(&lines, &mut rng),
        }?;
        (mutant != code).then_some(mutant)
    }
}

/// SplitMix64: a small seeded generator, enough for picking places and typos.
#[derive(Debug, Clone)]
pub struct SplitMix(pub u64);

impl SplitMix {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }

    /// One element of `items`, if any.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> Option<T> {
        (!items.is_empty()).then(|| items[self.below(items.len())])
    }
}

/// FNV-1a of `seed` and `text`: a stable hash for seeded splits and orders.
pub fn seeded_hash(seed: u64, text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn rebuild(lines: &[&str], at: usize, new: &str) -> String {
    let mut out: String = lines[..at].concat();
    out.push_str(new);
    out.push_str(&lines[at + 1..].concat());
    out
}

fn indent_len(line: &str) -> usize {
    line.len() - line.trim_start_matches([' ', '\t']).len()
}

fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

/// Byte ranges of code (not strings, not a `#` comment) in a line.
fn code_spans(line: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start = 0;
    let mut quote: Option<char> = None;
    for (i, c) in line.char_indices() {
        match quote {
            Some(q) if c == q => {
                quote = None;
                start = i + 1;
            }
            Some(_) => {}
            None if c == '"' || c == '\'' => {
                spans.push((start, i));
                quote = Some(c);
            }
            None if c == '#' => {
                spans.push((start, i));
                return spans;
            }
            None => {}
        }
    }
    if quote.is_none() {
        spans.push((start, line.len()));
    }
    spans
}

/// Whole words in the code parts of a line: (byte offset, word).
fn words(line: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    for (s, e) in code_spans(line) {
        let part = &line[s..e];
        let mut i = 0;
        let bytes = part.as_bytes();
        while i < part.len() {
            if bytes[i].is_ascii_alphabetic() && (i == 0 || !is_ident(bytes[i - 1])) {
                let end = part[i..].find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$')).map_or(part.len(), |k| i + k);
                // Not a property (`turtle.fd`) or an object key.
                if i == 0 || bytes[i - 1] != b'.' {
                    out.push((s + i, &part[i..end]));
                }
                i = end;
            } else {
                i += 1;
            }
        }
    }
    out
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$'
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum WordPlace {
    Command,
    Color,
}

/// A typo of `word`: two letters swapped, one left out, one doubled, or one replaced
/// by a neighbour on the keyboard.
fn typo(word: &str, rng: &mut SplitMix) -> String {
    const ROWS: [&str; 3] = ["qwertyuiop", "asdfghjkl", "zxcvbnm"];
    let chars: Vec<char> = word.chars().collect();
    let n = chars.len();
    for _ in 0..8 {
        let mut c = chars.clone();
        match rng.below(4) {
            0 if n >= 2 => {
                let i = rng.below(n - 1);
                c.swap(i, i + 1);
            }
            1 if n >= 3 => {
                c.remove(rng.below(n));
            }
            2 => {
                let i = rng.below(n);
                c.insert(i, c[i]);
            }
            _ => {
                let i = rng.below(n);
                let lower = c[i].to_ascii_lowercase();
                if let Some((row, at)) = ROWS.iter().find_map(|r| r.find(lower).map(|at| (r, at))) {
                    let row: Vec<char> = row.chars().collect();
                    let j = if at == 0 || (at + 1 < row.len() && rng.below(2) == 0) { at + 1 } else { at - 1 };
                    c[i] = row[j];
                }
            }
        }
        let s: String = c.into_iter().collect();
        if s != word {
            return s;
        }
    }
    format!("{word}{}", chars.last().copied().unwrap_or('x'))
}

fn is_known_name(word: &str) -> bool {
    names::turtle_functions().contains(&word)
        || names::colors().contains(&word)
        || names::browser_globals().contains(&word)
        || names::special_words().contains(&word)
        || names::turtle_objects().contains(&word)
}

fn misspell_word(lines: &[&str], rng: &mut SplitMix, place: WordPlace) -> Option<String> {
    let mut sites: Vec<(usize, usize, &str)> = Vec::new();
    for (li, line) in lines.iter().enumerate() {
        if is_comment(line) {
            continue;
        }
        for (wi, (at, word)) in words(line).into_iter().enumerate() {
            let ok = match place {
                WordPlace::Command => wi == 0 && word.len() >= 2 && names::turtle_functions().contains(&word),
                WordPlace::Color => word.len() >= 3 && names::colors().contains(&word),
            };
            if ok {
                sites.push((li, at, word));
            }
        }
    }
    let (li, at, word) = rng.pick(&sites)?;
    let wrong = (0..6).map(|_| typo(word, rng)).find(|t| !is_known_name(t))?;
    let line = lines[li];
    Some(rebuild(lines, li, &format!("{}{wrong}{}", &line[..at], &line[at + word.len()..])))
}

fn wrong_case(lines: &[&str], rng: &mut SplitMix) -> Option<String> {
    let mut sites: Vec<(usize, usize, &str)> = Vec::new();
    for (li, line) in lines.iter().enumerate() {
        if is_comment(line) {
            continue;
        }
        for (wi, (at, word)) in words(line).into_iter().enumerate() {
            let command = wi == 0 && names::turtle_functions().contains(&word);
            if (command || names::colors().contains(&word)) && word.starts_with(|c: char| c.is_ascii_lowercase()) {
                sites.push((li, at, word));
            }
        }
    }
    let (li, at, word) = rng.pick(&sites)?;
    let wrong = if rng.below(3) == 0 {
        word.to_uppercase()
    } else {
        let mut c = word.chars();
        c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
    };
    let line = lines[li];
    Some(rebuild(lines, li, &format!("{}{wrong}{}", &line[..at], &line[at + word.len()..])))
}

/// Byte offsets of `needle` in the code parts of `line`.
fn code_positions(line: &str, needle: &str) -> Vec<usize> {
    code_spans(line).into_iter().flat_map(|(s, e)| line[s..e].match_indices(needle).map(move |(i, _)| s + i)).collect()
}

fn sites_of(lines: &[&str], needle: &str) -> Vec<(usize, usize)> {
    lines
        .iter()
        .enumerate()
        .filter(|(_, l)| !is_comment(l))
        .flat_map(|(li, l)| code_positions(l, needle).into_iter().map(move |at| (li, at)))
        .collect()
}

fn missing_comma(lines: &[&str], rng: &mut SplitMix) -> Option<String> {
    let (li, at) = rng.pick(&sites_of(lines, ", "))?;
    let line = lines[li];
    Some(rebuild(lines, li, &format!("{}{}", &line[..at], &line[at + 1..])))
}

fn extra_comma(lines: &[&str], rng: &mut SplitMix) -> Option<String> {
    if rng.below(2) == 0 {
        // `fd, 100`: a comma after the command.
        let sites: Vec<usize> = (0..lines.len())
            .filter(|&li| {
                let w = words(lines[li]);
                w.first().is_some_and(|(at, word)| {
                    *at == indent_len(lines[li]) && names::turtle_functions().contains(word) && lines[li][at + word.len()..].starts_with(' ')
                })
            })
            .collect();
        if let Some(li) = rng.pick(&sites) {
            let line = lines[li];
            let end = indent_len(line) + words(line)[0].1.len();
            return Some(rebuild(lines, li, &format!("{},{}", &line[..end], &line[end..])));
        }
    }
    let (li, at) = rng.pick(&sites_of(lines, ","))?;
    let line = lines[li];
    Some(rebuild(lines, li, &format!("{},{}", &line[..at], &line[at..])))
}

fn missing_paren(lines: &[&str], rng: &mut SplitMix) -> Option<String> {
    let mut sites = sites_of(lines, ")");
    if rng.below(3) == 0 || sites.is_empty() {
        sites = sites_of(lines, "(");
    }
    let (li, at) = rng.pick(&sites)?;
    let line = lines[li];
    Some(rebuild(lines, li, &format!("{}{}", &line[..at], &line[at + 1..])))
}

fn extra_paren(lines: &[&str], rng: &mut SplitMix) -> Option<String> {
    let sites: Vec<usize> = (0..lines.len()).filter(|&i| !is_blank(lines[i]) && !is_comment(lines[i])).collect();
    let li = rng.pick(&sites)?;
    let line = lines[li];
    let body = line.trim_end();
    Some(rebuild(lines, li, &format!("{body}){}", &line[body.len()..])))
}

/// Blocks: (opener line, body lines at the first body line's indentation, one level).
fn blocks(lines: &[&str]) -> Vec<(usize, Vec<usize>)> {
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if is_blank(line) || is_comment(line) {
            continue;
        }
        let Some(first) = (i + 1..lines.len()).find(|&j| !is_blank(lines[j])) else { continue };
        let own = indent_len(line);
        let inner = indent_len(lines[first]);
        if inner <= own {
            continue;
        }
        let mut body = Vec::new();
        for (j, l) in lines.iter().enumerate().skip(first) {
            if is_blank(l) {
                continue;
            }
            let k = indent_len(l);
            if k < inner {
                break;
            }
            if k == inner {
                body.push(j);
            }
        }
        out.push((i, body));
    }
    out
}

fn broken_indent(lines: &[&str], rng: &mut SplitMix) -> Option<String> {
    let blocks = blocks(lines);
    if rng.below(2) == 0 {
        if let Some((_, body)) = rng.pick(&blocks.iter().map(|(o, b)| (*o, b.as_slice())).collect::<Vec<_>>()) {
            // The block's first line not indented.
            let first = body[0];
            let line = lines[first];
            return Some(rebuild(lines, first, line.trim_start_matches([' ', '\t'])));
        }
    }
    // A line indented one step more than the line before it (not a block's first line).
    let sites: Vec<usize> = (1..lines.len())
        .filter(|&i| {
            !is_blank(lines[i])
                && !blocks.iter().any(|(o, b)| b.first() == Some(&i) || *o == i)
                && (0..i).rev().find(|&j| !is_blank(lines[j])).is_some_and(|j| indent_len(lines[j]) == indent_len(lines[i]))
        })
        .collect();
    let li = rng.pick(&sites)?;
    Some(rebuild(lines, li, &format!("  {}", lines[li])))
}

fn block_cut_in_half(lines: &[&str], rng: &mut SplitMix) -> Option<String> {
    let sites: Vec<(usize, usize)> = blocks(lines)
        .into_iter()
        .filter(|(_, b)| b.len() >= 3)
        .flat_map(|(o, b)| b[1..b.len() - 1].iter().map(move |&j| (o, j)).collect::<Vec<_>>())
        .collect();
    let (opener, li) = rng.pick(&sites)?;
    let indent = &lines[opener][..indent_len(lines[opener])];
    Some(rebuild(lines, li, &format!("{indent}{}", lines[li].trim_start_matches([' ', '\t']))))
}

fn end_line(lines: &[&str], rng: &mut SplitMix) -> Option<String> {
    let blocks = blocks(lines);
    let (opener, body) = rng.pick(&blocks.iter().map(|(o, b)| (*o, b.as_slice())).collect::<Vec<_>>())?;
    // After the block's last line (including deeper lines under it).
    let last_body = *body.last()?;
    let inner = indent_len(lines[last_body]);
    let mut end = last_body + 1;
    while end < lines.len() && (is_blank(lines[end]) || indent_len(lines[end]) > inner) {
        end += 1;
    }
    while end > last_body + 1 && is_blank(lines[end - 1]) {
        end -= 1;
    }
    let indent = &lines[opener][..indent_len(lines[opener])];
    let word = rng.pick(&["end", "end", "}", "end if", "endfor"]).unwrap_or("end");
    let mut out: String = lines[..end].concat();
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&format!("{indent}{word}\n"));
    out.push_str(&lines[end..].concat());
    Some(out)
}

fn open_string(lines: &[&str], rng: &mut SplitMix) -> Option<String> {
    // (line, offset of the closing quote)
    let mut sites = Vec::new();
    for (li, line) in lines.iter().enumerate() {
        if is_comment(line) {
            continue;
        }
        let mut quote: Option<char> = None;
        for (i, c) in line.char_indices() {
            match quote {
                Some(q) if c == q => {
                    sites.push((li, i));
                    quote = None;
                }
                Some(_) => {}
                None if c == '#' => break,
                None if c == '\'' || c == '"' => quote = Some(c),
                None => {}
            }
        }
    }
    let (li, at) = rng.pick(&sites)?;
    let line = lines[li];
    Some(rebuild(lines, li, &format!("{}{}", &line[..at], &line[at + 1..])))
}

/// The top-level definition `name = ... ->` and the first top-level line after it
/// that calls `name`: the definition (with its body) moves to after that line's
/// statement.
fn call_before_definition(lines: &[&str]) -> Option<String> {
    for (def, line) in lines.iter().enumerate() {
        if indent_len(line) > 0 || !(line.contains("->") || line.contains("=>")) {
            continue;
        }
        let Some((name, rest)) = line.split_once('=') else { continue };
        let name = name.trim();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || rest.starts_with('=') {
            continue;
        }
        let mut end = def + 1;
        while end < lines.len() && (is_blank(lines[end]) || indent_len(lines[end]) > 0) {
            end += 1;
        }
        while end > def + 1 && is_blank(lines[end - 1]) {
            end -= 1;
        }
        // The first top-level statement after the definition that uses the name.
        let Some(use_start) = (end..lines.len()).find(|&j| indent_len(lines[j]) == 0 && !is_blank(lines[j]) && words(lines[j]).iter().any(|(_, w)| *w == name))
        else {
            continue;
        };
        let mut use_end = use_start + 1;
        while use_end < lines.len() && (is_blank(lines[use_end]) || indent_len(lines[use_end]) > 0) {
            use_end += 1;
        }
        let mut block: String = lines[def..end].concat();
        if !block.ends_with('\n') {
            block.push('\n');
        }
        let mut used: String = lines[use_start..use_end].concat();
        if !used.ends_with('\n') {
            used.push('\n');
        }
        let mut out: String = lines[..def].concat();
        out.push_str(&lines[end..use_start].concat());
        out.push_str(&used);
        out.push_str(&block);
        out.push_str(&lines[use_end..].concat());
        return Some(out);
    }
    None
}

fn broken_arrow(lines: &[&str], rng: &mut SplitMix) -> Option<String> {
    let (li, at) = rng.pick(&sites_of(lines, "->"))?;
    let wrong = rng.pick(&["- >", "=>", ">", "-", "-->", "=>"]).unwrap_or("- >");
    let line = lines[li];
    Some(rebuild(lines, li, &format!("{}{wrong}{}", &line[..at], &line[at + 2..])))
}

fn letter_o_for_zero(lines: &[&str], rng: &mut SplitMix) -> Option<String> {
    // Zeros inside numbers (a digit run that is not part of a name).
    let mut sites = Vec::new();
    for (li, line) in lines.iter().enumerate() {
        if is_comment(line) {
            continue;
        }
        for (s, e) in code_spans(line) {
            let b = line.as_bytes();
            let mut i = s;
            while i < e {
                if b[i].is_ascii_digit() && (i == 0 || !is_ident(b[i - 1])) {
                    let mut j = i;
                    while j < e && (b[j].is_ascii_digit() || b[j] == b'.') {
                        j += 1;
                    }
                    sites.extend((i..j).filter(|&k| b[k] == b'0').map(|k| (li, k)));
                    i = j;
                } else {
                    i += 1;
                }
            }
        }
    }
    let (li, at) = rng.pick(&sites)?;
    let letter = if rng.below(4) == 0 { "o" } else { "O" };
    let line = lines[li];
    Some(rebuild(lines, li, &format!("{}{letter}{}", &line[..at], &line[at + 1..])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(kind: MutantKind, code: &str, seed: u64, expected: Option<&str>) {
        assert_eq!(kind.apply(code, seed).as_deref(), expected, "{}", kind.as_str());
    }

    const PROGRAM: &str = "speed 10\npen red, 3\nsquare = (s) ->\n  for [1..4]\n    fd s\n    rt 90\n    fd 0\n  dot blue\nsquare 100\nlabel 'done'\n";

    #[test]
    fn mutants_are_deterministic_and_differ_from_the_original() {
        for kind in MutantKind::ALL {
            for seed in 0..20 {
                let a = kind.apply(PROGRAM, seed);
                assert_eq!(a, kind.apply(PROGRAM, seed), "{}", kind.as_str());
                assert!(a.is_some_and(|m| m != PROGRAM), "{} seed {seed}", kind.as_str());
            }
        }
        // Different seeds reach different places.
        let distinct: std::collections::HashSet<String> =
            (0..20).filter_map(|s| MutantKind::MisspelledCommand.apply(PROGRAM, s)).collect();
        assert!(distinct.len() > 3, "{distinct:?}");
    }

    #[test]
    fn single_place_mutations() {
        check(MutantKind::MissingComma, "moveto 10, 20\n", 1, Some("moveto 10 20\n"));
        check(MutantKind::ExtraParen, "fd 100\n", 3, Some("fd 100)\n"));
        check(MutantKind::OpenString, "label 'hi'\n", 0, Some("label 'hi\n"));
        check(MutantKind::BlockCutInHalf, "for [1..4]\n  fd 1\n  rt 90\n  fd 2\n", 0, Some("for [1..4]\n  fd 1\nrt 90\n  fd 2\n"));
        check(
            MutantKind::CallBeforeDefinition,
            "pen red\nsq = ->\n  fd 1\n\nsq()\nfd 2\n",
            0,
            Some("pen red\n\nsq()\nsq = ->\n  fd 1\nfd 2\n"),
        );
        assert!(MutantKind::LetterOForZero.apply("fd 100\n", 5).is_some_and(|m| m == "fd 1O0\n" || m == "fd 10O\n" || m.contains('o')));
        assert!(MutantKind::BrokenArrow.apply("f = -> fd 1\n", 2).is_some_and(|m| !m.contains("->")));
        assert!(MutantKind::EndLine.apply("for [1..2]\n  fd 1\nrt 90\n", 0).is_some_and(|m| m.starts_with("for [1..2]\n  fd 1\n") && m.ends_with("rt 90\n")));
    }

    #[test]
    fn programs_without_a_place_get_no_mutant() {
        check(MutantKind::MissingComma, "fd 100\n", 0, None);
        check(MutantKind::CallBeforeDefinition, "fd 100\n", 0, None);
        check(MutantKind::BrokenArrow, "fd 100\n", 0, None);
        check(MutantKind::LetterOForZero, "fd 5\nlabel '0'\n", 0, None);
        check(MutantKind::OpenString, "fd 1 # it's\n", 0, None);
        check(MutantKind::MisspelledColor, "pen 'red'\n", 0, None);
    }

    /// Every kind yields mutants the sandbox fails, from a handful of ordinary programs.
    #[test]
    fn each_kind_produces_failing_mutants() {
        // In-process: this test's own executable cannot serve as a worker process.
        let config = pencil_sandbox::SandboxConfig { isolation: pencil_sandbox::Isolation::InProcess, ..crate::checker::student_sandbox_config() };
        let checker = crate::checker::Checker::start(config).expect("the sandbox starts");
        let programs = [
            PROGRAM,
            "speed 100\npen blue, 2\nstar = (n) ->\n  for [1..5]\n    fd n\n    rt 144\n    fd 10\nstar 50\nmoveto 0, 0\nwrite 'all done'\n",
        ];
        for kind in MutantKind::ALL {
            let failing = programs
                .iter()
                .flat_map(|p| (0..12).filter_map(move |seed| kind.apply(p, seed)))
                .filter(|m| checker.check_blocking(m).is_ok_and(|v| v.status == pencil_sandbox::Status::Error))
                .count();
            assert!(failing > 0, "{} made no failing mutant", kind.as_str());
        }
        for p in programs {
            assert!(checker.check_blocking(p).is_ok_and(|v| v.status != pencil_sandbox::Status::Error), "{p}");
        }
    }

    #[test]
    fn typos_are_not_real_names() {
        for seed in 0..40 {
            let m = MutantKind::MisspelledCommand.apply("fd 10\nrt 90\npen red\n", seed).unwrap_or_default();
            let first_words: Vec<&str> = m.lines().filter_map(|l| l.split_whitespace().next()).collect();
            assert!(first_words.iter().filter(|w| !names::turtle_functions().contains(w)).count() == 1, "{m:?}");
        }
    }
}
