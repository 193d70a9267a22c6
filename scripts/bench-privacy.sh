#!/usr/bin/env bash
# What a student's checks leave outside the store, and what that costs.
#
#   bash scripts/bench-privacy.sh [N] [BINARY...]
#
# For each pencil-lsp binary (default: target/release/pencil-lsp; pass an older
# build first to compare), in a fresh HOME / XDG_CACHE_HOME / TMPDIR:
#  1. start-up: `pencil-lsp check` of one short program, 5 times (the first one
#     with an empty engine cache, the rest warm), wall time each;
#  2. N programs of the oracle set (default 1000) checked by one `pencil-lsp check`:
#     wall time and programs/s;
#  3. the files and bytes left under HOME, the cache and TMPDIR, and how many of
#     them contain a line of a checked program (a line of 16+ characters that
#     is not a bare command; fixed-string search).
# Output: one block per binary; compare the blocks (same script, same machine).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
n="${1:-1000}"
shift || true
bins=("$@")
[ ${#bins[@]} -gt 0 ] || bins=("$root/target/release/pencil-lsp")
labels="$root/../shared/data/oracle/labels.jsonl.gz"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/programs"
# The programs, one file each, and the distinctive lines to look for.
python3 - "$labels" "$n" "$work" <<'EOF'
import gzip, json, sys, os
labels, n, work = sys.argv[1], int(sys.argv[2]), sys.argv[3]
lines = set()
with gzip.open(labels, "rt") as f:
    for i, rec in enumerate(f):
        if i >= n:
            break
        code = json.loads(rec)["code"]
        with open(os.path.join(work, "programs", f"p{i:05d}.coffee"), "w") as out:
            out.write(code)
        for line in code.splitlines():
            line = line.strip()
            if len(line) >= 16:
                lines.add(line)
with open(os.path.join(work, "patterns.txt"), "w") as out:
    out.write("\n".join(sorted(lines)) + "\n")
print(f"programs: {min(n, i + 1)}, distinctive lines: {len(lines)}")
EOF
printf 'pen red\nfd 100\n' > "$work/short.coffee"

ms() { python3 -c 'import time; print(int(time.monotonic()*1000))'; }

for bin in "${bins[@]}"; do
  home="$work/home-$(basename "$(dirname "$(dirname "$bin")")")-$RANDOM"
  mkdir -p "$home/tmp"
  export HOME="$home" XDG_CACHE_HOME="$home/.cache" TMPDIR="$home/tmp"
  echo "== $bin"
  starts=()
  for _ in 1 2 3 4 5; do
    t0=$(ms); "$bin" check "$work/short.coffee" >/dev/null; t1=$(ms)
    starts+=("$((t1 - t0))")
  done
  echo "start-up (check of one short program, ms; first with an empty engine cache): ${starts[*]}"
  t0=$(ms); "$bin" check "$work"/programs/*.coffee > "$work/verdicts.txt" || true; t1=$(ms)
  total=$((t1 - t0))
  checked=$(wc -l < "$work/verdicts.txt")
  python3 -c "print(f'checks: $checked in $total ms: {$checked/($total/1000):.1f} programs/s, {$total/$checked:.2f} ms per program (start-up included)')"
  files=$(find "$home" -type f | wc -l)
  bytes=$(find "$home" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}')
  leaking=$( (grep -rlF -f "$work/patterns.txt" "$home" 2>/dev/null || true) | wc -l)
  echo "left under HOME, cache and TMPDIR: $files files, $bytes bytes; files containing a checked program's line: $leaking"
  python3 -c "print(f'per 1,000 checks: {$files*1000/$checked:.0f} files, {$bytes*1000/$checked/1e6:.2f} MB, {$leaking*1000/$checked:.0f} with student text')"
done
