#!/usr/bin/env bash
# Benchmark of the paper's metrics: `pencil-trainer metrics` (release build) vs
# a faithful Python re-implementation with difflib and nltk, on the same corpus,
# median of RUNS runs each (default 5). The Python side is first checked
# against the golden files, so both compute the same thing.
#   usage: scripts/bench-metrics.sh [CORPUS]   (default: the public trace-model corpus)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
corpus="${1:-../shared/data/public/trace-model.jsonl.gz}"
golden="../shared/data/public"
cargo build --release -p pencil-trainer
check=()
[ -f "$golden/golden_metrics.jsonl.gz" ] && check=(--check "$golden")
# nltk (the paper's BLEU) is installed into .deps/python by scripts/setup.sh.
PYTHONPATH="$root/.deps/python${PYTHONPATH:+:$PYTHONPATH}" python3 scripts/bench_metrics.py \
  --binary target/release/pencil-trainer --corpus "$corpus" --runs "${RUNS:-5}" "${check[@]}"
