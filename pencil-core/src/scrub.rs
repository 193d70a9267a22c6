//! De-identification of program text: the training-data scrub of the paper's
//! §A.2, and more, applied to every program before it reaches a tokenizer, a
//! dataset or an export:
//!
//! - person names (from a published names list, and from a class roster when
//!   one is given) in comments and string literals become `<UNK>`; roster
//!   names are also taken out of code;
//! - URLs become `<URL>`; e-mail addresses, phone numbers and street addresses
//!   in comments and strings become `<UNK>` (not in the paper);
//! - string literals of only one or two words become `<UNK>`;
//! - traces whose title contains `name`, a roster name or a person name are
//!   dropped (students type their names there).
//!
//! A name is recognised conservatively, since code is full of words that are
//! also first names (`Star`, `Grace`, `Will`): a capitalised word (or camel-case
//! part) is a name when it is a first name that is not a common English word,
//! or any first name followed by a last name or another name, and a
//! capitalised non-word right after a name is taken as its surname
//! (`#Lindsey Dorse`, `#HannahDeAtley`).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use crate::model::tokenizer::{UNK, URL};
use crate::Trace;
use regex::Regex;
use serde::{Deserialize, Serialize};

/// The first-name and last-name lists could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ScrubError {
    /// A list file is missing or unreadable.
    #[error("cannot read {path}: {source}; run scripts/setup.sh (it installs the names lists into .deps/names and Debian's wamerican) or set PENCIL_NAMES_DIR")]
    Missing {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Environment variable naming the folder with `dist.male.first`, `dist.female.first`, `dist.all.last`.
pub const NAMES_DIR_ENV: &str = "PENCIL_NAMES_DIR";
/// Common English words (Debian `wamerican`).
pub const DICTIONARY: &str = "/usr/share/dict/american-english";
/// The dictionary's file name inside a names folder, which [`NameLists::load`] prefers to [`DICTIONARY`].
pub const DICTIONARY_FILE: &str = "american-english";

/// The word lists the scrub uses (all lower case).
#[derive(Debug, Clone, Default)]
pub struct NameLists {
    /// First names.
    pub first: HashSet<String>,
    /// Last names.
    pub last: HashSet<String>,
    /// Common words: dictionary entries written in lower case, plus colors and month names.
    pub common: HashSet<String>,
}

impl NameLists {
    /// Loads the Census name lists from `names_dir` and the word list from `dictionary`.
    pub fn load(names_dir: &Path, dictionary: &Path) -> Result<Self, ScrubError> {
        let read = |path: PathBuf| std::fs::read_to_string(&path).map_err(|source| ScrubError::Missing { path, source });
        let first_word = |text: &str| -> Vec<String> {
            text.lines().filter_map(|l| l.split_whitespace().next()).map(str::to_lowercase).collect()
        };
        let mut first = HashSet::new();
        for f in ["dist.male.first", "dist.female.first"] {
            first.extend(first_word(&read(names_dir.join(f))?));
        }
        let last = first_word(&read(names_dir.join("dist.all.last"))?).into_iter().collect();
        // A packaged server carries its dictionary with the name lists; a
        // machine without Debian's wamerican has no system one.
        let beside = names_dir.join(DICTIONARY_FILE);
        let dict = read(if beside.is_file() { beside } else { dictionary.to_path_buf() })?;
        let common = dict
            .lines()
            .filter(|w| w.chars().next().is_some_and(|c| c.is_ascii_lowercase()))
            .map(|w| w.trim_end_matches("'s").to_string())
            .collect();
        Ok(Self::from_lists(first, last, common))
    }

    /// Builds lists from explicit sets (adds colors and month and day names to `common`).
    pub fn from_lists(first: HashSet<String>, last: HashSet<String>, mut common: HashSet<String>) -> Self {
        common.extend(crate::metrics::program_counts::COLORS.iter().cloned());
        common.extend(
            [
                "january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
                "november", "december", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
            ]
            .map(String::from),
        );
        NameLists { first, last, common }
    }
}

/// Finds the names folder: `explicit`, else `$PENCIL_NAMES_DIR`, else `.deps/names`
/// in the current directory or one of its ancestors, else `names/` beside the
/// executable (where an editor package puts it next to the server) or
/// `.deps/names` above the executable (a build in this source tree).
pub fn locate_names_dir(explicit: Option<&Path>) -> PathBuf {
    if let Some(p) = explicit {
        return p.to_path_buf();
    }
    if let Some(p) = std::env::var_os(NAMES_DIR_ENV) {
        return PathBuf::from(p);
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    let exe = std::env::current_exe().ok();
    search_names_dir(&cwd, exe.as_deref()).unwrap_or_else(|| PathBuf::from(".deps/names"))
}

/// The first names folder found from `cwd` and the executable `exe` (see [`locate_names_dir`]).
fn search_names_dir(cwd: &Path, exe: Option<&Path>) -> Option<PathBuf> {
    if let Some(found) = cwd.ancestors().map(|d| d.join(".deps/names")).find(|d| d.is_dir()) {
        return Some(found);
    }
    let exe_dir = exe?.parent()?;
    let beside = exe_dir.join("names");
    if beside.is_dir() {
        return Some(beside);
    }
    exe_dir.ancestors().map(|d| d.join(".deps/names")).find(|d| d.is_dir())
}

/// How many replacements each rule made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScrubCounts {
    /// Person names (from the published lists) replaced by `<UNK>`.
    pub names: usize,
    /// URLs replaced by `<URL>`.
    pub urls: usize,
    /// One- or two-word string literals replaced by `<UNK>`.
    pub short_strings: usize,
    /// Traces dropped because their title contains `name` or a person's name.
    pub dropped_name_titles: usize,
    /// E-mail addresses replaced by `<UNK>`.
    #[serde(default)]
    pub emails: usize,
    /// Phone numbers replaced by `<UNK>`.
    #[serde(default)]
    pub phones: usize,
    /// Street addresses replaced by `<UNK>`.
    #[serde(default)]
    pub addresses: usize,
    /// Names from the class roster replaced by `<UNK>`.
    #[serde(default)]
    pub roster_names: usize,
}

impl ScrubCounts {
    /// Adds another tally.
    pub fn add(&mut self, o: &ScrubCounts) {
        self.names += o.names;
        self.urls += o.urls;
        self.short_strings += o.short_strings;
        self.dropped_name_titles += o.dropped_name_titles;
        self.emails += o.emails;
        self.phones += o.phones;
        self.addresses += o.addresses;
        self.roster_names += o.roster_names;
    }

    /// Replacements made in program text (every rule but dropped titles).
    pub fn replacements(&self) -> usize {
        self.names + self.urls + self.short_strings + self.emails + self.phones + self.addresses + self.roster_names
    }
}

/// Which rules run: the paper's alone (to measure what the others add), or all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Rules {
    /// Names, URLs, short strings, `name` titles (§A.2).
    Paper,
    /// The paper's, plus e-mail addresses, phone numbers, street addresses, the
    /// roster, and titles that contain a name.
    #[default]
    All,
}

/// The names of a class (a CSV file with a `name` column, one person per row):
/// each name's words of two letters or more, lower case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Roster {
    parts: HashSet<String>,
}

/// A roster file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RosterError {
    /// Unreadable.
    #[error("cannot read the roster {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// No `name` column in the header.
    #[error("the roster {0} has no `name` column in its first line")]
    NoNameColumn(PathBuf),
}

impl Roster {
    /// Reads a CSV roster (header line with a `name` column; quoted fields allowed).
    pub fn load(path: &Path) -> Result<Roster, RosterError> {
        let text = std::fs::read_to_string(path).map_err(|source| RosterError::Io { path: path.to_path_buf(), source })?;
        Roster::from_csv(&text).ok_or_else(|| RosterError::NoNameColumn(path.to_path_buf()))
    }

    /// Parses CSV text; `None` without a `name` column.
    pub fn from_csv(text: &str) -> Option<Roster> {
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let header = csv_fields(lines.next()?.trim_start_matches('\u{feff}'));
        let column = header.iter().position(|h| h.trim().eq_ignore_ascii_case("name"))?;
        Some(Roster::from_names(lines.filter_map(|l| csv_fields(l).into_iter().nth(column))))
    }

    /// A roster of these full names.
    pub fn from_names<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> Roster {
        let mut parts = HashSet::new();
        for name in names {
            for w in WORD_RE.find_iter(name.as_ref()) {
                if w.as_str().len() >= 2 {
                    parts.insert(w.as_str().to_lowercase());
                }
            }
        }
        Roster { parts }
    }

    /// The same roster with these full names added.
    pub fn with_names<S: AsRef<str>>(mut self, names: impl IntoIterator<Item = S>) -> Roster {
        self.parts.extend(Roster::from_names(names).parts);
        self
    }

    /// Whether nobody is on it.
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    fn contains(&self, word: &str) -> bool {
        !self.parts.is_empty() && self.parts.contains(&word.to_lowercase())
    }
}

/// Fields of one CSV line (double quotes, doubled quotes inside).
fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                if let Some(f) = fields.last_mut() {
                    f.push('"');
                }
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(String::new()),
            _ => {
                if let Some(f) = fields.last_mut() {
                    f.push(c);
                }
            }
        }
    }
    fields
}

static URL_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"(?i)\b(?:https?://|www\.)[^\s"'<>()\[\]]+"#).unwrap_or_else(|_| unreachable!()));
static WORD_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"[A-Za-z]+").unwrap_or_else(|_| unreachable!()));
static EMAIL_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b[a-z0-9._%+-]+\s?(?:@|\(at\)|\[at\])\s?[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}\b").unwrap_or_else(|_| unreachable!())
});
// North American numbers with separators or parentheses, 7-digit local numbers with
// a dash, and international numbers after a `+`. Bare digit runs are left alone:
// programs are full of numbers.
static PHONE_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?:\+\d{1,3}[\s.-]?)?(?:\(\d{3}\)\s?|\b\d{3}[\s.-])\d{3}[\s.-]\d{4}\b",
        r"|\+\d{1,3}(?:[\s.-]\d{2,4}){2,4}\b",
        r"|\b\d{3}-\d{4}\b",
    ))
    .unwrap_or_else(|_| unreachable!())
});
// A house number, one to three words, and a street type: spelled out in any case,
// abbreviated only after capitalised words ("12 Elm St", not "turn 90 the other way").
static ADDRESS_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"\b\d{1,6}\s+(?:[A-Za-z][\w'.-]*\s+){1,3}(?i:street|avenue|road|lane|drive|boulevard|terrace|parkway|highway)\b",
        r"|\b\d{1,6}\s+(?:[A-Z][\w'.-]*\s+){1,3}(?:St|Ave|Rd|Blvd|Ln|Dr|Ct|Way|Pl|Cir|Court|Place|Circle|Pkwy|Hwy|Terr?)\b\.?",
    ))
    .unwrap_or_else(|_| unreachable!())
});

/// Applies the scrub.
#[derive(Debug, Clone)]
pub struct Scrubber {
    lists: NameLists,
    roster: Roster,
    rules: Rules,
}

impl Scrubber {
    /// A scrubber with these lists and every rule.
    pub fn new(lists: NameLists) -> Self {
        Scrubber { lists, roster: Roster::default(), rules: Rules::All }
    }

    /// The same, also removing the names on `roster`.
    pub fn with_roster(mut self, roster: Roster) -> Self {
        self.roster = roster;
        self
    }

    /// The same, with only `rules`.
    pub fn with_rules(mut self, rules: Rules) -> Self {
        self.rules = rules;
        self
    }

    /// Whether a trace with this title is dropped: students type their names there.
    pub fn drops_title(&self, title: &str) -> bool {
        if title.to_lowercase().contains("name") {
            return true;
        }
        if self.rules == Rules::Paper {
            return false;
        }
        if WORD_RE.find_iter(title).flat_map(|w| camel_parts(w.as_str()).into_iter().map(move |(s, e)| &w.as_str()[s..e])).any(|w| self.roster.contains(w)) {
            return true;
        }
        let mut found = ScrubCounts::default();
        self.scrub_names(title, &mut found);
        found.names > 0
    }

    /// Scrubs a corpus: drops traces whose title [`Self::drops_title`], scrubs every
    /// program of the others.
    pub fn scrub_traces(&self, traces: Vec<Trace>, counts: &mut ScrubCounts) -> Vec<Trace> {
        traces
            .into_iter()
            .filter_map(|mut t| {
                if self.drops_title(&t.title) {
                    counts.dropped_name_titles += 1;
                    return None;
                }
                for p in &mut t.programs {
                    p.code = self.scrub_program(&p.code, counts);
                }
                Some(t)
            })
            .collect()
    }

    /// Scrubs one program's text.
    pub fn scrub_program(&self, code: &str, counts: &mut ScrubCounts) -> String {
        let code = URL_RE.replace_all(code, |_: &regex::Captures| {
            counts.urls += 1;
            URL
        });
        let code = match self.rules {
            Rules::Paper => code,
            Rules::All => std::borrow::Cow::Owned(
                EMAIL_RE
                    .replace_all(&code, |_: &regex::Captures| {
                        counts.emails += 1;
                        UNK
                    })
                    .into_owned(),
            ),
        };
        let mut out = String::with_capacity(code.len());
        for line in code.split_inclusive('\n') {
            self.scrub_line(line, &mut out, counts);
        }
        out
    }

    /// Code outside strings and comments: only roster names are taken out of it.
    fn scrub_code(&self, code: &str, out: &mut String, counts: &mut ScrubCounts) {
        if self.roster.is_empty() || self.rules == Rules::Paper {
            out.push_str(code);
            return;
        }
        out.push_str(&self.scrub_roster(code, counts));
    }

    /// Replaces roster names (whole words or camel-case parts, any case).
    fn scrub_roster(&self, text: &str, counts: &mut ScrubCounts) -> String {
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for m in WORD_RE.find_iter(text) {
            for (s, e) in camel_parts(m.as_str()) {
                let (s, e) = (m.start() + s, m.start() + e);
                let marker = matches!(&text[s..e], "UNK" | "URL") && text[..s].ends_with('<');
                if !marker && self.roster.contains(&text[s..e]) {
                    out.push_str(&text[at..s]);
                    out.push_str(UNK);
                    counts.roster_names += 1;
                    at = e;
                }
            }
        }
        out.push_str(&text[at..]);
        out
    }

    /// Free text (a comment or a string's content): every rule for text.
    fn scrub_text(&self, text: &str, counts: &mut ScrubCounts) -> String {
        if self.rules == Rules::Paper {
            return self.scrub_names(text, counts);
        }
        let text = PHONE_RE.replace_all(text, |_: &regex::Captures| {
            counts.phones += 1;
            UNK
        });
        let text = ADDRESS_RE.replace_all(&text, |_: &regex::Captures| {
            counts.addresses += 1;
            UNK
        });
        // Listed names first: the roster's marker must not split a pair they recognise.
        let text = self.scrub_names(&text, counts);
        self.scrub_roster(&text, counts)
    }

    /// Walks one line as CoffeeScript's lexer would for strings and comments.
    fn scrub_line(&self, line: &str, out: &mut String, counts: &mut ScrubCounts) {
        let mut rest = line;
        while !rest.is_empty() {
            let Some(i) = rest.find(['"', '\'', '#']) else {
                self.scrub_code(rest, out, counts);
                return;
            };
            self.scrub_code(&rest[..i], out, counts);
            let c = rest.as_bytes()[i];
            if c == b'#' {
                let (comment, newline) = match rest[i..].strip_suffix('\n') {
                    Some(body) => (body, "\n"),
                    None => (&rest[i..], ""),
                };
                out.push_str(&self.scrub_text(comment, counts));
                out.push_str(newline);
                return;
            }
            let quote = c as char;
            let body_start = i + 1;
            match string_end(&rest[body_start..], quote) {
                Some(len) => {
                    let body = &rest[body_start..body_start + len];
                    out.push(quote);
                    if is_short_literal(body) && !is_color(body) {
                        counts.short_strings += 1;
                        out.push_str(UNK);
                    } else {
                        out.push_str(&self.scrub_text(body, counts));
                    }
                    out.push(quote);
                    rest = &rest[body_start + len + 1..];
                }
                None => {
                    // An unterminated string (or a multi-line one): scrub names, keep the rest.
                    out.push_str(&self.scrub_text(&rest[i..], counts));
                    return;
                }
            }
        }
    }

    /// Replaces person names in free text (a comment or a string's content).
    pub fn scrub_names(&self, text: &str, counts: &mut ScrubCounts) -> String {
        // Parts: camel-case pieces of each word, with byte ranges and whether
        // only spaces separate them from the previous part.
        let mut parts: Vec<(usize, usize, bool)> = Vec::new();
        // Parts separated only by a short comma or period run ("Hannah,Loukas").
        let mut loose: Vec<bool> = Vec::new();
        let mut prev_end = 0;
        for m in WORD_RE.find_iter(text) {
            let sep = &text[prev_end..m.start()];
            let adjacent = parts.is_empty() || sep.chars().all(|c| c == ' ' || c == '-');
            let near = adjacent || (sep.len() <= 3 && sep.chars().all(|c| matches!(c, ' ' | ',' | '.' | '-')));
            for (k, (s, e)) in camel_parts(m.as_str()).into_iter().enumerate() {
                parts.push((m.start() + s, m.start() + e, k > 0 || adjacent));
                loose.push(k > 0 || near);
            }
            prev_end = m.end();
        }
        let words: Vec<&str> = parts.iter().map(|&(s, e, _)| &text[s..e]).collect();
        let n = words.len();
        let lower: Vec<String> = words.iter().map(|w| w.to_lowercase()).collect();
        // `<UNK>` and `<URL>` left by an earlier rule are markers, not names.
        let marker = |i: usize| matches!(words[i], "UNK" | "URL") && text[..parts[i].0].ends_with('<');
        let cap: Vec<bool> = (0..words.len()).map(|i| is_capitalised(words[i]) && !marker(i)).collect();
        let first: Vec<bool> = (0..n).map(|i| cap[i] && self.lists.first.contains(&lower[i])).collect();
        let last: Vec<bool> = (0..n).map(|i| cap[i] && self.lists.last.contains(&lower[i])).collect();
        let common: Vec<bool> = lower.iter().map(|w| self.lists.common.contains(w)).collect();
        let name_like: Vec<bool> = (0..n).map(|i| cap[i] && (first[i] || last[i] || !common[i])).collect();
        // A first name that is no common word is a name on its own, capitalised
        // or not ("#haylee").
        let mut is_name: Vec<bool> =
            (0..n).map(|i| words[i].len() >= 3 && self.lists.first.contains(&lower[i]) && !common[i]).collect();
        // Beyond the paper: a first name that is also a word ("Bill", "Cherry") is a
        // name where students sign their work: after "by", "from", "I am", "name",
        // "dear"..., or with a possessive ("Peter's car").
        if self.rules == Rules::All {
            for i in 0..n {
                if words[i].len() < 2 || !self.lists.first.contains(&lower[i]) {
                    continue;
                }
                let prev = |k: usize| i.checked_sub(k).map(|j| lower[j].as_str());
                let signed = matches!(prev(1), Some("by" | "from" | "author" | "dear" | "love" | "sincerely" | "student" | "named" | "called"));
                let introduced = matches!(prev(1), Some("am" | "im" | "name" | "names"))
                    || (prev(1) == Some("m") && prev(2) == Some("i"))
                    || (prev(1) == Some("is") && prev(2) == Some("name"));
                let possessive = text[parts[i].1..].starts_with("'s") || text[parts[i].1..].starts_with("\u{2019}s");
                if introduced || (cap[i] && (signed || possessive)) {
                    is_name[i] = true;
                }
            }
        }
        // "Firstname Lastname": a first name then a last name, or two name-like
        // words at least one of which is no common word and one of which is listed.
        for i in 0..n.saturating_sub(1) {
            let j = i + 1;
            if !parts[j].2 || !name_like[i] || !name_like[j] {
                continue;
            }
            let listed = first[i] || first[j] || last[i] || last[j];
            let both_listed = (first[i] || last[i]) && (first[j] || last[j]) && (first[i] || first[j]);
            if both_listed || ((!common[i] || !common[j]) && listed) {
                is_name[i] = true;
                is_name[j] = true;
            }
        }
        // Grow runs of names over adjacent name-like words ("Elsy Kate Futterer").
        let mut changed = true;
        while changed {
            changed = false;
            for i in 0..n {
                if is_name[i] || !name_like[i] || (common[i] && !last[i]) {
                    continue;
                }
                // Over commas only for words that are no common word at all.
                let link = |k: usize| parts[k].2 || (loose[k] && !common[i]);
                let left = i > 0 && is_name[i - 1] && link(i);
                let right = i + 1 < n && is_name[i + 1] && link(i + 1);
                if left || right {
                    is_name[i] = true;
                    changed = true;
                }
            }
        }
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for (i, &(s, e, _)) in parts.iter().enumerate() {
            if !is_name[i] {
                continue;
            }
            let merge = i > 0 && is_name[i - 1] && parts[i - 1].1 == s;
            out.push_str(&text[at..s]);
            if !merge {
                out.push_str(UNK);
                counts.names += 1;
            }
            at = e;
        }
        out.push_str(&text[at..]);
        out
    }
}

/// Length of a string literal's body up to its closing quote, honouring backslashes.
fn string_end(s: &str, quote: char) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            '\n' => return None,
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            _ if c == quote => return Some(i),
            _ => {}
        }
    }
    None
}

/// One or two words with at least one letter, no interpolation.
fn is_short_literal(body: &str) -> bool {
    let n = body.split_whitespace().count();
    (1..=2).contains(&n) && body.chars().any(char::is_alphabetic) && !body.contains("#{")
}

/// Color strings (`pen "red"`) are code, not text: the short-literal rule spares them.
fn is_color(body: &str) -> bool {
    let b = body.trim().to_lowercase();
    crate::metrics::program_counts::COLORS.contains(&b)
}

fn is_capitalised(w: &str) -> bool {
    w.len() >= 2 && w.chars().next().is_some_and(|c| c.is_ascii_uppercase())
}

/// Byte ranges of the camel-case parts of an ASCII word (`HannahDeAtley` ->
/// `Hannah`, `De`, `Atley`; `ABC` stays whole).
fn camel_parts(w: &str) -> Vec<(usize, usize)> {
    let b = w.as_bytes();
    let mut parts = Vec::new();
    let mut start = 0;
    for i in 1..b.len() {
        if b[i].is_ascii_uppercase() && b[i - 1].is_ascii_lowercase() {
            parts.push((start, i));
            start = i;
        }
    }
    parts.push((start, b.len()));
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dictionary_packaged_with_the_name_lists_is_preferred() {
        let tmp = tempfile::tempdir().expect("tempdir");
        for (f, text) in [("dist.male.first", "JAMES 3.318\n"), ("dist.female.first", "MARY 2.629\n"), ("dist.all.last", "SMITH 1.006\n")] {
            std::fs::write(tmp.path().join(f), text).expect("write");
        }
        let nowhere = tmp.path().join("no-such-dictionary");
        assert!(NameLists::load(tmp.path(), &nowhere).is_err(), "no dictionary anywhere: an error, never an empty list");
        std::fs::write(tmp.path().join(DICTIONARY_FILE), "apple\nturtle's\nBoston\n").expect("write");
        let lists = NameLists::load(tmp.path(), &nowhere).expect("loads");
        assert!(lists.common.contains("apple") && lists.common.contains("turtle") && !lists.common.contains("boston"));
        assert!(lists.first.contains("james") && lists.last.contains("smith"));
    }

    #[test]
    fn the_names_folder_is_found_beside_an_installed_server() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let cwd = tmp.path().join("somewhere/else");
        std::fs::create_dir_all(&cwd).expect("cwd");
        let ext = tmp.path().join("extension/server");
        std::fs::create_dir_all(ext.join("names")).expect("names");
        let exe = ext.join("pencil-lsp");
        assert_eq!(search_names_dir(&cwd, Some(&exe)), Some(ext.join("names")));
        assert_eq!(search_names_dir(&cwd, None), None);
        let tree = tmp.path().join("repo");
        std::fs::create_dir_all(tree.join(".deps/names")).expect("deps");
        std::fs::create_dir_all(tree.join("target/debug")).expect("target");
        assert_eq!(search_names_dir(&cwd, Some(&tree.join("target/debug/pencil-lsp"))), Some(tree.join(".deps/names")));
        assert_eq!(search_names_dir(&tree, Some(&exe)), Some(tree.join(".deps/names")), "the working tree's folder comes first");
    }

    fn scrubber() -> Scrubber {
        let set = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<HashSet<_>>();
        Scrubber::new(NameLists::from_lists(
            set(&["lindsey", "hannah", "cooper", "star", "grace", "dot", "ruby", "april"]),
            set(&["clark", "row", "smith"]),
            set(&["star", "grace", "dot", "cooper", "go", "hello", "house", "the", "draw", "a", "gold"]),
        ))
    }

    fn check(input: &str, expected: &str, names: usize, strings: usize, urls: usize) {
        let mut c = ScrubCounts::default();
        assert_eq!(scrubber().scrub_program(input, &mut c), expected);
        assert_eq!((c.names, c.short_strings, c.urls), (names, strings, urls), "{input:?}");
    }

    #[test]
    fn scrubs_names_in_comments() {
        check("#Lindsey Dorse\npen red\n", "#<UNK> <UNK>\npen red\n", 2, 0, 0);
        check("#HannahDeAtley\n", "#<UNK>\n", 1, 0, 0);
        check("#Cooper Clark\nfd 100\n", "#<UNK> <UNK>\nfd 100\n", 2, 0, 0);
        check("# Star\n#Grace\n", "# Star\n#Grace\n", 0, 0, 0);
        check("#Dot Row\n", "#<UNK> <UNK>\n", 2, 0, 0);
        check("#Jazmyne Hannah, 9, Tree\n", "#<UNK> <UNK>, 9, Tree\n", 2, 0, 0);
        check("#Gold Star\n", "#Gold Star\n", 0, 0, 0);
        check("#lindsey Smith\n", "#<UNK> <UNK>\n", 2, 0, 0);
        check("#Hannah Smith-Moore,Loukas, 9, Tree\n", "#<UNK> <UNK>-<UNK>,<UNK>, 9, Tree\n", 4, 0, 0);
        check("#April 12, 2022\n", "#April 12, 2022\n", 0, 0, 0);
        check("fd 10 # by Ruby Smith\n", "fd 10 # by <UNK> <UNK>\n", 2, 0, 0);
    }

    #[test]
    fn scrubs_strings_and_urls() {
        check("write \"Hello there\"\n", "write \"<UNK>\"\n", 0, 1, 0);
        check("write 'go'\n", "write '<UNK>'\n", 0, 1, 0);
        check("pen 'red'\n", "pen 'red'\n", 0, 0, 0);
        check("write \"I am Hannah and I draw a house\"\n", "write \"I am <UNK> and I draw a house\"\n", 1, 0, 0);
        check("write \"#{x} points\"\n", "write \"#{x} points\"\n", 0, 0, 0);
        check("# see https://pencilcode.net/edit/x\n", "# see <URL>\n", 0, 0, 1);
        check("label '' \n", "label '' \n", 0, 0, 0);
    }

    fn counts_of(s: &Scrubber, input: &str) -> (String, ScrubCounts) {
        let mut c = ScrubCounts::default();
        (s.scrub_program(input, &mut c), c)
    }

    #[test]
    fn scrubs_emails_phones_and_addresses_in_text_but_not_numbers_in_code() {
        let s = scrubber();
        let (out, c) = counts_of(&s, "# mail maya.l@school.org or call (555) 123-4567\nwrite \"I live at 42 Maple Street in town\"\n");
        assert_eq!(out, "# mail <UNK> or call <UNK>\nwrite \"I live at <UNK> in town\"\n");
        assert_eq!((c.emails, c.phones, c.addresses), (1, 1, 1));
        let (out, c) = counts_of(&s, "# +44 20 7946 0958, 555-0199, 12 Oak Ave.\n");
        assert_eq!(out, "# <UNK>, <UNK>, <UNK>\n");
        assert_eq!((c.phones, c.addresses), (2, 1));
        let code = "moveto 100, 200\nfd 555\n# turn 90 the other way\n# 3 big circles on the road\n";
        let (out, c) = counts_of(&s, code);
        assert_eq!(out, code);
        assert_eq!(c.replacements(), 0);
        let paper = scrubber().with_rules(Rules::Paper);
        let (out, _) = counts_of(&paper, "# call 555-123-4567\n");
        assert_eq!(out, "# call 555-123-4567\n", "the paper's rules alone leave phones");
    }

    #[test]
    fn roster_names_go_everywhere_even_in_code_and_common_words() {
        let roster = Roster::from_csv("id,name\n1,\"Grace Okafor\"\n2,Star Wu\n").expect("roster");
        let s = scrubber().with_roster(roster);
        let (out, c) = counts_of(&s, "# by Grace Okafor\ngraceTurtle = new Turtle\nwrite \"hi from star wu\"\n");
        assert_eq!(out, "# by <UNK> <UNK>\n<UNK>Turtle = new Turtle\nwrite \"hi from <UNK> <UNK>\"\n");
        assert_eq!(c.roster_names + c.names, 5, "{c:?}");
        assert!(Roster::from_csv("id,student\n1,x\n").is_none());
        assert!(s.drops_title("okafor house"));
    }

    #[test]
    fn markers_are_not_names() {
        let (out, c) = counts_of(&scrubber(), "# see https://x.org/a Smith\n");
        assert_eq!(out, "# see <URL> Smith\n");
        assert_eq!(c.names, 0);
    }

    #[test]
    fn drops_name_titles() {
        let t = |title: &str| Trace {
            student: "s".into(),
            title: title.into(),
            programs: vec![],
            eos: true,
            provenance: Default::default(),
        };
        let mut c = ScrubCounts::default();
        let kept = scrubber().scrub_traces(vec![t("name"), t("myname2"), t("house"), t("Lindsey Clark house")], &mut c);
        assert_eq!(kept.len(), 1);
        assert_eq!(c.dropped_name_titles, 3);
        let kept = scrubber().with_rules(Rules::Paper).scrub_traces(vec![t("Lindsey Clark house")], &mut c);
        assert_eq!(kept.len(), 1, "the paper drops only titles containing `name`");
    }
}
