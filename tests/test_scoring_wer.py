"""Leaderboard WER against the shared vectors, and its edge cases."""

from __future__ import annotations

import json
import math

import pytest

from asyncbench.scoring import ErrorCounts, count_errors, wer

from .scoring_files import VECTORS

WER_VECTORS = [
    json.loads(line)
    for line in (VECTORS / "wer_vectors.jsonl").read_text(encoding="utf-8").splitlines()
    if line.strip()
]


def test_all_vectors_were_read() -> None:
    assert len(WER_VECTORS) == 58


@pytest.mark.parametrize("vector", WER_VECTORS, ids=[v["note"] for v in WER_VECTORS])
def test_wer_vector(vector: dict) -> None:
    assert wer(vector["refs"], vector["hyps"]) == vector["wer_percent"]
    counts = count_errors(vector["refs"], vector["hyps"])
    assert counts.as_dict() == vector["counts"]


@pytest.mark.parametrize("vector", WER_VECTORS, ids=[v["note"] for v in WER_VECTORS])
def test_wer_vector_without_compound_merging(vector: dict) -> None:
    counts = count_errors(vector["refs"], vector["hyps"], merge_compounds=False)
    assert counts.wer == vector["wer_percent_no_merge"]


def test_already_normalised_text_is_scored_as_given() -> None:
    # "Mr" would become "mister" if normalised again
    assert count_errors(["Mr x"], ["mister x"], normalized=True).as_dict() == {
        "ins": 0,
        "del": 0,
        "sub": 1,
        "ref_len": 2,
    }


def test_nothing_to_score_is_zero_and_only_insertions_is_infinite() -> None:
    assert wer([], []) == 0.0
    assert wer(["uh"], [""]) == 0.0
    assert math.isinf(wer(["uh", "[noise]"], ["hello", ""]))


def test_counts_add_up() -> None:
    total = ErrorCounts(1, 2, 3, 10) + ErrorCounts(0, 1, 0, 5)
    assert total == ErrorCounts(1, 3, 3, 15)
    assert total.wer == 46.67


def test_mismatched_lengths_say_what_is_wrong() -> None:
    with pytest.raises(ValueError) as e:
        wer(["a", "b"], ["a"])
    assert str(e.value) == "2 references but 1 predictions: they must pair up one to one"


def test_strings_instead_of_lists_are_refused() -> None:
    with pytest.raises(TypeError) as e:
        wer("the cat", "the cat")  # type: ignore[arg-type]
    assert str(e.value) == "references and predictions must be lists of strings, not strings"
