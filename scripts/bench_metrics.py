#!/usr/bin/env python3
"""Benchmark: the paper's per-trace metrics in Python (difflib, nltk) vs `pencil-trainer metrics`.

The Python side is a compact re-implementation of exactly the metric set that
`pencil-trainer metrics --json` computes (the paper's definitions in
src/metrics/trace.py and src/nlp_utils.py of meghabyte/pencilcode-public), so
both sides do the same work on the same file. `--check` compares it with the
golden files first, which shows the Python side is faithful.

Usage: bench_metrics.py --binary target/release/pencil-trainer --corpus FILE [--runs 5] [--check DIR]
"""

import argparse
import difflib
import gzip
import json
import re
import resource
import statistics
import subprocess
import sys
import time
from datetime import datetime

try:  # nltk is what the paper used; fall back to a faithful few-line version.
    from nltk.translate.bleu_score import corpus_bleu as nltk_corpus_bleu
except ImportError:  # pragma: no cover - depends on the environment
    nltk_corpus_bleu = None

WEIGHTS = [tuple(1 / n for _ in range(n)) for n in range(1, 5)]


def load_colors(path):
    with open(path) as f:
        return [line.strip().lower() for line in f if line.strip()]


def edit_distance(a, b):
    r = difflib.SequenceMatcher(None, a, b).ratio()
    return int(max(len(a), len(b)) * (1 - r))


def num_comments(p):
    return len([t for t in p.split() if t[0] == "#"])


def edit_counts(programs, color_re):
    keys = ["lines_added", "lines_deleted", "lines_modified", "color_changes", "number_changes",
            "comment_additions", "function_additions", "num_large_add", "num_large_del",
            "num_small_add", "num_small_del", "num_modify_existing"]
    r = dict.fromkeys(keys, 0)
    for prev, nxt in zip(programs, programs[1:]):
        diffs = list(difflib.Differ().compare(prev.splitlines(), nxt.splitlines()))
        done = set()
        modified = 0
        for i, d in enumerate(diffs):
            if d[:2] not in ("+ ", "- ") or d[2:] in done:
                continue
            line, other = d[2:], ""
            rng = range(i - 1, -1, -1) if d[0] == "+" else range(i + 1, len(diffs))
            want = "- " if d[0] == "+" else "+ "
            for j in rng:
                if diffs[j].startswith(want):
                    other = diffs[j][2:]
                    done.add(other)
                    done.add(line)
                    break
            if other:
                modified += 1
                if color_re.sub("<COLOR>", line) == color_re.sub("<COLOR>", other):
                    r["color_changes"] += 1
                elif re.sub(r"\d+", "", line) == re.sub(r"\d+", "", other):
                    r["number_changes"] += 1
        added = deleted = 0
        for d in diffs:
            if d[:2] not in ("+ ", "- ") or d[2:] in done:
                continue
            if d[0] == "+":
                added += 1
                s = d[2:].strip()
                r["comment_additions"] += bool(s and s[0] == "#")
                r["function_additions"] += bool(re.search(r"\s*->\s*", s))
            else:
                deleted += 1
        r["lines_added"] += added
        r["lines_deleted"] += deleted
        r["lines_modified"] += modified
        cat = ("num_large_add" if added >= 5 else "num_large_del" if deleted >= 5 else
               "num_small_add" if added else "num_small_del" if deleted else "num_modify_existing")
        r[cat] += 1
    out = {f"edit_sum_{k}": v for k, v in r.items()}
    out.update({f"edit_mean_{k}": v / len(programs) for k, v in r.items()})
    return out


def trace_metrics(trace, colors, color_re):
    progs = [p["code"] for p in trace["programs"]]
    times = [datetime.strptime(p["time"], "%Y-%m-%d %H:%M:%S") for p in trace["programs"]]
    last, n = progs[-1], len(progs)
    occ = lambda word, p: len(re.findall(rf"\b{word}\b", p))
    funcs = lambda p: len(re.findall(r"=\s*->", p))
    if n == 1:
        ratio, dists = 0, [0]
    else:
        dists = [edit_distance(p, last) for p in progs[:-1]]
        ratio = sum(1 for i in range(1, len(dists)) if dists[i] > dists[i - 1]) / len(dists)
    seq = [edit_distance(a, b) for a, b in zip(progs, progs[1:])]
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:])]
    box = [occ("box", p) for p in progs]
    turtle = [occ("turtle", p) for p in progs]
    fn = [funcs(p) for p in progs]
    m = {
        "trace_year_last": int(trace["programs"][-1]["time"][:4]),
        "program_number_last": trace["programs"][-1]["n"],
        "num_occurrences_box_last": occ("box", last),
        "num_occurrences_await_last": occ("await", last),
        "num_occurrences_turtle_last": occ("turtle", last),
        "num_functions_last": funcs(last),
        "num_comments_last": num_comments(last),
        "trace_length_all": n,
        "backtracking_ratio_all": float(ratio),
        "mean_edit_distance_from_end_all": sum(dists) / len(dists),
        "first_to_last_edit_distance_all": float(dists[0]),
        "mean_sequential_edit_distance_all": sum(seq) / len(seq) if seq else 0.0,
        "mean_time_diff_all": sum(gaps) / len(gaps) if gaps else 0.0,
        "total_time_all": (times[-1] - times[0]).total_seconds(),
        "sum_num_occurrences_box_all": sum(box),
        "sum_num_occurrences_turtle_all": sum(turtle),
        "sum_num_functions_all": sum(fn),
        "mean_num_occurrences_box_all": sum(box) / n,
        "mean_num_occurrences_turtle_all": sum(turtle) / n,
        "mean_num_functions_all": sum(fn) / n,
    }
    m.update({f"{k}_all": v for k, v in edit_counts(progs, color_re).items()})
    lower = last.lower()
    return {
        "metrics": {f"{k}_boundary=True": v for k, v in m.items()},
        "backtracking_dists": dists,
        "sequential_edit_distances": seq,
        "num_comments_per_program": [num_comments(p) for p in progs],
        "colors_last": {c: k for c in colors if (k := lower.count(c))},
    }


def corpus_bleu(list_of_refs, hyps):
    """nltk's corpus_bleu for WEIGHTS, no smoothing (method0), mean of the four scores."""
    if nltk_corpus_bleu is not None:
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scores = nltk_corpus_bleu(list_of_refs, hyps, weights=WEIGHTS)
        return sum(scores) / len(scores) if isinstance(scores, list) else float(scores)
    import math
    from collections import Counter
    num, den = [0] * 5, [0] * 5
    hyp_len = ref_len = 0
    for refs, hyp in zip(list_of_refs, hyps):
        for n in range(1, 5):
            grams = lambda t: Counter(tuple(t[i:i + n]) for i in range(len(t) - n + 1))
            counts, ref_counts = grams(hyp), [grams(r) for r in refs]
            num[n] += sum(min(c, max(rc[g] for rc in ref_counts)) for g, c in counts.items())
            den[n] += max(1, sum(counts.values()))
        hyp_len += len(hyp)
        ref_len += min((len(r) for r in refs), key=lambda l: (abs(l - len(hyp)), l))
    if num[1] == 0:
        return 0.0
    bp = 1 if hyp_len > ref_len else 0 if hyp_len == 0 else math.exp(1 - ref_len / hyp_len)
    p = [num[n] / den[n] if num[n] else sys.float_info.min for n in range(1, 5)]
    scores = [bp * math.exp(math.fsum(w * math.log(pi) for w, pi in zip(ws, p))) for ws in WEIGHTS]
    return sum(scores) / len(scores)


def self_bleu(texts):
    toks = [t.split() for t in texts]
    return corpus_bleu([[t for j, t in enumerate(toks) if j != i] for i in range(len(toks))], toks)


def bleu_groups(traces):
    """Self-BLEU of the last programs of each (student, title) group of 2+ traces, in first-seen order."""
    groups = {}
    for i, t in enumerate(traces):
        groups.setdefault((t["student"], t["title"]), []).append(i)
    out = []
    for idx in groups.values():
        if len(idx) >= 2:
            lasts = [traces[i]["programs"][-1]["code"] for i in idx]
            out.append((idx, self_bleu(lasts), corpus_bleu([[lasts[1].split()]], [lasts[0].split()])))
    return out


def python_metrics(corpus, colors):
    color_re = re.compile(r"\b(" + "|".join(re.escape(c) for c in colors) + r")\b")
    with gzip.open(corpus, "rt", encoding="utf-8") as f:
        traces = [json.loads(line) for line in f if line.strip()]
    records = [trace_metrics(t, colors, color_re) for t in traces]
    return traces, records, bleu_groups(traces)


def close(a, b):
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float):
        return abs(a - b) <= 1e-9
    return a == b


def check(golden_dir, corpus, colors):
    traces, records, _ = python_metrics(corpus, colors)
    with gzip.open(f"{golden_dir}/golden_metrics.jsonl.gz", "rt") as f:
        golden = [json.loads(line) for line in f]
    ok = sum(close({k: v for k, v in g.items() if k != "index"}, records[g["index"]]) for g in golden)
    print(f"python check: golden_metrics {ok}/{len(golden)}")
    with gzip.open(f"{golden_dir}/golden_bleu.jsonl.gz", "rt") as f:
        golden = [json.loads(line) for line in f]
    ok = 0
    for g in golden:
        lasts = [traces[i]["programs"][-1]["code"] for i in g["indices"]]
        mine = (self_bleu(lasts), corpus_bleu([[lasts[1].split()]], [lasts[0].split()]))
        ok += close(list(mine), [g["self_bleu_last_programs"], g["bleu_first_vs_second_last_program"]])
    print(f"python check: golden_bleu {ok}/{len(golden)}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default="target/release/pencil-trainer")
    ap.add_argument("--corpus", default="../shared/data/public/trace-model.jsonl.gz")
    ap.add_argument("--colors", default="pencil-core/data/colors.txt")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--check", metavar="GOLDEN_DIR", help="first compare the Python side with the golden files")
    args = ap.parse_args()
    colors = load_colors(args.colors)
    print(f"python {sys.version.split()[0]}, BLEU from {'nltk' if nltk_corpus_bleu else 'built-in re-implementation'}")
    if args.check:
        check(args.check, args.corpus, colors)

    def cpu_seconds():
        # This process plus finished children: user + system time. On a shared
        # machine CPU time is steadier than wall time; both are reported.
        own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime

    def timed(fn):
        wall, cpu = [], []
        for _ in range(args.runs):
            w0, c0 = time.perf_counter(), cpu_seconds()
            fn()
            wall.append(time.perf_counter() - w0)
            cpu.append(cpu_seconds() - c0)
        return statistics.median(wall), statistics.median(cpu), wall

    def show(name, wall_med, cpu_med, wall):
        print(f"{name}: median wall {wall_med:.3f} s, median CPU {cpu_med:.3f} s, "
              f"{args.runs} runs (wall {[round(t, 3) for t in wall]})")

    rust_cmd = [args.binary, "metrics", args.corpus, "--json", "--bleu-groups"]
    rust = lambda: subprocess.run(rust_cmd, check=True, stdout=subprocess.DEVNULL)
    py = lambda: python_metrics(args.corpus, colors)
    r_wall, r_cpu, r_all = timed(rust)
    show(f"rust   ({' '.join(rust_cmd)})", r_wall, r_cpu, r_all)
    p_wall, p_cpu, p_all = timed(py)
    show(f"python (difflib + {'nltk' if nltk_corpus_bleu else 'own BLEU'})", p_wall, p_cpu, p_all)
    print(f"speed-up: {p_wall / r_wall:.1f}x wall, {p_cpu / r_cpu:.1f}x CPU (single thread on both sides)")


if __name__ == "__main__":
    main()
