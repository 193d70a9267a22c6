#!/usr/bin/env bash
# The main job on a fresh machine: set-up (idempotent), build, then run the
# coach's pipeline over the bundled public corpus.
#
# Today that is the paper's metrics over the trace-model corpus (per-trace
# backtracking, edit sizes, timing); the coach's replay takes its place once
# the language server and the shipped model land.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
corpus="${1:-../shared/data/public/trace-model.jsonl.gz}"
bash scripts/setup.sh
cargo build --release --locked -p pencil-trainer
./target/release/pencil-trainer metrics "$corpus"
