"""Error analysis and model comparison for the report: one row per utterance with its
aligned reference/hypothesis, worst utterances, frequent substitutions, bootstrap CIs and
Pareto fronts.

The alignment is kaldialign's, with the board's compound merging ("white paper" vs
"whitepaper" costs nothing), on the text as the file's scoring scheme normalises it, so a
row's errors are the edits that `scoring` counted for that utterance.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

EPS = "\x00"  # kaldialign's gap symbol: a character no normalised word holds


@dataclass(slots=True)
class Utterance:
    """One sample as the error table shows it."""

    dataset: str
    model: str
    sample_id: str
    status: str
    latency: float | None
    errors: int
    ref_len: int
    subs: int
    ins: int
    dels: int
    # correct words as strings; an edit as [reference word, hypothesis word], "" for a gap
    alignment: list[Any]

    @property
    def wer(self) -> float | None:
        """Percent over this utterance's reference words (None when it has none)."""
        return round(100 * self.errors / self.ref_len, 2) if self.ref_len else None


def align(ref: str, hyp: str) -> tuple[list[Any], int, int, int]:
    """(compact alignment, substitutions, insertions, deletions) of two normalised texts."""
    from kaldialign import align as kaldi_align

    r, h = ref.split(), hyp.split()
    if r == h:
        return list(r), 0, 0, 0
    pairs = kaldi_align(r, h, EPS, merge_compounds=True)
    out: list[Any] = []
    sub = ins = dels = 0
    for a, b in pairs:
        if a == b or (a != EPS and b != EPS and a.replace(" ", "") == b.replace(" ", "")):
            out.append(b)  # a match, or words merged at no cost ("white paper")
        elif a == EPS:
            ins += 1
            out.append(["", b])
        elif b == EPS:
            dels += 1
            out.append([a, ""])
        else:
            sub += 1
            out.append([a, b])
    return out, sub, ins, dels


def utterances(files: Sequence[Any]) -> list[Utterance]:
    """Every sample of every report file (`report.FileData`), aligned."""
    from asyncbench.scoring.score import get_scheme

    rows: list[Utterance] = []
    for f in files:
        norm = get_scheme(f.score.scheme, f.score.language).normalize
        for i, s in enumerate(f.samples):
            ref = norm(s.reference)
            alignment, sub, ins, dels = align(ref, norm(s.prediction))
            rows.append(
                Utterance(
                    dataset=f.name,
                    model=f.score.model_id,
                    sample_id=s.sample_id or f"#{i}",
                    status=s.status,
                    latency=s.time if s.status == "ok" else None,
                    errors=sub + ins + dels,
                    ref_len=len(ref.split()),
                    subs=sub,
                    ins=ins,
                    dels=dels,
                    alignment=alignment,
                )
            )
    return rows


def worst(rows: Sequence[Utterance], n: int = 10) -> dict[tuple[str, str], list[Utterance]]:
    """Per (dataset, model): the n utterances with the most errors (ties: higher WER)."""
    groups: dict[tuple[str, str], list[Utterance]] = {}
    for r in rows:
        groups.setdefault((r.dataset, r.model), []).append(r)
    return {
        key: sorted(
            (r for r in group if r.errors), key=lambda r: (-r.errors, -(r.wer or 0), r.sample_id)
        )[:n]
        for key, group in groups.items()
    }


def substitutions(rows: Sequence[Utterance], n: int = 20) -> dict[str, list[tuple[str, int]]]:
    """Per model: the n most frequent "reference → hypothesis" word substitutions."""
    by_model: dict[str, Counter[str]] = {}
    for r in rows:
        counter = by_model.setdefault(r.model, Counter())
        for tok in r.alignment:
            if isinstance(tok, list) and tok[0] and tok[1]:
                counter[f"{tok[0]} → {tok[1]}"] += 1
    return {model: c.most_common(n) for model, c in by_model.items()}


def pareto(points: Sequence[tuple[float, float]], maximise_x: bool) -> list[bool]:
    """Which points are on the front: lower y (WER) and higher x (throughput) or lower x
    (cost), with no other point at least as good on both and better on one."""

    def better(a: tuple[float, float], b: tuple[float, float]) -> bool:
        ax, bx = (a[0], b[0]) if maximise_x else (-a[0], -b[0])
        return ax >= bx and a[1] <= b[1] and (ax > bx or a[1] < b[1])

    return [not any(better(q, p) for q in points if q is not p) for p in points]
