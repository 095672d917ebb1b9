#!/usr/bin/env bash
# Benchmark every model in MODEL_IDs on the Open ASR Leaderboard's multilingual track, each
# dataset in its own language, then print the scores. The counterpart of run_api.sh and of the
# board's api/run_api_ml.sh; all the work is `asyncbench batch`: one process, sets in
# sequence, each model at its provider's default concurrency, the language forced on the API.
#
#   nohup bash run_api_ml.sh > run_api_ml.log 2>&1 &
#
# The sets are the board's "dataset language" pairs (its DATASET_CONFIGS): FLEURS, MCV and MLS
# of hf-audio/open-asr-leaderboard-multilingual-datasets in de fr it es pt nl, and Monsoon hi
# (VoiceArena/Monsoon_hi_test, scored with OIWER). Armenian (fleurs hy, mcv26 hy: an open PR
# on the board) is not in the default list; name it with DATASETS="fleurs:hy mcv26:hy".
#
# Resumable as a whole, like run_api.sh. Environment (all optional):
#   MODEL="openai/whisper-1"              one model instead of MODEL_IDs below
#   DATASETS="fleurs mcv" or "fleurs:de mls:it"
#                                         the board's filter: a bare name keeps that dataset's
#                                         pairs of the list below, a dataset:language pair is
#                                         taken as given (listed or not); both mix
#   LANGUAGES="nl de"                     then keep only the pairs in these languages
#   DATASET_PATH=...                      hub id (default) or a local folder with the hub layout
#   DATA_ROOT=/data/hub                   local copies of the hub ids: DATA_ROOT/OWNER/NAME (Monsoon
#                                         hi and Armenian live in repositories of their own)
#   ALDEA_ENDPOINTS="127.0.0.1:8800 ..."  forwarded to the aldea/* models
#   MAX_WORKERS, MAX_SAMPLES, RESULTS_DIR overrides; PYTHON: the interpreter to use
# A model that does not list a set's language stops the batch before any request (exit 2), as
# does a DATASETS or LANGUAGES that leaves nothing to run.
set -uo pipefail

MODEL_IDs=(
    "openai/gpt-4o-transcribe"
    "openai/gpt-4o-mini-transcribe"
    "openai/whisper-1"
    "assembly/universal-3-pro"
    "elevenlabs/scribe_v2"
    "speechmatics/enhanced"
)

# the board's "dataset language" pairs, in its order
DATASET_CONFIGS=(
    "fleurs de" "fleurs fr" "fleurs it" "fleurs es" "fleurs pt" "fleurs nl"
    "mcv de" "mcv es" "mcv fr" "mcv it" "mcv nl"
    "mls es" "mls fr" "mls it" "mls pt" "mls nl"
    "monsoon hi"
)

if [ -n "${MODEL:-}" ]; then
    MODEL_IDs=("$MODEL")
fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
python=${PYTHON:-}
if [ -z "$python" ]; then
    if [ -x "$here/.venv/bin/python" ]; then python="$here/.venv/bin/python"; else python=python3.11; fi
fi

if [ -n "${DATASETS:-}" ]; then
    selected=()
    for want in ${DATASETS}; do
        if [[ "$want" == *:* ]]; then
            selected+=("${want/:/ }")  # a pair, taken as given
        else
            for cfg in "${DATASET_CONFIGS[@]}"; do
                read -r name _ <<< "$cfg"
                if [[ "$name" == "$want" || "${name##*/}" == "$want" ]]; then
                    selected+=("$cfg")
                fi
            done
        fi
    done
    if [ ${#selected[@]} -eq 0 ]; then
        echo "run_api_ml.sh: DATASETS='${DATASETS}' matched no dataset of the list (fleurs mcv mls monsoon, or dataset:language pairs such as fleurs:de)" >&2
        exit 2
    fi
    DATASET_CONFIGS=("${selected[@]}")
fi
if [ -n "${LANGUAGES:-}" ]; then
    selected=()
    for cfg in "${DATASET_CONFIGS[@]}"; do
        read -r _ lang <<< "$cfg"
        for want in ${LANGUAGES}; do
            if [[ "$lang" == "$want" ]]; then selected+=("$cfg"); break; fi
        done
    done
    if [ ${#selected[@]} -eq 0 ]; then
        echo "run_api_ml.sh: LANGUAGES='${LANGUAGES}' matched no dataset${DATASETS:+ of DATASETS='${DATASETS}'} (languages: de fr it es pt nl hi)" >&2
        exit 2
    fi
    DATASET_CONFIGS=("${selected[@]}")
fi

# "fleurs de" -> fleurs_de, "monsoon hi" -> monsoon (its own repository, no config): the
# names `asyncbench batch --suite multilingual --datasets` knows
configs=()
for cfg in "${DATASET_CONFIGS[@]}"; do
    read -r name lang <<< "$cfg"
    if [[ "$name" == "monsoon" ]]; then configs+=("monsoon"); else configs+=("${name}_${lang}"); fi
done
datasets=$(IFS=,; echo "${configs[*]}")
if [ -n "${DATASETS:-}${LANGUAGES:-}" ]; then
    echo "run_api_ml.sh: restricted to ${#configs[@]} dataset/language pair(s): ${DATASET_CONFIGS[*]}"
fi

args=()
[ -n "${DATASET_PATH:-}" ] && args+=(--dataset_path "$DATASET_PATH")
args+=(--results_dir "${RESULTS_DIR:-results}")
for model in "${MODEL_IDs[@]}"; do
    args+=(--model "$model")
done
args+=(--suite multilingual --datasets "$datasets")
[ -n "${ALDEA_ENDPOINTS:-}" ] && args+=(--aldea_endpoints "$ALDEA_ENDPOINTS")
[ -n "${DATA_ROOT:-}" ] && args+=(--data_root "$DATA_ROOT")
[ -n "${MAX_WORKERS:-}" ] && args+=(--max_workers "$MAX_WORKERS")
[ -n "${MAX_SAMPLES:-}" ] && args+=(--max_samples "$MAX_SAMPLES")

echo "run_api_ml.sh: ${#MODEL_IDs[@]} model(s): ${MODEL_IDs[*]}; configs: $datasets; started $(date -u +%FT%TZ)"
exec "$python" -m asyncbench batch "${args[@]}"
