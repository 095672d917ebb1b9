"""OIWER: word error rate against a reference lattice, as the board scores Hindi (Monsoon hi).

Since August 2026 the board scores Hindi with the `voi_oiwer` package (OAL@db339acb
normalizer/eval_utils.py `score_oiwer`, `OIWER_LANGUAGES = {"hi": "hindi"}`). That package
is not installable here, so this module implements the metric from its public description
(arXiv 2603.00941, "Towards Orthographically-Informed Evaluation of Speech Recognition
Systems for Indian Languages", and the board's docstring):

- the reference is a lattice: a list of slots, each a list of accepted spellings, and a
  spelling may span several words (or none: an optional word);
- the hypothesis is charged the fewest word edits (insertions, deletions, substitutions, each
  costing 1) over every path through the lattice, so any accepted spelling of a slot is free;
- the error rate is Σ edits / Σ reference words over the set, where an utterance's reference
  words are those of the path the alignment took.

Where the lattice comes from, as on the board: the line's `reference_lists`, else its `text`
when that is a JSON list of lists (`[["…", "…"], ["…"]]`), else `text` split into words, one
slot each (plain WER).

UNCONFIRMED, and so kept behind its own scoring family (`oiwer`, Hindi only) where nothing
else can change: voi_oiwer normalises with indicnlp before aligning, and its exact steps are
not public in a form checked here. This module applies one documented normalisation to both
sides (NFC; zero-width joiners and non-joiners removed; punctuation, the danda `।` and double
danda `॥` included, to spaces; lower case for Latin code-mixed words; blanks collapsed). Its
tie-breaks are documented below; tests/test_oiwer.py checks it against examples worked by hand
from the description above.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Sequence

from asyncbench.scoring.error_rate import ErrorCounts

Lattice = list[list[list[str]]]  # slots → accepted spellings → words

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\ufeff"))


class _PunctuationToSpace(dict[int, int | str]):
    """`str.translate` table: every Unicode punctuation character (P*) to a space."""

    def __missing__(self, code: int) -> int | str:
        value: int | str = " " if unicodedata.category(chr(code)).startswith("P") else code
        self[code] = value
        return value


_PUNCTUATION = _PunctuationToSpace()


def normalize_words(text: str) -> list[str]:
    """One spelling or a hypothesis as words, after this module's normalisation."""
    s = unicodedata.normalize("NFC", text).translate(_ZERO_WIDTH).translate(_PUNCTUATION)
    return s.lower().split()


def parse_lattice(reference: str | Sequence[object]) -> Lattice:
    """The lattice a results line carries: a list of slots (each a list of spellings, or one
    spelling as a string), a JSON text of one, or plain text (one slot per word).

    ValueError names what is wrong with a malformed lattice, so the line is reported, not
    scored as if it said something else."""
    value: object = reference
    if isinstance(reference, str):
        if not reference.lstrip().startswith("[["):
            return [[[w]] for w in normalize_words(reference)]
        try:
            value = json.loads(reference)
        except json.JSONDecodeError:
            # the board falls back to plain text when it does not parse; so do we
            return [[[w]] for w in normalize_words(reference)]
    if not isinstance(value, list):
        raise ValueError(f"a reference lattice must be a list of slots, got {type(value).__name__}")
    lattice: Lattice = []
    for n, slot in enumerate(value):
        spellings = [slot] if isinstance(slot, str) else slot
        if not isinstance(spellings, list) or not spellings:
            raise ValueError(f"slot {n} of the reference lattice is not a non-empty list")
        if not all(isinstance(v, str) for v in spellings):
            raise ValueError(f"slot {n} of the reference lattice holds a non-text spelling")
        lattice.append([normalize_words(v) for v in spellings])
    return lattice


# (edits, ins, dels, sub, reference words): compared as tuples, so the fewest edits win and
# ties go to fewer insertions, then fewer deletions (a fixed, documented order)
_Cost = tuple[int, int, int, int, int]


def _add(c: _Cost, ins: int = 0, dels: int = 0, sub: int = 0, ref: int = 0) -> _Cost:
    return (c[0] + ins + dels + sub, c[1] + ins, c[2] + dels, c[3] + sub, c[4] + ref)


def _through(row: list[_Cost], words: list[str], hyp: Sequence[str]) -> list[_Cost]:
    """`row[j]`: the cheapest way to reach a node having covered hyp[:j]; the same after
    the spelling `words` (each word matched, substituted or deleted; hypothesis words
    inserted anywhere), for every j at once."""
    for w in words:
        new = [_add(row[0], dels=1, ref=1)]
        for j in range(1, len(row)):
            new.append(
                min(
                    _add(row[j - 1], sub=0 if hyp[j - 1] == w else 1, ref=1),
                    _add(row[j], dels=1, ref=1),
                    _add(new[j - 1], ins=1),
                )
            )
        row = new
    return row


def align(lattice: Lattice, hypothesis: Sequence[str]) -> ErrorCounts:
    """The fewest edits from any path through `lattice` to `hypothesis` (words), with that
    path's reference word count. Between paths of equal edits, the fewer insertions, then
    deletions, then substitutions, then the shorter reference wins (tuple order; adding
    costs keeps that order, so the slot-by-slot minimum is the minimum over whole paths)."""
    # row[j]: the cheapest way for the slots so far to cover hypothesis[:j]; before any slot,
    # j insertions
    row: list[_Cost] = [(j, j, 0, 0, 0) for j in range(len(hypothesis) + 1)]
    for slot in lattice:
        ends = [_through(row, words, hypothesis) for words in slot]
        row = [min(costs) for costs in zip(*ends, strict=True)]
    _, ins, dels, sub, ref = row[-1]
    return ErrorCounts(ins=ins, dels=dels, sub=sub, ref_len=ref)


def utterance_errors(
    references: Sequence[str], predictions: Sequence[str]
) -> tuple[ErrorCounts, list[int], list[int]]:
    """The scorer's `count` for the oiwer family: totals, then each utterance's edits and
    reference words (for the bootstrap). References are lattices as `parse_lattice` reads."""
    total = ErrorCounts()
    errors: list[int] = []
    words: list[int] = []
    for reference, prediction in zip(references, predictions, strict=True):
        counts = align(parse_lattice(reference), normalize_words(prediction))
        total = total + counts
        errors.append(counts.errors)
        words.append(counts.ref_len)
    return total, errors, words
