//! Python's `difflib.SequenceMatcher`, ported for exact parity.
//!
//! Ratcliff/Obershelp matching: find the longest matching block (earliest in
//! `a`, then earliest in `b`, on ties), extend it over adjacent equal elements,
//! recurse on both sides, merge adjacent blocks. Two details decide results:
//! *junk* elements (a predicate on `b`'s elements) cannot start a match but are
//! absorbed at its edges, and with *autojunk* (always on here, as in the paper)
//! an element occurring more than `1 + len(b) / 100` times in a `b` of 200 or
//! more elements is "popular": it cannot start a match either, yet — unlike
//! junk — it extends a match in the first extension pass.
//!
//! Like Python's, the matcher caches what it knows about `b`, so comparing many
//! `a`s against one `b` (the goal program, a line in `Differ`) is cheap.

use std::hash::Hash;

use rustc_hash::FxHashMap;

/// `a[a..a+size] == b[b..b+size]`, as in Python's `Match` triple.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Match {
    /// Start in `a`.
    pub a: usize,
    /// Start in `b`.
    pub b: usize,
    /// Length of the block.
    pub size: usize,
}

/// What an opcode says to do with `a[a_lo..a_hi]` to get `b[b_lo..b_hi]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpTag {
    /// Replace `a[a_lo..a_hi]` with `b[b_lo..b_hi]`.
    Replace,
    /// Delete `a[a_lo..a_hi]`.
    Delete,
    /// Insert `b[b_lo..b_hi]`.
    Insert,
    /// The ranges are equal.
    Equal,
}

/// One of Python's `get_opcodes()` tuples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opcode {
    /// What to do.
    pub tag: OpTag,
    /// Start in `a`.
    pub a_lo: usize,
    /// End in `a`.
    pub a_hi: usize,
    /// Start in `b`.
    pub b_lo: usize,
    /// End in `b`.
    pub b_hi: usize,
}

/// Python's `difflib._calculate_ratio`.
pub fn calculate_ratio(matches: usize, length: usize) -> f64 {
    if length == 0 {
        1.0
    } else {
        2.0 * matches as f64 / length as f64
    }
}

const ABSENT: u32 = u32::MAX;

/// An element a [`SequenceMatcher`] can compare. Elements with a small dense
/// key (ASCII characters) skip hashing when `b` is indexed.
pub trait Element: Hash + Eq + Copy {
    /// A key below 128 when the element has one.
    fn small_key(&self) -> Option<usize> {
        None
    }
}

impl Element for char {
    fn small_key(&self) -> Option<usize> {
        let k = *self as usize;
        (k < 128).then_some(k)
    }
}

impl Element for &str {}

/// A `SequenceMatcher(isjunk, a, b, autojunk=True)` over slices of `T`.
pub struct SequenceMatcher<'s, T> {
    is_junk: Option<fn(&T) -> bool>,
    a: &'s [T],
    b: &'s [T],
    /// Dense id of each distinct element of `b` with a small key (else `ABSENT`).
    small_ids: [u32; 128],
    /// Dense id of each other distinct element of `b`.
    b_ids: FxHashMap<T, u32>,
    /// Positions in `b` of each id, empty for junk and popular elements
    /// (Python's `b2j`); only the first `n_ids` are in use, the rest are kept
    /// to reuse their allocations.
    b2j: Vec<Vec<usize>>,
    n_ids: usize,
    /// Whether `b[j]` is junk (Python's `isbjunk(b[j])`).
    b_is_junk: Vec<bool>,
    /// Occurrences in `b` of each id (Python's `fullbcount`).
    b_counts: Vec<usize>,
    /// Id of `a[i]` in `b`, or `ABSENT`.
    a_ids: Vec<u32>,
    matching_blocks: Option<Vec<Match>>,
    /// Scratch rows of the longest-match search (Python's `j2len`), indexed by `j + 1`.
    row: Vec<usize>,
    next_row: Vec<usize>,
    row_touched: Vec<usize>,
    next_touched: Vec<usize>,
}

impl<'s, T: Element> SequenceMatcher<'s, T> {
    /// A matcher with the given junk predicate on `b`'s elements (`None`: no junk).
    pub fn new(is_junk: Option<fn(&T) -> bool>, a: &'s [T], b: &'s [T]) -> Self {
        let mut m = SequenceMatcher {
            is_junk,
            a: &[],
            b: &[],
            small_ids: [ABSENT; 128],
            b_ids: FxHashMap::default(),
            b2j: Vec::new(),
            n_ids: 0,
            b_is_junk: Vec::new(),
            b_counts: Vec::new(),
            a_ids: Vec::new(),
            matching_blocks: None,
            row: Vec::new(),
            next_row: Vec::new(),
            row_touched: Vec::new(),
            next_touched: Vec::new(),
        };
        m.set_seq2(b);
        m.set_seq1(a);
        m
    }

    /// Python's `set_seq1`: a new `a`, keeping what is known about `b`.
    pub fn set_seq1(&mut self, a: &'s [T]) {
        self.a = a;
        self.a_ids.clear();
        let (small, ids) = (&self.small_ids, &self.b_ids);
        self.a_ids.extend(a.iter().map(|x| match x.small_key() {
            Some(k) => small[k],
            None => ids.get(x).copied().unwrap_or(ABSENT),
        }));
        self.matching_blocks = None;
    }

    /// The id of `x`, a new one if `b` has not had it yet.
    fn intern(&mut self, x: T) -> usize {
        let slot = match x.small_key() {
            Some(k) => &mut self.small_ids[k],
            None => self.b_ids.entry(x).or_insert(ABSENT),
        };
        if *slot == ABSENT {
            *slot = self.n_ids as u32;
            if self.n_ids == self.b2j.len() {
                self.b2j.push(Vec::new());
            }
            self.b2j[self.n_ids].clear();
            self.b_counts.push(0);
            self.n_ids += 1;
        }
        *slot as usize
    }

    /// Python's `set_seq2` (with `__chain_b`): a new `b`.
    pub fn set_seq2(&mut self, b: &'s [T]) {
        self.b = b;
        self.small_ids = [ABSENT; 128];
        self.b_ids.clear();
        self.n_ids = 0;
        self.b_counts.clear();
        self.b_is_junk.clear();
        for (j, x) in b.iter().enumerate() {
            let id = self.intern(*x);
            self.b2j[id].push(j);
            self.b_counts[id] += 1;
        }
        match self.is_junk {
            Some(is_junk) => {
                self.b_is_junk.extend(b.iter().map(is_junk));
                for (j, x) in b.iter().enumerate() {
                    if self.b_is_junk[j] {
                        let id = self.intern(*x);
                        self.b2j[id].clear();
                    }
                }
            }
            None => self.b_is_junk.resize(b.len(), false),
        }
        let n = b.len();
        if n >= 200 {
            let ntest = n / 100 + 1;
            for idxs in &mut self.b2j[..self.n_ids] {
                if idxs.len() > ntest {
                    idxs.clear();
                }
            }
        }
        self.row.clear();
        self.row.resize(n + 1, 0);
        self.next_row.clear();
        self.next_row.resize(n + 1, 0);
        let a = self.a;
        self.set_seq1(a);
    }

    /// Python's `find_longest_match(alo, ahi, blo, bhi)`.
    pub fn find_longest_match(&mut self, alo: usize, ahi: usize, blo: usize, bhi: usize) -> Match {
        let (a, b) = (self.a, self.b);
        let (mut besti, mut bestj, mut bestsize) = (alo, blo, 0usize);
        for i in alo..ahi {
            let id = self.a_ids[i];
            if id != ABSENT {
                for &j in &self.b2j[id as usize] {
                    if j < blo {
                        continue;
                    }
                    if j >= bhi {
                        break;
                    }
                    // row[j] holds the length ending at (i-1, j-1).
                    let k = self.row[j] + 1;
                    self.next_row[j + 1] = k;
                    self.next_touched.push(j + 1);
                    if k > bestsize {
                        (besti, bestj, bestsize) = (i + 1 - k, j + 1 - k, k);
                    }
                }
            }
            for &t in &self.row_touched {
                self.row[t] = 0;
            }
            self.row_touched.clear();
            std::mem::swap(&mut self.row, &mut self.next_row);
            std::mem::swap(&mut self.row_touched, &mut self.next_touched);
        }
        for &t in &self.row_touched {
            self.row[t] = 0;
        }
        self.row_touched.clear();

        let junk = &self.b_is_junk;
        while besti > alo && bestj > blo && !junk[bestj - 1] && a[besti - 1] == b[bestj - 1] {
            (besti, bestj, bestsize) = (besti - 1, bestj - 1, bestsize + 1);
        }
        while besti + bestsize < ahi && bestj + bestsize < bhi && !junk[bestj + bestsize] && a[besti + bestsize] == b[bestj + bestsize] {
            bestsize += 1;
        }
        while besti > alo && bestj > blo && junk[bestj - 1] && a[besti - 1] == b[bestj - 1] {
            (besti, bestj, bestsize) = (besti - 1, bestj - 1, bestsize + 1);
        }
        while besti + bestsize < ahi && bestj + bestsize < bhi && junk[bestj + bestsize] && a[besti + bestsize] == b[bestj + bestsize] {
            bestsize += 1;
        }
        Match { a: besti, b: bestj, size: bestsize }
    }

    /// Python's `get_matching_blocks()`, ending with the dummy `(len(a), len(b), 0)`.
    pub fn matching_blocks(&mut self) -> &[Match] {
        if self.matching_blocks.is_none() {
            let blocks = self.compute_matching_blocks();
            self.matching_blocks = Some(blocks);
        }
        self.matching_blocks.as_deref().unwrap_or_default()
    }

    fn compute_matching_blocks(&mut self) -> Vec<Match> {
        let (la, lb) = (self.a.len(), self.b.len());
        let mut queue = vec![(0, la, 0, lb)];
        let mut blocks = Vec::new();
        while let Some((alo, ahi, blo, bhi)) = queue.pop() {
            let x = self.find_longest_match(alo, ahi, blo, bhi);
            let (i, j, k) = (x.a, x.b, x.size);
            if k > 0 {
                blocks.push(x);
                if alo < i && blo < j {
                    queue.push((alo, i, blo, j));
                }
                if i + k < ahi && j + k < bhi {
                    queue.push((i + k, ahi, j + k, bhi));
                }
            }
        }
        blocks.sort_unstable();
        let mut merged: Vec<Match> = Vec::with_capacity(blocks.len() + 1);
        let mut cur = Match { a: 0, b: 0, size: 0 };
        for m in blocks {
            if cur.a + cur.size == m.a && cur.b + cur.size == m.b {
                cur.size += m.size;
            } else {
                if cur.size > 0 {
                    merged.push(cur);
                }
                cur = m;
            }
        }
        if cur.size > 0 {
            merged.push(cur);
        }
        merged.push(Match { a: la, b: lb, size: 0 });
        merged
    }

    /// Python's `get_opcodes()`.
    pub fn opcodes(&mut self) -> Vec<Opcode> {
        let mut out = Vec::new();
        let (mut i, mut j) = (0, 0);
        for &m in self.matching_blocks() {
            let tag = match (i < m.a, j < m.b) {
                (true, true) => Some(OpTag::Replace),
                (true, false) => Some(OpTag::Delete),
                (false, true) => Some(OpTag::Insert),
                (false, false) => None,
            };
            if let Some(tag) = tag {
                out.push(Opcode { tag, a_lo: i, a_hi: m.a, b_lo: j, b_hi: m.b });
            }
            (i, j) = (m.a + m.size, m.b + m.size);
            if m.size > 0 {
                out.push(Opcode { tag: OpTag::Equal, a_lo: m.a, a_hi: i, b_lo: m.b, b_hi: j });
            }
        }
        out
    }

    /// Number of matched elements `M` (the sum of the matching blocks' sizes).
    pub fn matches(&mut self) -> usize {
        self.matching_blocks().iter().map(|m| m.size).sum()
    }

    /// Python's `ratio()`: `2M / (len(a) + len(b))`, 1 for two empty sequences.
    pub fn ratio(&mut self) -> f64 {
        let total = self.a.len() + self.b.len();
        calculate_ratio(self.matches(), total)
    }

    /// Python's `quick_ratio()`: an upper bound from the multiset intersection.
    pub fn quick_ratio(&self) -> f64 {
        let mut used = vec![0usize; self.n_ids];
        let mut matches = 0;
        for &id in &self.a_ids {
            if id == ABSENT {
                continue;
            }
            let u = &mut used[id as usize];
            if *u < self.b_counts[id as usize] {
                matches += 1;
            }
            *u += 1;
        }
        calculate_ratio(matches, self.a.len() + self.b.len())
    }

    /// Python's `real_quick_ratio()`: an upper bound from the lengths alone.
    pub fn real_quick_ratio(&self) -> f64 {
        let (la, lb) = (self.a.len(), self.b.len());
        calculate_ratio(la.min(lb), la + lb)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    fn blocks(isjunk: Option<fn(&char) -> bool>, a: &str, b: &str) -> Vec<(usize, usize, usize)> {
        let (a, b) = (chars(a), chars(b));
        let mut m = SequenceMatcher::new(isjunk, &a, &b);
        m.matching_blocks().iter().map(|m| (m.a, m.b, m.size)).collect()
    }

    // Expected values are Python 3.11's difflib (its docstring examples and a few more).
    #[test]
    fn longest_match_prefers_earliest_and_handles_junk() {
        let (a, b) = (chars(" abcd"), chars("abcd abcd"));
        let mut m = SequenceMatcher::new(None, &a, &b);
        assert_eq!(m.find_longest_match(0, 5, 0, 9), Match { a: 0, b: 4, size: 5 });
        let mut m = SequenceMatcher::new(Some(|c: &char| *c == ' '), &a, &b);
        assert_eq!(m.find_longest_match(0, 5, 0, 9), Match { a: 1, b: 0, size: 4 });
        let (a, b) = (chars("ab"), chars("c"));
        let mut m = SequenceMatcher::new(None, &a, &b);
        assert_eq!(m.find_longest_match(0, 2, 0, 1), Match { a: 0, b: 0, size: 0 });
    }

    #[test]
    fn matching_blocks_and_opcodes() {
        assert_eq!(blocks(None, "abxcd", "abcd"), [(0, 0, 2), (3, 2, 2), (5, 4, 0)]);
        let (a, b) = (chars("qabxcd"), chars("abycdf"));
        let mut m = SequenceMatcher::new(None, &a, &b);
        let ops: Vec<_> = m.opcodes().iter().map(|o| (o.tag, o.a_lo, o.a_hi, o.b_lo, o.b_hi)).collect();
        use OpTag::*;
        assert_eq!(
            ops,
            [(Delete, 0, 1, 0, 0), (Equal, 1, 3, 0, 2), (Replace, 3, 4, 2, 3), (Equal, 4, 6, 3, 5), (Insert, 6, 6, 5, 6)]
        );
    }

    #[test]
    fn ratios() {
        let (a, b) = (chars("abcd"), chars("bcde"));
        let mut m = SequenceMatcher::new(None, &a, &b);
        assert_eq!((m.ratio(), m.quick_ratio(), m.real_quick_ratio()), (0.75, 0.75, 1.0));
        let e: Vec<char> = Vec::new();
        assert_eq!(SequenceMatcher::new(None, &e, &e).ratio(), 1.0);
    }

    #[test]
    fn popular_elements_cannot_start_a_match_but_extend_one() {
        // b has 200 elements; 'x' occurs 198 times (> 1 + 200/100), so it is popular.
        let b: String = "ab".to_string() + &"x".repeat(198);
        // Python: SequenceMatcher(None, "xxab", b).get_matching_blocks()
        //   -> [Match(a=2, b=0, size=2), Match(a=4, b=200, size=0)]
        assert_eq!(blocks(None, "xxab", &b), [(2, 0, 2), (4, 200, 0)]);
        // With nothing else to match, a popular run at the start of both still counts:
        // SequenceMatcher(None, "xxx", "x"*200).get_matching_blocks() -> [(0, 0, 3), (3, 200, 0)]
        assert_eq!(blocks(None, "xxx", &"x".repeat(200)), [(0, 0, 3), (3, 200, 0)]);
        // ...but not elsewhere: SequenceMatcher(None, "axxx", "x"*200) -> [(4, 200, 0)]
        assert_eq!(blocks(None, "axxx", &"x".repeat(200)), [(4, 200, 0)]);
    }
}
