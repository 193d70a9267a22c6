//! 10,000 mutated corpus programs (deletions, random token insertions,
//! truncations, line shuffles) crash nothing: every one gets a verdict, and
//! the pool still judges correctly afterwards.

mod common;

use common::oracle_labels;
use pencil_sandbox::{Sandbox, SandboxConfig, Status};
use std::time::Duration;

const PROGRAMS: usize = 10_000;

const TOKENS: &[&str] = &[
    "fd", "rt", "lt", "pen", "dot", "red", "babyblue", "(", ")", "[", "]", "{", "}", "->", "=>", "\"", "'", "\"\"\"",
    "`", "#", "###", "\n", "\n  ", "  ", "\t", ",", ";", ":", "=", "+", "-", "*", "/", "%", "@", "...", "..", "?",
    "await", "defer", "new", "class", "extends", "super", "return", "if", "else", "then", "for", "in", "of", "while",
    "loop", "break", "until", "var", "function", "delete", "typeof", "this", "null", "undefined", "Infinity", "1e308",
    "-1", "0", "999999", "'\\u0000'", "\u{0}", "\u{2028}", "é", "🐢", "\\", "/re/", "///", "<img src=x>", "forever ->",
    "stop()", "tick ->", "done ->", "read", "wear 'x'", "speed 0", "window", "Turtle", "$", "_", "iced", "arguments",
];

/// xorshift64*: the fuzz set is the same on every run.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn char_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn mutate(src: &str, rng: &mut Rng) -> String {
    let mut s = src.to_string();
    for _ in 0..1 + rng.below(4) {
        let at = char_boundary(&s, rng.below(s.len() + 1));
        match rng.below(6) {
            0 => {
                let end = char_boundary(&s, at + 1 + rng.below(20));
                s.replace_range(at..end, "");
            }
            1 | 2 => s.insert_str(at, TOKENS[rng.below(TOKENS.len())]),
            3 => s.truncate(at),
            4 => {
                let lines: Vec<&str> = s.lines().collect();
                if lines.len() > 1 {
                    let (a, b) = (rng.below(lines.len()), rng.below(lines.len()));
                    let mut l: Vec<&str> = lines.clone();
                    l.swap(a, b);
                    s = l.join("\n");
                }
            }
            _ => {
                let lines: Vec<&str> = s.lines().collect();
                if !lines.is_empty() {
                    let line = lines[rng.below(lines.len())].to_string();
                    s.insert_str(at, &format!("\n{line}\n"));
                }
            }
        }
    }
    s
}

#[test]
fn ten_thousand_mutated_programs_crash_nothing() {
    let labels = oracle_labels();
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let programs: Vec<String> =
        (0..PROGRAMS).map(|_| mutate(&labels[rng.below(labels.len())].code, &mut rng)).collect();
    // Short budgets: this test is about robustness, not verdicts.
    let sandbox = Sandbox::new(SandboxConfig {
        pool_size: 2,
        wall_time: Duration::from_millis(60),
        max_turtle_ops: 20_000,
        ..common::contained()
    })
    .expect("sandbox");
    let outcomes: Vec<Result<Status, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = programs
            .chunks(PROGRAMS / 2)
            .map(|part| {
                let sb = sandbox.clone();
                scope.spawn(move || {
                    part.iter().map(|p| sb.check(p).map(|v| v.status).map_err(|e| format!("{e} on {p:?}"))).collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("fuzz thread")).collect()
    });
    let mut counts = std::collections::BTreeMap::new();
    for o in &outcomes {
        *counts.entry(format!("{o:?}").chars().take(30).collect::<String>()).or_insert(0usize) += 1;
    }
    eprintln!("fuzz outcomes: {counts:?}");
    let failures: Vec<&String> = outcomes.iter().filter_map(|o| o.as_ref().err()).collect();
    assert!(failures.is_empty(), "{} programs broke the sandbox, e.g. {:?}", failures.len(), failures.first());
    for (src, ok) in [("fd 100", true), ("pen babyblue", false), ("await read defer x", false)] {
        assert_eq!(sandbox.check(src).expect("verdict").paper_success, ok, "{src}");
    }
}
