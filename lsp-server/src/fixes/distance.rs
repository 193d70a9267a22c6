//! Edit distance between short names.

/// Levenshtein distance over chars (insert, delete, substitute each cost 1).
pub fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// Names in `candidates` close to `name` (case-insensitive distance within a budget
/// that grows with the name's length), closest first, at most `limit`.
pub fn nearest<'a>(name: &str, candidates: &[&'a str], limit: usize) -> Vec<(&'a str, usize)> {
    let lower = name.to_lowercase();
    let budget = match name.chars().count() {
        0..=2 => 1,
        3..=5 => 2,
        _ => 3,
    };
    // Symbol-named globals (`$`, `_`) are never what a student meant to type.
    let mut found: Vec<(&'a str, usize)> = candidates
        .iter()
        .filter(|&&c| c != name && c.starts_with(|ch: char| ch.is_alphabetic()))
        .map(|&c| (c, levenshtein(&lower, &c.to_lowercase())))
        .filter(|&(_, d)| d <= budget)
        .collect();
    // A name cut short (`f`, `mov`) is most likely the start of the command it became.
    found.sort_by_key(|&(c, d)| (d, !c.to_lowercase().starts_with(&lower), c.len().abs_diff(name.len()), c));
    found.truncate(limit);
    found
}

/// Real colors for a made-up compound color (`babyblue` -> `blue`, `lightblue`): the
/// longest color the name ends or starts with, then colors sharing that part, closest
/// first. At most `limit`.
pub fn compound_colors<'a>(name: &str, colors: &[&'a str], limit: usize) -> Vec<&'a str> {
    let lower = name.to_lowercase();
    let Some(&part) = colors
        .iter()
        .filter(|c| c.len() >= 3 && c.len() < lower.len() && (lower.ends_with(*c) || lower.starts_with(*c)))
        .max_by_key(|c| c.len())
    else {
        return Vec::new();
    };
    let mut relatives: Vec<&'a str> = colors
        .iter()
        .copied()
        .filter(|c| *c != part && c.len() > part.len() && (c.ends_with(part) || c.starts_with(part)))
        .collect();
    relatives.sort_by_key(|c| (levenshtein(&lower, c), *c));
    let mut out = vec![part];
    out.extend(relatives);
    out.truncate(limit);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        for (a, b, d) in [("", "", 0), ("fd", "fd", 0), ("kitten", "sitting", 3), ("babyblue", "lightblue", 5), ("fowrard", "forward", 2), ("é", "e", 1)] {
            assert_eq!(levenshtein(a, b), d, "{a} {b}");
            assert_eq!(levenshtein(b, a), d, "{b} {a}");
        }
    }

    #[test]
    fn compound_colors_fall_back_to_their_known_part() {
        let colors = ["blue", "lightblue", "skyblue", "red", "darkred"];
        assert_eq!(compound_colors("babyblue", &colors, 2), vec!["blue", "skyblue"]);
        assert_eq!(compound_colors("redish", &colors, 3), vec!["red", "darkred"]);
        assert!(compound_colors("blue", &colors, 2).is_empty());
        assert!(compound_colors("fd", &colors, 2).is_empty());
    }

    #[test]
    fn nearest_prefers_closest_then_similar_length() {
        let names = ["red", "green", "greenyellow", "gray", "grey"];
        assert_eq!(nearest("gren", &names, 2), vec![("grey", 1), ("green", 1)]);
        assert_eq!(nearest("Red", &names, 1), vec![("red", 0)]);
        assert!(nearest("zzzzzz", &names, 3).is_empty());
        let commands = ["$", "_", "fd", "bk", "pen", "pe"];
        assert_eq!(nearest("f", &commands, 3), vec![("fd", 1)]);
    }
}
