//! Names the real runtime defines, for rule-based fixes (nearest color, nearest command).

use std::sync::OnceLock;

const TURTLE_GLOBALS_JSON: &str = include_str!("../data/turtle_globals.json");
const BROWSER_GLOBALS_JSON: &str = include_str!("../data/browser_globals_chromium.json");

/// The name lists parsed once from the embedded JSON.
struct NameTables {
    colors: Vec<&'static str>,
    functions: Vec<&'static str>,
    specials: Vec<&'static str>,
    objects: Vec<&'static str>,
    browser: Vec<&'static str>,
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

fn tables() -> &'static NameTables {
    static TABLES: OnceLock<NameTables> = OnceLock::new();
    TABLES.get_or_init(|| {
        // The JSON is embedded at compile time and checked by the tests, so a
        // malformed file is a build defect; fall back to empty lists rather than panic.
        let turtle: serde_json::Value =
            serde_json::from_str(TURTLE_GLOBALS_JSON).unwrap_or(serde_json::Value::Null);
        let browser: serde_json::Value =
            serde_json::from_str(BROWSER_GLOBALS_JSON).unwrap_or(serde_json::Value::Null);
        let list = |v: &serde_json::Value| -> Vec<&'static str> {
            v.as_array()
                .map(|a| a.iter().filter_map(|x| x.as_str()).map(|s| leak(s.to_string())).collect())
                .unwrap_or_default()
        };
        let keys = |v: &serde_json::Value| -> Vec<&'static str> {
            v.as_object()
                .map(|o| o.keys().map(|s| leak(s.clone())).collect())
                .unwrap_or_default()
        };
        NameTables {
            colors: list(&turtle["colors"]),
            functions: keys(&turtle["functions"]),
            specials: list(&turtle["special_string_constants"]),
            objects: keys(&turtle["objects"]),
            browser: list(&browser),
        }
    })
}

/// The 148 CSS color names that are globals whose value is their own name (`tan` excluded).
pub fn colors() -> &'static [&'static str] {
    &tables().colors
}

/// The global functions the turtle runtime defines (`fd`, `pen`, `random`, ...).
pub fn turtle_functions() -> &'static [&'static str] {
    &tables().functions
}

/// The special words that are self-named string globals (`none`, `erase`, `up`, ...).
pub fn special_words() -> &'static [&'static str] {
    &tables().specials
}

/// The global objects the turtle runtime defines (`turtle`, `origin`, `iced`, ...).
pub fn turtle_objects() -> &'static [&'static str] {
    &tables().objects
}

/// Window property names of Chromium 156 on a blank page.
pub fn browser_globals() -> &'static [&'static str] {
    &tables().browser
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_have_the_documented_sizes() {
        assert_eq!(colors().len(), 148);
        assert!(!colors().contains(&"tan"));
        assert!(colors().contains(&"skyblue"));
        assert!(turtle_functions().contains(&"fd"));
        assert!(turtle_functions().contains(&"tan"));
        assert_eq!(special_words().len(), 9);
        assert_eq!(browser_globals().len(), 1000);
        assert!(turtle_objects().contains(&"turtle"));
    }
}
