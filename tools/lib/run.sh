#!/usr/bin/env bash
# Runs one of ibex's tools: sets up libtorch (once, cached), builds the release binaries when the
# sources changed (seconds when up to date), then runs the tool with the user's arguments.
set -euo pipefail
tool=$1; shift
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
command -v cargo >/dev/null || { echo "ibex: cargo not found; install the Rust toolchain (rustup.rs)" >&2; exit 1; }
LIBTORCH=$("$root/tools/lib/libtorch.sh")
export LIBTORCH
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
# only the tool asked for: the others are built (in seconds) when first used
if [[ ! -x "$root/target/release/$tool" ]]; then
  [[ -f "$root/target/release/libibex.rlib" ]] ||
    echo "ibex setup: building the library and tools/$tool (first time only: about 5 minutes on 2 cores)" >&2
  cargo build --release --bin "$tool" --manifest-path "$root/Cargo.toml" >&2
else
  log=$(mktemp)
  cargo build --release --bin "$tool" --quiet --manifest-path "$root/Cargo.toml" 2>"$log" || { cat "$log" >&2; rm -f "$log"; exit 1; }
  rm -f "$log"
fi
exec "$root/target/release/$tool" "$@"
