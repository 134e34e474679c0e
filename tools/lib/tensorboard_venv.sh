#!/usr/bin/env bash
# A cached venv with TensorBoard from PyPI, for checking event files with TensorBoard itself.
# Prints its python (nothing if it cannot be made). Idempotent; no time when already there.
set -euo pipefail
cache="${XDG_CACHE_HOME:-$HOME/.cache}/ibex"
venv="$cache/venv-tensorboard"
mkdir -p "$cache"
exec 9>"$cache/venv.lock"
flock 9
if ! "$venv/bin/python" -c "import tensorboard" 2>/dev/null; then
  echo "ibex setup: installing TensorBoard into $venv (once)" >&2
  rm -rf "$venv"
  if ! { python3 -m venv "$venv" >&2 && "$venv/bin/python" -m pip install -q --disable-pip-version-check "tensorboard>=2.16" >&2; }; then
    echo "ibex setup: WARNING: could not make a venv with TensorBoard (is python3-venv installed?);" \
         "event files are then checked by ibex's own reader only" >&2
    rm -rf "$venv"
    exit 0
  fi
fi
echo "$venv/bin/python"
