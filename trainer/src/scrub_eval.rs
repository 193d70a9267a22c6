//! A labelled set for the scrub: public programs with realistic personal data
//! planted in comments and strings (names, e-mail addresses, phone numbers, URLs,
//! street addresses, roster names), and the same programs clean. Scores recall
//! (planted identifiers that no longer appear) and how many clean programs the
//! rules beyond the paper's change.

use std::collections::BTreeMap;

use pencil_core::model::rng::SplitMix64;
use pencil_core::scrub::{Roster, Rules, ScrubCounts, Scrubber};
use serde::Serialize;

/// Kinds of planted identifier.
pub const KINDS: [&str; 7] = ["full_name", "first_name", "email", "phone", "url", "address", "roster"];

/// Popular names in list order (the Census lists are sorted by frequency).
#[derive(Debug, Clone)]
pub struct NamePool {
    /// First names, capitalised.
    pub first: Vec<String>,
    /// Last names, capitalised.
    pub last: Vec<String>,
}

impl NamePool {
    /// The first `top` names of each Census list in `names_dir`.
    pub fn load(names_dir: &std::path::Path, top: usize) -> std::io::Result<NamePool> {
        let read = |f: &str| -> std::io::Result<Vec<String>> {
            Ok(std::fs::read_to_string(names_dir.join(f))?
                .lines()
                .filter_map(|l| l.split_whitespace().next())
                .take(top)
                .map(capitalise)
                .collect())
        };
        let mut first = read("dist.male.first")?;
        first.extend(read("dist.female.first")?);
        Ok(NamePool { first, last: read("dist.all.last")? })
    }
}

fn capitalise(w: &str) -> String {
    let w = w.to_lowercase();
    let mut c = w.chars();
    c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
}

/// One planted program.
#[derive(Debug, Clone, Serialize)]
pub struct Planted {
    /// What kind of identifier.
    pub kind: &'static str,
    /// The program with the identifier in it.
    pub code: String,
    /// The strings that must not survive the scrub (whole words for names).
    pub secrets: Vec<String>,
    /// Whether `secrets` are words (checked as whole words) or exact text.
    pub words: bool,
}

fn pick<'a>(rng: &mut SplitMix64, xs: &'a [String]) -> &'a str {
    &xs[rng.below(xs.len())]
}

fn pick_str<'a>(rng: &mut SplitMix64, xs: &[&'a str]) -> &'a str {
    xs[rng.below(xs.len())]
}

/// Plants one identifier of `kind` into `program` (a comment line at the top or the
/// end, a trailing comment, or a `write`/`label` string).
pub fn plant(rng: &mut SplitMix64, pool: &NamePool, roster: &[(String, String)], kind: &'static str, program: &str) -> Planted {
    let (f, l) = (pick(rng, &pool.first).to_string(), pick(rng, &pool.last).to_string());
    let (text, secrets, words) = match kind {
        "full_name" => {
            let t = pick_str(rng, &["by {F} {L}", "{F} {L}'s drawing", "Made by {F} {L}", "Name: {F} {L}", "{F} {L} period 3"]);
            (t.replace("{F}", &f).replace("{L}", &l), vec![f, l], true)
        }
        "first_name" => {
            let t = pick_str(rng, &["by {F}", "{F}'s car", "this is {F}", "hi i am {f}", "from {F} :)"]);
            (t.replace("{F}", &f).replace("{f}", &f.to_lowercase()), vec![f], true)
        }
        "email" => {
            let domain = pick_str(rng, &["gmail.com", "yahoo.com", "outlook.com", "icloud.com", "students.lincolnusd.org", "school.k12.ca.us"]);
            let e = format!("{}.{}{}@{domain}", f.to_lowercase(), l.to_lowercase(), rng.below(100));
            let t = pick_str(rng, &["email me: {e}", "contact {e}", "{e}"]);
            (t.replace("{e}", &e), vec![e], false)
        }
        "phone" => {
            let (a, b, c) = (200 + rng.below(800), 200 + rng.below(800), rng.below(10000));
            let p = match rng.below(5) {
                0 => format!("({a}) {b}-{c:04}"),
                1 => format!("{a}-{b}-{c:04}"),
                2 => format!("{a}.{b}.{c:04}"),
                3 => format!("+1 {a} {b} {c:04}"),
                _ => format!("{b}-{c:04}"),
            };
            let t = pick_str(rng, &["call me {p}", "my number is {p}", "phone {p}", "text {p} lol"]);
            (t.replace("{p}", &p), vec![p], false)
        }
        "url" => {
            let u = format!(
                "{}{}.{}/{}",
                pick_str(rng, &["https://", "http://", "https://www.", "www."]),
                l.to_lowercase(),
                pick_str(rng, &["com", "net", "org", "io"]),
                pick_str(rng, &["", "home", "pics/cat.png", "edit/car"])
            );
            let t = pick_str(rng, &["see {u}", "from {u}", "{u}"]);
            (t.replace("{u}", &u), vec![u], false)
        }
        "address" => {
            let street = if rng.below(2) == 0 { l.clone() } else { pick_str(rng, &["Maple", "Oak", "Main", "Elm", "Park", "Cedar", "Lake View"]).to_string() };
            let suffix = pick_str(rng, &["Street", "St", "Avenue", "Ave", "Road", "Rd", "Drive", "Dr", "Lane", "Court", "Way", "Blvd"]);
            let a = format!("{} {street} {suffix}", 1 + rng.below(9999));
            let t = pick_str(rng, &["I live at {a}", "home: {a}", "{a}"]);
            (t.replace("{a}", &a), vec![a], false)
        }
        _ => {
            let (rf, rl) = roster[rng.below(roster.len())].clone();
            let t = pick_str(rng, &["by {F} {L}", "{F}'s house", "hi {f}", "{F} and me"]);
            let text = t.replace("{F}", &rf).replace("{L}", &rl).replace("{f}", &rf.to_lowercase());
            let secrets = if t.contains("{L}") { vec![rf, rl] } else { vec![rf] };
            (text, secrets, true)
        }
    };
    let code = match rng.below(4) {
        0 => format!("# {text}\n{program}"),
        1 => format!("{}{}# {text}\n", program, if program.ends_with('\n') { "" } else { "\n" }),
        2 => format!("write \"{text}\"\n{program}"),
        _ => {
            // A trailing comment on the first non-empty line.
            let mut lines: Vec<String> = program.lines().map(String::from).collect();
            match lines.iter_mut().find(|l| !l.trim().is_empty() && !l.contains('#')) {
                Some(line) => line.push_str(&format!(" # {text}")),
                None => lines.insert(0, format!("# {text}")),
            }
            lines.join("\n") + "\n"
        }
    };
    Planted { kind, code, secrets, words }
}

fn occurrences(text: &str, secret: &str, words: bool) -> usize {
    if !words {
        return text.matches(secret).count();
    }
    let lower = text.to_lowercase();
    let s = secret.to_lowercase();
    lower
        .match_indices(&s)
        .filter(|(i, _)| {
            let before = lower[..*i].chars().next_back();
            let after = lower[i + s.len()..].chars().next();
            !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
        })
        .count()
}

/// Scores per kind and overall.
#[derive(Debug, Clone, Default, Serialize)]
pub struct KindScore {
    /// Identifiers planted.
    pub planted: usize,
    /// Identifiers gone after the scrub.
    pub removed: usize,
}

impl KindScore {
    /// removed / planted.
    pub fn recall(&self) -> f64 {
        if self.planted == 0 { 1.0 } else { self.removed as f64 / self.planted as f64 }
    }
}

/// The whole evaluation.
#[derive(Debug, Clone, Serialize)]
pub struct ScrubEval {
    /// Per kind.
    pub kinds: BTreeMap<String, KindScore>,
    /// Every kind together.
    pub overall: KindScore,
    /// Clean programs scrubbed.
    pub clean: usize,
    /// Clean programs the rules beyond the paper's changed.
    pub clean_changed: usize,
    /// What those rules replaced in clean programs.
    pub clean_counts: ScrubCounts,
    /// Up to 20 planted programs whose identifier survived (kind, secret, scrubbed line).
    pub misses: Vec<(String, String, String)>,
    /// Up to 20 clean lines the extra rules changed (before, after).
    pub false_positives: Vec<(String, String)>,
}

/// Plants `per_program` identifiers into each of `programs` and scores `scrubber`
/// (built with every rule and the roster of `roster`); `paper` is the same lists
/// with the paper's rules only, for the clean comparison.
pub fn evaluate(scrubber: &Scrubber, paper: &Scrubber, pool: &NamePool, roster: &[(String, String)], programs: &[String], seed: u64) -> ScrubEval {
    let mut rng = SplitMix64::for_purpose(seed, "scrub-eval");
    let no_roster = scrubber.clone().with_roster(Roster::default());
    let mut kinds: BTreeMap<String, KindScore> = KINDS.iter().map(|k| (k.to_string(), KindScore::default())).collect();
    let mut overall = KindScore::default();
    let mut misses = Vec::new();
    let (mut clean_changed, mut clean_counts, mut false_positives) = (0, ScrubCounts::default(), Vec::new());
    for (i, program) in programs.iter().enumerate() {
        let kind = KINDS[i % KINDS.len()];
        let planted = plant(&mut rng, pool, roster, kind, program);
        let mut c = ScrubCounts::default();
        let scrubbed = scrubber.scrub_program(&planted.code, &mut c);
        let baseline = scrubber.scrub_program(program, &mut ScrubCounts::default());
        let survived = planted.secrets.iter().find(|s| occurrences(&scrubbed, s, planted.words) > occurrences(&baseline, s, planted.words));
        let score = kinds.entry(kind.to_string()).or_default();
        score.planted += 1;
        overall.planted += 1;
        match survived {
            None => {
                score.removed += 1;
                overall.removed += 1;
            }
            Some(secret) if misses.len() < 20 => {
                let line = scrubbed.lines().find(|l| occurrences(l, secret, planted.words) > 0).unwrap_or("").to_string();
                misses.push((kind.to_string(), secret.clone(), line));
            }
            Some(_) => {}
        }
        // The clean program: what do the rules beyond the paper's change? (Without
        // the roster: a roster name in a clean program is a real classmate's name.)
        let mut extra = ScrubCounts::default();
        let all = no_roster.scrub_program(program, &mut extra);
        let only_paper = paper.scrub_program(program, &mut ScrubCounts::default());
        if all != only_paper {
            clean_changed += 1;
            clean_counts.add(&extra);
            for (a, b) in only_paper.lines().zip(all.lines()) {
                if a != b && false_positives.len() < 20 {
                    false_positives.push((a.to_string(), b.to_string()));
                }
            }
        }
    }
    ScrubEval { kinds, overall, clean: programs.len(), clean_changed, clean_counts, misses, false_positives }
}

/// A roster of `n` made-up students from the pool (first, last).
pub fn make_roster(pool: &NamePool, n: usize, seed: u64) -> (Vec<(String, String)>, Roster) {
    let mut rng = SplitMix64::for_purpose(seed, "scrub-eval-roster");
    let people: Vec<(String, String)> = (0..n).map(|_| (pick(&mut rng, &pool.first).to_string(), pick(&mut rng, &pool.last).to_string())).collect();
    let roster = Roster::from_names(people.iter().map(|(f, l)| format!("{f} {l}")));
    (people, roster)
}

/// The paper-only scrubber beside `lists`' full one.
pub fn paper_rules(full: &Scrubber) -> Scrubber {
    full.clone().with_rules(Rules::Paper).with_roster(Roster::default())
}
