"""The 2025 scoring scheme (`--scoring legacy`), kept to reproduce older numbers.

In 2025 the leaderboard and the seed's scripts normalised with Whisper's
EnglishTextNormalizer and its spelling map (plus "mm" -> "hmm"), and counted errors with
jiwer, which has no compound merging. The rules are OpenAI Whisper's own: the
`whisper-normalizer` package's EnglishTextNormalizer adds "kinda", "sorta", "dunno" and
"cause" rules that neither Whisper nor the leaderboard ever had, so it is not used as is.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from asyncbench.scoring.error_rate import ErrorCounts, check_pairs
from asyncbench.scoring.normalizer import (
    LEGACY_FILLERS,
    Pipeline,
    apostrophe_rules,
    filler_remover,
    run_pipeline,
)
from asyncbench.scoring.spelling import legacy_spelling_map


@cache
def _legacy() -> Pipeline:
    return Pipeline(
        fillers=filler_remover(LEGACY_FILLERS),
        apostrophe_rules=apostrophe_rules(s_means_is_after=None),
        join_compounds=False,
        token_map=legacy_spelling_map(),
        join_acronyms=False,
    )


def legacy_normalize(text: str) -> str:
    """Whisper's English normaliser as the 2025 leaderboard ran it."""
    return run_pipeline(text, _legacy())


def legacy_count_errors(
    references: Sequence[str], predictions: Sequence[str], *, normalized: bool = False
) -> ErrorCounts:
    """jiwer's word-level edit counts; a reference that is empty after normalisation adds
    its prediction's words as insertions and nothing to the reference length."""
    import jiwer  # only this scheme needs it

    check_pairs(references, predictions)
    if not normalized:
        references = [legacy_normalize(r) for r in references]
        predictions = [legacy_normalize(p) for p in predictions]
    if not references:
        return ErrorCounts()
    out = jiwer.process_words(list(references), list(predictions))
    ref_len = out.hits + out.substitutions + out.deletions
    return ErrorCounts(out.insertions, out.deletions, out.substitutions, ref_len)


def legacy_wer(references: list[str], predictions: list[str]) -> float:
    """2025-style WER in percent, 2 decimals, after normalising both sides."""
    return legacy_count_errors(references, predictions).wer


def legacy_utterance_errors(
    references: Sequence[str], predictions: Sequence[str]
) -> tuple[ErrorCounts, list[int], list[int]]:
    """jiwer's counts on normalised texts with each pair's errors and reference length kept
    (from jiwer's own alignment chunks, so the totals are `legacy_count_errors`')."""
    import jiwer

    check_pairs(references, predictions)
    if not references:
        return ErrorCounts(), [], []
    out = jiwer.process_words(list(references), list(predictions))
    errors: list[int] = []
    words: list[int] = []
    for chunks, ref in zip(out.alignments, out.references, strict=True):
        wrong = 0
        for c in chunks:
            if c.type == "insert":
                wrong += c.hyp_end_idx - c.hyp_start_idx
            elif c.type != "equal":
                wrong += c.ref_end_idx - c.ref_start_idx
        errors.append(wrong)
        words.append(len(ref))
    ref_len = out.hits + out.substitutions + out.deletions
    return ErrorCounts(out.insertions, out.deletions, out.substitutions, ref_len), errors, words
