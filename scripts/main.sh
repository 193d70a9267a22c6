#!/usr/bin/env bash
# The main job on a fresh machine: set-up (idempotent), build, then feed the
# bundled public corpus through the coach's pipeline, as a student would meet
# it: every program state recorded, checked in the sandbox, diagnostics at the
# right line, verified quick fixes shown as diffs, and with the trace model
# the backtracking risk of every state and "Fix in my style" (sampled next
# states that run in the sandbox, ranked by closeness) for failing ones. Then
# the paper's metrics over the same corpus.
#
# The model is the shipped default, models/default/ (found beside the
# executable), unless PENCIL_MODEL_DIR names another; without one (or without
# ONNX Runtime) replay says so once and still shows the rule-based fixes. A
# model without a probe gives "risk: no probe in this model".
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
corpus="${1:-../shared/data/public/trace-model.jsonl.gz}"
limit="${2:-8}"
bash scripts/setup.sh
cargo build --release --locked -p pencil-lsp -p pencil-trainer
./target/release/pencil-lsp replay "$corpus" --limit "$limit"
echo
./target/release/pencil-trainer metrics "$corpus"
