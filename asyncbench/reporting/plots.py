"""The report's figures, drawn with matplotlib (Agg, no display) and returned as PNG bytes.

Each function takes plain data prepared by `asyncbench.reporting.report` and returns one PNG, so the
report stays a single self-contained HTML file. matplotlib is imported here only, and this
module only by `asyncbench report`, so nothing else pays for it.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from itertools import pairwise
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from asyncbench.reporting.series import Series

DPI = 100
WIDTH = 12.0  # inches at DPI: 1200 px, sharp on a laptop screen without being heavy
PALETTE = (
    "#4C72B0",
    "#DD8452",
    "#55A868",
    "#C44E52",
    "#8172B3",
    "#937860",
    "#DA8BC3",
    "#8C8C8C",
    "#CCB974",
    "#64B5CD",
)


def _figure(rows: int = 1, cols: int = 1, height: float = 4.2) -> tuple[Figure, Any]:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(WIDTH, height), dpi=DPI, layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat:
        ax.grid(True, color="#e6e6e6", linewidth=0.8)
        ax.set_axisbelow(True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    return fig, axes


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, facecolor="white")
    return buf.getvalue()


def _empty(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#666666")
    ax.set_xticks([])
    ax.set_yticks([])


def color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def time_unit(span_s: float) -> tuple[float, str]:
    """Seconds, minutes or hours for an axis, whichever reads best for the span."""
    if span_s <= 180:
        return 1.0, "seconds"
    if span_s <= 3 * 3600:
        return 60.0, "minutes"
    return 3600.0, "hours"


def _bins(edges: Sequence[float]) -> tuple[list[float], float, float, str]:
    """(bin centres, bin width, both in the axis unit; the unit's divisor and name)."""
    div, unit = time_unit(edges[-1] - edges[0])
    mids = [(a + b) / 2 / div for a, b in pairwise(edges)]
    return mids, (edges[1] - edges[0]) / div, div, unit


def latency_figure(groups: dict[str, list[float]], durations: list[tuple[float, float]]) -> bytes:
    """Left: histogram of request latencies per model, with p50/p90/p99 of all of them.
    Right: latency against audio duration with a least-squares line (slope = seconds of
    processing per second of audio, intercept = fixed overhead per request)."""
    from asyncbench.engine.stats import percentile

    fig, axes = _figure(1, 2)
    ax, ax2 = axes[0]
    every = sorted(x for values in groups.values() for x in values)
    if not every:
        _empty(ax, "no successful request")
        _empty(ax2, "no successful request")
        return _png(fig)
    import numpy as np

    hi = every[-1]
    lo = max(every[0], 1e-3)
    log = hi / lo > 50
    bins = np.geomspace(lo, hi, 60) if log else np.linspace(lo * 0.9, hi, 60)
    for i, (name, values) in enumerate(groups.items()):
        ax.hist(values, bins=bins, histtype="step", linewidth=1.6, color=color(i), label=name)
    if log:
        ax.set_xscale("log")
    for q, style, height in ((50, "-", 0.98), (90, "--", 0.91), (99, ":", 0.84)):
        x = percentile(every, q)
        ax.axvline(x, color="#333333", linestyle=style, linewidth=1)
        ax.text(x, height, f" p{q} {x:.3g} s", transform=ax.get_xaxis_transform(), va="top")
    ax.set_xlabel("request latency, s" + (" (log scale)" if log else ""))
    ax.set_ylabel("requests")
    ax.set_title(f"Latency of {len(every)} successful requests")
    if len(groups) > 1:
        ax.legend(frameon=False, loc="upper right", bbox_to_anchor=(1, 0.85))

    xs = np.array([d for d, _ in durations])
    ys = np.array([t for _, t in durations])
    step = max(1, len(xs) // 20000)  # a scatter of 20k points says it all
    ax2.scatter(xs[::step], ys[::step], s=6, alpha=0.35, color=color(0), rasterized=True)
    if len(xs) >= 2 and np.ptp(xs) > 0:
        slope, intercept = np.polyfit(xs, ys, 1)
        grid = np.linspace(xs.min(), xs.max(), 50)  # the fit, over the data it was fitted to
        ax2.plot(grid, intercept + slope * grid, color=color(3), linewidth=1.6)
        sign = "+" if slope >= 0 else "−"
        ax2.set_title(
            f"Latency vs audio length: {intercept:.3f} s {sign} {abs(slope):.3f} s per audio second"
        )
    else:
        ax2.set_title("Latency vs audio length")
    ax2.set_xlabel("audio duration, s")
    ax2.set_ylabel("request latency, s")
    ax2.set_xlim(left=0)
    ax2.set_ylim(bottom=0)
    return _png(fig)


def throughput_figure(series: Sequence[Series], edges: Sequence[float]) -> bytes:
    """Top: audio seconds transcribed per wall second (throughput RTFx) over time, stacked by
    results file. Bottom: requests in flight over time (from each request's start and end)."""
    fig, axes = _figure(2, 1, height=6.0)
    ax, ax2 = axes[0][0], axes[1][0]
    if not series:
        _empty(ax, "no timestamps in these results (files from older runs or other tools)")
        _empty(ax2, "")
        return _png(fig)
    import numpy as np

    mids, _, div, unit = _bins(edges)
    seconds = edges[1] - edges[0]
    x = np.asarray(edges) / div
    bottom = np.zeros(len(mids))
    for i, s in enumerate(series):  # stairs: one artist per series, not one per bar
        top = bottom + np.asarray(s.audio_per_bin) / seconds
        ax.stairs(top, x, baseline=bottom, fill=True, color=color(i), label=s.name)
        bottom = top
    ax.set_ylabel("audio s per s (throughput RTFx)")
    ax.set_title(f"Throughput over time ({seconds:g} s bins), stacked by results file")
    fig.legend(loc="outside lower center", frameon=False, fontsize=8, ncols=min(4, len(series)))
    total = [sum(s.in_flight[i] for s in series) for i in range(len(mids))]
    ax2.fill_between(mids, total, step="mid", color=color(0), alpha=0.35)
    ax2.plot(mids, total, drawstyle="steps-mid", color=color(0), linewidth=1.2)
    ax2.set_ylabel("requests in flight (mean)")
    ax2.set_xlabel(f"{unit} since the first request")
    ax2.set_title("Requests in flight over time (answered requests, last attempt)")
    for a in (ax, ax2):
        a.set_xlim(edges[0] / div, edges[-1] / div)
        a.set_ylim(bottom=0)
    return _png(fig)


def wer_figure(table: dict[str, dict[str, float]], composite: dict[str, float]) -> bytes:
    """Grouped bars: WER of each model on each dataset, and the composite (mean) last."""
    import numpy as np

    datasets = sorted({d for per in table.values() for d in per})
    models = list(table)
    fig, axes = _figure(1, 1, height=max(3.5, 0.45 * (len(datasets) + 1) * max(1, len(models))))
    ax = axes[0][0]
    if not datasets:
        _empty(ax, "nothing scored")
        return _png(fig)
    labels = [*datasets, "composite"]
    y = np.arange(len(labels))
    h = 0.8 / len(models)
    for i, model in enumerate(models):
        values = [table[model].get(d, np.nan) for d in datasets] + [composite.get(model, np.nan)]
        pos = y + (i - (len(models) - 1) / 2) * h
        bars = ax.barh(pos, values, height=h * 0.9, color=color(i), label=model)
        ax.bar_label(bars, labels=[f"{v:.2f}" if v == v else "" for v in values], padding=3)
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xlabel("WER, % (leaderboard normaliser)")
    ax.set_title("WER per dataset" + (" and model" if len(models) > 1 else f" — {models[0]}"))
    if len(models) > 1:
        fig.legend(loc="outside lower center", frameon=False, ncols=min(4, len(models)))
    top = max((v for per in table.values() for v in per.values() if v == v), default=0.0)
    ax.set_xlim(0, max(1.0, top * 1.15))
    return _png(fig)


def errors_figure(
    by_kind: dict[str, list[int]], retries: list[int], edges: Sequence[float]
) -> bytes:
    """Failed samples per time bin, stacked by error kind, and retries (extra attempts of
    the samples answered in that bin) as a line."""
    fig, axes = _figure(1, 1, height=3.6)
    ax = axes[0][0]
    if len(edges) < 2:
        _empty(ax, "no timestamps in these results")
        return _png(fig)
    import numpy as np

    _, _, div, unit = _bins(edges)
    x = np.asarray(edges) / div
    bottom = np.zeros(len(edges) - 1)
    for i, (kind, counts) in enumerate(sorted(by_kind.items(), key=lambda kv: -sum(kv[1]))):
        top = bottom + np.asarray(counts)
        ax.stairs(top, x, baseline=bottom, fill=True, color=color(i + 3), label=kind)
        bottom = top
    ax.stairs(retries, x, color="#333333", linewidth=1.2, label="retries")
    failed = int(bottom.sum())
    ax.set_title(
        f"Errors over time: {failed} failed samples, {sum(retries)} retries"
        if failed or sum(retries)
        else "Errors over time: no failed sample and no retry"
    )
    ax.set_xlabel(f"{unit} since the first request")
    ax.set_ylabel(f"per {edges[1] - edges[0]:g} s bin")
    ax.set_xlim(edges[0] / div, edges[-1] / div)
    ax.set_ylim(bottom=0, top=max(1, *bottom, *retries) * 1.15)
    ax.legend(frameon=False, loc="upper right")
    return _png(fig)


def endpoint_figure(rows: Sequence[dict[str, Any]]) -> bytes:
    """Left: requests per endpoint, ok and failed. Right: p50 and p90 latency per endpoint."""
    import numpy as np

    fig, axes = _figure(1, 2, height=max(3.2, 0.32 * len(rows) + 1.5))
    ax, ax2 = axes[0]
    if not rows:
        _empty(ax, "no endpoint recorded (files from older runs or other tools)")
        _empty(ax2, "")
        return _png(fig)
    names = [r["name"] for r in rows]
    y = np.arange(len(rows))
    ok = [r["ok"] for r in rows]
    failed = [r["failed"] for r in rows]
    ax.barh(y, ok, color=color(2), label="ok")
    ax.barh(y, failed, left=ok, color=color(3), label="failed")
    ax.set_yticks(y, names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("samples answered")
    total = sum(ok) + sum(failed)
    ax.set_title(f"Load per endpoint ({total} samples over {len(rows)} endpoints)")
    ax.set_xlim(0, max(o + f for o, f in zip(ok, failed, strict=True)) * 1.3 or 1)
    ax.legend(frameon=False, loc="center right")
    ax2.barh(y - 0.2, [r["p50"] or 0 for r in rows], height=0.4, color=color(0), label="p50")
    ax2.barh(y + 0.2, [r["p90"] or 0 for r in rows], height=0.4, color=color(1), label="p90")
    ax2.set_yticks(y, names, fontsize=8)
    ax2.invert_yaxis()
    ax2.set_xlabel("request latency, s")
    ax2.set_title("Latency per endpoint")
    ax2.set_xlim(0, max(r["p90"] or 0 for r in rows) * 1.3 or 1)
    ax2.legend(frameon=False, loc="center right")
    return _png(fig)


def open_sweep_figure(sweep: dict[str, Any]) -> bytes:
    """An open-loop sweep: achieved rate and goodput against the target, latency from the
    intended start, and WER and coverage per load level, the knee marked on each."""
    fig, axes = _figure(1, 3, height=3.8)
    ax, ax2, ax3 = axes[0]
    rows = sweep["levels"]
    xs = [r["level"] for r in rows]
    kind = f"target rate, requests/s ({sweep['arrival']['kind']})"
    ax.plot(xs, xs, linestyle=":", color="#999999", label="target")
    ax.plot(xs, [r.get("achieved_rate") for r in rows], marker="o", color=color(0), label="sent")
    ax.plot(xs, [r.get("goodput") for r in rows], marker="s", color=color(2), label="goodput")
    ax.set_ylabel("requests/s")
    ax.set_title("Sent and goodput, open loop")
    ax.legend(frameon=False)
    for q, c in (("p50", 0), ("p90", 1), ("p99", 3)):
        ax2.plot(xs, [r[q] for r in rows], marker="o", color=color(c), label=q)
    ax2.set_ylabel("latency from the intended start, s")
    ax2.set_title("Latency users feel, per level")
    ax2.legend(frameon=False)
    ax3.plot(xs, [r["wer"] for r in rows], marker="o", color=color(3), label="WER %")
    ax3.set_ylabel("WER %")
    ax3.set_title("Accuracy under load")
    cov = ax3.twinx()
    cov.plot(xs, [r.get("coverage") for r in rows], marker="^", color=color(4), label="coverage")
    cov.set_ylabel("coverage %")
    cov.set_ylim(0, 101)
    for a in (ax, ax2, ax3):
        a.set_xscale("log", base=2)
        a.set_xlabel(kind)
        a.set_xticks(xs, [f"{x:g}" for x in xs])
        a.set_ylim(bottom=0)
        if sweep.get("knee_level") is not None:
            a.axvline(sweep["knee_level"], color="#C44E52", linestyle="--", linewidth=1)
    if sweep.get("knee_level") is not None:
        ax.text(
            sweep["knee_level"], 0.05, " knee", color="#C44E52", transform=ax.get_xaxis_transform()
        )
    return _png(fig)


def sweep_figure(sweep: dict[str, Any]) -> bytes:
    """Throughput and latency percentiles against the sweep's levels, the knee marked."""
    if sweep.get("arrival"):
        return open_sweep_figure(sweep)
    fig, axes = _figure(1, 2, height=3.8)
    ax, ax2 = axes[0]
    rows = sweep["levels"]
    xs = [r["level"] for r in rows]
    kind = "requests/s cap" if sweep["kind"] == "rate" else "requests in flight"
    ax.plot(xs, [r["throughput_rtfx"] for r in rows], marker="o", color=color(0))
    from asyncbench.reporting.knee import rtfx_band

    low, high = rtfx_band(rows)
    if any(v is not None for v in low):  # each level's 95 % throughput interval
        nan = float("nan")
        ax.errorbar(
            xs,
            [nan if r["throughput_rtfx"] is None else r["throughput_rtfx"] for r in rows],
            yerr=[[nan if v is None else v for v in low], [nan if v is None else v for v in high]],
            fmt="none",
            ecolor=color(0),
            capsize=3,
        )
    ax.set_xscale("log", base=2)
    ax.set_xlabel(kind)
    ax.set_ylabel("throughput RTFx (audio s per s)")
    ax.set_title(f"Sweep: {sweep['model']} on {sweep['dataset']}/{sweep['split']}")
    for q, c in (("p50", 0), ("p90", 1), ("p99", 3)):
        ax2.plot(xs, [r[q] for r in rows], marker="o", color=color(c), label=q)
    ax2.set_xscale("log", base=2)
    ax2.set_xlabel(kind)
    ax2.set_ylabel("latency, s")
    ax2.set_title("Latency percentiles per level")
    ax2.legend(frameon=False)
    if sweep.get("knee_level") is not None:
        for a in (ax, ax2):
            a.axvline(sweep["knee_level"], color="#C44E52", linestyle="--", linewidth=1)
        ax.text(
            sweep["knee_level"], 0.05, " knee", color="#C44E52", transform=ax.get_xaxis_transform()
        )
    for a in (ax, ax2):
        a.set_xticks(xs, [f"{x:g}" for x in xs])
        a.set_ylim(bottom=0)
    return _png(fig)
