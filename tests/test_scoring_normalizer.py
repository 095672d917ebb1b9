"""The normaliser against the shared leaderboard vectors, plus the shortcuts it takes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from whisper_normalizer.basic import remove_symbols_and_diacritics
from whisper_normalizer.english import EnglishNumberNormalizer

from asyncbench.scoring import normalize
from asyncbench.scoring.names import NAME_VARIANTS
from asyncbench.scoring.normalizer import KEPT_SYMBOLS, NumberNormalizer, strip_symbols

VECTORS = Path(__file__).resolve().parents[1].parent / "shared" / "scoring"


def _load(name: str) -> list[dict]:
    with (VECTORS / name).open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


NORMALIZER_VECTORS = _load("normalizer_vectors.jsonl")


def test_all_vectors_were_read() -> None:
    assert len(NORMALIZER_VECTORS) == 822


@pytest.mark.parametrize(
    "vector", NORMALIZER_VECTORS, ids=[v["input"][:40] for v in NORMALIZER_VECTORS]
)
def test_normalizer_vector(vector: dict) -> None:
    assert normalize(vector["input"]).split() == vector["expected"].split()


def test_result_keeps_whispers_leading_space() -> None:
    assert normalize("$1.24") == " one.24"


def test_every_name_variant_is_pinned_by_a_vector() -> None:
    inputs = " ".join(v["input"].lower() for v in NORMALIZER_VECTORS).split()
    missing = sorted(set(NAME_VARIANTS) - set(inputs))
    assert missing == []
    assert 140 <= len(NAME_VARIANTS) <= 160


def test_ascii_shortcut_matches_whispers_symbol_stripper() -> None:
    every_ascii = "".join(map(chr, range(128)))
    assert strip_symbols(every_ascii) == remove_symbols_and_diacritics(
        every_ascii, keep=KEPT_SYMBOLS
    )


def test_non_ascii_text_takes_the_full_unicode_path() -> None:
    assert strip_symbols("Zoë’s café — ½") == remove_symbols_and_diacritics(
        "Zoë’s café — ½", keep=KEPT_SYMBOLS
    )


def test_number_shortcut_matches_whisper_on_every_vector() -> None:
    ours, whisper = NumberNormalizer(), EnglishNumberNormalizer()
    for vector in NORMALIZER_VECTORS:
        text = strip_symbols(vector["input"].lower())
        assert ours(text) == whisper(text), vector["input"]
