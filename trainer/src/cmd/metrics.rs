//! `pencil-trainer metrics`: the paper's per-trace metrics over a corpus or rollout file.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use anyhow::Context;
use pencil_core::corpus::{read_corpus, ReadOptions};
use pencil_core::metrics::{bleu_groups, trace_metrics, BleuGroup, TraceMetrics};
use pencil_core::Trace;
use serde::Serialize;

use super::progress;

/// The `--help` text: what the subcommand computes and every output field.
pub const LONG_ABOUT: &str = "\
Compute the paper's per-trace metrics (exact parity with its Python code) over a
corpus (JSON Lines, gzipped or not) or a rollout file, programs as written
(consecutive duplicate states count).

With --json, one JSON object per trace on stdout:
  index                      0-based line (or record) of the trace in FILE
  student, title             the trace's student id and assignment title
  metrics                    the paper's metric dictionary; every key ends in
                             `_boundary=True` (one-program traces count as 0):
    trace_year_last            year of the last program's timestamp
    program_number_last        n of the last program's `CODE n (...)` header
    num_occurrences_box_last   regex \\bbox\\b matches in the last program
    num_occurrences_await_last regex \\bawait\\b matches in the last program
    num_occurrences_turtle_last regex \\bturtle\\b matches in the last program
    num_functions_last         regex =\\s*-> matches in the last program
    num_comments_last          whitespace tokens starting with # in the last program
    trace_length_all           number of programs
    backtracking_ratio_all     goal backtracking: share of steps i >= 1 where the
                               edit distance to the last program grows
                               (increases / number of earlier programs)
    mean_edit_distance_from_end_all  mean edit distance of earlier programs to the last
    first_to_last_edit_distance_all  edit distance of the first program to the last
    mean_sequential_edit_distance_all mean edit distance between consecutive programs
    mean_time_diff_all         mean seconds between consecutive runs
    total_time_all             seconds from the first run to the last
    sum_/mean_num_occurrences_box_all, sum_/mean_num_occurrences_turtle_all,
    sum_/mean_num_functions_all  those counts summed over programs / per program
    edit_sum_X_all, edit_mean_X_all  edit counts over consecutive pairs (Python
                               difflib.Differ line diff), summed / per program:
      lines_added, lines_deleted  lines added or deleted (not part of a modification)
      lines_modified           '-' lines paired with the nearest '+' (and vice versa)
      color_changes            modifications that only swap color words
      number_changes           modifications that only change digits
      comment_additions        added lines starting with #
      function_additions       added lines containing ->
      num_large_add            pairs adding >= 5 lines
      num_large_del            pairs deleting >= 5 lines (adding < 5)
      num_small_add            pairs adding 1-4 lines (deleting < 5)
      num_small_del            pairs deleting 1-4 lines, adding none
      num_modify_existing      pairs neither adding nor deleting lines
  backtracking_dists         edit distance of each earlier program to the last ([0]
                             for one program)
  sequential_edit_distances  edit distance between each pair of consecutive programs
  num_comments_per_program   comment tokens in each program
  colors_last                non-zero counts of each color name (substring counts of
                             the lower-cased program, so `red` also counts in `darkred`)

Edit distance is int(max(len(a), len(b)) * (1 - r)), r being Python's
difflib.SequenceMatcher(None, a, b).ratio() over code points (autojunk included).

With --bleu-groups, after the traces, one JSON object per (student, title) group
of two or more traces, in order of first appearance:
  indices                    the group's trace indices
  student, title             the group's student and title
  self_bleu_last_programs    self-BLEU of the last programs (each against all the
                             others; nltk corpus_bleu, whitespace tokens, mean of the
                             1- to 4-gram scores, no smoothing)
  bleu_first_vs_second_last_program  BLEU of the first trace's last program against
                             the second's

Without --json: a summary (counts, means of the main metrics, the distribution of
the backtracking ratio, mean self-BLEU of the groups, records skipped).";

/// Arguments of `pencil-trainer metrics`.
#[derive(clap::Args)]
pub struct Args {
    /// Corpus (JSON Lines, gzipped or not) or rollout file.
    pub file: PathBuf,
    /// One JSON object per trace on stdout instead of a summary.
    #[arg(long)]
    pub json: bool,
    /// Skip malformed records and traces whose metrics cannot be computed,
    /// reporting each on stderr, instead of failing.
    #[arg(long)]
    pub skip_bad: bool,
    /// With --json, also write the BLEU figures of each (student, title) group.
    #[arg(long)]
    pub bleu_groups: bool,
}

/// One `--json` line.
#[derive(Serialize)]
struct TraceRecord<'a> {
    index: usize,
    student: &'a str,
    title: &'a str,
    #[serde(flatten)]
    metrics: &'a TraceMetrics,
}

/// A trace's metrics with its index in the file.
type Computed<'t> = (usize, &'t Trace, TraceMetrics);

/// Computes the metrics of every trace; with `skip_bad`, traces whose metrics
/// cannot be computed are reported in `skipped` (as `file:line: reason`).
fn compute_all<'t>(traces: &'t [Trace], file: &str, skip_bad: bool, skipped: &mut Vec<String>) -> anyhow::Result<Vec<Computed<'t>>> {
    let pb = progress::bar(traces.len() as u64, "metrics");
    let mut computed = Vec::with_capacity(traces.len());
    for (position, trace) in traces.iter().enumerate() {
        let index = trace.provenance.index.unwrap_or(position);
        match trace_metrics(trace) {
            Ok(m) => computed.push((index, trace, m)),
            Err(e) if skip_bad => skipped.push(format!("{file}:{}: {e}", index + 1)),
            Err(e) => {
                pb.finish_and_clear();
                anyhow::bail!("{file}:{}: {e}", index + 1);
            }
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    Ok(computed)
}

/// Runs the subcommand.
pub fn run(args: Args) -> anyhow::Result<()> {
    let corpus = read_corpus(&args.file, ReadOptions { skip_bad: args.skip_bad })?;
    let file = args.file.display().to_string();
    let mut skipped: Vec<String> = corpus.skipped.iter().map(ToString::to_string).collect();
    let computed = compute_all(&corpus.traces, &file, args.skip_bad, &mut skipped)?;
    report_skipped(&skipped, corpus.empty_traces);

    let out = BufWriter::new(io::stdout().lock());
    let written = if args.json {
        let groups = if args.bleu_groups { bleu_groups(&corpus.traces) } else { Vec::new() };
        write_json(out, &computed, &groups)
    } else {
        write_summary(out, &file, &computed, &bleu_groups(&corpus.traces), skipped.len())
    };
    match written {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("writing to stdout"),
    }
}

fn report_skipped(skipped: &[String], empty_traces: usize) {
    if skipped.is_empty() && empty_traces == 0 {
        return;
    }
    eprintln!("metrics: skipped {} record(s):", skipped.len());
    for s in skipped.iter().take(20) {
        eprintln!("  {s}");
    }
    if skipped.len() > 20 {
        eprintln!("  ... and {} more", skipped.len() - 20);
    }
    if empty_traces > 0 {
        eprintln!("metrics: {empty_traces} rollout record(s) held no program (dropped, as the paper does)");
    }
}

fn write_json(mut out: impl Write, computed: &[Computed<'_>], groups: &[BleuGroup]) -> io::Result<()> {
    for (index, trace, metrics) in computed {
        let rec = TraceRecord { index: *index, student: &trace.student, title: &trace.title, metrics };
        serde_json::to_writer(&mut out, &rec)?;
        out.write_all(b"\n")?;
    }
    for g in groups {
        serde_json::to_writer(&mut out, g)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 {
        f64::NAN
    } else {
        sum / n as f64
    }
}

/// The `q`-quantile of sorted values (nearest rank).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn write_summary(
    mut out: impl Write,
    file: &str,
    computed: &[Computed<'_>],
    groups: &[BleuGroup],
    skipped: usize,
) -> io::Result<()> {
    writeln!(out, "{file}: {} traces, {skipped} skipped", computed.len())?;
    let m = || computed.iter().map(|(_, _, t)| &t.metrics);
    let rows: [(&str, f64); 12] = [
        ("programs per trace", mean(m().map(|x| x.trace_length_all as f64))),
        ("backtracking ratio", mean(m().map(|x| x.backtracking_ratio_all))),
        ("edit distance to last program (mean)", mean(m().map(|x| x.mean_edit_distance_from_end_all))),
        ("edit distance first -> last", mean(m().map(|x| x.first_to_last_edit_distance_all))),
        ("edit distance between runs (mean)", mean(m().map(|x| x.mean_sequential_edit_distance_all))),
        ("seconds between runs (mean)", mean(m().map(|x| x.mean_time_diff_all))),
        ("total seconds", mean(m().map(|x| x.total_time_all))),
        ("comments in last program", mean(m().map(|x| x.num_comments_last as f64))),
        ("functions in last program", mean(m().map(|x| x.num_functions_last as f64))),
        ("lines added per trace", mean(m().map(|x| x.edit_sum.lines_added as f64))),
        ("lines deleted per trace", mean(m().map(|x| x.edit_sum.lines_deleted as f64))),
        ("lines modified per trace", mean(m().map(|x| x.edit_sum.lines_modified as f64))),
    ];
    writeln!(out, "\nmeans over traces:")?;
    for (name, v) in rows {
        writeln!(out, "  {name:<38} {v:>10.3}")?;
    }

    let mut ratios: Vec<f64> = m().map(|x| x.backtracking_ratio_all).collect();
    ratios.sort_by(f64::total_cmp);
    writeln!(out, "\nbacktracking ratio:")?;
    let qs = [0.1, 0.25, 0.5, 0.75, 0.9];
    let qline: Vec<String> = qs.iter().map(|&q| format!("p{:.0} {:.3}", q * 100.0, quantile(&ratios, q))).collect();
    writeln!(out, "  {}", qline.join("  "))?;
    let mut bins = [0usize; 10];
    for r in &ratios {
        bins[((r * 10.0) as usize).min(9)] += 1;
    }
    let widest = bins.iter().copied().max().unwrap_or(0).max(1);
    for (i, n) in bins.iter().enumerate() {
        let lo = i as f64 / 10.0;
        let close = if i == 9 { ']' } else { ')' };
        let bar = "#".repeat((n * 40).div_ceil(widest));
        writeln!(out, "  [{lo:.1}, {:.1}{close} {n:>6} {bar}", lo + 0.1)?;
    }

    if !groups.is_empty() {
        writeln!(out, "\n(student, title) groups of 2+ traces: {}", groups.len())?;
        writeln!(out, "  self-BLEU of last programs (mean)        {:>10.3}", mean(groups.iter().map(|g| g.self_bleu_last_programs)))?;
        writeln!(out, "  BLEU first vs second last program (mean) {:>10.3}", mean(groups.iter().map(|g| g.bleu_first_vs_second_last_program)))?;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pencil_core::corpus::read_jsonl_str;

    const CORPUS: &str = concat!(
        r#"{"student":"s1","title":"star","programs":[{"n":1,"time":"2019-05-09 16:18:59","code":"pen red\nfd 100\n"},"#,
        r#"{"n":2,"time":"2019-05-09 16:19:09","code":"pen red\nfd 100\nrt 144\n"},{"n":3,"time":"2019-05-09 16:19:39","code":"pen blue\nfd 100\nrt 144\n"}]}"#,
        "\n",
        r#"{"student":"s1","title":"star","programs":[{"n":1,"time":"2019-05-09 16:18:59","code":"pen blue\nfd 100\nrt 144\n"}]}"#,
        "\n"
    );

    fn json_output(text: &str, groups: bool) -> String {
        let corpus = read_jsonl_str("mem.jsonl", text, ReadOptions::default()).expect("corpus");
        let computed = compute_all(&corpus.traces, "mem.jsonl", false, &mut Vec::new()).expect("metrics");
        let groups = if groups { bleu_groups(&corpus.traces) } else { Vec::new() };
        let mut out = Vec::new();
        write_json(&mut out, &computed, &groups).expect("written");
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn json_records_use_the_golden_field_names() {
        let text = json_output(CORPUS, true);
        assert!(text.starts_with(r#"{"index":0,"student":"s1","title":"star","metrics":{"trace_year_last_boundary=True":2019,"#), "{text}");
        let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect();
        assert_eq!(lines.len(), 3);
        let first = &lines[0];
        let mut keys: Vec<&str> = first.as_object().expect("object").keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["backtracking_dists", "colors_last", "index", "metrics", "num_comments_per_program", "sequential_edit_distances", "student", "title"]
        );
        assert_eq!(first["metrics"].as_object().expect("metrics").len(), 44);
        assert_eq!(first["metrics"]["trace_length_all_boundary=True"], 3);
        assert_eq!(first["metrics"]["total_time_all_boundary=True"], 40.0);
        assert_eq!(first["metrics"]["mean_time_diff_all_boundary=True"], 20.0);
        assert_eq!(first["metrics"]["edit_sum_color_changes_all_boundary=True"], 1);
        assert_eq!(first["colors_last"], serde_json::json!({"blue": 1}));
        assert_eq!(lines[1]["index"], 1);
        assert_eq!(lines[1]["backtracking_dists"], serde_json::json!([0]));
        assert_eq!(lines[2]["indices"], serde_json::json!([0, 1]));
        assert_eq!(lines[2]["bleu_first_vs_second_last_program"], 1.0);
    }

    #[test]
    fn bad_traces_fail_with_file_and_line_or_are_skipped() {
        let text = format!("{CORPUS}{}\n", r#"{"student":"s","title":"t","programs":[{"n":1,"time":"2019-13-01 00:00:00","code":"x"}]}"#);
        let corpus = read_jsonl_str("mem.jsonl", &text, ReadOptions::default()).expect("corpus");
        let err = compute_all(&corpus.traces, "mem.jsonl", false, &mut Vec::new()).expect_err("fails");
        assert_eq!(err.to_string(), r#"mem.jsonl:3: program 1: timestamp "2019-13-01 00:00:00" is not YYYY-MM-DD HH:MM:SS"#);
        let mut skipped = Vec::new();
        let computed = compute_all(&corpus.traces, "mem.jsonl", true, &mut skipped).expect("skips");
        assert_eq!((computed.len(), skipped.len()), (2, 1));
    }

    #[test]
    fn summary_reports_counts_means_and_histogram() {
        let corpus = read_jsonl_str("mem.jsonl", CORPUS, ReadOptions::default()).expect("corpus");
        let computed = compute_all(&corpus.traces, "mem.jsonl", false, &mut Vec::new()).expect("metrics");
        let mut out = Vec::new();
        write_summary(&mut out, "mem.jsonl", &computed, &bleu_groups(&corpus.traces), 0).expect("written");
        let text = String::from_utf8(out).expect("utf-8");
        assert!(text.starts_with("mem.jsonl: 2 traces, 0 skipped\n"), "{text}");
        assert!(text.contains("programs per trace                          2.000"), "{text}");
        assert!(text.contains("[0.0, 0.1)      2 #"), "{text}");
        assert!(text.contains("(student, title) groups of 2+ traces: 1"), "{text}");
    }

    #[test]
    fn nearest_rank_quantiles() {
        let v = [0.0, 0.1, 0.2, 0.3];
        assert_eq!(quantile(&v, 0.5), 0.1);
        assert_eq!(quantile(&v, 0.9), 0.3);
        assert_eq!(quantile(&v, 0.1), 0.0);
        assert!(quantile(&[], 0.5).is_nan());
    }
}
