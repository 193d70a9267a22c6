#!/usr/bin/env bash
# The main job on a fresh machine: set-up (idempotent), build, then feed the
# bundled public corpus through the coach's pipeline, as a student would meet
# it: every program state recorded, checked in the sandbox, diagnostics at the
# right line, and verified quick fixes shown as diffs. Then the paper's
# metrics over the same corpus.
#
# No trained model ships yet (models/default/ is a later step), so replay says
# "risk: no model" and offers only the rule-based, sandbox-verified fixes.
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
