"""The 2025 scheme: Whisper's normaliser (+ mm -> hmm) and jiwer, no compound merging."""

from __future__ import annotations

import json

import pytest
from whisper_normalizer.english import EnglishTextNormalizer

from asyncbench.scoring import legacy_normalize, legacy_wer, normalize

from .scoring_files import VECTORS

INPUTS = [
    json.loads(line)["input"]
    for line in (VECTORS / "normalizer_vectors.jsonl").read_text(encoding="utf-8").splitlines()
    if line.strip()
]
# whisper-normalizer adds rules for these that Whisper and the 2025 board never had,
# and has no "mm" -> "hmm"
PACKAGE_ONLY = ("kinda", "sorta", "dunno", "cause", "mm")


def test_legacy_is_whispers_normaliser_on_every_vector_input() -> None:
    package = EnglishTextNormalizer()
    compared = 0
    for text in INPUTS:
        if any(word in text.lower() for word in PACKAGE_ONLY):
            continue
        assert legacy_normalize(text) == package(text), text
        compared += 1
    assert compared > 750


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a 5mm gap", "a 5 hmm gap"),
        ("Kinda sorta dunno, 'cause", "kinda sorta dunno cause"),
    ],
)
def test_legacy_departs_from_the_package_where_whisper_does(text: str, expected: str) -> None:
    assert legacy_normalize(text).split() == expected.split()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("John's car", "john is car"),  # Whisper reads every 's as "is"
        ("ah, the B B C, OK?", "ah the b b c ok"),  # no new fillers, acronyms or ok -> okay
        ("Jon's e-mail", "jon is e mail"),  # no names, no compounds
    ],
)
def test_legacy_differs_from_the_current_board_where_2025_did(text: str, expected: str) -> None:
    assert legacy_normalize(text).split() == expected.split()
    assert normalize(text).split() != expected.split()


def test_legacy_wer_uses_jiwer_without_compound_merging() -> None:
    assert legacy_wer(["The white paper is out."], ["the whitepaper is out"]) == 40.0


def test_legacy_wer_counts_an_empty_reference_as_insertions_only() -> None:
    assert legacy_wer(["", "hello there"], ["hi", "hello there"]) == 50.0
