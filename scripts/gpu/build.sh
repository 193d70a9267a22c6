#!/usr/bin/env bash
# Builds the CUDA `pencil-trainer` on a machine without CUDA or a GPU, for an
# NVIDIA machine without a Rust toolchain (ARCHITECTURE.md, "candle with CUDA").
#
#   scripts/gpu/build.sh                 # -> target/gpu-dist/pencil-trainer (stripped)
#   scripts/gpu/build.sh --prepare-only  # toolkit + stubs only
#
# - The CUDA toolkit (nvcc, cicc, headers, cudart) comes from PyPI wheels,
#   unzipped into .deps/cuda/tree (CUDA_ROOT = .deps/cuda/tree/nvidia/cu13).
# - The driver and math libraries are replaced at link time by empty stub
#   libraries with the right sonames; the GPU machine has the real ones.
# - Only the target gets the stub link flags (--target), so build scripts
#   still link normally.
# Building candle-kernels takes about 7 minutes on 2 cores; it is not part of
# the default test run.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cuda="$root/.deps/cuda"
tree="$cuda/tree"
stubs="$cuda/stubs"
wheels=(nvidia-cuda-nvcc==13.0.88 nvidia-cuda-runtime==13.0.96 nvidia-cuda-crt==13.0.88
        nvidia-cuda-cccl==13.0.85 nvidia-nvvm==13.0.88)

if [ ! -f "$tree/.complete" ]; then
  echo "gpu-build: fetching the CUDA toolkit wheels from PyPI" >&2
  mkdir -p "$cuda/wheels" "$tree"
  python3 -m pip download -q --disable-pip-version-check --no-deps --only-binary :all: \
    -d "$cuda/wheels" "${wheels[@]}"
  for w in "$cuda"/wheels/*.whl; do
    python3 -m zipfile -e "$w" "$tree"
  done
  chmod -R u+x "$tree"/nvidia/cu13/bin "$tree"/nvidia/cu13/nvvm/bin 2>/dev/null || true
  touch "$tree/.complete"
fi
export CUDA_ROOT="$tree/nvidia/cu13"
export CUDA_PATH="$CUDA_ROOT"
export PATH="$CUDA_ROOT/bin:$PATH"
export CUDA_COMPUTE_CAP="${CUDA_COMPUTE_CAP:-90}"
command -v nvcc >/dev/null || { echo "gpu-build: nvcc missing under $CUDA_ROOT/bin" >&2; exit 1; }

# Stub libraries: the symbols resolve on the GPU machine, at run time.
if [ ! -f "$stubs/.complete" ]; then
  mkdir -p "$stubs"
  echo 'void pencil_cuda_stub(void) {}' > "$stubs/stub.c"
  for so in libcuda.so.1 libcublas.so.13 libcublasLt.so.13 libcurand.so.10 libnvrtc.so.13; do
    base="${so%%.so*}"
    gcc -shared -fPIC -o "$stubs/$so" -Wl,-soname,"$so" "$stubs/stub.c"
    ln -sf "$so" "$stubs/$base.so"
  done
  cudart="$(find "$CUDA_ROOT/lib" -name 'libcudart.so.13*' | head -n1)"
  [ -n "$cudart" ] || { echo "gpu-build: libcudart.so.13 not found in the runtime wheel" >&2; exit 1; }
  ln -sf "$cudart" "$stubs/libcudart.so"
  touch "$stubs/.complete"
fi
[ "${1:-}" = "--prepare-only" ] && { echo "gpu-build: toolkit at $CUDA_ROOT, stubs at $stubs" >&2; exit 0; }

target=x86_64-unknown-linux-gnu
export CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-L native=$stubs -C link-arg=-Wl,--no-as-needed -C link-arg=-Wl,--unresolved-symbols=ignore-in-object-files"
cd "$root"
cargo build --release -p pencil-trainer --features cuda --target "$target"
mkdir -p target/gpu-dist
cp "target/$target/release/pencil-trainer" target/gpu-dist/pencil-trainer
strip target/gpu-dist/pencil-trainer
ls -l target/gpu-dist/pencil-trainer
echo "gpu-build: carry target/gpu-dist and run scripts/gpu/run.sh on the GPU machine" >&2
