//! What a probe run found: counts, the split, and the test scores of the
//! probe and of every control, as written to the manifest's `probe` field
//! and printed as a table.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::heads::HeadScores;
use super::stats::{mean, PairedTest};
use super::variants::{variant_names, SeedsReport, GOAL_MARGIN_OVER_HAND};

/// Names of the rows of the results table, in print order.
pub const RESULT_ROWS: [(&str, &str); 5] = [
    ("probe", "probe (model features)"),
    ("probe_read_as_unseen_student", "probe, test read as row 0"),
    ("shuffled_students", "control: shuffled students"),
    ("shuffled_embeddings", "control: shuffled embeddings"),
    ("hand_features", "baseline: hand features"),
];

fn test_text(t: Option<&PairedTest>) -> String {
    t.map_or_else(|| "n/a".to_string(), |t| format!("{:+.3} ± {:.3} (t = {:.2}, df {}, p = {:.3})", t.mean_difference, t.se, t.t, t.df, t.p_two_sided))
}

/// How many traces, prefixes and titles went where.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProbeCounts {
    /// Traces read from the corpus files.
    pub traces_read: usize,
    /// Traces skipped because the dataset does not list their title (e.g. titles its scrub dropped).
    pub traces_title_not_in_dataset: usize,
    /// Traces with at least one eligible prefix.
    pub traces_with_prefixes: usize,
    /// Eligible prefixes of those traces (before any cap).
    pub eligible_prefixes: usize,
    /// Eligible prefixes left after keeping at most `PREFIXES_PER_TRACE` of each trace.
    pub prefixes_after_per_trace_cap: usize,
    /// Prefixes left out because they already contained the final program.
    pub prefixes_excluded_at_goal: usize,
    /// Traces whose prefixes were used.
    pub traces_used: usize,
    /// Training prefixes.
    pub train_examples: usize,
    /// Test prefixes.
    pub test_examples: usize,
    /// Share of training prefixes that backtrack later.
    pub train_positive_rate: f64,
    /// Share of test prefixes that backtrack later.
    pub test_positive_rate: f64,
    /// Training titles.
    pub train_titles: usize,
    /// Test titles.
    pub test_titles: usize,
    /// Distinct programs run in the sandbox for the hand features.
    pub sandbox_programs: usize,
}

/// The whole report (the manifest's `probe` field).
#[derive(Debug, Clone, Serialize)]
pub struct ProbeReport {
    /// The command line.
    pub command: String,
    /// Wall seconds the command took.
    pub seconds: f64,
    /// Seed of the split, sampling and controls.
    pub seed: u64,
    /// Corpus files read.
    pub corpus: Vec<String>,
    /// Dataset directory whose splits.json and students.json were used, if any.
    pub dataset: Option<String>,
    /// Cap on prefixes (`--max-prefixes`).
    pub max_prefixes: usize,
    /// How the test titles were chosen.
    pub split_rule: String,
    /// Test titles.
    pub test_titles: Vec<String>,
    /// Test titles the trace model never trained on.
    pub test_titles_unseen_by_model: Vec<String>,
    /// Counts.
    pub counts: ProbeCounts,
    /// Mean milliseconds of one forward pass (features).
    pub ms_per_forward: f64,
    /// Wall seconds the sandbox took for the hand features (beside the forward passes).
    pub sandbox_seconds: f64,
    /// Feature width of the probe (the model's n_embd).
    pub features: usize,
    /// The graph whose pooled output the probe read (`features.onnx` or `model.onnx`);
    /// the server checks it reads the same one. Serialized under `PROBE_GRAPH_KEY`.
    pub feature_graph: String,
    /// Names of the hand features of the baseline.
    pub hand_features: Vec<String>,
    /// The variant whose heads `probe.safetensors` holds (fitted on the first seed's training titles).
    pub shipped: String,
    /// Test scores of every variant on the first seed of the split: `probe`,
    /// `probe_read_as_unseen_student` (same heads, test prefixes read with the
    /// unseen-student row 0 as the editor does), `shuffled_students`,
    /// `shuffled_embeddings`, `hand_features`, and the variants of [`SeedsReport`].
    pub results: BTreeMap<String, HeadScores>,
    /// Every variant over the seeds of the split, the paired tests and the choice shipped.
    pub seeds: SeedsReport,
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "  n/a".to_string(), |x| format!("{x:.3}"))
}

impl ProbeReport {
    /// The counts and results as a text table, the seeds' table included.
    pub fn table(&self) -> String {
        self.text(true)
    }

    /// The report as Markdown: the seeds' table, then the first seed's text table.
    pub fn markdown(&self) -> String {
        format!("# Backtracking probe\n{}\n## First seed ({}), whose heads are shipped\n\n```\n{}```\n", self.seeds_table(), self.seed, self.text(false))
    }

    fn text(&self, with_seeds: bool) -> String {
        let c = &self.counts;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "probe: {} train / {} test prefixes (positive rate {:.3} / {:.3}), {} / {} titles, {} traces used of {} read",
            c.train_examples, c.test_examples, c.train_positive_rate, c.test_positive_rate, c.train_titles, c.test_titles, c.traces_used, c.traces_read
        );
        let _ = writeln!(s, "split: {}", self.split_rule);
        let _ = writeln!(s, "test titles: {}", self.test_titles.join(", "));
        let _ = writeln!(
            s,
            "{:<32} {:>6} {:>6} {:>7} {:>8} {:>9} {:>8} {:>10} {:>9}",
            "features", "F1", "AUC", "thresh", "pred+", "att R2log", "att MAE", "dist R2log", "dist MAE"
        );
        for (key, label) in RESULT_ROWS {
            if let Some(r) = self.results.get(key) {
                let _ = writeln!(
                    s,
                    "{:<32} {:>6.3} {:>6} {:>7.3} {:>8.3} {:>9.3} {:>8.2} {:>10.3} {:>9.1}",
                    label,
                    r.f1,
                    opt(r.auc),
                    r.threshold,
                    r.predicted_positive_rate,
                    r.attempts.r2_log,
                    r.attempts.mae,
                    r.remaining.r2_log,
                    r.remaining.mae
                );
            }
        }
        if let Some(r) = self.results.get(&self.shipped) {
            let _ = writeln!(
                s,
                "first seed, shipped ({}): hint threshold {:.3} (flags {:.0}% of training prefixes): flags {:.1}% of test prefixes, {} of them backtrack (test positive rate {:.3})",
                self.shipped,
                r.hint_threshold,
                pencil_core::inference::HINT_RATE * 100.0,
                r.hint_flag_rate * 100.0,
                r.hint_precision.map_or("none".to_string(), |p| format!("{:.1}%", p * 100.0)),
                r.positive_rate
            );
        }
        if with_seeds {
            s.push_str(&self.seeds_table());
        }
        let _ = writeln!(
            s,
            "{:.1} s ({:.1} ms per forward pass; sandbox {} programs in {:.1} s); {} eligible prefixes, {} left out at the goal",
            self.seconds, self.ms_per_forward, c.sandbox_programs, self.sandbox_seconds, c.eligible_prefixes, c.prefixes_excluded_at_goal
        );
        s
    }

    /// The variants over the seeds as a Markdown table, with the paired tests
    /// and the shipped variant's hint precision and flag rate against the base rate.
    pub fn seeds_table(&self) -> String {
        let r = &self.seeds;
        let mut s = String::new();
        let _ = writeln!(s, "\nOver {} seeds of the title split ({:?}); test AUC mean ± standard error; paired t-test of per-seed AUC against the hand features:\n", r.seeds.len(), r.seeds);
        let _ = writeln!(s, "| variant | server reads | AUC | F1 | Brier | AUC - hand features |");
        let _ = writeln!(s, "|---|---|---|---|---|---|");
        for (name, _) in variant_names() {
            let Some(v) = r.variants.get(name) else { continue };
            let _ = writeln!(
                s,
                "| {name}{} | {} | {:.3} ± {:.3} | {:.3} | {:.3} | {} |",
                if *name == r.shipped { " (shipped)" } else { "" },
                if v.server_reads { "yes" } else { "no" },
                v.auc_summary.mean,
                v.auc_summary.se,
                v.f1_summary.mean,
                v.brier_summary.mean,
                if name == "hand_features" { "-".to_string() } else { test_text(v.vs_hand_features.as_ref()) }
            );
        }
        let _ = writeln!(s, "\nOwn student vectors vs shuffled students (probe - shuffled_students, paired t-test over the seeds): {}", test_text(r.own_vs_shuffled_students.as_ref()));
        let _ = writeln!(
            s,
            "Shipped: {} - hand features: {}; goal (>= +{GOAL_MARGIN_OVER_HAND:.2} AUC) {}",
            r.shipped,
            test_text(r.shipped_vs_hand_features.as_ref()),
            if r.goal_met { "met" } else { "not met" }
        );
        if let Some(v) = r.variants.get(&r.shipped) {
            let _ = writeln!(
                s,
                "Shipped hint, mean over the seeds: flags {:.1}% of test prefixes, precision {:.1}% against a base rate of {:.1}%",
                100.0 * mean(&v.hint_flag_rate),
                100.0 * mean(&v.hint_precision),
                100.0 * mean(&r.test_positive_rate)
            );
        }
        s
    }
}
