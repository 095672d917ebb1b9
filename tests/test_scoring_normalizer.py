"""The normaliser against the shared leaderboard vectors, plus the shortcuts it takes."""

from __future__ import annotations

import json
import random
import re

import pytest
from whisper_normalizer.basic import remove_symbols_and_diacritics
from whisper_normalizer.english import EnglishNumberNormalizer

from asyncbench.scoring import normalize
from asyncbench.scoring.names import NAME_VARIANTS
from asyncbench.scoring.normalizer import (
    COMPOUNDS,
    KEPT_SYMBOLS,
    WHISPER_WORD_RULES,
    CompoundJoiner,
    NumberNormalizer,
    WordReplacer,
    strip_symbols,
)

from .scoring_files import VECTORS


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


def test_one_pass_word_rules_match_whispers_one_rule_at_a_time() -> None:
    words = [w for w, _ in WHISPER_WORD_RULES]
    rng = random.Random(7)
    glue = [" ", "", "'", ".", "-", "s ", " x", "\t"]
    for _ in range(3000):
        text = "".join(rng.choice(words) + rng.choice(glue) for _ in range(rng.randint(1, 6)))
        expected = text
        for word, replacement in WHISPER_WORD_RULES:
            expected = re.sub(r"\b" + re.escape(word) + r"\b", replacement, expected)
        assert WordReplacer(dict(WHISPER_WORD_RULES))(text) == expected, text


def test_one_pass_compounds_match_one_rule_at_a_time() -> None:
    parts = sorted({w for words, _ in COMPOUNDS for w in words.split()})
    rng = random.Random(11)
    joiner = CompoundJoiner(COMPOUNDS)
    for _ in range(3000):
        text = " ".join(rng.choice(parts) for _ in range(rng.randint(1, 8)))
        expected = text
        for words, joined in COMPOUNDS:
            first, second = words.split()
            expected = re.sub(rf"\b{first}\s+{second}\b", joined, expected)
        assert joiner(text) == expected, text


def test_number_shortcut_matches_whisper_on_random_text() -> None:
    whisper = EnglishNumberNormalizer()
    vocabulary = [
        *sorted(whisper.words),
        *("7", "42", "3.5", "$20", "£3", "-4", "+5", "¢7", "€2.50", "1960s", "1s", "--3"),
        *("o", "a", "half", "the", "cat", "$", "5%"),
    ]
    rng = random.Random(3)
    ours = NumberNormalizer()
    for _ in range(5000):
        text = " ".join(rng.choice(vocabulary) for _ in range(rng.randint(1, 9)))
        assert ours(text) == whisper(text), text
