#!/usr/bin/env bash
# Drawing fidelity (not part of the tests): what pencil-lsp's drawing renders
# to (editor-extensions/drawing) against what the real Pencil Code runtime
# draws, both rastered in Debian's Chromium at 1280×720, on N public programs
# that the real runtime runs (../shared/data/oracle/labels.jsonl.gz,
# success: true, a fixed order). Reports IoU of drawn pixels per program and
# its median, worst decile and mean under target/bench-drawing/.
#
#   scripts/bench-drawing.sh [N=300] --runtime DIR [--ids A1,A2]
#
# DIR holds turtlebits.js, the real runtime rebuilt OUTSIDE this project from
# the public PencilCode/pencilcode repository as ../shared/data/oracle/README.md
# describes; neither that file nor a recipe building it belongs here.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
n=300
if [[ $# -gt 0 && "$1" =~ ^[0-9]+$ ]]; then n="$1"; shift; fi
bench="$root/scripts/bench_drawing"
if [ ! -x /usr/bin/chromium-headless-shell ] && [ ! -x /usr/bin/chromium ]; then
  echo "bench-drawing: installing Debian chromium-headless-shell" >&2
  sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium-headless-shell >/dev/null
fi
if [ ! -f "$bench/node_modules/.package-lock.json" ] || ! cmp -s "$bench/package-lock.json" "$bench/node_modules/.pencil-lock"; then
  (cd "$bench" && npm ci --no-audit --no-fund >/dev/null)
  cp "$bench/package-lock.json" "$bench/node_modules/.pencil-lock"
fi
if [ ! -x target/debug/pencil-lsp ]; then
  cargo build -p pencil-lsp
fi
exec node "$bench/bench.mjs" --n "$n" "$@"
