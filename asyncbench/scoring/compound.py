"""The board's compound-pair alignment, done before multilingual WER.

German, Italian and the others write many compounds as one word that a model may split or
join differently ("Überraschung" / "über raschung"); the board's multilingual track forgives
that by aligning each pair with `difflib.SequenceMatcher(None, ref_words, hyp_words)` and,
in every region that is not `equal`, replacing both sides by one joined token when the
reference tokens joined without spaces equal the prediction tokens joined likewise. Then it
counts with `kaldialign.batch_error_rate(..., merge_compounds=True)` as for English.

The denominator is the reference token count *after* pairing: the board passes the paired
lists to kaldialign, whose `ref_len` is their length (every line of
`ml_wer_vectors.jsonl` depends on this), so "über raschung" counts as one reference word.
"""

from __future__ import annotations

from collections.abc import Sequence
from difflib import SequenceMatcher

from asyncbench.scoring.error_rate import (
    ErrorCounts,
    check_pairs,
    count_token_errors,
    utterance_token_errors,
)


def pair_compounds(ref: list[str], hyp: list[str]) -> tuple[list[str], list[str]]:
    """The board's `normalize_compound_pairs` for one utterance: (ref, hyp) token lists with
    every split-versus-joined region made one token on both sides. Equal lists are returned
    as they are (SequenceMatcher would find one `equal` region), as are lists of which one
    is empty (only an insert or a delete region, whose sides never join equal)."""
    if ref == hyp or not ref or not hyp:
        return ref, hyp
    new_ref: list[str] = []
    new_hyp: list[str] = []
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, ref, hyp).get_opcodes():
        if tag != "equal" and i1 != i2 and j1 != j2:
            joined = "".join(ref[i1:i2])
            if joined == "".join(hyp[j1:j2]):
                new_ref.append(joined)
                new_hyp.append(joined)
                continue
        new_ref += ref[i1:i2]
        new_hyp += hyp[j1:j2]
    return new_ref, new_hyp


def count_paired_errors(
    references: Sequence[str], predictions: Sequence[str], *, merge_compounds: bool = True
) -> ErrorCounts:
    """Edits summed over normalised utterance pairs, the multilingual way: compound pairing,
    then kaldialign with compound merging (`merge_compounds=False` only to see its effect:
    the board always merges)."""
    check_pairs(references, predictions)
    refs: list[list[str]] = []
    hyps: list[list[str]] = []
    for reference, prediction in zip(references, predictions, strict=True):
        ref, hyp = pair_compounds(reference.split(), prediction.split())
        refs.append(ref)
        hyps.append(hyp)
    return count_token_errors(refs, hyps, merge_compounds=merge_compounds)


def utterance_paired_errors(
    references: Sequence[str], predictions: Sequence[str], *, merge_compounds: bool = True
) -> tuple[ErrorCounts, list[int], list[int]]:
    """`count_paired_errors` with each pair's errors and (paired) reference length kept,
    for the bootstrap: the same alignment, so the totals are the same numbers."""
    check_pairs(references, predictions)
    refs: list[list[str]] = []
    hyps: list[list[str]] = []
    for reference, prediction in zip(references, predictions, strict=True):
        ref, hyp = pair_compounds(reference.split(), prediction.split())
        refs.append(ref)
        hyps.append(hyp)
    return utterance_token_errors(refs, hyps, merge_compounds=merge_compounds)
