#!/usr/bin/env bash
# InputIBA against the official code in one sitting, at the original's settings (20 GAN epochs over
# 200 maps, input beta 20), on the first N quickstart images (N/4 per class): the official code
# (../shared/reference/official_inputiba.py, its own per-image timer), then `tools/train` with
# `--jobs 2` and `--jobs 1`, each timed by the wall clock from start to finish (model loading and
# the estimator included), OMP_WAIT_POLICY=PASSIVE.
#   tools/reference/inputiba_vs_official.sh [N (default 8, a multiple of 4)] [python of the reference venv] [official sources]
# Needs the quickstart's data and weights (tools/train --config configs/quickstart.toml once) and
# the reference environment (../shared/reference/README.md).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
n=${1:-8}
py=${2:-$HOME/.cache/ibex-ref/bin/python}
src=${3:-$HOME/.cache/ibex-ref/InputIBA}
reference=${IBEX_REFERENCE:-$root/../shared/reference/official_inputiba.py}
(( n % 4 == 0 && n > 0 )) || { echo "N must be a positive multiple of 4" >&2; exit 2; }
export OMP_WAIT_POLICY=PASSIVE
cd "$root"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/images" "$tmp/annotations"
for c in 0 1 2 3; do
  mkdir -p "$tmp/images/n9000000$c"
  for ((j = 0; j < n / 4; j++)); do
    name=$(printf "attribution_%d_%05d" "$c" "$j")
    cp "data/synthetic/images/attribution/n9000000$c/$name.png" "$tmp/images/n9000000$c/"
    cp "data/synthetic/annotations/attribution/$name.xml" "$tmp/annotations/"
  done
done
cat > "$tmp/original.toml" <<EOF
_base_ = ["$root/configs/quickstart.toml"]
[attributor.gan]
epochs = 20
dataset_size = 200
[attributor.input_iba]
beta = 20.0
[data.attribution]
img_root = "$tmp/images/"
annot_root = "$tmp/annotations/"
EOF
tools/train --help > /dev/null   # built before the clock starts
echo "| run ($n images, $(date -u +%F) $(date -u +%H:%M) UTC on) | s / image | vs the official |"
echo "|---|---|---|"
"$py" "$reference" --ibex-root "$root" --config "$tmp/original.toml" --inputiba-src "$src" --n "$n" \
  --out "$tmp/official" > /dev/null 2>&1
official=$("$py" -c "import json; print(json.load(open('$tmp/official/timings.json'))['mean_s_per_image'])")
printf "| official InputIBA (one process, 2 threads) | %.2f | 1× |\n" "$official"
for jobs in 2 1; do
  t0=$(date +%s.%N)
  tools/train --config "$tmp/original.toml" --work-dir "$tmp/wd$jobs" --jobs "$jobs" > "$tmp/train$jobs.log" 2>&1 \
    || { cat "$tmp/train$jobs.log" >&2; exit 1; }
  t1=$(date +%s.%N)
  "$py" -c "s = ($t1 - $t0) / $n; print(f'| ibex \`tools/train --jobs $jobs\` | {s:.2f} | {$official / s:.2f}× |')"
done
echo "(until $(date -u +%H:%M) UTC)"
