#!/usr/bin/env bash
# Attribution of one split by a Slurm job array: task i of n runs `tools/train --shard i/n` into
# the same work dir. Samples are split by position (k mod n = i), outputs are per-sample files
# written atomically, the estimator is computed by the first task and reused by the others, and a
# re-submitted array resumes where the last one stopped.
#
#   tools/list                                   # once, on the login node: set up and build
#   sbatch --array=0-7 tools/slurm_train.sh configs/feature_iba_vgg16_imagenet.toml workdirs/vgg16 [--cfg-options ...]
#
#SBATCH --job-name=ibex
#SBATCH --gres=gpu:1
#SBATCH --cpus-per-task=8
#SBATCH --time=24:00:00
#SBATCH --output=slurm-%A_%a.out
set -euo pipefail
[[ $# -ge 2 ]] || { echo "usage: sbatch --array=0-(N-1) tools/slurm_train.sh CONFIG WORK_DIR [train args]" >&2; exit 2; }
config=$1; work_dir=$2; shift 2
: "${SLURM_ARRAY_TASK_ID:?submit with sbatch --array=0-(N-1)}" "${SLURM_ARRAY_TASK_COUNT:?submit with sbatch --array}"
cd "${SLURM_SUBMIT_DIR:-.}"     # sbatch runs a copy of this script; the repository is where it was submitted
device=cpu
command -v nvidia-smi >/dev/null && device=cuda
exec tools/train --config "$config" --work-dir "$work_dir" \
  --shard "$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT" --cfg-options "device=$device" "$@"
