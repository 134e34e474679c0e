#!/usr/bin/env bash
# ibex's gradient methods against Captum's, one sitting: the same quickstart model and 16
# attribution images, one image per call and in batches of 16, OMP_WAIT_POLICY=PASSIVE, each
# figure the fastest of 5 passes.
#   tools/reference/gradients_vs_captum.sh [python of a venv with torch + captum]
# Prints a Markdown table (seconds per image) and the ratios Captum / ibex, then Captum again with
# glibc's allocator set as ibex sets it (runtime::keep_freed_memory), for fairness.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
py=${1:-$HOME/.cache/ibex-ref/bin/python}
export OMP_WAIT_POLICY=PASSIVE
cd "$root"
out=$(mktemp -d)
"$py" tools/reference/captum_gradients.py --n 16 --batch 16 --smoothgrad-samples 25 --repeat 5 2>/dev/null > "$out/captum.json"
"$py" tools/reference/captum_gradients.py --n 16 --batch 16 --smoothgrad-samples 25 --repeat 5 --freeze 2>/dev/null > "$out/captum_frozen.json"
MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=1073741824 \
  "$py" tools/reference/captum_gradients.py --n 16 --batch 16 --smoothgrad-samples 25 --repeat 5 2>/dev/null > "$out/captum_malloc.json"
for m in saliency integrated_gradients smoothgrad grad_cam guided_backprop; do
  tools/bench --config "configs/baselines/$m.toml" --images 16 --repeat 5 --cfg-options attributor.batch_size=16 \
    $([[ $m == smoothgrad ]] && echo attributor.samples=25) 2>/dev/null > "$out/$m.json"
done
"$py" - "$out" <<'PY'
import json, sys
d = sys.argv[1]
cap, frozen = json.load(open(f"{d}/captum.json")), json.load(open(f"{d}/captum_frozen.json"))
rows = [("Saliency", "saliency"), ("IntegratedGradients", "integrated_gradients"), ("SmoothGrad", "smoothgrad"),
        ("GradCam", "grad_cam"), ("GuidedBackprop", "guided_backprop")]
print("| method | Captum single | Captum frozen single | ibex single | Captum batched | Captum frozen batched | ibex batched | Captum / ibex single, batched |")
print("|---|---|---|---|---|---|---|---|")
for name, f in rows:
    b = json.load(open(f"{d}/{f}.json"))
    c, z = cap[name], frozen[name]
    s, t = b["s_per_image_single"], b["s_per_image_batched"]
    print(f"| {name} | {c['single_s_per_image']:.4f} | {z['single_s_per_image']:.4f} | {s:.4f} | {c['batched_s_per_image']:.4f} "
          f"| {z['batched_s_per_image']:.4f} | {t:.4f} | {c['single_s_per_image'] / s:.2f}×, {c['batched_s_per_image'] / t:.2f}× |")
m = json.load(open(f"{d}/captum_malloc.json"))
print()
print("Captum with ibex's allocator setting (MALLOC_MMAP_THRESHOLD_=32 MiB, MALLOC_TRIM_THRESHOLD_=1 GiB):")
print("| method | Captum single | Captum batched | ibex batched vs Captum single |")
print("|---|---|---|---|")
for name, f in rows:
    b = json.load(open(f"{d}/{f}.json"))
    c = m[name]
    print(f"| {name} | {c['single_s_per_image']:.4f} | {c['batched_s_per_image']:.4f} "
          f"| {c['single_s_per_image'] / b['s_per_image_batched']:.2f}× |")
PY
rm -rf "$out"
