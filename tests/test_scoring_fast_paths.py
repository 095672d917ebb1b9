"""`normalize` takes shortcuts for speed; here it must equal the plain step-by-step form.

`reference_normalize` below is SCORING.md read literally: every rule a regex applied in
order, Whisper's own number normaliser and symbol stripper, no gating. It must pass the
shared vectors itself, then agree with `normalize` string for string on random text built
to hit every rule and their interactions.
"""

from __future__ import annotations

import json
import random
import re

import pytest
from whisper_normalizer.basic import remove_symbols_and_diacritics
from whisper_normalizer.english import EnglishNumberNormalizer

from asyncbench.scoring import legacy_normalize, normalize
from asyncbench.scoring.names import NAME_VARIANTS
from asyncbench.scoring.normalizer import (
    COMPOUNDS,
    IS_CONTRACTING_WORDS,
    KEPT_SYMBOLS,
    LEADERBOARD_FILLERS,
    LEGACY_FILLERS,
    WHISPER_CONTRACTIONS_AFTER_S,
    WHISPER_CONTRACTIONS_BEFORE_S,
    WHISPER_PERFECT_TENSE_RULES,
    WHISPER_WORD_RULES,
)
from asyncbench.scoring.spelling import leaderboard_spelling_map, legacy_spelling_map

from .scoring_files import VECTORS

WHISPER_NUMBERS = EnglishNumberNormalizer()


def _join_run(match: re.Match[str]) -> str:
    letters = match.group().split()
    if len(letters) >= 3 or not {"a", "i"} & set(letters):
        return "".join(letters)
    return match.group()


def reference_normalize(text: str, *, legacy: bool = False) -> str:
    s = text.lower()
    s = re.sub(r"[<\[][^>\]]*[>\]]", "", s)
    s = re.sub(r"\(([^)]+?)\)", "", s)
    fillers = LEGACY_FILLERS if legacy else LEADERBOARD_FILLERS
    s = re.sub(r"\b(" + "|".join(fillers) + r")\b", "", s)
    s = re.sub(r"\s+'", "'", s)
    for word, replacement in WHISPER_WORD_RULES:
        s = re.sub(r"\b" + re.escape(word) + r"\b", replacement, s)
    for suffix, replacement in (*WHISPER_PERFECT_TENSE_RULES, *WHISPER_CONTRACTIONS_BEFORE_S):
        s = re.sub(re.escape(suffix) + r"\b", replacement, s)
    if legacy:
        s = re.sub(r"'s\b", " is", s)
    else:
        s = re.sub(r"\b(" + "|".join(IS_CONTRACTING_WORDS) + r")'s\b", r"\1 is", s)
    for suffix, replacement in WHISPER_CONTRACTIONS_AFTER_S:
        s = re.sub(re.escape(suffix) + r"\b", replacement, s)
    s = re.sub(r"(\d),(\d)", r"\1\2", s)
    s = re.sub(r"\.([^0-9]|$)", r" \1", s)
    s = remove_symbols_and_diacritics(s, keep=KEPT_SYMBOLS)
    if not legacy:
        for words, joined in COMPOUNDS:
            first, second = words.split()
            s = re.sub(rf"\b{first}\s+{second}\b", joined, s)
    s = WHISPER_NUMBERS(s)
    spelling = legacy_spelling_map() if legacy else leaderboard_spelling_map()
    s = " ".join(spelling.get(w, w) for w in s.split())
    if not legacy:
        s = " ".join(NAME_VARIANTS.get(w, w) for w in s.split())
    s = re.sub(r"[.$¢€£]([^0-9])", r" \1", s)
    s = re.sub(r"([^0-9])%", r"\1 ", s)
    if not legacy:
        s = re.sub(r"(?<!\S)\S(?:\s+\S)+(?!\S)", _join_run, s)
    return re.sub(r"\s+", " ", s)


VOCABULARY = [
    *LEADERBOARD_FILLERS,
    *(w for w, _ in WHISPER_WORD_RULES),
    *(w for words, _ in COMPOUNDS for w in words.split()),
    *IS_CONTRACTING_WORDS,
    *sorted(WHISPER_NUMBERS.words),
    *list(NAME_VARIANTS)[:20],
    *("colour", "ok", "kay", "etcetera", "mm", "hmm", "john", "the", "cat", "a", "i", "b"),
    *("7", "42", "3.5", "1,000", "$20", "£3", "€1.99", "50%", "1960s", "2nd", "5mm", "1"),
    *("café", "Zoë", "naïve", "ﬁ", "½", "x²", "٣", "Ångström", "™", "…", "—", "’s"),
    *("'s", "'d", "'ll", "n't", "'re", "'ve", "'m", "'t", "'s been", "'d done", "'s got"),
    *("[noise]", "(laughs)", "<unk>", "(", ")", "[", "<", ">"),
]
GLUE = [" ", " ", " ", "", "  ", ", ", ". ", "-", "'", "/", "\t", "\n", "!", "...", "_"]


def random_text(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(1, 12)):
        word = rng.choice(VOCABULARY)
        parts.append(word.upper() if rng.random() < 0.1 else word)
        parts.append(rng.choice(GLUE))
    return "".join(parts)


def test_the_reference_passes_every_vector() -> None:
    lines = (VECTORS / "normalizer_vectors.jsonl").read_text(encoding="utf-8").splitlines()
    for vector in map(json.loads, filter(str.strip, lines)):
        assert reference_normalize(vector["input"]) == vector["expected"], vector["input"]


@pytest.mark.parametrize("seed", range(3))
def test_normalize_equals_the_reference_on_random_text(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(2500):
        text = random_text(rng)
        assert normalize(text) == reference_normalize(text), text


def test_legacy_normalize_equals_the_reference_on_random_text() -> None:
    rng = random.Random(100)
    for _ in range(2500):
        text = random_text(rng)
        assert legacy_normalize(text) == reference_normalize(text, legacy=True), text


@pytest.mark.parametrize(
    "text",
    [
        "wi_fi and t_shirt",  # "_" is a word character until symbols are stripped
        "wi ﬁ",  # a ligature that only becomes "fi" when accents are stripped
        "an x-rày",  # a letter that loses its accent
        "y'all right",  # a word rule writing the first word of a compound
        "uh-huh mm-hmm",
        "let 's go, i 'ma leave",
    ],
)
def test_normalize_equals_the_reference_where_shortcuts_could_slip(text: str) -> None:
    assert normalize(text) == reference_normalize(text)
