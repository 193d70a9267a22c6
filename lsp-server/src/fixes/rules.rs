//! Rules about names and arguments: an unknown name becomes the nearest color,
//! command, global in the right case or name the program defines (or completes one
//! cut short); commas go between arguments; `x -1` becomes `x - 1`.

use super::distance::{compound_colors, is_foreign_block_end, nearest, nearest_preferring};
use super::{parameter_list, Fix, Rule};
use pencil_sandbox::{names, ProgramError};

/// Fixes for an unknown `name`, likeliest first.
pub(super) fn rename_fixes(code: &str, error: &ProgramError, name: &str) -> Vec<Fix> {
    // `end` alone on its line closes a block in another language: not a misspelled name.
    let line = error.line.and_then(|l| code.lines().nth(l.saturating_sub(1) as usize));
    if line.is_some_and(is_foreign_block_end) {
        return Vec::new();
    }
    // `pen dark green`, `jump to 100`: a color or command written as two words is one name.
    let at = error.line.map_or(0, |l| l.saturating_sub(1) as usize);
    if let Some(fix) = line.and_then(|l| join_color_words(code, at, l, name).or_else(|| join_command_words(code, at, l, name))) {
        return std::iter::once(fix).chain(rename_fixes_by_distance(code, error, name)).collect();
    }
    // `pen neon blue`: a word the runtime does not know, before a color it does.
    if let Some(fix) = line.and_then(|l| drop_color_adjective(code, at, l, name)) {
        return std::iter::once(fix).chain(rename_fixes_by_distance(code, error, name)).collect();
    }
    rename_fixes_by_distance(code, error, name)
}

/// `jump to 100` on line `at` (0-based), where `name` is `to` (or `move to`, where it
/// is `move`): the word before or after it joined to `name` makes a turtle command
/// (`jumpto`, `moveto`).
fn join_command_words(code: &str, at: usize, line: &str, name: &str) -> Option<Fix> {
    let words: Vec<(usize, &str)> = word_spans(line);
    for (k, &(pos, word)) in words.iter().enumerate() {
        if word != name {
            continue;
        }
        // The word before, then the word after, separated from `name` by spaces only.
        let pairs = [k.checked_sub(1).map(|j| (words[j], (pos, word))), words.get(k + 1).map(|&next| ((pos, word), next))];
        for ((p1, w1), (p2, w2)) in pairs.into_iter().flatten() {
            if !line[p1 + w1.len()..p2].chars().all(|c| c == ' ') || p2 == p1 + w1.len() {
                continue;
            }
            let joined = format!("{w1}{w2}").to_lowercase();
            let Some(command) = names::turtle_functions().iter().find(|c| c.to_lowercase() == joined) else { continue };
            let fixed_line = format!("{}{}{}", &line[..p1], command, &line[p2 + w2.len()..]);
            let new_code = with_line(code, at, &fixed_line);
            return Some(Fix {
                rule: Rule::NearestCommand,
                title: format!("Write `{w1} {w2}` on line {} as one command: `{command}`", at + 1),
                new_code,
            });
        }
    }
    None
}

/// `code` with line `at` (0-based) replaced by `text`, keeping that line's end.
fn with_line(code: &str, at: usize, text: &str) -> String {
    let lines: Vec<&str> = code.split_inclusive('\n').collect();
    let Some(old) = lines.get(at) else { return code.to_string() };
    let end = if old.ends_with('\n') { "\n" } else { "" };
    super::rebuild(&lines, &[(at, format!("{text}{end}"))])
}

/// The identifiers of `line` outside strings and comments, with their byte offsets.
fn word_spans(line: &str) -> Vec<(usize, &str)> {
    let bytes = line.as_bytes();
    let mut out = Vec::new();
    let (mut i, mut quote) = (0, None::<u8>);
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'"' || b == b'\'' => quote = Some(b),
            None if b == b'#' => break,
            None if is_ident_byte(b) && !b.is_ascii_digit() => {
                let start = i;
                while i < bytes.len() && is_ident_byte(bytes[i]) {
                    i += 1;
                }
                out.push((start, &line[start..i]));
                continue;
            }
            None if is_ident_byte(b) => {
                // A number (or a word glued to one): skip it whole.
                while i < bytes.len() && is_ident_byte(bytes[i]) {
                    i += 1;
                }
                continue;
            }
            None => {}
        }
        i += 1;
    }
    out
}

/// `pen neon blue, 10` on line `at` (0-based), where `name` is `neon`: in the
/// arguments of a command that takes a color, the unknown word describes the color
/// that follows it; the color alone is what the runtime can draw.
fn drop_color_adjective(code: &str, at: usize, line: &str, name: &str) -> Option<Fix> {
    let words = word_spans(line);
    if !words.first().is_some_and(|(_, w)| COLOR_COMMANDS.contains(w)) {
        return None;
    }
    let k = words.iter().skip(1).position(|(_, w)| *w == name)? + 1;
    let (pos, _) = words[k];
    let (next_pos, color) = *words.get(k + 1)?;
    let between = &line[pos + name.len()..next_pos];
    if between.is_empty() || !between.bytes().all(|b| b == b' ') || !names::colors().contains(&color) {
        return None;
    }
    let fixed_line = format!("{}{}", &line[..pos], &line[next_pos..]);
    Some(Fix {
        rule: Rule::NearestColor,
        title: format!("Leave out `{name}` before the color `{color}` on line {}", at + 1),
        new_code: with_line(code, at, fixed_line.trim_end_matches(['\r', '\n'])),
    })
}

/// `dark green` on line `at` (0-based), where `name` is `dark`: the two words joined
/// make a color the runtime knows (`darkgreen`).
fn join_color_words(code: &str, at: usize, line: &str, name: &str) -> Option<Fix> {
    let bytes = line.as_bytes();
    let mut from = 0;
    while let Some(pos) = line[from..].find(name).map(|p| p + from) {
        from = pos + name.len();
        let starts_word = pos == 0 || !is_ident_byte(bytes[pos - 1]);
        let rest = &line[pos + name.len()..];
        let gap = rest.len() - rest.trim_start_matches(' ').len();
        if !starts_word || gap == 0 {
            continue;
        }
        let word: String = rest[gap..].bytes().take_while(|b| is_ident_byte(*b)).map(char::from).collect();
        let joined = format!("{name}{word}").to_lowercase();
        let Some(color) = names::colors().iter().find(|c| c.to_lowercase() == joined) else { continue };
        let fixed_line = format!("{}{}{}", &line[..pos], color, &rest[gap + word.len()..]);
        let new_code = with_line(code, at, &fixed_line);
        return Some(Fix {
            rule: Rule::NearestColor,
            title: format!("Write `{name} {word}` on line {} as one color name: `{color}`", at + 1),
            new_code,
        });
    }
    None
}

/// Fixes for an unknown `name` from names close to it, likeliest first.
fn rename_fixes_by_distance(code: &str, error: &ProgramError, name: &str) -> Vec<Fix> {
    let mut colors = nearest_preferring(name, names::colors(), 2, &COMMON_COLORS);
    // A made-up compound like `babyblue` is far from every name but contains one. A
    // near color that drops that part (`darkbrown` -> `darkgreen`) is a different
    // color from the one the student named: then the compound's colors replace them.
    let compound = compound_colors(name, names::colors(), 2);
    if compound.first().is_some_and(|part| colors.iter().all(|(c, _)| !c.to_lowercase().contains(part))) {
        colors = compound.into_iter().map(|c| (c, 0)).collect();
    }
    if let Some(color) = no_color_word(name) {
        colors.insert(0, (color, 0));
    }
    // The statement's first word: where the name stands decides which fixes are likelier.
    let statement = error.line.and_then(|l| code.lines().nth(l.saturating_sub(1) as usize)).and_then(first_word);
    // The argument of a command that takes a color (`pen clear`) is never a command.
    let in_color_argument = statement.is_some_and(|w| w != name && COLOR_COMMANDS.contains(&w));
    let mut commands = if in_color_argument { Vec::new() } else { nearest_preferring(name, names::turtle_functions(), 6, &COMMON_COMMANDS) };
    // `ot saddlebrown, 100`: a command given a color is one that takes a color
    // (`dot`), whatever else is as close (`lt`).
    let line = error.line.and_then(|l| code.lines().nth(l.saturating_sub(1) as usize));
    if statement == Some(name) && line.is_some_and(|l| first_argument_is_color(l, name)) {
        commands.sort_by_key(|(c, d)| (*d, !COLOR_COMMANDS.contains(c)));
    }
    commands.truncate(2);
    let colors_and_commands_empty = colors.is_empty() && commands.is_empty();
    let color_fixes = colors.into_iter().map(|(c, d)| {
        (d, Fix { rule: Rule::NearestColor, title: format!("Change `{name}` to the color `{c}`"), new_code: replace_word(code, name, c) })
    });
    let command_fixes = commands.into_iter().map(|(c, d)| {
        (d, Fix { rule: Rule::NearestCommand, title: format!("Change `{name}` to the command `{c}`"), new_code: replace_word(code, name, c) })
    });
    // Where the name stands decides which list is likelier: a statement starts with a
    // command (`fowrard 100`); an argument is usually a color (`pen babyblue`).
    let in_command_position = statement == Some(name);
    // Globals written in another case (`infinity`, `math`) are exact once lowercased.
    let lower = name.to_lowercase();
    let case_fixes = names::browser_globals()
        .iter()
        .chain(names::turtle_objects())
        .chain(names::special_words())
        .filter(|g| **g != name && g.to_lowercase() == lower)
        .map(|g| (0, false, Fix { rule: Rule::NameCase, title: format!("Write `{name}` as `{g}`"), new_code: replace_word(code, name, g) }));
    // The program's own names (a function or variable it assigns), misspelled or cut short.
    let defined = defined_names(code);
    let defined: Vec<&str> = defined.iter().map(String::as_str).filter(|d| *d != name).collect();
    let own_fixes = nearest(name, &defined, 2).into_iter().chain(completions(name, &defined)).map(|(d, dist)| {
        (dist, false, Fix { rule: Rule::OwnName, title: format!("Change `{name}` to `{d}`, defined in this program"), new_code: replace_word(code, name, d) })
    });
    // A name cut short that no close name matched (`pen gr`): complete it.
    let completion_fixes = if colors_and_commands_empty {
        let pool: Vec<&str> = if in_command_position { names::turtle_functions().to_vec() } else { names::colors().to_vec() };
        completions(name, &pool)
            .map(|(c, dist)| {
                let (rule, what) = if in_command_position { (Rule::NearestCommand, "command") } else { (Rule::NearestColor, "color") };
                (dist, true, Fix { rule, title: format!("Complete `{name}` as the {what} `{c}`"), new_code: replace_word(code, name, c) })
            })
            .collect()
    } else {
        Vec::new()
    };
    let mut all: Vec<(usize, bool, Fix)> = case_fixes
        .chain(own_fixes)
        .chain(completion_fixes)
        .chain(color_fixes
        .map(|(d, f)| (d, in_command_position, f)))
        .chain(command_fixes.map(|(d, f)| (d, !in_command_position, f)))
        .collect();
    all.sort_by_key(|(d, unlikely, _)| (*unlikely, *d));
    all.into_iter().map(|(_, _, f)| f).filter(|f| f.new_code != code).collect()
}

/// The turtle commands that start most lines of the programs the real runtime ran
/// (`shared/data/oracle`), commonest first: a slip is likelier in these than in a
/// rare command equally close (`et 10` is `rt 10`, not `ht 10`).
const COMMON_COMMANDS: [&str; 24] = [
    "fd", "rt", "lt", "pen", "jumpto", "dot", "speed", "bk", "moveto", "fill", "pu", "write", "tick", "jump", "box", "turnto", "keydown",
    "pd", "ht", "button", "forever", "type", "st", "label",
];

/// The colors the programs the real runtime ran (`shared/data/oracle`) name
/// most after `pen`, `dot`, `fill`, `box` and `wear`, commonest first: `gren` is
/// `green`, not `grey`.
const COMMON_COLORS: [&str; 16] =
    ["black", "red", "green", "blue", "yellow", "purple", "white", "orange", "brown", "gold", "skyblue", "saddlebrown", "pink", "lightgray", "blueviolet", "deeppink"];

/// Whether the first argument after `command` on `line` is a color name.
fn first_argument_is_color(line: &str, command: &str) -> bool {
    let Some(at) = line.find(command) else { return false };
    let rest = line[at + command.len()..].trim_start_matches([' ', '\t', '(']);
    first_word(rest).is_some_and(|w| names::colors().contains(&w))
}

/// Turtle commands whose arguments are colors and numbers.
const COLOR_COMMANDS: [&str; 4] = ["pen", "fill", "dot", "box"];

/// The color a student means by a word for no color at all (`pen clear`).
fn no_color_word(name: &str) -> Option<&'static str> {
    matches!(name.to_lowercase().as_str(), "clear" | "invisible" | "seethrough").then_some("transparent")
}

/// Names `pool` has that start with `name` (at least two letters typed), shortest
/// first, at most two, with the number of letters still to type.
fn completions<'a>(name: &str, pool: &[&'a str]) -> impl Iterator<Item = (&'a str, usize)> + use<'a> {
    let mut found: Vec<(&'a str, usize)> = if name.chars().count() >= 2 {
        pool.iter().filter(|c| c.len() > name.len() && c.starts_with(name)).map(|c| (*c, c.len() - name.len())).collect()
    } else {
        Vec::new()
    };
    found.sort_by_key(|&(c, d)| (d, c));
    found.truncate(2);
    found.into_iter()
}

/// Names the program assigns (`jellyfish = ->`, `size = 10`), in order, once each.
fn defined_names(code: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in code.lines() {
        let Some(word) = first_word(line) else { continue };
        let rest = line.trim_start()[word.len()..].trim_start();
        let assigns = rest.starts_with('=') && !rest.starts_with("==");
        if assigns && !word.starts_with(|c: char| c.is_ascii_digit()) && !out.iter().any(|o| o == word) {
            out.push(word.to_string());
        }
    }
    out
}

fn first_word(line: &str) -> Option<&str> {
    let t = line.trim_start();
    let end = t.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$')).unwrap_or(t.len());
    (end > 0).then(|| &t[..end])
}

/// Replaces whole-word `from` with `to` outside strings and `#` comments.
fn replace_word(code: &str, from: &str, to: &str) -> String {
    let mut out = String::with_capacity(code.len());
    for line in code.split_inclusive('\n') {
        let mut quote: Option<char> = None;
        let mut i = 0;
        let bytes = line.as_bytes();
        while i < line.len() {
            let rest = &line[i..];
            let c = rest.chars().next().unwrap_or('\0');
            match quote {
                Some(q) if c == q => quote = None,
                Some(_) => {}
                None if c == '"' || c == '\'' => quote = Some(c),
                None if c == '#' => {
                    out.push_str(rest);
                    break;
                }
                None if rest.starts_with(from) => {
                    let before_ok = i == 0 || !is_ident_byte(bytes[i - 1]);
                    let after_ok = bytes.get(i + from.len()).is_none_or(|&b| !is_ident_byte(b));
                    if before_ok && after_ok {
                        out.push_str(to);
                        i += from.len();
                        continue;
                    }
                }
                None => {}
            }
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// `x = x -1` calls `x(-1)` in CoffeeScript: on a `TypeError: x is not a function`,
/// `x -1` becomes `x - 1` on the error line.
pub(super) fn minus_spacing_fix(code: &str, error: &ProgramError) -> Option<Fix> {
    if error.kind != "TypeError" {
        return None;
    }
    let name = error.message.trim().strip_suffix(" is not a function")?.trim().trim_matches('\'');
    let idx = error.line?.checked_sub(1)? as usize;
    let lines: Vec<&str> = code.split_inclusive('\n').collect();
    let line = *lines.get(idx)?;
    let pattern = format!("{name} -");
    let at = line.find(&pattern)?;
    let after = &line[at + pattern.len()..];
    if !after.starts_with(|c: char| c.is_ascii_digit() || c.is_alphabetic() || c == '(') {
        return None;
    }
    let fixed = format!("{}{name} - {after}", &line[..at]);
    let mut new_code: String = lines[..idx].concat();
    new_code.push_str(&fixed);
    new_code.push_str(&lines[idx + 1..].concat());
    Some(Fix {
        rule: Rule::Syntax,
        title: format!("Put a space after the `-` on line {} (`{name} -1` calls `{name}`)", idx + 1),
        new_code,
    })
}

/// `moveto 100 100` -> `moveto 100, 100`: on the error line (or, if the error has no
/// line, the first line that has one), commas between adjacent plain arguments.
pub(super) fn missing_comma_fix(code: &str, error: &ProgramError) -> Option<Fix> {
    let lines: Vec<&str> = code.split_inclusive('\n').collect();
    let target = match error.line {
        Some(l) => vec![l.saturating_sub(1) as usize],
        None => (0..lines.len()).collect(),
    };
    let names = value_names(code);
    for idx in target {
        let Some(line) = lines.get(idx) else { continue };
        let command = || format!("the arguments of `{}`", first_word(line).unwrap_or("the command"));
        let (fixed, between) = if let Some(fixed) = comma_line(line, &names) {
            (fixed, command())
        } else if let Some(fixed) = comma_before_arrow(line) {
            (fixed, command())
        } else if let Some(fixed) = comma_list(line, &names) {
            (fixed, "the items of the list".to_string())
        } else if let Some(fixed) = comma_parameters(line) {
            (fixed, "the function's parameters".to_string())
        } else {
            continue;
        };
        let mut new_code: String = lines[..idx].concat();
        new_code.push_str(&fixed);
        new_code.push_str(&lines[idx + 1..].concat());
        return Some(Fix { rule: Rule::MissingComma, title: format!("Add the missing comma between {between} on line {}", idx + 1), new_code });
    }
    None
}

/// Names the program gives values to, which may stand as arguments: assigned
/// names (`n = 5`, `stick = -> ...`), loop variables (`for x in`, `for x, i of`)
/// and function parameters (`(x, shape) ->`).
fn value_names(code: &str) -> Vec<String> {
    let mut names = defined_names(code);
    let is_name = |w: &str| !w.is_empty() && w.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '$') && !w.starts_with(|c: char| c.is_ascii_digit());
    let mut add = |w: &str| {
        let w = w.trim().trim_start_matches('@');
        if is_name(w) && !names.iter().any(|n| n == w) {
            names.push(w.to_string());
        }
    };
    for line in code.lines() {
        let t = line.trim_start();
        if let Some(rest) = t.strip_prefix("for ") {
            let head = rest.split([' ', '\t']).filter(|w| !w.is_empty()).take_while(|w| !matches!(*w, "in" | "of" | "from")).collect::<Vec<_>>().join(" ");
            head.split(',').for_each(&mut add);
        }
        for (arrow, _) in line.match_indices("->").chain(line.match_indices("=>")) {
            if let Some(params) = parameter_list(&line[..arrow]) {
                params.into_iter().map(|p| p.split('=').next().unwrap_or(p)).for_each(&mut add);
            }
        }
    }
    names
}

/// Inserts `,` between consecutive argument atoms (numbers, strings, color names,
/// the program's own `names`) that follow a command and are separated only by
/// spaces. None if there are none.
fn comma_line(line: &str, names: &[String]) -> Option<String> {
    // A `;` inside a string or a comment splits nothing: then only the whole line counts.
    if super::code_only(line).matches(';').count() != line.matches(';').count() {
        return comma_statement(line, names);
    }
    // Each statement of `fd 40; dot gold 30` on its own.
    let mut out = String::new();
    let mut changed = false;
    for (k, statement) in line.split(';').enumerate() {
        if k > 0 {
            out.push(';');
        }
        match comma_statement(statement, names) {
            Some(fixed) => {
                out.push_str(&fixed);
                changed = true;
            }
            None => out.push_str(statement),
        }
    }
    changed.then_some(out)
}

/// `tick 100 ->` -> `tick 100, ->`: a function passed after other arguments
/// needs its comma like any argument.
fn comma_before_arrow(line: &str) -> Option<String> {
    let code = super::code_only(line);
    let arrow = code.find("->").or_else(|| code.find("=>"))?;
    // Strings are blanked in `code` (offsets kept): text is read from `line`.
    let before = line[..arrow].trim_end();
    let command = first_word(before)?;
    let indent = before.len() - before.trim_start().len();
    let args = &before[indent + command.len()..];
    let atom_end = before.ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == '\'' || c == '"');
    if args.trim().is_empty() || code[..before.len()].contains('=') || !args.starts_with(' ') || !atom_end {
        return None;
    }
    Some(format!("{before},{}", &line[before.len()..]))
}

/// `f = (x y, side) ->` -> `(x, y, side)`: commas between the names of a
/// function's parameter list.
fn comma_parameters(line: &str) -> Option<String> {
    let code = super::code_only(line);
    let arrow = code.find("->").or_else(|| code.find("=>"))?;
    let close = code[..arrow].trim_end().strip_suffix(')')?.len();
    let open = code[..close].rfind('(')?;
    let inner = &line[open + 1..close];
    let is_name = |w: &str| {
        let w = w.trim_start_matches('@');
        w.starts_with(|c: char| c.is_alphabetic() || c == '_' || c == '$') && w.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '$')
    };
    let words: Vec<&str> = inner.split([',', ' ', '\t']).filter(|w| !w.is_empty()).collect();
    let parts = inner.split(',').count();
    if words.len() <= parts || !words.iter().all(|w| is_name(w)) {
        return None;
    }
    Some(format!("{}{}{}", &line[..=open], words.join(", "), &line[close..]))
}

/// [`comma_line`] for one statement.
fn comma_statement(line: &str, names: &[String]) -> Option<String> {
    let command = first_word(line)?;
    let indent = line.len() - line.trim_start().len();
    let args_start = indent + command.len();
    if !line[args_start..].starts_with([' ', '\t']) {
        return None;
    }
    let (args, changed) = commas_between_atoms(&line[args_start..], names);
    changed.then(|| format!("{}{args}", &line[..args_start]))
}

/// `for c in [red gold, blue]` -> `[red, gold, blue]`: commas between adjacent
/// atoms inside a one-line list (CoffeeScript reads `red gold` as a call of
/// `red`). None if no list on the line lacks one.
fn comma_list(line: &str, names: &[String]) -> Option<String> {
    let mut out = String::new();
    let mut rest = line;
    let mut changed = false;
    while let Some(open) = rest.find('[') {
        let Some(close) = rest[open..].find(']').map(|c| open + c) else { break };
        let (items, here) = commas_between_atoms(&rest[open + 1..close], names);
        out.push_str(&rest[..=open]);
        out.push_str(&items);
        changed |= here;
        rest = &rest[close..];
    }
    out.push_str(rest);
    changed.then_some(out)
}

/// `rest` with `,` inserted between consecutive atoms ([`atom_len`]) separated
/// only by spaces, from its start up to the first thing that is not an atom or
/// a comma; and whether any was inserted.
fn commas_between_atoms(rest: &str, names: &[String]) -> (String, bool) {
    let mut out = String::new();
    let mut rest = rest;
    let mut prev_atom = false;
    let mut changed = false;
    loop {
        let spaces = rest.len() - rest.trim_start_matches([' ', '\t']).len();
        let (space, after) = rest.split_at(spaces);
        let Some(len) = atom_len(after, names) else {
            out.push_str(rest);
            break;
        };
        if prev_atom && spaces > 0 {
            out.push(',');
            changed = true;
        } else if spaces == 0 && prev_atom {
            out.push_str(rest);
            break;
        }
        out.push_str(space);
        out.push_str(&after[..len]);
        rest = &after[len..];
        prev_atom = true;
        if rest.starts_with(',') || rest.trim_start_matches([' ', '\t']).starts_with(',') {
            // Already separated: the next atom must not get a second comma.
            let comma_at = rest.find(',').unwrap_or(0);
            out.push_str(&rest[..=comma_at]);
            rest = &rest[comma_at + 1..];
            prev_atom = false;
        }
    }
    (out, changed)
}

/// Length of a plain argument at the start of `s`: a number (optionally negative), a
/// quoted string without escapes, a color name or one of `names`.
fn atom_len(s: &str, names: &[String]) -> Option<usize> {
    let b = s.as_bytes();
    let first = *b.first()?;
    if first.is_ascii_digit() || (first == b'-' && b.get(1).is_some_and(u8::is_ascii_digit)) {
        let end = s[1..].find(|c: char| !(c.is_ascii_digit() || c == '.')).map_or(s.len(), |i| i + 1);
        let next = s[end..].chars().next();
        return (!next.is_some_and(|c| c.is_alphanumeric() || c == '_')).then_some(end);
    }
    if first == b'"' || first == b'\'' {
        let close = s[1..].find(first as char)? + 2;
        return (!s[1..close - 1].contains('\\')).then_some(close);
    }
    let word = first_word(s)?;
    (s.starts_with(word) && (names::colors().contains(&word) || names.iter().any(|n| n == word))).then_some(word.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidates(code: &str, error: &ProgramError) -> Vec<Fix> {
        super::super::candidates(code, error, &[])
    }

    fn err(kind: &str, message: &str, line: Option<u32>) -> ProgramError {
        ProgramError { kind: kind.into(), message: message.into(), line, column: None }
    }

    #[test]
    fn commas_go_between_plain_arguments_only() {
        for (line, expected) in [
            ("moveto 100 100\n", Some("moveto 100, 100\n")),
            ("  dot red 30\n", Some("  dot red, 30\n")),
            ("box 'hi' 10 20", Some("box 'hi', 10, 20")),
            ("moveto 100, 100\n", None),
            ("moveto 100, 100 20\n", Some("moveto 100, 100, 20\n")),
            ("fd 100\n", None),
            ("fd 100 rt 90\n", None),
            ("moveto -50 -50\n", Some("moveto -50, -50\n")),
            ("x = 5\n", None),
        ] {
            assert_eq!(comma_line(line, &[]).as_deref(), expected, "{line:?}");
        }
    }

    #[test]
    fn a_comma_goes_before_a_name_the_program_gives_a_value() {
        let code = "speed 5\nfor x in [50..1] by -1\n  rt 30 x\n";
        let fixes = candidates(code, &err("SyntaxError", "unexpected x", Some(3)));
        assert!(fixes.iter().any(|f| f.rule == Rule::MissingComma && f.new_code == "speed 5\nfor x in [50..1] by -1\n  rt 30, x\n"), "{fixes:?}");
        assert_eq!(value_names("n = 4\nstar = (size, k = 5) -> fd size\nfor i, j of a\n  fd 1\n"), ["n", "star", "size", "k", "i", "j"]);
        let names = value_names("stick = -> fd 30\n");
        assert_eq!(comma_line("starburst 3 stick\n", &names).as_deref(), Some("starburst 3, stick\n"));
        // A command is not a name the program defined: no comma before it.
        assert_eq!(comma_line("fd 100 rt 90\n", &names), None);
    }

    #[test]
    fn a_comma_goes_before_a_passed_function_between_parameters_and_in_each_statement() {
        assert_eq!(comma_before_arrow("tick 100 ->\n").as_deref(), Some("tick 100, ->\n"));
        assert_eq!(comma_before_arrow("  keydown '1' -> fd 1\n").as_deref(), Some("  keydown '1', -> fd 1\n"));
        assert_eq!(comma_before_arrow("tick 100, ->\n"), None);
        assert_eq!(comma_before_arrow("f = (x) ->\n"), None);
        assert_eq!(comma_before_arrow("button ->\n"), None);
        assert_eq!(comma_parameters("isopen = (x y, side) ->\n").as_deref(), Some("isopen = (x, y, side) ->\n"));
        assert_eq!(comma_parameters("f = (x, y) ->\n"), None);
        assert_eq!(comma_line("fd 40; rt 120; dot gold 30\n", &[]).as_deref(), Some("fd 40; rt 120; dot gold, 30\n"));
        assert_eq!(comma_line("write 'a; b' 1 2\n", &[]).as_deref(), Some("write 'a; b', 1, 2\n"));
    }

    #[test]
    fn a_comma_goes_between_the_items_of_a_list() {
        let code = "for color in [red, gold green, blue]\n  pen color\n";
        let fixes = candidates(code, &err("TypeError", "gold is not a function", Some(1)));
        assert!(fixes.iter().any(|f| f.rule == Rule::MissingComma && f.new_code == "for color in [red, gold, green, blue]\n  pen color\n"), "{fixes:?}");
        assert_eq!(comma_list("x = [1 2] + [3, 'a' 'b']\n", &[]).as_deref(), Some("x = [1, 2] + [3, 'a', 'b']\n"));
        // Lists already separated, ranges and indexing stay.
        assert_eq!(comma_list("for c in [red, blue]\n", &[]), None);
        assert_eq!(comma_list("for i in [1..4]\n", &[]), None);
        assert_eq!(comma_list("fd a[0] b[1]\n", &[]), None);
    }

    #[test]
    fn words_are_replaced_outside_strings_and_comments() {
        let code = "pen babyblue # babyblue\nlabel 'babyblue'\nfill babyblue2\nfd 1; pen babyblue\n";
        assert_eq!(
            replace_word(code, "babyblue", "lightblue"),
            "pen lightblue # babyblue\nlabel 'babyblue'\nfill babyblue2\nfd 1; pen lightblue\n"
        );
    }

    #[test]
    fn unknown_color_in_argument_position_suggests_a_color_first() {
        let fixes = candidates("pen lightbleu\nfd 100\n", &err("ReferenceError", "lightbleu is not defined", Some(1)));
        assert_eq!(fixes.first().map(|f| (f.rule, f.new_code.as_str())), Some((Rule::NearestColor, "pen lightblue\nfd 100\n")));
    }

    #[test]
    fn made_up_compound_color_suggests_its_known_part() {
        let fixes = candidates("pen babypink\n", &err("ReferenceError", "babypink is not defined", Some(1)));
        let codes: Vec<&str> = fixes.iter().map(|f| f.new_code.as_str()).collect();
        assert_eq!(codes.first(), Some(&"pen pink\n"), "{codes:?}");
        // A near real color wins over the compound fallback.
        let fixes = candidates("pen babyblue\n", &err("ReferenceError", "babyblue is not defined", Some(1)));
        // (Among the near colors, the commoner in students' programs.)
        assert_eq!(fixes.first().map(|f| f.new_code.as_str()), Some("pen skyblue\n"));
    }

    #[test]
    fn a_near_color_that_drops_the_compounds_own_color_is_not_offered() {
        let fixes = candidates("dot 150, darkbrown\n", &err("ReferenceError", "darkbrown is not defined", Some(1)));
        let codes: Vec<&str> = fixes.iter().map(|f| f.new_code.as_str()).collect();
        assert_eq!(codes.first(), Some(&"dot 150, brown\n"), "{codes:?}");
        assert!(!codes.contains(&"dot 150, darkgreen\n"), "{codes:?}");
    }

    #[test]
    fn a_word_the_runtime_does_not_know_before_a_color_is_left_out() {
        let fixes = candidates("pen neon blue, 10\nfd 50\n", &err("ReferenceError", "neon is not defined", Some(1)));
        assert_eq!(fixes.first().map(|f| f.new_code.as_str()), Some("pen blue, 10\nfd 50\n"));
        // Two words that make one color are joined instead.
        let fixes = candidates("fill light green\n", &err("ReferenceError", "light is not defined", Some(1)));
        assert_eq!(fixes.first().map(|f| f.new_code.as_str()), Some("fill lightgreen\n"));
        // Not in the arguments of other commands.
        let fixes = candidates("write neon blue\n", &err("ReferenceError", "neon is not defined", Some(1)));
        assert!(fixes.iter().all(|f| f.new_code != "write blue\n"));
    }

    #[test]
    fn a_slip_in_a_short_command_becomes_the_common_command() {
        for (code, name, fixed) in [("en purple\n", "en", "pen purple\n"), ("et 10\n", "et", "rt 10\n")] {
            let fixes = candidates(code, &err("ReferenceError", &format!("{name} is not defined"), Some(1)));
            assert_eq!(fixes.first().map(|f| f.new_code.as_str()), Some(fixed), "{code:?}");
        }
        assert!(COMMON_COMMANDS.iter().all(|c| names::turtle_functions().contains(c)));
    }

    #[test]
    fn a_color_argument_gets_colors_not_commands() {
        let fixes = candidates("pen clear\nfd 50\n", &err("ReferenceError", "clear is not defined", Some(1)));
        let codes: Vec<&str> = fixes.iter().map(|f| f.new_code.as_str()).collect();
        assert_eq!(codes.first(), Some(&"pen transparent\nfd 50\n"), "{codes:?}");
        assert!(fixes.iter().all(|f| f.rule != Rule::NearestCommand), "{codes:?}");
        // Elsewhere a command is still offered.
        let fixes = candidates("drawon s\n", &err("ReferenceError", "s is not defined", Some(1)));
        assert!(fixes.iter().any(|f| f.rule == Rule::NearestCommand));
    }

    #[test]
    fn misspelled_command_in_statement_position_suggests_a_command_first() {
        let fixes = candidates("pen red\nmoevto 10, 10\n", &err("ReferenceError", "moevto is not defined", Some(2)));
        let first = fixes.first().expect("a fix");
        assert_eq!((first.rule, first.new_code.as_str()), (Rule::NearestCommand, "pen red\nmoveto 10, 10\n"));
        // Given a color, a command that takes one.
        let fixes = candidates("ot black, 35\n", &err("ReferenceError", "ot is not defined", Some(1)));
        assert_eq!(fixes.first().map(|f| f.new_code.as_str()), Some("dot black, 35\n"));
        // Among colors equally close, the commoner.
        let fixes = candidates("pen gren, 3\n", &err("ReferenceError", "gren is not defined", Some(1)));
        assert_eq!(fixes.first().map(|f| f.new_code.as_str()), Some("pen green, 3\n"));
    }

    #[test]
    fn syntax_error_with_two_numbers_gets_a_comma() {
        let fixes = candidates("pen red\nmoveto 100 100\n", &err("SyntaxError", "unexpected 100", Some(2)));
        assert_eq!(fixes.first().map(|f| f.new_code.as_str()), Some("pen red\nmoveto 100, 100\n"));
        assert!(fixes.first().is_some_and(|f| f.title.contains("line 2")));
    }

    #[test]
    fn minus_without_space_is_subtraction() {
        let fixes = candidates("s = 5\ns = s -1\n", &err("TypeError", "s is not a function", Some(2)));
        assert_eq!(fixes.first().map(|f| f.new_code.as_str()), Some("s = 5\ns = s - 1\n"));
    }

    #[test]
    fn own_names_are_corrected_and_short_names_completed() {
        let code = "starburst = (n) -> fd n\nstarburst 3\nstarb\n";
        let fixes = candidates(code, &err("ReferenceError", "starb is not defined", Some(3)));
        assert_eq!(fixes.first().map(|f| (f.rule, f.new_code.as_str())), Some((Rule::OwnName, "starburst = (n) -> fd n\nstarburst 3\nstarburst\n")));
        let code = "jellyfish = -> fd 1\njelyfish()\n";
        let fixes = candidates(code, &err("ReferenceError", "jelyfish is not defined", Some(2)));
        assert_eq!(fixes.first().map(|f| f.new_code.as_str()), Some("jellyfish = -> fd 1\njellyfish()\n"));
        // A color cut short, too far from every color by edit distance.
        let fixes = candidates("speed 10\npen dark green, 10\nbox (light blue), 100\n", &err("ReferenceError", "dark is not defined", Some(2)));
        assert_eq!(fixes[0].new_code, "speed 10\npen darkgreen, 10\nbox (light blue), 100\n");
        assert_eq!(fixes[0].title, "Write `dark green` on line 2 as one color name: `darkgreen`");
        let fixes = candidates("box (light blue), 100\n", &err("ReferenceError", "light is not defined", Some(1)));
        assert_eq!(fixes[0].new_code, "box (lightblue), 100\n");
        assert!(candidates("dark = 3\nfd dark stuff\n", &err("ReferenceError", "dark is not defined", Some(2))).iter().all(|f| !f.title.contains("one color")));
        let fixes = candidates("pen gr\n", &err("ReferenceError", "gr is not defined", Some(1)));
        let codes: Vec<&str> = fixes.iter().map(|f| f.new_code.as_str()).collect();
        assert!(codes.contains(&"pen gray\n") || codes.contains(&"pen green\n"), "{codes:?}");
    }

    #[test]
    fn a_command_written_as_two_words_is_joined() {
        let fixes = candidates("pen red\njump to 100, 50\n", &err("ReferenceError", "to is not defined", Some(2)));
        assert_eq!(fixes[0].new_code, "pen red\njumpto 100, 50\n");
        assert_eq!(fixes[0].title, "Write `jump to` on line 2 as one command: `jumpto`");
        let fixes = candidates("move to 10, 20\n", &err("ReferenceError", "move is not defined", Some(1)));
        assert_eq!(fixes[0].new_code, "moveto 10, 20\n");
        // Inside a string, or not next to the unknown word: no join.
        assert!(candidates("label 'jump to'\nfd to\n", &err("ReferenceError", "to is not defined", Some(2))).iter().all(|f| !f.title.contains("one command")));
        assert_eq!(word_spans("fd 10; rt x2 # y"), vec![(0, "fd"), (7, "rt"), (10, "x2")]);
    }

    #[test]
    fn unrelated_errors_get_no_candidates() {
        assert!(candidates("fd 1\n", &err("ReferenceError", "qqqqqqqqqqqq is not defined", Some(1))).is_empty());
        assert!(candidates("fd 1\n", &err("RangeError", "too deep", Some(1))).is_empty());
    }
}
