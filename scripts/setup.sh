#!/usr/bin/env bash
# Idempotent set-up of everything the build, the tests and the main job need
# beyond the Rust toolchain. Safe to run again; does nothing already done.
# Only package registries are used (Debian, PyPI, npm).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
deps="$root/.deps"
mkdir -p "$deps"

# --- Debian packages -------------------------------------------------------
apt_pkgs=(cmake libsimde-dev protobuf-compiler)
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
