#!/usr/bin/env bash
# Assembles a CPU libtorch from PyPI's torch wheel (the only place we may download from) and caches
# it per user, so fresh clones and CI reuse it. Idempotent: when the cache is complete it does nothing.
# Prints the libtorch directory on stdout; everything else goes to stderr.
#
# Variants (see README "GPU machines"):
#   IBEX_LIBTORCH=/path/to/libtorch   use that directory as is (must hold include/ and lib/).
#   IBEX_LIBTORCH=pytorch             use the torch package of the active Python (full CUDA install).
set -euo pipefail

TORCH_VERSION=2.11.0                 # keep in step with tch in Cargo.toml (tch 0.24 <-> 2.11.0)
CUDART_PIN='nvidia-cuda-runtime==13.0.96.*'
CUPTI_PIN='nvidia-cuda-cupti==13.0.85.*'

if [[ -n "${IBEX_LIBTORCH:-}" && "${IBEX_LIBTORCH}" != pytorch ]]; then
  [[ -d "$IBEX_LIBTORCH/lib" && -d "$IBEX_LIBTORCH/include" ]] || {
    echo "IBEX_LIBTORCH=$IBEX_LIBTORCH has no include/ and lib/ folders" >&2; exit 1; }
  echo "$IBEX_LIBTORCH"; exit 0
fi
if [[ "${IBEX_LIBTORCH:-}" == pytorch ]]; then
  py=${PYTHON:-python3}
  dir=$("$py" -c 'import torch, os; print(os.path.dirname(torch.__file__))') || {
    echo "IBEX_LIBTORCH=pytorch but '$py' cannot import torch: pip install torch==$TORCH_VERSION" >&2; exit 1; }
  ver=$("$py" -c 'import torch; print(torch.__version__.split("+")[0])')
  [[ "$ver" == "$TORCH_VERSION" ]] || { echo "torch $ver found, $TORCH_VERSION needed" >&2; exit 1; }
  echo "$dir"; exit 0
fi

cache="${XDG_CACHE_HOME:-$HOME/.cache}/ibex"
dest="$cache/libtorch-$TORCH_VERSION-cpu"
if [[ -f "$dest/.complete" ]]; then echo "$dest"; exit 0; fi

mkdir -p "$cache"
exec 9>"$cache/libtorch.lock"
flock 9                                   # a second setup waits here, then finds the cache complete
if [[ -f "$dest/.complete" ]]; then echo "$dest"; exit 0; fi

echo "ibex setup: assembling CPU libtorch $TORCH_VERSION from PyPI wheels into $dest (once)" >&2
work=$(mktemp -d "$cache/tmp.XXXXXX")
trap 'rm -rf "$work"' EXIT
python3 -m pip download -q --no-deps --only-binary=:all: -d "$work/wheels" \
  "torch==$TORCH_VERSION" "$CUDART_PIN" "$CUPTI_PIN" >&2
stage="$work/libtorch"
mkdir -p "$stage/lib" "$work/x"
python3 - "$work/wheels" "$work/x" >&2 <<'PY'
import sys, zipfile, glob, os
wheels, out = sys.argv[1], sys.argv[2]
want_torch = ("torch/include/", "torch/lib/libtorch_cpu.so", "torch/lib/libc10.so", "torch/lib/libgomp")
for w in glob.glob(os.path.join(wheels, "*.whl")):
    with zipfile.ZipFile(w) as z:
        for n in z.namelist():
            base = os.path.basename(n)
            if n.startswith(want_torch) or base.startswith(("libcudart.so.13", "libcupti.so.13")):
                z.extract(n, out)
PY
mv "$work/x/torch/include" "$stage/include"
cp -a "$work/x/torch/lib/." "$stage/lib/"
find "$work/x" -name 'libcudart.so.13*' -o -name 'libcupti.so.13*' | xargs -I{} cp {} "$stage/lib/"
ln -sf libtorch_cpu.so "$stage/lib/libtorch.so"   # torch-sys always links -ltorch; CPU needs only _cpu
echo "$TORCH_VERSION" > "$stage/build-version"
touch "$stage/.complete"
rm -rf "$dest"; mv "$stage" "$dest"
echo "ibex setup: libtorch ready ($(du -sh "$dest" | cut -f1))" >&2
echo "$dest"
