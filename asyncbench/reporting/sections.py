"""The report's interactive sections: which chart goes where, the model comparison (heatmap,
WER vs throughput and vs cost with the Pareto front, CIs) and the error analysis (the
utterance table, worst-N per dataset, frequent substitutions).

CIs are the scorer's (`scoring.score.with_intervals`), so the report and `score` show the same
intervals. Cost: a run's `.summary.json` may say `spend_usd`; a model with no known spend is
named as such, never guessed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from asyncbench.reporting import analysis, interactive, webpage
from asyncbench.reporting.markup import Markup, h, number
from asyncbench.reporting.markup import table as markup_table
from asyncbench.reporting.series import Series

CHART_HEADINGS = (
    "Latency",
    "Throughput over time",
    "WER per dataset",
    "Errors over time",
    "Load per endpoint",
)


class Confidence:
    """95 % intervals per (model, dataset) and per model's composite, as `score` computes them
    (`scoring.score.with_intervals`: a seeded bootstrap over the utterances' error counts)."""

    def __init__(self) -> None:
        self.per_file: dict[tuple[str, str], tuple[float, float] | None] = {}
        self.composite: dict[str, tuple[float, float] | None] = {}
        self.source = "score's bootstrap (1000 resamples over utterances)"


def confidence(files: Sequence[Any], composites: Sequence[Any]) -> Confidence:
    out = Confidence()
    for f in files:
        given = f.score.wer_ci95
        out.per_file[(f.score.model_id, f.name)] = (
            (float(given[0]), float(given[1])) if given else None
        )
    for c in composites:  # one per model and language: the first a model has (English first)
        if c.wer_ci95 and c.model_id not in out.composite:
            out.composite[c.model_id] = (float(c.wer_ci95[0]), float(c.wer_ci95[1]))
    return out


def interactive_charts(
    files: Sequence[Any],
    sweeps: Sequence[dict[str, Any]],
    groups: dict[str, list[float]],
    points: Sequence[tuple[float, float, str, str]],
    series: Sequence[Series],
    edges: Sequence[float],
    by_kind: dict[str, list[int]],
    retries: list[int],
    cis: Confidence,
    endpoints: Sequence[dict[str, Any]],
) -> dict[str, dict[str, Any]]:
    """Chart specs by the id of the div that shows them (`chart-i` in CHART_HEADINGS order)."""
    table: dict[str, dict[str, float]] = {}
    for f in files:
        table.setdefault(f.score.model_id, {})[f.name] = f.score.wer
    charts = {
        "chart-0": interactive.latency_chart(groups, points),
        "chart-1": interactive.throughput_chart(series, edges),
        "chart-2": interactive.wer_bars(table, cis.per_file),
        "chart-3": interactive.errors_chart(by_kind, retries, edges),
        "chart-4": interactive.endpoint_chart(endpoints),
    }
    for n, sweep in enumerate(sweeps):
        if sweep.get("levels"):
            charts[f"sweep-{n}"] = interactive.sweep_chart(sweep)
    return charts


def _spend(files: Sequence[Any]) -> dict[str, float | None]:
    """USD per model from the runs' summaries; None when any of its files has none."""
    from asyncbench.reporting.summary import read_summary

    out: dict[str, float | None] = {}
    for f in files:
        value = (read_summary(f.score.path) or {}).get("spend_usd")
        model = f.score.model_id
        known = isinstance(value, int | float) and not isinstance(value, bool)
        if model not in out:
            out[model] = float(value) if known else None
        elif out[model] is not None:
            out[model] = out[model] + float(value) if known else None
    return out


def composite_points(
    files: Sequence[Any],
    rows: Sequence[dict[str, Any]],
    cis: dict[str, tuple[float, float] | None],
    spend: dict[str, float | None],
) -> list[dict[str, Any]]:
    """One point per model: composite WER (mean of its datasets'), its CI, the mean of its
    files' throughput RTFx (None when none is timed) and its spend."""
    wers: dict[str, list[float]] = {}
    for f in files:
        wers.setdefault(f.score.model_id, []).append(f.score.wer)
    out = []
    for model, values in wers.items():
        thr = [r["throughput_rtfx"] for r in rows if r["model"] == model and r["throughput_rtfx"]]
        out.append(
            {
                "model": model,
                "wer": round(sum(values) / len(values), 2),
                "ci": cis.get(model),
                "throughput_rtfx": sum(thr) / len(thr) if thr else None,
                "spend_usd": spend.get(model),
            }
        )
    return out


def model_comparison(
    files: Sequence[Any], rows: Sequence[dict[str, Any]], cis: Confidence
) -> tuple[list[Markup], dict[str, dict[str, Any]]]:
    """The section's HTML and its charts."""
    table: dict[str, dict[str, float]] = {}
    for f in files:
        table.setdefault(f.score.model_id, {})[f.name] = f.score.wer
    spend = _spend(files)
    points = composite_points(files, rows, cis.composite, spend)
    charts = {"cmp-heatmap": interactive.wer_heatmap(table)}
    parts = [
        Markup("<h2>Model comparison</h2><div class='chart' id='cmp-heatmap'></div>"),
        Markup("<h3>WER vs throughput RTFx</h3>"),
    ]
    timed = [p for p in points if p["throughput_rtfx"]]
    if timed:
        front = analysis.pareto([(p["throughput_rtfx"], p["wer"]) for p in timed], True)
        charts["cmp-rtfx"] = interactive.tradeoff_chart(
            timed, "throughput_rtfx", "throughput RTFx", front
        )
        parts.append(Markup("<div class='chart' id='cmp-rtfx'></div>"))
    else:
        parts.append(
            Markup("<p class='note empty'>No file has timestamps: no throughput to compare.</p>")
        )
    parts.append(Markup("<h3>WER vs cost</h3>"))
    priced = [p for p in points if p["spend_usd"] is not None]
    if priced:
        front = analysis.pareto([(p["spend_usd"], p["wer"]) for p in priced], False)
        charts["cmp-cost"] = interactive.tradeoff_chart(priced, "spend_usd", "spend, USD", front)
        parts.append(Markup("<div class='chart' id='cmp-cost'></div>"))
    unpriced = [p["model"] for p in points if p["spend_usd"] is None]
    if unpriced:
        parts.append(
            h(
                "<p class='note'>Spend unknown (no <code>spend_usd</code> in the run summaries) "
                "for: {}.</p>",
                ", ".join(unpriced),
            )
        )
    head = ("model", "composite WER %", "95 % CI", "throughput RTFx", "spend USD")
    cells = [
        (
            p["model"],
            number(p["wer"]),
            h("{} – {}", number(p["ci"][0]), number(p["ci"][1])) if p.get("ci") else "–",
            number(p["throughput_rtfx"], ".4g"),
            number(p["spend_usd"], ".4g"),
        )
        for p in points
    ]
    parts.append(markup_table(head, cells, "comparison"))
    parts.append(
        h(
            "<p class='note'>Error bars: 95 % confidence intervals from {}; the composite's "
            "from the mean of its datasets' resamples. Stars and the dashed line: the Pareto "
            "front (no other model is both more accurate and faster, or cheaper).</p>",
            cis.source,
        )
    )
    return parts, charts


def error_analysis(rows: Sequence[analysis.Utterance]) -> list[Markup]:
    return [
        Markup(
            "<h2>Error analysis</h2><p class='note'>One row per utterance; click a heading to "
            "sort. WER per utterance over its normalised reference words.</p>"
        ),
        webpage.TABLE_HTML,
        Markup("<h3>Worst utterances per dataset</h3>"),
        webpage.worst_html(analysis.worst(rows)),
        Markup("<h3>Most frequent substitutions</h3>"),
        webpage.substitutions_html(analysis.substitutions(rows)),
    ]
