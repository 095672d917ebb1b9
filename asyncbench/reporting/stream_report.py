"""The report's streaming section: latency percentiles per results file and a histogram of
`final_after_end_s`, for files whose lines carry streaming fields (core/streaming.py).

A module of its own so the report page gains it with one line; the fields are read straight
from the results lines, since the scorer keeps only what WER and RTFx need.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from asyncbench.engine.stats import latency_summary
from asyncbench.reporting.markup import Markup, h, number, table
from asyncbench.reporting.streaming import METRICS, SSE_METRICS

#: (file label, {figure: values}) per results file
Rows = list[tuple[str, dict[str, list[float]]]]

PCTS = ("p50", "p90", "p99")


def stream_values(path: Path) -> dict[str, list[float]]:
    """{metric: values over the file's ok lines} (empty lists for a batch provider's file)."""
    out: dict[str, list[float]] = {name: [] for name in (*METRICS, *SSE_METRICS)}
    try:
        with path.open("rb") as f:
            for raw in f:
                try:
                    line = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    continue
                if not isinstance(line, dict) or line.get("status") != "ok":
                    continue
                for name in out:
                    value = line.get(name)
                    if isinstance(value, (int, float)):
                        out[name].append(float(value))
    except OSError:
        pass
    return out


def histogram_figure(groups: dict[str, list[float]]) -> bytes:
    """Histogram of final_after_end_s (ms), one colour per results file."""
    from asyncbench.reporting import plots

    fig, axes = plots._figure()
    ax = axes[0][0]
    for i, (name, values) in enumerate(groups.items()):
        # a "$" would start matplotlib's math mode (and a bad formula fails the whole report)
        label = name.replace("$", r"\$")
        ax.hist([1000 * v for v in values], bins=40, alpha=0.6, color=plots.color(i), label=label)
    ax.set_xlabel("final_after_end_s (ms): last audio chunk sent → final transcript")
    ax.set_ylabel("streams")
    ax.legend(fontsize=8)
    return plots._png(fig)


def stream_html(files: Sequence[Any]) -> list[Markup]:
    """HTML parts for the report (nothing when no file was streamed). `files` are the
    report's FileData (`.score.path`, `.score.model_id`, `.name`)."""
    rows: Rows = []
    sse_rows: Rows = []
    for f in files:
        values = stream_values(Path(f.score.path))
        if values["final_after_end_s"]:
            rows.append((f"{f.score.model_id} {f.name}", values))
        if values["first_delta_s"]:
            sse_rows.append((f"{f.score.model_id} {f.name}", values))
    parts = sse_table(sse_rows)
    if not rows:
        return parts
    return parts + live_html(rows)


def quantile_table(title: str, rows: Rows, names: tuple[str, ...], note: str) -> list[Markup]:
    """A table of each file's p50/p90/p99 (ms) of `names`, under `title`, with its `note`."""
    head = ["file"]
    for name in names:
        head += [f"{name} p50 ms", "p90", "p99"]
    cells = []
    for label, values in rows:
        row: list[object] = [label]
        for name in names:
            q = latency_summary(values[name])
            row += [number(None if q[p] is None else 1000 * q[p], ".0f", "n/a") for p in PCTS]
        cells.append(row)
    return [h("<h2>{}</h2>", title), table(head, cells), h("<p class='note'>{}</p>", note)]


def sse_table(rows: Rows) -> list[Markup]:
    """The `--stream` table: each file's time to first delta and inter-delta gaps."""
    if not rows:
        return []
    return quantile_table(
        "Streamed replies (server-sent events)",
        rows,
        SSE_METRICS,
        "first_delta_s = request start → the first non-empty transcript delta (the time to "
        "first token of vLLM's benchmark client and GuideLLM); delta gaps = the time between "
        "deltas of one reply, its p50 and p99 per line, then percentiles over the lines.",
    )


def live_html(rows: Rows) -> list[Markup]:
    """The WebSocket streams' latency table and histogram."""
    parts = quantile_table(
        "Streaming latency",
        rows,
        METRICS,
        "Stream start = the session open and started; final_after_end_s = the moment the last "
        "audio chunk was sent → the last final segment (peers' time to final segment). "
        "Partials are timed, never scored.",
    )
    import base64

    png = histogram_figure({label: v["final_after_end_s"] for label, v in rows})
    return [
        *parts,
        h(
            "<h2>Time to final after end of audio</h2><img alt='final_after_end_s histogram' "
            "src='data:image/png;base64,{}'>",
            base64.b64encode(png).decode(),
        ),
    ]
