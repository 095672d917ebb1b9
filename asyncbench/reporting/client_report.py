"""What the report says about the client and about how far each figure can be trusted (#28
item 8): the page side of `reporting/saturation.py`.

A run whose own event loop was late measured its client as much as its server: its latency
holds the client's delay and fewer requests were in flight than it seems. The summary says so
(`client_bound`, `loop_lag_ms`, `loop_busy`, `dispatch_lateness_ms`); the report must say it
where a reader looks at latency and throughput, not only in the run's card, so:

- `warnings` puts one visible warning per client-bound run above the per-dataset table,
  with the figures the console prints;
- `client_table` shows every run's client figures and its throughput twice: over the whole
  run (with its 95 % interval when the summary has one) and steady, between warmup and drain;
- `percentile_cell` gives each latency percentile its distribution-free 95 % interval from
  the very requests it was computed from, or says it is not that percentile ("not a p99 from
  40 requests (needs 368)", `engine.stats.needed_for_bound`: LoadGen's rule);
- `sweep_notes` lists each sweep level's throughput interval and names the client-bound ones.

Every figure is read from a file someone may have edited: a number is formatted as a number,
anything else is shown as the text it is (`markup.number`, `runcard.value_html`), and only a
JSON `true` in `client_bound` raises the warning.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from asyncbench.engine.stats import needed_for_bound, percentile_bounds
from asyncbench.reporting.markup import Markup, h, is_number, number, table
from asyncbench.reporting.runcard import value_html

#: summary keys that mean "this run measured its client" (older files have none of them)
KEYS = ("client_bound", "loop_lag_ms", "loop_busy", "dispatch_lateness_ms", "throughput")

CSS = """
.warn{border:1px solid #e0b0a0;border-left:6px solid #c0392b;background:#fff4f0;color:#5a1a10;
padding:8px 12px;margin:8px 0;border-radius:4px;overflow-wrap:anywhere}
.badge{display:inline-block;font-size:11px;padding:0 6px;margin-left:6px;border-radius:8px;
background:#c0392b;color:#fff;white-space:nowrap}
.pv{display:block;font-size:11px;color:#666}.pv.short{color:#a40;white-space:normal;
min-width:12em}.wrap{display:block;white-space:normal;min-width:14em}.doubt{color:#a40;font-style:italic}
"""


def _get(mapping: object, key: str) -> Any:
    return mapping.get(key) if isinstance(mapping, Mapping) else None


def figure(value: object, spec: str) -> Markup:
    """A number formatted, None as "–", anything else as folded, escaped text."""
    if value is None or is_number(value):
        return number(value, spec)
    return value_html(value)


def has_client_figures(summary: Mapping[str, Any]) -> bool:
    return any(key in summary for key in KEYS)


def bound_line(summary: Mapping[str, Any], label: str) -> Markup:
    """The console's client-bound line, for one run, with its figures."""
    lag = summary.get("loop_lag_ms")
    busy = _get(summary.get("loop_busy"), "p50")
    busy_text = (
        h(", loop thread on the CPU {} % of the time", figure(100 * busy, ".0f"))
        if is_number(busy)
        else h(", loop thread on the CPU {} of the time", value_html(busy))
        if busy is not None
        else Markup("")
    )
    return h(
        "<b>client-bound</b>: {}: loop lag p99 {} ms (max {} ms){}; latency includes up to {} "
        "ms of client delay and fewer requests were in flight than it seems; try more client "
        "processes (--processes)",
        label,
        figure(_get(lag, "p99"), ".0f"),
        figure(_get(lag, "max"), ".0f"),
        busy_text,
        figure(_get(lag, "p99"), ".0f"),
    )


def warnings(runs: Sequence[tuple[str, Mapping[str, Any]]]) -> list[Markup]:
    """One warning per run whose summary says `client_bound: true`; (label, summary) pairs."""
    return [
        h("<div class='warn client-bound' role='alert'>{}</div>", bound_line(s, label))
        for label, s in runs
        if s.get("client_bound") is True
    ]


def badge(summary: Mapping[str, Any]) -> Markup:
    """The mark a client-bound run's row carries in the per-dataset table."""
    if summary.get("client_bound") is True:
        return Markup(" <span class='badge'>client-bound</span>")
    return Markup("")


def verdict(value: object) -> Markup:
    if value is True:
        return Markup("<span class='bad'>bound</span>")
    if value is False:
        return Markup("not the bottleneck")
    return figure(value, "g")


def _warmup(warm: object) -> Markup | None:
    """The warmup left out, as the user gave it; None when there was none."""
    seconds, requests = _get(warm, "seconds"), _get(warm, "requests")
    if seconds is not None:
        return h("{} s", figure(seconds, "g"))
    if requests:
        return h("{} requests", figure(requests, "d" if isinstance(requests, int) else "g"))
    return None


def _interval(interval: object, spec: str = ".2f") -> Markup:
    lo, hi, needed = _get(interval, "lo"), _get(interval, "hi"), _get(interval, "needed")
    if lo is not None and hi is not None:
        return h("{} – {}", figure(lo, spec), figure(hi, spec))
    if hi is not None:
        return h("up to {}", figure(hi, spec))
    if lo is not None:
        return h("from {}", figure(lo, spec))
    if needed is not None:
        return h("needs {} samples", figure(needed, "d" if isinstance(needed, int) else "g"))
    return Markup("–")


def client_row(model: str, name: str, s: Mapping[str, Any]) -> tuple[object, ...]:
    lag, late = s.get("loop_lag_ms"), s.get("dispatch_lateness_ms")
    busy = _get(s.get("loop_busy"), "p50")
    t = s.get("throughput")
    steady = _get(t, "steady_per_s")
    warm = _warmup(_get(t, "warmup"))
    n = _get(t, "steady_n")
    if steady is None and warm is None:
        window = h("fewer than 2 samples came back before the drain")
    elif steady is None:
        window = h("fewer than 2 samples came back between warmup {} and the drain", warm)
    else:
        window = h(
            "{} samples in {} s{}, drain left out{}",
            figure(n, "d" if isinstance(n, int) else "g"),
            figure(_get(t, "steady_window_s"), ".1f"),
            h(" after warmup {}", warm) if warm is not None else "",
            " (no --warmup)" if warm is None else "",
        )
    window = h("<span class='wrap'>{}</span>", window)
    return (
        model,
        name,
        verdict(s.get("client_bound")),
        figure(_get(lag, "p50"), ".1f"),
        figure(_get(lag, "p99"), ".1f"),
        figure(_get(lag, "max"), ".1f"),
        figure(100 * busy if is_number(busy) else busy, ".0f"),
        figure(_get(late, "p99"), ".1f"),
        figure(_get(t, "whole_per_s"), ".2f"),
        _interval(_get(t, "whole_interval")),
        Markup("n/a") if steady is None else figure(steady, ".2f"),
        window,
        figure(_get(t, "hi_per_s"), ".2f"),
    )


CLIENT_HEAD = (
    "model", "dataset", "client", "loop lag p50 ms", "loop lag p99 ms", "loop lag max ms",
    "loop thread busy %", "sends late p99 ms", "whole run ok/s", "95 % interval",
    "steady ok/s", "steady window", "up to (client delay out) ok/s",
)  # fmt: skip


def client_table(runs: Sequence[tuple[str, str, Mapping[str, Any]]]) -> list[Markup]:
    """The client and throughput figures of every run that recorded them; (model, dataset
    label, summary) triples. Nothing for folders made before the client was measured."""
    rows = [client_row(model, name, s) for model, name, s in runs if has_client_figures(s)]
    if not rows:
        return []
    return [
        Markup("<h3>Client and throughput per run</h3>"),
        table(CLIENT_HEAD, rows, "client-health"),
        Markup(
            "<p class='note'>The client: how late its event loop's ticks fired (loop lag), the "
            "share of the time its loop thread was on the CPU, and how late requests were sent "
            "against their schedule. A client-bound run measured the client as much as the "
            "server. Throughput in ok samples per second: over the whole run (with its 95 % "
            "interval), and steady, between the end of <code>--warmup</code> and the start of "
            "the drain (when the last sample was handed out). The last column is what the run "
            "could have reached had its own loop not been late.</p>"
        ),
    ]


def percentile_cell(ordered: list[float], pct: int) -> Markup:
    """A latency percentile with its 95 % interval, or the note that it is not one."""
    return bounds_cell(percentile_bounds(ordered, pct), pct)


def bounds_cell(b: Mapping[str, Any], pct: int) -> Markup:
    value = b.get("value")
    if value is None:
        return Markup("–")
    if b.get("needed") is not None:
        return h(
            "<span class='doubt'>{}</span><span class='pv short'>not a p{} from {} requests "
            "(needs {})</span>",
            figure(value, ".3f"),
            pct,
            figure(b.get("n"), "d" if isinstance(b.get("n"), int) else "g"),
            b["needed"],
        )
    return h(
        "{}<span class='pv'>[{}, {}]</span>",
        figure(value, ".3f"),
        figure(b.get("lo"), ".3f"),
        figure(b.get("hi"), ".3f"),
    )


def summary_percentile(lat: object, pct: int) -> Markup:
    """A percentile a summary kept without its requests (open-loop latency from the intended
    start): its count says whether it is that percentile; its interval cannot be rebuilt."""
    value, n = _get(lat, f"p{pct}"), _get(lat, "n")
    needed = needed_for_bound(pct / 100)
    if is_number(value) and is_number(n) and n < needed:
        return bounds_cell({"value": value, "n": n, "needed": needed}, pct)
    return figure(value, ".3f")


def sweep_notes(sweep: Mapping[str, Any], n: int) -> list[Markup]:
    """Under a sweep's chart: the client-bound levels named, and each level's throughput with
    its interval (when the sweep file has these figures: older ones do not)."""
    levels = sweep.get("levels") or []
    keys = ("samples_per_s", "samples_per_s_lo", "samples_per_s_hi", "client_bound")
    if not any(k in r for r in levels for k in keys):
        return []
    parts: list[Markup] = []
    bound = [r["level"] for r in levels if r.get("client_bound") is True]
    if bound:
        parts.append(
            h(
                "<p class='warn sweep-client-bound' role='alert'>client-bound at level{} {}: "
                "{} client's own event loop was late, so {} measured the client as much as "
                "the server ({} throughput is a floor, {} latency holds client delay)</p>",
                "s" if len(bound) > 1 else "",
                ", ".join(format(x, "g") for x in bound),
                "their" if len(bound) > 1 else "its",
                "they" if len(bound) > 1 else "it",
                "their" if len(bound) > 1 else "its",
                "their" if len(bound) > 1 else "its",
            )
        )
    rows = [
        (
            format(r["level"], "g"),
            figure(r.get("samples_per_s"), ".2f"),
            _interval({"lo": r.get("samples_per_s_lo"), "hi": r.get("samples_per_s_hi")}),
            verdict(r.get("client_bound")) if "client_bound" in r else Markup("–"),
        )
        for r in levels
    ]
    parts += [
        table(("level", "ok samples/s", "interval", "client"), rows, f"sweep-{n}-levels"),
        Markup(
            "<p class='note'>Interval: the level's throughput interval as the sweep file gives "
            'it (<code>samples_per_s_lo</code> – <code>samples_per_s_hi</code>; "up to" when '
            "only the upper end is known); drawn as bars on the chart, with a cross on each "
            "client-bound level.</p>"
        ),
    ]
    return parts
