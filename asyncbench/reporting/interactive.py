"""The report's interactive charts, built with plotly and returned as figure JSON.

The page draws them with the plotly.js that the plotly package ships (inlined, so the file
works offline). Hovering a point shows its values, and for per-request points the sample
id. plotly is imported here only, and this module only by `asyncbench report`.

plotly draws names, category labels and hover text as a small HTML dialect (`<a href>`,
`<b>`, `<br>`), so every label from outside (model names, dataset labels, sample ids,
endpoint names, error kinds) goes in through `markup.chart_text` and is drawn literally, and
no outside text is ever part of a hover *template* (`%{fullData.name}` names the trace
instead). Every axis has a title.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

from asyncbench.reporting.markup import chart_text as t
from asyncbench.reporting.plots import color, time_unit
from asyncbench.reporting.series import Series

MAX_POINTS = 5000  # a latency scatter of 5k points says it all and keeps the page light
LAYOUT = {
    "template": "plotly_white",
    "margin": {"l": 60, "r": 20, "t": 50, "b": 50},
    "legend": {"orientation": "h", "y": -0.2},
}


def _spec(fig: Any) -> dict[str, Any]:
    fig.update_layout(**LAYOUT)
    return json.loads(fig.to_json())


def _go() -> Any:
    import plotly.graph_objects as go

    return go


def latency_chart(
    groups: dict[str, list[float]], points: Sequence[tuple[float, float, str, str]]
) -> dict[str, Any]:
    """Histogram of latencies per model, and latency vs audio length (id in the hover)."""
    from plotly.subplots import make_subplots

    go = _go()
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Latency", "Latency vs audio length"))
    for i, (name, values) in enumerate(groups.items()):
        fig.add_trace(
            go.Histogram(x=values, name=t(name), marker_color=color(i), opacity=0.6, nbinsx=60),
            1,
            1,
        )
    step = max(1, len(points) // MAX_POINTS)
    shown = list(points)[::step]
    models = list(dict.fromkeys(p[3] for p in shown))
    for i, model in enumerate(models):
        mine = [p for p in shown if p[3] == model]
        fig.add_trace(
            go.Scatter(
                x=[p[0] for p in mine],
                y=[p[1] for p in mine],
                customdata=[t(p[2]) for p in mine],
                mode="markers",
                name=t(f"{model} requests"),
                marker={"size": 5, "color": color(i), "opacity": 0.5},
                hovertemplate="sample %{customdata}<br>audio %{x:.2f} s<br>latency %{y:.3f} s"
                "<extra>%{fullData.name}</extra>",
            ),
            1,
            2,
        )
    fig.update_layout(barmode="overlay", height=420)
    fig.update_xaxes(title_text="request latency, s", row=1, col=1)
    fig.update_xaxes(title_text="audio duration, s", row=1, col=2)
    fig.update_yaxes(title_text="requests", row=1, col=1)
    fig.update_yaxes(title_text="request latency, s", row=1, col=2)
    return _spec(fig)


def throughput_chart(series: Sequence[Series], edges: Sequence[float]) -> dict[str, Any]:
    """Audio seconds per second stacked by results file, and requests in flight."""
    from plotly.subplots import make_subplots

    go = _go()
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08)
    if series and len(edges) > 1:
        div, unit = time_unit(edges[-1] - edges[0])
        width = edges[1] - edges[0]
        mids = [(a + b) / 2 / div for a, b in pairwise(edges)]
        for i, s in enumerate(series):
            fig.add_trace(
                go.Scatter(
                    x=mids,
                    y=[a / width for a in s.audio_per_bin],
                    name=t(s.name),
                    stackgroup="audio",
                    line={"color": color(i), "shape": "hv"},
                    hovertemplate="%{y:.2f} audio s per s at %{x:.1f} " + unit,
                ),
                1,
                1,
            )
        total = [sum(s.in_flight[i] for s in series) for i in range(len(mids))]
        fig.add_trace(
            go.Scatter(x=mids, y=total, name="in flight", fill="tozeroy", line={"shape": "hv"}),
            2,
            1,
        )
        fig.update_xaxes(title_text=f"{unit} since the first request", row=2, col=1)
    fig.update_yaxes(title_text="throughput RTFx", row=1, col=1)
    fig.update_yaxes(title_text="requests in flight", row=2, col=1)
    fig.update_layout(height=520, title="Throughput and requests in flight over time")
    return _spec(fig)


def wer_bars(
    table: dict[str, dict[str, float]], cis: dict[tuple[str, str], tuple[float, float] | None]
) -> dict[str, Any]:
    """Grouped bars of WER per dataset per model, CIs as error bars."""
    go = _go()
    fig = go.Figure()
    datasets = sorted({d for per in table.values() for d in per})
    for i, (model, per) in enumerate(table.items()):
        ys = [per.get(d) for d in datasets]
        low = [_minus(per.get(d), cis.get((model, d))) for d in datasets]
        high = [_plus(per.get(d), cis.get((model, d))) for d in datasets]
        fig.add_trace(
            go.Bar(
                x=[t(d) for d in datasets],
                y=ys,
                name=t(model),
                marker_color=color(i),
                error_y={"type": "data", "array": high, "arrayminus": low, "visible": True},
                hovertemplate="%{x}<br>WER %{y:.2f} %<extra>%{fullData.name}</extra>",
            )
        )
    fig.update_layout(barmode="group", xaxis_title="dataset", yaxis_title="WER, %", height=420)
    return _spec(fig)


def _minus(v: float | None, ci: tuple[float, float] | None) -> float | None:
    return None if v is None or ci is None else max(0.0, v - ci[0])


def _plus(v: float | None, ci: tuple[float, float] | None) -> float | None:
    return None if v is None or ci is None else max(0.0, ci[1] - v)


def wer_heatmap(table: dict[str, dict[str, float]]) -> dict[str, Any]:
    """Datasets across, models down, WER in each cell."""
    go = _go()
    datasets = sorted({d for per in table.values() for d in per})
    models = list(table)
    z = [[table[m].get(d) for d in datasets] for m in models]
    text = [["" if v is None else f"{v:.2f}" for v in row] for row in z]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[t(d) for d in datasets],
            y=[t(m) for m in models],
            text=text,
            texttemplate="%{text}",
            colorscale="RdYlGn_r",
            colorbar={"title": "WER %"},
            hovertemplate="%{y} on %{x}<br>WER %{z:.2f} %<extra></extra>",
        )
    )
    fig.update_layout(
        title="WER per dataset × model",
        xaxis_title="dataset",
        yaxis_title="model",
        height=max(300, 80 * len(models) + 150),
    )
    return _spec(fig)


def tradeoff_chart(
    points: Sequence[dict[str, Any]], x_key: str, x_title: str, on_front: Sequence[bool]
) -> dict[str, Any]:
    """Composite WER (CI as error bars) against `x_key` per model, the Pareto front joined."""
    go = _go()
    fig = go.Figure()
    for i, p in enumerate(points):
        ci = p.get("ci")
        fig.add_trace(
            go.Scatter(
                x=[p[x_key]],
                y=[p["wer"]],
                mode="markers+text",
                text=[t(p["model"])],
                textposition="top center",
                name=t(p["model"]),
                marker={
                    "size": 14,
                    "color": color(i),
                    "symbol": "star" if on_front[i] else "circle",
                },
                error_y=None
                if not ci
                else {
                    "type": "data",
                    "array": [max(0.0, ci[1] - p["wer"])],
                    "arrayminus": [max(0.0, p["wer"] - ci[0])],
                },
                hovertemplate=f"%{{fullData.name}}<br>{x_title} %{{x:.4g}}<br>WER %{{y:.2f}} %"
                + ("<br>on the Pareto front" if on_front[i] else "")
                + "<extra></extra>",
            )
        )
    front = sorted((p[x_key], p["wer"]) for p, f in zip(points, on_front, strict=True) if f)
    if len(front) > 1:
        fig.add_trace(
            go.Scatter(
                x=[x for x, _ in front],
                y=[y for _, y in front],
                mode="lines",
                name="Pareto front",
                line={"dash": "dash", "color": "#C44E52"},
                hoverinfo="skip",
            )
        )
    fig.update_layout(xaxis_title=x_title, yaxis_title="composite WER, %", height=420)
    return _spec(fig)


def errors_chart(
    by_kind: dict[str, list[int]], retries: list[int], edges: Sequence[float]
) -> dict[str, Any]:
    go = _go()
    fig = go.Figure()
    if len(edges) > 1:
        div, unit = time_unit(edges[-1] - edges[0])
        mids = [(a + b) / 2 / div for a, b in pairwise(edges)]
        for i, (kind, counts) in enumerate(sorted(by_kind.items(), key=lambda kv: -sum(kv[1]))):
            fig.add_trace(go.Bar(x=mids, y=counts, name=t(kind), marker_color=color(i + 3)))
        fig.add_trace(
            go.Scatter(x=mids, y=retries, name="retries", line={"color": "#333", "shape": "hvh"})
        )
        fig.update_layout(xaxis_title=f"{unit} since the first request")
    failed = sum(sum(c) for c in by_kind.values())
    fig.update_layout(
        barmode="stack",
        yaxis_title="failed samples and retries per bin",
        height=360,
        title=f"Errors over time: {failed} failed samples, {sum(retries)} retries",
    )
    return _spec(fig)


def endpoint_chart(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    from plotly.subplots import make_subplots

    go = _go()
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Samples", "Latency"))
    names = [t(r["name"]) for r in rows]
    fig.add_trace(go.Bar(y=names, x=[r["ok"] for r in rows], name="ok", orientation="h"), 1, 1)
    fig.add_trace(
        go.Bar(y=names, x=[r["failed"] for r in rows], name="failed", orientation="h"), 1, 1
    )
    for q, symbol in (("p50", "circle"), ("p90", "diamond")):  # points: bars would stack
        fig.add_trace(
            go.Scatter(
                y=names,
                x=[r[q] for r in rows],
                name=f"{q} s",
                mode="markers",
                marker={"size": 12, "symbol": symbol},
                hovertemplate="%{y}<br>" + q + " %{x:.3f} s<extra></extra>",
            ),
            1,
            2,
        )
    fig.update_xaxes(title_text="samples", row=1, col=1)
    fig.update_xaxes(title_text="request latency, s", row=1, col=2)
    fig.update_yaxes(title_text="endpoint", row=1, col=1)
    fig.update_yaxes(title_text="endpoint", row=1, col=2)
    fig.update_layout(barmode="stack", height=max(320, 28 * len(rows) + 150))
    return _spec(fig)


def _gap(a: object, b: object) -> float | None:
    """a - b when both are numbers (an interval bar's length), else None (no bar)."""
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (a, b))
    return max(0.0, a - b) if numbers else None  # type: ignore[operator]


def sweep_chart(sweep: dict[str, Any]) -> dict[str, Any]:
    """Throughput (or sent rate and goodput) and latency percentiles per level; when the
    levels carry `samples_per_s`, a middle panel draws it with each level's interval
    (`samples_per_s_lo`/`_hi`) as bars, and a cross marks each client-bound level."""
    from plotly.subplots import make_subplots

    go = _go()
    rows = sweep["levels"]
    xs = [r["level"] for r in rows]
    open_loop = bool(sweep.get("arrival"))
    rated = any(r.get("samples_per_s") is not None for r in rows)
    cols = 3 if rated else 2
    fig = make_subplots(rows=1, cols=cols)
    if open_loop:
        fig.add_trace(go.Scatter(x=xs, y=[r.get("achieved_rate") for r in rows], name="sent"))
        fig.add_trace(go.Scatter(x=xs, y=[r.get("goodput") for r in rows], name="goodput"))
        fig.update_yaxes(title_text="requests/s", row=1, col=1)
        level = "target rate, requests/s"
    else:
        from asyncbench.reporting.knee import rtfx_band

        low, high = rtfx_band(rows)
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=[r.get("throughput_rtfx") for r in rows],
                name="throughput RTFx",
                # each level's 95 % throughput interval (reporting/rate_interval.py)
                error_y={"type": "data", "array": high, "arrayminus": low, "visible": True},
            )
        )
        fig.update_yaxes(title_text="throughput RTFx", row=1, col=1)
        level = "requests/s cap" if sweep.get("kind") == "rate" else "requests in flight"
    if rated:
        ys = [r.get("samples_per_s") for r in rows]
        up = [_gap(r.get("samples_per_s_hi"), r.get("samples_per_s")) for r in rows]
        down = [_gap(r.get("samples_per_s"), r.get("samples_per_s_lo")) for r in rows]
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                name="ok samples/s",
                error_y={"type": "data", "array": up, "arrayminus": down, "visible": True},
            ),
            1,
            2,
        )
        fig.update_yaxes(title_text="ok samples/s", row=1, col=2)
    bound = [r for r in rows if r.get("client_bound") is True]
    if bound:  # on the panel the knee is read from: samples/s, else the first
        key = "samples_per_s" if rated else ("goodput" if open_loop else "throughput_rtfx")
        fig.add_trace(
            go.Scatter(
                x=[r["level"] for r in bound],
                y=[r.get(key) for r in bound],
                name="client-bound level",
                mode="markers",
                marker={"symbol": "x", "size": 13, "color": "#C44E52"},
            ),
            1,
            2 if rated else 1,
        )
    fig.update_yaxes(title_text="latency, s", row=1, col=cols)
    for q in ("p50", "p90", "p99"):
        fig.add_trace(go.Scatter(x=xs, y=[r.get(q) for r in rows], name=f"{q} s"), 1, cols)
    knee = sweep.get("knee_level")
    if knee is not None:
        fig.add_vline(x=knee, line_dash="dash", line_color="#C44E52")
    fig.update_xaxes(type="log", title_text=level)
    fig.update_layout(height=380)
    return _spec(fig)
