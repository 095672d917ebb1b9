#!/usr/bin/env bash
# Benchmark every model in MODEL_IDs on the 8 Open ASR Leaderboard English splits, then print
# the scores (the table of `asyncbench score`). All the work is `asyncbench batch`: one process,
# every model at once, each provider's splits one after another within its own budget (its
# default concurrency: groq 8, elevenlabs 5, assembly 200, deepgram 50, speechmatics 30,
# speechmatics-rt 15, aldea 160, others 20), so the batch takes as long as its slowest provider.
# The progress lines show one row per provider and the batch's ETA.
#
#   nohup bash run_api.sh > run_api.log 2>&1 &     # safe to log out; progress lines every 10 s
#
# Resumable as a whole: run it again and finished splits are skipped at once, unfinished ones
# resume sample by sample. Environment (all optional):
#   MODEL="aldea/default"                 one model instead of MODEL_IDs below
#   DATASETS="ami librispeech:test.clean" a subset of the 8 splits (librispeech = both)
#   DATASET_PATH=...                      hub id (default) or a local folder with the hub layout
#   SUITE=leaderboard                     another suite (esb, the 8 splits, is the default;
#                                         `asyncbench suites` lists them; DATASETS picks in it)
#   DATA_ROOT=/data/hub                   local copies of the hub ids: DATA_ROOT/OWNER/NAME
#   ALDEA_ENDPOINTS="127.0.0.1:8800 ..."  forwarded to the aldea/* models
#   SEQUENTIAL=1                          one split at a time, as the seed's script ran them
#   MAX_RUNS=N                            at most N splits at once
#   BUDGET_USD=50                         one budget for the whole script: every model and
#                                         split stops once it is spent (exit 4; docs/money.md)
#   PRICES=prices.toml, PRICE_PER_HOUR=X  the price table the budget counts at
#   MAX_WORKERS, MAX_SAMPLES, RESULTS_DIR overrides; PYTHON: the interpreter to use
set -uo pipefail

MODEL_IDs=(
    "aldea/default"
    "elevenlabs/scribe_v1"
    "assembly/best"
    "deepgram/nova-3"
    "groq/whisper-large-v3"
    "openai/gpt-4o-transcribe"
    "revai/machine"
    "speechmatics/enhanced"
)

if [ -n "${MODEL:-}" ]; then
    MODEL_IDs=("$MODEL")
fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
python=${PYTHON:-}
if [ -z "$python" ]; then
    if [ -x "$here/.venv/bin/python" ]; then python="$here/.venv/bin/python"; else python=python3.11; fi
fi

args=(--dataset_path "${DATASET_PATH:-hf-audio/esb-datasets-test-only-sorted}")
args+=(--results_dir "${RESULTS_DIR:-results}")
for model in "${MODEL_IDs[@]}"; do
    args+=(--model "$model")
done
[ -n "${DATASETS:-}" ] && args+=(--datasets "$DATASETS")
[ -n "${SUITE:-}" ] && args+=(--suite "$SUITE")
[ -n "${DATA_ROOT:-}" ] && args+=(--data_root "$DATA_ROOT")
[ -n "${ALDEA_ENDPOINTS:-}" ] && args+=(--aldea_endpoints "$ALDEA_ENDPOINTS")
[ -n "${MAX_WORKERS:-}" ] && args+=(--max_workers "$MAX_WORKERS")
[ -n "${MAX_SAMPLES:-}" ] && args+=(--max_samples "$MAX_SAMPLES")
[ -n "${SEQUENTIAL:-}" ] && args+=(--sequential)
[ -n "${MAX_RUNS:-}" ] && args+=(--max_runs "$MAX_RUNS")
[ -n "${BUDGET_USD:-}" ] && args+=(--budget_usd "$BUDGET_USD")
[ -n "${PRICES:-}" ] && args+=(--prices "$PRICES")
[ -n "${PRICE_PER_HOUR:-}" ] && args+=(--price_per_hour "$PRICE_PER_HOUR")

echo "run_api.sh: ${#MODEL_IDs[@]} model(s): ${MODEL_IDs[*]}; started $(date -u +%FT%TZ)"
exec "$python" -m asyncbench batch "${args[@]}"
