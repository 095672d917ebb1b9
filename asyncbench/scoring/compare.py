"""`asyncbench compare`: is model B's WER really different from model A's, dataset by dataset?

Both models' files are scored as `score` scores them (same scheme, same per-utterance
counts); then, per dataset both have, only the samples both answered (same sample id, not
failed in either) are kept, and a paired bootstrap (`bootstrap.paired_bootstrap`) gives the
difference B − A, its 95 % interval and a two-sided p-value. Pairing matters: two models
are usually wrong on the same hard utterances, so the paired interval is much narrower than
the two unpaired ones side by side.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from asyncbench.core.errors import ConfigError
from asyncbench.core.text import one_line
from asyncbench.scoring.bootstrap import (
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    Paired,
    paired_bootstrap,
    paired_composite,
)
from asyncbench.scoring.score import FileScore, collect_scores

RULE = "*" * 80


@dataclass(frozen=True, slots=True)
class DatasetComparison:
    dataset_id: str
    language: str
    paired: Paired | None  # None when no sample was answered by both
    only_a: int  # samples A answered that B did not (or B lacks), left out
    only_b: int


@dataclass(frozen=True, slots=True)
class Comparison:
    model_a: str
    model_b: str
    resamples: int
    seed: int
    datasets: tuple[DatasetComparison, ...]
    missing: tuple[str, ...]  # datasets only one of the two models has, as "model: dataset"
    problems: tuple[str, ...]
    # per language, over the datasets both answered: mean WER of each and B − A, stratified
    composites: tuple[tuple[str, int, Paired], ...] = ()


def _matches(model_id: str, wanted: str) -> bool:
    return model_id == wanted or model_id.replace("/", "-") == wanted.replace("/", "-")


def _pick(files: Sequence[FileScore], wanted: str, found: list[str], where: Path) -> str:
    for model_id in found:
        if _matches(model_id, wanted):
            return model_id
    raise ConfigError(
        f"no results for model {wanted!r} under {str(where)!r}; models found: " + ", ".join(found)
    )


def pair_up(a: FileScore, b: FileScore) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Row indices into A's and B's utterances of the samples both answered, in A's order,
    and how many each answered alone."""
    ua, ub = a.utterances, b.utterances
    assert ua is not None and ub is not None
    b_at = {sample_id: i for i, sample_id in enumerate(ub.ids) if ub.answered[i]}
    rows_a: list[int] = []
    rows_b: list[int] = []
    for i, sample_id in enumerate(ua.ids):
        j = b_at.get(sample_id)
        if ua.answered[i] and j is not None:
            rows_a.append(i)
            rows_b.append(j)
    only_a = int(ua.answered.sum()) - len(rows_a)
    only_b = int(ub.answered.sum()) - len(rows_b)
    return np.asarray(rows_a, dtype=np.int64), np.asarray(rows_b, dtype=np.int64), only_a, only_b


def compare_models(
    directory: str | Path,
    model_a: str,
    model_b: str,
    *,
    scheme: str = "leaderboard",
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    workers: int | None = None,
) -> Comparison:
    """Score every file under `directory`, then compare model B with model A per dataset.
    ConfigError (one line listing the models found) when either has no results."""
    if resamples < 1:
        raise ConfigError(f"--bootstrap must be at least 1 resample to compare, got {resamples}")
    if _matches(model_a, model_b):
        raise ConfigError(f"--model {model_a!r} is given twice: compare two different models")
    report = collect_scores(directory, scheme=scheme, workers=workers)
    found = sorted({f.model_id for f in report.files})
    name_a = _pick(report.files, model_a, found, Path(directory))
    name_b = _pick(report.files, model_b, found, Path(directory))
    by_key = {(f.model_id, f.dataset_id, f.language): f for f in report.files}
    keys_a = [k for k in by_key if k[0] == name_a]
    keys_b = {(k[1], k[2]) for k in by_key if k[0] == name_b}
    datasets: list[DatasetComparison] = []
    groups: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]]] = {}
    missing: list[str] = []
    for _, dataset, language in keys_a:
        if (dataset, language) not in keys_b:
            missing.append(f"{name_a}: {dataset}")
            continue
        a, b = by_key[(name_a, dataset, language)], by_key[(name_b, dataset, language)]
        rows_a, rows_b, only_a, only_b = pair_up(a, b)
        paired = None
        if len(rows_a):
            ua, ub = a.utterances, b.utterances
            assert ua is not None and ub is not None
            group = (ua.errors[rows_a], ua.words[rows_a], ub.errors[rows_b], ub.words[rows_b])
            paired = paired_bootstrap(*group, resamples, seed, key=dataset)
            groups.setdefault(language, []).append((*group, dataset))
        datasets.append(DatasetComparison(dataset, language, paired, only_a, only_b))
    keys_a_set = {(k[1], k[2]) for k in keys_a}
    missing += [f"{name_b}: {d}" for d, lang in sorted(keys_b) if (d, lang) not in keys_a_set]
    return Comparison(
        model_a=name_a,
        model_b=name_b,
        resamples=resamples,
        seed=seed,
        datasets=tuple(datasets),
        missing=tuple(missing),
        problems=report.problems,
        composites=tuple(
            (language, len(g), paired_composite(g, resamples, seed))
            for language, g in groups.items()
        ),
    )


def format_comparison(c: Comparison) -> str:
    """One line per dataset, then the composite per language: both models' WERs on the
    samples both answered, the difference with its interval and p-value, and whether it is
    significant at 5 %. Every line names the models (no "A" and "B" to decode)."""
    a, b = one_line(c.model_a, 80), one_line(c.model_b, 80)
    lines = [
        f"{b} compared with {a}: WER difference ({b} minus {a}, percentage points; negative "
        f"means {b} makes fewer errors) on the samples both answered; paired bootstrap, "
        f"{c.resamples} resamples, seed {c.seed}",
        RULE,
    ]
    significant = 0
    for d in c.datasets:
        p = d.paired
        name = one_line(d.dataset_id, 120)
        if p is None:
            lines.append(f"{name}: no sample answered by both {a} and {b}")
            continue
        significant += p.significant
        line = f"{name}: {_measured(p, a, b)} (n = {p.samples})"
        if d.only_a or d.only_b:
            line += f"; left out: {d.only_a} answered by {a} only, {d.only_b} by {b} only"
        lines.append(line)
    for language, n, p in c.composites:
        lines.append(
            f"composite ({language}, mean of {n} dataset{'s' * (n != 1)}): {_measured(p, a, b)}"
        )
    lines.append(RULE)
    compared = sum(d.paired is not None for d in c.datasets)
    better = [
        f"{one_line(d.dataset_id, 120)} ({b if d.paired.difference < 0 else a} better)"
        for d in c.datasets
        if d.paired is not None and d.paired.significant
    ]
    lines.append(
        f"{significant} of {compared} differences significant at the 5 % level"
        + (": " + ", ".join(better) if better else "")
    )
    for m in c.missing:
        lines.append(f"not compared (only one model has it): {one_line(m, 200)}")
    return "\n".join(lines)


def _measured(p: Paired, a: str, b: str) -> str:
    verdict = "significant" if p.significant else "not significant"
    return (
        f"{a} {p.wer_a:0.2f} %, {b} {p.wer_b:0.2f} %, difference {p.difference:+0.2f} "
        f"[{p.ci95[0]:+0.2f}, {p.ci95[1]:+0.2f}], p = {p.p_value:0.4f}, {verdict}"
    )


def comparison_as_json(c: Comparison) -> dict[str, object]:
    return {
        "model_a": c.model_a,
        "model_b": c.model_b,
        "bootstrap": {"resamples": c.resamples, "seed": c.seed},
        "datasets": [
            {
                "dataset": d.dataset_id,
                "language": d.language,
                **(d.paired.as_dict() if d.paired else {"samples": 0}),
                "answered_by_a_only": d.only_a,
                "answered_by_b_only": d.only_b,
            }
            for d in c.datasets
        ],
        "composite": [
            {"language": language, "datasets": n, **p.as_dict()} for language, n, p in c.composites
        ],
        "not_compared": list(c.missing),
        "problems": list(c.problems),
    }
