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
if ! cargo build --release --bins --quiet --manifest-path "$root/Cargo.toml" 2>"$root/target.build.log"; then
  cat "$root/target.build.log" >&2; exit 1
fi
rm -f "$root/target.build.log"
exec "$root/target/release/$tool" "$@"
