//! The one-pass color counter agrees with counting each color on its own.

use pencil_core::metrics::program_counts::{color_counts, COLORS};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn color_counts_match_per_color_str_count(
        parts in proptest::collection::vec(prop_oneof![
            prop::sample::select(COLORS.clone()),
            prop::sample::select(vec!["a".to_string(), "RED".into(), " ".into(), "\n".into(), "é".into(), "K".into(), "\u{212a}".into()]),
        ], 0..40)
    ) {
        let program: String = parts.concat();
        let lower = program.to_lowercase();
        let want: Vec<(String, usize)> = COLORS
            .iter()
            .map(|c| (c.clone(), lower.matches(c.as_str()).count()))
            .filter(|&(_, n)| n > 0)
            .collect();
        prop_assert_eq!(color_counts(&program).0, want);
    }
}
