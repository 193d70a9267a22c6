#!/usr/bin/env bash
# Runs the CUDA pencil-trainer built by scripts/gpu/build.sh on an NVIDIA
# machine that has the CUDA libraries (from its PyTorch install) but no Rust.
#
#   scripts/gpu/run.sh bench-train --preset base --bf16
#   scripts/gpu/run.sh train --preset base --data DATA --variant trace --out RUN --bf16
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="$root/target/gpu-dist/pencil-trainer"
[ -x "$bin" ] || { echo "gpu-run: $bin missing; run scripts/gpu/build.sh first and carry target/gpu-dist" >&2; exit 1; }
libs="${PENCIL_CUDA_LIBS:-/opt/torch/.venv/lib/python3.12/site-packages/nvidia/cu13/lib}"
export LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
exec "$bin" "$@"
