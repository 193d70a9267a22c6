#!/usr/bin/env bash
# The whole test suite, from a fresh machine: set-up (idempotent), then every
# test of every crate. GPU-only code sits behind the `cuda` feature and is not
# built here. Builds are cached in target/.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
if [ ! -d ../shared/data ]; then
  echo "test: ../shared/data (the public corpus and golden values) must sit beside this repo" >&2
  exit 2
fi
bash scripts/setup.sh
# pencil-hub's release tests read Parquet back with DuckDB (PyPI duckdb, into .deps/python).
if [ ! -f .deps/python/.duckdb-2.0.1 ]; then
  echo "test: installing duckdb==2.0.1 into .deps/python (pencil-hub release tests)" >&2
  python3 -m pip install -q --disable-pip-version-check --no-warn-script-location \
    --target .deps/python "duckdb==2.0.1"
  touch .deps/python/.duckdb-2.0.1
fi
# A CI run builds once from scratch: incremental caches would only take disk.
if [ -n "${CI:-}" ]; then export CARGO_INCREMENTAL=0; fi
export PATH="$root/.deps/npm/node_modules/.bin:$PATH"
(cd editor-extensions/drawing && npm ci --no-audit --no-fund >/dev/null && npm test)
cargo test --workspace --locked --no-fail-fast
# The VS Code extension: its own logic under Node's test runner (its research
# flow runs the target/debug/pencil-lsp the line above built), then the .vsix.
(cd editor-extensions/vscode && npm test && npm run package </dev/null)
# The Neovim plugin's research commands, headless, against the same binary.
nvim --headless -u NONE -i NONE -c 'luafile editor-extensions/neovim/test/research.lua'
# The editor page served by pencil-lsp --listen, end to end in Chromium (needs target/debug/pencil-lsp).
(cd editor-extensions/pencilcode && npm test)
# The teacher's dashboard end to end: pencil-hub, a class of real pencil-lsp
# processes replaying public traces, Chromium (needs both debug binaries).
(cd hub/e2e && npm ci --no-audit --no-fund >/dev/null && node dashboard.e2e.mjs)
# The VS Code extension end to end in code-server on Chromium (needs target/debug/pencil-lsp and the .vsix).
(cd editor-extensions/vscode && node e2e/vscode.e2e.mjs)
