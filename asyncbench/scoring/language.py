"""Which language a text or a results file is scored in, and scoring by language.

The board has two schemes: English (its 2026 normaliser, `normalizer.py`) and, for every
other language, the multilingual one (`multilingual.py` + `compound.py`). English is the
default everywhere, so every existing call keeps its exact numbers; a file of the
multilingual track is recognised by its sidecar or by its dataset config name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path

from asyncbench.core.languages import ARMENIAN_CONFIGS
from asyncbench.core.languages import MULTILINGUAL_CONFIGS as ML_CONFIG_NAMES
from asyncbench.scoring.error_rate import ErrorCounts, check_pairs
from asyncbench.scoring.error_rate import count_errors as count_english_errors
from asyncbench.scoring.normalizer import normalize as normalize_english

ENGLISH = "en"

#: the configs of `hf-audio/open-asr-leaderboard-multilingual-datasets` and their language
MULTILINGUAL_CONFIGS: dict[str, str] = {c: c.rpartition("_")[2] for c in ML_CONFIG_NAMES}
#: every config name that says its language: the track's, Armenian's, and the key of Monsoon
#: hi's own repository (`..._DATASET_VoiceArena-Monsoon_hi_test__test`, the board's
#: `Monsoon_hi_test` column key)
CONFIG_LANGUAGES: dict[str, str] = {
    **MULTILINGUAL_CONFIGS,
    **{c: "hy" for c in ARMENIAN_CONFIGS},
    "Monsoon_hi_test": "hi",
}

# A config as one part of a name: `..._DATASET_hf-audio-..._fleurs_de_test`, `mls_it.jsonl`;
# not inside a longer word ("xmls_it", "fleurs_dev").
_CONFIG_IN_NAME = re.compile(
    r"(?:^|[_.\-/])(" + "|".join(map(re.escape, CONFIG_LANGUAGES)) + r")(?=$|[_.\-])"
)

META_SUFFIX = ".meta.json"  # the run's sidecar (asyncbench.manifest), read here only


def is_english(language: str) -> bool:
    """English in any spelling ("en", "EN", "en-US", "en_GB") is scored with the English scheme."""
    return re.split(r"[-_]", language.strip(), maxsplit=1)[0].lower() == ENGLISH


def config_language(name: str) -> str | None:
    """The language of a multilingual-track config named in `name` (a config such as
    "mcv_fr", a dataset id or a file name), or None when it names none."""
    match = _CONFIG_IN_NAME.search(name)
    return CONFIG_LANGUAGES[match.group(1)] if match else None


def read_meta(results: Path) -> Mapping[str, object]:
    """The sidecar `X.meta.json` of `X.jsonl`, or {} when it is missing or unreadable: it
    only helps to name the language, and the file name is the fallback."""
    meta = results.with_name(results.name.removesuffix(".jsonl") + META_SUFFIX)
    try:
        data = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def file_language(results: Path, meta: Mapping[str, object] | None = None) -> str:
    """The language a results file is scored in: the sidecar's `"language"` when it has
    one, else the language of the config it names (its `"config"`, then the file name, such
    as `..._fleurs_de_test.jsonl` → "de"), else English. `meta` is the sidecar when the
    caller has it already. ValueError for a sidecar language the scorer cannot score."""
    if meta is None:
        meta = read_meta(results)
    declared = meta.get("language")
    if isinstance(declared, str) and declared.strip():
        return language_code(declared)
    config = meta.get("config")
    if isinstance(config, str) and (found := config_language(config)):
        return found
    name = results.name
    dataset_at = name.find("_DATASET_")  # not the model part: "mls_it-tuned" is a model
    return config_language(name[dataset_at + 9 :] if dataset_at >= 0 else name) or ENGLISH


@cache
def language_code(language: str) -> str:
    """English in any spelling as "en", else the code the multilingual scheme uses
    (ValueError when num2words cannot spell numbers in it)."""
    if is_english(language):
        return ENGLISH
    from asyncbench.scoring.multilingual import check_language

    return check_language(language)


def normalize(text: str, language: str = ENGLISH) -> str:
    """Normalise one transcript as the board does for `language`: its English normaliser
    for "en" (the default), its multilingual one otherwise. Compare results as token lists."""
    code = ENGLISH if language == ENGLISH else language_code(language)
    if code == ENGLISH:
        return normalize_english(text)
    if code == "hi":  # OIWER normalises inside its alignment; this is its word view
        from asyncbench.scoring.oiwer import normalize_words

        return " ".join(normalize_words(text))
    from asyncbench.scoring.multilingual import normalize_multilingual

    return normalize_multilingual(text, code)


def count_errors(
    references: Sequence[str],
    predictions: Sequence[str],
    *,
    language: str = ENGLISH,
    normalized: bool = False,
    merge_compounds: bool = True,
) -> ErrorCounts:
    """Edits summed over the pairs, as the board counts them for `language`: for English
    exactly `error_rate.count_errors`; otherwise multilingual normalisation (unless
    `normalized`), compound pairing and kaldialign with compound merging."""
    code = ENGLISH if language == ENGLISH else language_code(language)
    if code == ENGLISH:
        return count_english_errors(
            references, predictions, normalized=normalized, merge_compounds=merge_compounds
        )
    from asyncbench.scoring.compound import count_paired_errors
    from asyncbench.scoring.multilingual import OIWER_LANGUAGES, normalizer_for

    check_pairs(references, predictions)
    if code in OIWER_LANGUAGES:  # references are lattices; OIWER normalises both sides
        from asyncbench.scoring.oiwer import utterance_errors

        return utterance_errors(references, predictions)[0]
    if not normalized:
        norm = normalizer_for(code)
        references = [norm(r) for r in references]
        predictions = [norm(p) for p in predictions]
    return count_paired_errors(references, predictions, merge_compounds=merge_compounds)


def wer(references: list[str], predictions: list[str], language: str = ENGLISH) -> float:
    """Board WER in percent, 2 decimals, after normalising both sides for `language`."""
    return count_errors(references, predictions, language=language).wer


#: the normaliser a file is scored with, by family: changes whenever its output may change
#: (a results file's sidecar records it, so a WER can be traced to the rules that made it)
NORMALIZER_VERSIONS = {
    "english": "open-asr-leaderboard-english-2026",
    "multilingual": "open-asr-leaderboard-multilingual-2026",
}


def normalizer_version(language: str) -> str:
    """The version of the normaliser a file in `language` is scored with."""
    return NORMALIZER_VERSIONS["english" if is_english(language) else "multilingual"]
