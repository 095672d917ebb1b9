#!/usr/bin/env bash
# Benchmark every model in MODEL_IDs on the Open ASR Leaderboard's multilingual track (the 13
# configs of hf-audio/open-asr-leaderboard-multilingual-datasets, split test), each config in
# its own language (fleurs_de in German, mcv_fr in French, ...), then print the scores. The
# counterpart of run_api.sh and of the board's api/run_api_ml.sh; all the work is
# `asyncbench batch`: one process, configs in sequence, each model at its provider's default
# concurrency, the language inferred from each config name and forced on the API.
#
#   nohup bash run_api_ml.sh > run_api_ml.log 2>&1 &
#
# Resumable as a whole, like run_api.sh. Environment (all optional):
#   MODEL="openai/whisper-1"              one model instead of MODEL_IDs below
#   DATASETS="fleurs:de mls:it"           a subset: corpus:language (or fleurs_de) pairs
#   DATASET_PATH=...                      hub id (default) or a local folder with the hub layout
#   ALDEA_ENDPOINTS="127.0.0.1:8800 ..."  forwarded to the aldea/* models
#   MAX_WORKERS, MAX_SAMPLES, RESULTS_DIR overrides; PYTHON: the interpreter to use
# A model that does not list a config's language stops the batch before any request (exit 2).
set -uo pipefail

MODEL_IDs=(
    "openai/gpt-4o-transcribe"
    "openai/gpt-4o-mini-transcribe"
    "openai/whisper-1"
    "assembly/universal-3-pro"
    "elevenlabs/scribe_v2"
    "speechmatics/enhanced"
)

# the board's 13 configs, in its order
ALL_DATASETS="fleurs:de fleurs:fr fleurs:it fleurs:es fleurs:pt mcv:de mcv:es mcv:fr mcv:it mls:es mls:fr mls:it mls:pt"

if [ -n "${MODEL:-}" ]; then
    MODEL_IDs=("$MODEL")
fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
python=${PYTHON:-}
if [ -z "$python" ]; then
    if [ -x "$here/.venv/bin/python" ]; then python="$here/.venv/bin/python"; else python=python3.11; fi
fi

# "fleurs:de mls:it" -> "fleurs_de,mls_it" (batch takes config names; fleurs_de passes as is)
configs=()
for item in ${DATASETS:-$ALL_DATASETS}; do
    configs+=("${item/:/_}")
done
datasets=$(IFS=,; echo "${configs[*]}")

args=(--dataset_path "${DATASET_PATH:-hf-audio/open-asr-leaderboard-multilingual-datasets}")
args+=(--results_dir "${RESULTS_DIR:-results}")
for model in "${MODEL_IDs[@]}"; do
    args+=(--model "$model")
done
args+=(--suite multilingual --datasets "$datasets")
[ -n "${ALDEA_ENDPOINTS:-}" ] && args+=(--aldea_endpoints "$ALDEA_ENDPOINTS")
[ -n "${MAX_WORKERS:-}" ] && args+=(--max_workers "$MAX_WORKERS")
[ -n "${MAX_SAMPLES:-}" ] && args+=(--max_samples "$MAX_SAMPLES")

echo "run_api_ml.sh: ${#MODEL_IDs[@]} model(s): ${MODEL_IDs[*]}; configs: $datasets; started $(date -u +%FT%TZ)"
exec "$python" -m asyncbench batch "${args[@]}"
