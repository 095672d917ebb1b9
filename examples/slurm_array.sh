#!/usr/bin/env bash
# One split over many machines with a Slurm job array: array task I runs shard I of N, each
# writing its own `<results file>.shard-I-of-N.jsonl`; a final `asyncbench score` over the
# folder merges the shards by sample id. Resumable: resubmit the array (or one task with
# --array=I) and each shard redoes only its unfinished samples.
#
#   jobid=$(sbatch --parsable --array=0-7 examples/slurm_array.sh)
#   sbatch --dependency=afterok:$jobid --wrap "asyncbench score ${RESULTS_DIR:-results}"
#
# Any other job-array scheduler works the same way: set SLURM_ARRAY_TASK_ID (0..N-1) and
# SLURM_ARRAY_TASK_COUNT (N) yourself, or SHARDS=N. The results folder must be shared (or
# copied together before scoring). Environment (defaults in brackets):
#   MODEL [aldea/default]  DATASET_PATH [hf-audio/esb-datasets-test-only-sorted]
#   DATASET [librispeech]  SPLIT [test.clean]  RESULTS_DIR [results]  MAX_WORKERS [provider's]
#   ALDEA_ENDPOINTS, and the provider's key variable, as for `asyncbench run`
#SBATCH --job-name=asyncbench
#SBATCH --cpus-per-task=2
#SBATCH --time=24:00:00
#SBATCH --output=asyncbench-%A_%a.log
set -euo pipefail

task=${SLURM_ARRAY_TASK_ID:?"run under sbatch --array=0-N, or set SLURM_ARRAY_TASK_ID"}
shards=${SHARDS:-${SLURM_ARRAY_TASK_COUNT:?"set SHARDS=N or run under sbatch --array"}}
asyncbench=${ASYNCBENCH:-asyncbench}

args=(
    --model_name "${MODEL:-aldea/default}"
    --dataset_path "${DATASET_PATH:-hf-audio/esb-datasets-test-only-sorted}"
    --dataset "${DATASET:-librispeech}"
    --split "${SPLIT:-test.clean}"
    --results_dir "${RESULTS_DIR:-results}"
    --shard "$task/$shards"
    --no_progress
)
[ -n "${MAX_WORKERS:-}" ] && args+=(--max_workers "$MAX_WORKERS")
echo "slurm_array.sh: shard $task/$shards of ${DATASET:-librispeech}/${SPLIT:-test.clean}"
# shellcheck disable=SC2086  # ASYNCBENCH may be "python -m asyncbench"
exec $asyncbench run "${args[@]}"
