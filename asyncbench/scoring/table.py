"""Printing scores: the seed's exact table, then what only our files can tell.

The first block is byte for byte the format of the seed README's "Example output" (which
is the leaderboard's `score_results` printout), so scripts and eyes that read it keep
working. Files of the board's multilingual track follow, one block per language in the
same format (per-dataset lines, then the language composite: the plain mean of its
datasets' WERs, as the board's multilingual CSV). Coverage and failures come last, in a
block of their own, and only for files written by asyncbench: foreign files carry no
status to report. With English files only, the output is exactly what it always was.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from asyncbench.core.text import lines
from asyncbench.scoring.language import ENGLISH
from asyncbench.scoring.multilingual import BOARD_LANGUAGES
from asyncbench.scoring.score import Composite, FileScore, ScoreReport, collect_scores

RULE = "*" * 80

LANGUAGE_NAMES = {
    "de": "German",
    "fr": "French",
    "it": "Italian",
    "es": "Spanish",
    "pt": "Portuguese",
}

DROPPED_FAILURES_NOTE = (
    "Note: the board's multilingual runner drops failed samples from WER and RTFx. Here a",
    "failed sample counts as an empty transcript, as for English; the WER over successful",
    "samples only (the board's multilingual figure) is printed beside it where samples failed.",
)


def _rtfx(value: float | None) -> str:
    return "n/a" if value is None else f"{value:0.2f}"


def dataset_line(score: FileScore) -> str:
    """`MODEL | DATASET: WER = x.xx %, RTFx = y.yy`, the leaderboard's per-dataset line."""
    return (
        f"{score.model_id} | {score.dataset_id}: "
        f"WER = {score.wer:0.2f} %, RTFx = {_rtfx(score.rtfx)}"
    )


def coverage_line(score: FileScore) -> str:
    """`2610/2620 samples done (99.62 %); 10 failed: timeout 7, rate_limited 3`."""
    if score.size_known:
        line = f"{score.n_done}/{score.total_samples} samples done ({score.coverage:0.2f} %)"
    else:  # nothing said how many rows the dataset has: never a percentage of the lines
        line = f"{score.n_done} of ? samples done (the dataset's size is unknown)"
    if score.n_skipped:
        line += f", {score.n_skipped} of them skipped as shorter than 0.16 s"
    missing = score.total_samples - score.n_samples
    if missing and score.size_known:
        line += f"; {missing} never attempted"
    if score.n_failed:
        kinds = ", ".join(f"{kind} {n}" for kind, n in score.failures_by_kind.items())
        line += f"; {score.n_failed} failed: {kinds}"
    if score.n_superseded:
        line += f"; {score.n_superseded} earlier attempts superseded by later lines"
    return line


def failed_wer_line(score: FileScore) -> str:
    """Both WERs, when failures make them differ."""
    if score.language != ENGLISH:
        return (
            f"WER over the {score.n_done} successful samples = {score.wer_ok_only:0.2f} % "
            f"(what the board's multilingual runner reports: it drops failed samples; "
            f"{score.wer:0.2f} % counts each failure as an empty transcript)"
        )
    return (
        f"WER over the {score.n_done} successful samples = {score.wer_ok_only:0.2f} % "
        f"(the leaderboard's {score.wer:0.2f} % counts each failure as an empty transcript)"
    )


def language_label(language: str) -> str:
    """`German, de`; a code without a name here as itself."""
    name = LANGUAGE_NAMES.get(language)
    return f"{name}, {language}" if name else language


def _language_order(language: str) -> tuple[int, str]:
    """The board's order (de, fr, it, es, pt), then any other code alphabetically."""
    board = BOARD_LANGUAGES.index(language) if language in BOARD_LANGUAGES else len(BOARD_LANGUAGES)
    return board, language


def language_block(language: str, files: list[FileScore], composites: list[Composite]) -> list[str]:
    """The English table's two sections for one other language, each headed by it, plus the
    WER without failures where the board's multilingual runner would have dropped some."""
    label = language_label(language)
    lines = [f"Results per dataset ({label}; multilingual scheme):", RULE]
    lines += [dataset_line(f) for f in files]
    lines += [RULE, f"Composite Results ({label}):", RULE]
    lines += [f"{c.model_id}: WER = {c.wer:0.2f} %" for c in composites]
    lines += [f"{c.model_id}: RTFx = {_rtfx(c.rtfx)}" for c in composites]
    for c in composites:
        scored = [f for f in files if f.model_id == c.model_id]
        if any(f.n_failed for f in scored):
            ok_only = sum(f.wer_ok_only for f in scored) / len(scored)
            lines.append(
                f"{c.model_id}: WER over successful samples only = {ok_only:0.2f} % "
                "(the board's multilingual figure)"
            )
    lines.append(RULE)
    return lines


def format_table(report: ScoreReport) -> str:
    lines: list[str] = []
    if report.model_filter:
        lines.append(f"Filtering models by id: {report.model_filter}")
    english = [f for f in report.files if f.language == ENGLISH]
    if english or not report.files:
        composites = [c for c in report.composites if c.language == ENGLISH]
        lines += [RULE, "Results per dataset:", RULE]
        lines += [dataset_line(f) for f in english]
        lines += [RULE, "Composite Results:", RULE]
        lines += [f"{c.model_id}: WER = {c.wer:0.2f} %" for c in composites]
        lines += [f"{c.model_id}: RTFx = {_rtfx(c.rtfx)}" for c in composites]
        lines.append(RULE)
    others = sorted({f.language for f in report.files} - {ENGLISH}, key=_language_order)
    if others and (not lines or lines[-1] != RULE):
        lines.append(RULE)
    for language in others:
        lines += language_block(
            language,
            [f for f in report.files if f.language == language],
            [c for c in report.composites if c.language == language],
        )
    if others:
        lines += [*DROPPED_FAILURES_NOTE, RULE]
    if report.bootstrap or report.explicit_prices:
        lines += interval_block(report)
    ours = [f for f in report.files if f.ours]
    if ours:
        lines += ["Coverage and failures:", RULE]
        for f in ours:
            lines.append(f"{f.model_id} | {f.dataset_id}: {coverage_line(f)}")
            if f.n_failed:
                lines.append(f"    {failed_wer_line(f)}")
        lines.append(RULE)
    return "\n".join(lines)


def _ci(interval: tuple[float, float] | None) -> str:
    return "n/a" if interval is None else f"[{interval[0]:0.2f}, {interval[1]:0.2f}]"


def interval_block(report: ScoreReport) -> list[str]:
    """Each dataset's and composite's WER with its 95 % bootstrap interval and the spend
    (`cost $`), in a block of its own after the seed's table (which stays byte for byte
    what it was), then the price behind each model's cost or why it has none. Its lines say
    `WER 1.23 %`, not the seed's `WER = 1.23 %`, so a script that reads the seed's lines
    finds each dataset once."""
    if report.bootstrap:
        head = (
            f"WER with 95 % confidence intervals ({report.bootstrap} bootstrap resamples over "
            f"utterances, recordings for chunked sets; seed {report.seed})"
        )
    else:
        head = "WER"
    lines = [head + (" and cost $ (audio sent, retries included):" if report.priced else ":")]
    lines.append(RULE)

    def tail(ci: tuple[float, float] | None, cost: float | None) -> str:
        text = f" {_ci(ci)}" if report.bootstrap else ""
        if report.priced:
            text += ", cost $ " + ("unknown" if cost is None else f"{cost:0.4f}")
        return text

    lines += [
        f"{f.model_id} | {f.dataset_id}: WER {f.wer:0.2f} %{tail(f.wer_ci95, f.cost_usd)}"
        for f in report.files
    ]
    for c in report.composites:
        label = "" if c.language == ENGLISH else f" ({language_label(c.language)})"
        lines.append(
            f"{c.model_id}{label}: composite WER {c.wer:0.2f} %{tail(c.wer_ci95, c.cost_usd)}"
        )
    if report.priced:
        notes = {f.model_id: f.price_note for f in report.files}
        lines += [f"price of {model}: {note}" for model, note in notes.items()]
    lines.append(RULE)
    return lines


def format_run_summary(score: FileScore) -> list[str]:
    """The short lines a run prints when it ends."""
    lines = [dataset_line(score), f"coverage: {coverage_line(score)}"]
    if score.n_failed:
        lines.append(failed_wer_line(score))
    return lines


def _finite(value: float | None) -> float | None:
    """JSON has no infinity: an infinite WER (empty references only) becomes null."""
    return None if value is None or math.isinf(value) else value


def report_as_json(report: ScoreReport) -> dict[str, object]:
    return {
        "scheme": report.scheme,
        "model_filter": report.model_filter,
        "datasets": [
            {
                "model": f.model_id,
                "dataset": f.dataset_id,
                "language": f.language,
                "file": str(f.path),
                "wer": _finite(f.wer),
                "wer_ok_only": _finite(f.wer_ok_only),
                "wer_ci95": None if f.wer_ci95 is None else list(f.wer_ci95),
                "cost_usd": f.cost_usd,
                "price": f.price_note,
                "rtfx": f.rtfx,
                **f.counts.as_dict(),
                "samples": f.n_samples,
                "ok": f.n_ok,
                "skipped_short": f.n_skipped,
                "failed": f.n_failed,
                "failures_by_kind": f.failures_by_kind,
                "coverage_percent": round(f.coverage, 2) if f.ours and f.size_known else None,
                "superseded_lines": f.n_superseded,
                "audio_s": f.total_audio_s,
                "time_s": f.total_time_s,
                "expected_samples": f.expected_samples,
                "provenance": f.provenance,
            }
            for f in report.files
        ],
        "composite": [
            {
                "model": c.model_id,
                "language": c.language,
                "wer": _finite(c.wer),
                "wer_ci95": None if c.wer_ci95 is None else list(c.wer_ci95),
                "cost_usd": c.cost_usd,
                "rtfx": c.rtfx,
                "datasets": c.n_datasets,
            }
            for c in report.composites
        ],
        "problems": list(report.problems),
        "notes": list(report.notes),
        "bootstrap": {"resamples": report.bootstrap, "seed": report.seed},
    }


def print_report(report: ScoreReport, *, as_json: bool = False) -> None:
    """The table (or JSON) to stdout, then each line or file left out to stderr."""
    if as_json:
        print(json.dumps(report_as_json(report), indent=2))
    else:
        print(lines(format_table(report)))
    for note in report.notes:
        print(f"note: {lines(note)}", file=sys.stderr)
    for problem in report.problems:
        print(f"warning: {lines(problem)}", file=sys.stderr)


def score_results(
    directory: str | Path, model_id: str | None = None, *, scheme: str = "leaderboard"
) -> ScoreReport:
    """Score every results file under `directory` and print the seed's table. Drop-in for
    the seed's `eval_utils.score_results('./results', 'elevenlabs/scribe_v1')`."""
    report = collect_scores(directory, model_id, scheme=scheme)
    print_report(report)
    return report
