"""Word error rate the way the leaderboard counts it.

Errors are summed over a whole dataset and divided by the total number of reference words
(not a mean of per-sentence rates), and the alignment may match k adjacent words on one
side to their concatenation on the other at no cost ("white paper" vs "whitepaper").
`kaldialign.batch_error_rate(..., merge_compounds=True)` is that alignment; this module only
adds normalisation and the rounding the board prints.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kaldialign import edit_distance

from asyncbench.scoring.normalizer import normalize


@dataclass(frozen=True, slots=True)
class ErrorCounts:
    """Edit operations summed over a set of utterances."""

    ins: int = 0
    dels: int = 0
    sub: int = 0
    ref_len: int = 0

    @property
    def errors(self) -> int:
        return self.ins + self.dels + self.sub

    @property
    def rate(self) -> float:
        """Errors per reference word: 0.0 when there is nothing to get wrong, and infinity
        when every reference is empty but some prediction is not (the board's behaviour)."""
        if self.ref_len:
            return self.errors / self.ref_len
        return math.inf if self.errors else 0.0

    @property
    def wer(self) -> float:
        """Percent, rounded to 2 decimals like the board."""
        return percent(self.rate)

    def __add__(self, other: ErrorCounts) -> ErrorCounts:
        return ErrorCounts(
            self.ins + other.ins,
            self.dels + other.dels,
            self.sub + other.sub,
            self.ref_len + other.ref_len,
        )

    def as_dict(self) -> dict[str, int]:
        """The key names of `wer_vectors.jsonl` and of `kaldialign` ("del", not "dels")."""
        return {"ins": self.ins, "del": self.dels, "sub": self.sub, "ref_len": self.ref_len}


def percent(rate: float) -> float:
    return rate if math.isinf(rate) else round(100 * rate, 2)


def check_pairs(references: Sequence[str], predictions: Sequence[str]) -> None:
    if isinstance(references, str) or isinstance(predictions, str):
        raise TypeError("references and predictions must be lists of strings, not strings")
    if len(references) != len(predictions):
        raise ValueError(
            f"{len(references)} references but {len(predictions)} predictions: "
            "they must pair up one to one"
        )


def count_errors(
    references: Sequence[str],
    predictions: Sequence[str],
    *,
    normalized: bool = False,
    merge_compounds: bool = True,
) -> ErrorCounts:
    """Align each pair and sum the edits. `normalized=True` scores the texts as given
    (they went through `normalize` already); `merge_compounds=False` is plain Levenshtein."""
    check_pairs(references, predictions)
    if not normalized:
        references = [normalize(r) for r in references]
        predictions = [normalize(p) for p in predictions]
    return count_token_errors(
        (r.split() for r in references),  # one pair's words at a time (see utterance_...)
        (p.split() for p in predictions),
        merge_compounds=merge_compounds,
    )


def count_token_errors(
    references: Iterable[list[str]],
    predictions: Iterable[list[str]],
    *,
    merge_compounds: bool = True,
) -> ErrorCounts:
    """Align each pair of token lists with kaldialign and sum the edits (the multilingual
    scheme comes here after its compound pairing, English straight from `count_errors`)."""
    return utterance_token_errors(references, predictions, merge_compounds=merge_compounds)[0]


def utterance_token_errors(
    references: Iterable[list[str]],
    predictions: Iterable[list[str]],
    *,
    merge_compounds: bool = True,
) -> tuple[ErrorCounts, list[int], list[int]]:
    """The edits summed, plus each pair's errors and reference length in input order: what
    a bootstrap resamples, from the one alignment the totals come from (never a second).

    Given iterators, only one pair's word lists exist at a time: a word list costs about 12x
    its text (a str object and a pointer per word), so splitting a file's 10 runaway 10 MB
    transcripts up front held 1.5 GB at the end of a run (bench/reply_memory.py)."""
    # kaldialign's batch_error_rate is this same loop over edit_distance; doing it here
    # keeps each pair's numbers. An exact match needs no alignment (0 errors either way),
    # and with good models most pairs are exact: skipping them halves the time in kaldialign.
    errors: list[int] = []
    words: list[int] = []
    ins = dels = sub = 0
    for ref, hyp in zip(references, predictions, strict=True):
        if ref == hyp:
            errors.append(0)
            words.append(len(ref))
            continue
        cur = edit_distance(ref, hyp, merge_compounds=merge_compounds)
        ins += cur["ins"]
        dels += cur["del"]
        sub += cur["sub"]
        errors.append(cur["ins"] + cur["del"] + cur["sub"])
        words.append(cur["ref_len"])
    return ErrorCounts(ins, dels, sub, sum(words)), errors, words


def wer(references: list[str], predictions: list[str]) -> float:
    """Leaderboard WER in percent, 2 decimals, after normalising both sides."""
    return count_errors(references, predictions).wer
