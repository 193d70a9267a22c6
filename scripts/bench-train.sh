#!/usr/bin/env bash
# Training speed, candle against PyTorch eager (not part of the tests): for
# each preset (tiny, small) and thread count (1, 2) runs
# `pencil-trainer bench-train` and its PyTorch twin scripts/bench_train_torch.py
# on the same configuration (model, batch, context, vocabulary, AdamW, random
# tokens) one after the other, and prints tokens/s and the candle/PyTorch
# ratio as a Markdown table (JSON of every run under target/bench-train/).
#
#   scripts/bench-train.sh [--steps N] [--presets "tiny small"] [--threads "1 2"]
#
# PyTorch comes from PyPI into .deps/torch on first use (a large download:
# PyPI's Linux wheel brings CUDA libraries) unless TORCH_PYTHONPATH points
# at a directory where `import torch` works. Run it on a quiet machine: other
# work on the cores changes both sides' numbers.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
steps=5
presets="tiny small"
threads="1 2"
while [ $# -gt 0 ]; do
  case "$1" in
    --steps) steps="$2"; shift 2 ;;
    --presets) presets="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    *) echo "bench-train: unknown argument $1" >&2; exit 2 ;;
  esac
done
torch_path="${TORCH_PYTHONPATH:-$root/.deps/torch}"
if ! PYTHONPATH="$torch_path" python3 -c "import torch" 2>/dev/null; then
  echo "bench-train: installing PyTorch from PyPI into $torch_path" >&2
  python3 -m pip install -q --target "$torch_path" torch >&2
fi
cargo build --release -q -p pencil-trainer
out="$root/target/bench-train"
mkdir -p "$out"
echo "| preset | threads | candle tokens/s | PyTorch tokens/s | candle / PyTorch |"
echo "|---|---|---|---|---|"
for p in $presets; do
  for t in $threads; do
    ./target/release/pencil-trainer bench-train --cpu --preset "$p" --threads "$t" --steps "$steps" > "$out/candle-$p-$t.json" 2>/dev/null
    PYTHONPATH="$torch_path" python3 scripts/bench_train_torch.py --cpu --preset "$p" --threads "$t" --steps "$steps" > "$out/torch-$p-$t.json" 2>/dev/null
    python3 - "$out/candle-$p-$t.json" "$out/torch-$p-$t.json" "$p" "$t" <<'EOF'
import json, sys
c, t = (json.load(open(f)) for f in sys.argv[1:3])
print(f"| {sys.argv[3]} (context {c['context']}) | {sys.argv[4]} | {c['tokens_per_s']:.0f} | {t['tokens_per_s']:.0f} | {c['tokens_per_s'] / t['tokens_per_s']:.2f}x |")
EOF
  done
done
