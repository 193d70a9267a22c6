//! The training-data scrub of the paper's §A.2, applied to every program
//! before it reaches a tokenizer or a dataset:
//!
//! - person names (from a published names list) in comments and string
//!   literals become `<UNK>`;
//! - URLs become `<URL>`;
//! - string literals of only one or two words become `<UNK>`;
//! - traces whose title contains `name` are dropped (students type their names there).
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

use pencil_core::model::tokenizer::{UNK, URL};
use pencil_core::Trace;
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
        let dict = read(dictionary.to_path_buf())?;
        let common = dict
            .lines()
            .filter(|w| w.chars().next().is_some_and(|c| c.is_ascii_lowercase()))
            .map(|w| w.trim_end_matches("'s").to_string())
            .collect();
        Ok(Self::from_lists(first, last, common))
    }

    /// Builds lists from explicit sets (adds colors and month and day names to `common`).
    pub fn from_lists(first: HashSet<String>, last: HashSet<String>, mut common: HashSet<String>) -> Self {
        common.extend(pencil_core::metrics::program_counts::COLORS.iter().cloned());
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
/// in the current directory or one of its ancestors.
pub fn locate_names_dir(explicit: Option<&Path>) -> PathBuf {
    if let Some(p) = explicit {
        return p.to_path_buf();
    }
    if let Some(p) = std::env::var_os(NAMES_DIR_ENV) {
        return PathBuf::from(p);
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    cwd.ancestors()
        .map(|d| d.join(".deps/names"))
        .find(|d| d.is_dir())
        .unwrap_or_else(|| PathBuf::from(".deps/names"))
}

/// How many replacements each rule made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScrubCounts {
    /// Person names replaced by `<UNK>`.
    pub names: usize,
    /// URLs replaced by `<URL>`.
    pub urls: usize,
    /// One- or two-word string literals replaced by `<UNK>`.
    pub short_strings: usize,
    /// Traces dropped because their title contains `name`.
    pub dropped_name_titles: usize,
}

impl ScrubCounts {
    /// Adds another tally.
    pub fn add(&mut self, o: &ScrubCounts) {
        self.names += o.names;
        self.urls += o.urls;
        self.short_strings += o.short_strings;
        self.dropped_name_titles += o.dropped_name_titles;
    }
}

static URL_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"(?i)\b(?:https?://|www\.)[^\s"'<>()\[\]]+"#).unwrap_or_else(|_| unreachable!()));
static WORD_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"[A-Za-z]+").unwrap_or_else(|_| unreachable!()));

/// Applies the scrub.
#[derive(Debug, Clone)]
pub struct Scrubber {
    lists: NameLists,
}

impl Scrubber {
    /// A scrubber with these lists.
    pub fn new(lists: NameLists) -> Self {
        Scrubber { lists }
    }

    /// Scrubs a corpus: drops traces whose title contains `name`, scrubs every
    /// program of the others.
    pub fn scrub_traces(&self, traces: Vec<Trace>, counts: &mut ScrubCounts) -> Vec<Trace> {
        traces
            .into_iter()
            .filter_map(|mut t| {
                if t.title.to_lowercase().contains("name") {
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
        let mut out = String::with_capacity(code.len());
        for line in code.split_inclusive('\n') {
            self.scrub_line(line, &mut out, counts);
        }
        out
    }

    /// Walks one line as CoffeeScript's lexer would for strings and comments.
    fn scrub_line(&self, line: &str, out: &mut String, counts: &mut ScrubCounts) {
        let mut rest = line;
        while !rest.is_empty() {
            let Some(i) = rest.find(['"', '\'', '#']) else {
                out.push_str(rest);
                return;
            };
            out.push_str(&rest[..i]);
            let c = rest.as_bytes()[i];
            if c == b'#' {
                let (comment, newline) = match rest[i..].strip_suffix('\n') {
                    Some(body) => (body, "\n"),
                    None => (&rest[i..], ""),
                };
                out.push_str(&self.scrub_names(comment, counts));
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
                        out.push_str(&self.scrub_names(body, counts));
                    }
                    out.push(quote);
                    rest = &rest[body_start + len + 1..];
                }
                None => {
                    // An unterminated string (or a multi-line one): scrub names, keep the rest.
                    out.push_str(&self.scrub_names(&rest[i..], counts));
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
        let cap: Vec<bool> = words.iter().map(|w| is_capitalised(w)).collect();
        let first: Vec<bool> = (0..n).map(|i| cap[i] && self.lists.first.contains(&lower[i])).collect();
        let last: Vec<bool> = (0..n).map(|i| cap[i] && self.lists.last.contains(&lower[i])).collect();
        let common: Vec<bool> = lower.iter().map(|w| self.lists.common.contains(w)).collect();
        let name_like: Vec<bool> = (0..n).map(|i| cap[i] && (first[i] || last[i] || !common[i])).collect();
        // A first name that is no common word is a name on its own, capitalised
        // or not ("#haylee").
        let mut is_name: Vec<bool> =
            (0..n).map(|i| words[i].len() >= 3 && self.lists.first.contains(&lower[i]) && !common[i]).collect();
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
    pencil_core::metrics::program_counts::COLORS.contains(&b)
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
        let kept = scrubber().scrub_traces(vec![t("name"), t("myname2"), t("house")], &mut c);
        assert_eq!(kept.len(), 1);
        assert_eq!(c.dropped_name_titles, 2);
    }
}
