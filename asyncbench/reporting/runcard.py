"""The report's run cards: what made each results file's numbers, one card per run.

A card reads the run's sidecar (`X.meta.json`: tool version, command, times, provider, model,
endpoints, language, concurrency, arrival, options, scoring, dataset identity), its summary
(`X.summary.json`: requests in flight, arrival, SLOs, wall time, and any figure another
version of asyncbench added) and its job journal (`X.jobs.ndjson`: jobs still pending at the
provider). Every key is optional, and every value is outside text: a folder made by another
version, edited by hand, or sent by a colleague. So values are rendered by their JSON type
(a string escaped, a number formatted, a list or object as nested rows, depth-limited), and a
key we do not know is shown under its own name rather than dropped, so a reader sees all the
provenance there is and nothing runs.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from asyncbench.reporting.markup import Markup, h, is_number, number, page

#: sidecar keys in the order a reader asks about them, with their labels
META_KEYS = (
    ("tool_version", "asyncbench version"),
    ("command", "command"),
    ("started_at", "started"),
    ("ended_at", "ended"),
    ("provider", "provider"),
    ("model_name", "model"),
    ("endpoints", "endpoints"),
    ("language", "language"),
    ("concurrency", "requests in flight"),
    ("arrival", "arrival"),
    ("options", "options"),
    ("scoring", "scoring"),
    ("dataset", "dataset"),
)
#: sidecar keys the card leaves out: the identity check's own copies of what is shown above
META_HIDDEN = {"format", "dataset_source", "config", "split"}
#: summary keys shown elsewhere in the report (tables, charts), or in the card under a label
SUMMARY_SHOWN = {
    "results_file", "model", "dataset_path", "dataset", "split", "max_samples", "shard",
    "language", "started_at", "ended_at", "wall_s", "max_workers", "interrupted", "complete",
    "this_run", "latency_s", "rtfx", "little", "wer", "endpoints", "arrival", "target_rate",
    "achieved_rate", "sent", "latency_from_intended", "send_lateness_s", "late_starts",
    "goodput", "streaming", "spend_usd",
}  # fmt: skip
MAX_DEPTH = 4
MAX_ITEMS = 50  # per list or object: a card stays a card
LONG_TEXT = 240  # characters shown before a longer string folds (a click unfolds it)


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from `path`, or {} when it is missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def pending_jobs(path: Path) -> list[str]:
    """Job ids the journal still lists as submitted (latest line per key wins)."""
    latest: dict[str, tuple[str, str]] = {}
    try:
        raw = path.read_bytes()
    except OSError:
        return []
    for line in raw.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and isinstance(entry.get("key"), str):
            latest[entry["key"]] = (str(entry.get("job")), str(entry.get("state")))
    return [job for job, state in latest.values() if state == "submitted"]


def when(value: object) -> Markup:
    """A time: seconds since the epoch as local time, anything else as the text it is."""
    if is_number(value) and 0 < float(value) < 1e11:  # type: ignore[arg-type]
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(value)))  # type: ignore[arg-type]
        return h("{}", stamp)
    return value_html(value)


def value_html(value: object, depth: int = 0) -> Markup:
    """Any JSON value as the card shows it, every string escaped."""
    if isinstance(value, bool) or value is None:
        return h("{}", json.dumps(value))
    if is_number(value):
        return number(value, "g") if isinstance(value, float) else h("{}", value)
    if isinstance(value, str) and len(value) > LONG_TEXT:  # folded: a card stays a card
        return h(
            "<details class='long'><summary>{}… ({} characters)</summary>"
            "<span class='v'>{}</span></details>",
            value[:LONG_TEXT],
            len(value),
            value,
        )
    if isinstance(value, str):
        return h("<span class='v'>{}</span>", value)
    if depth >= MAX_DEPTH:
        return Markup("…")
    if isinstance(value, Mapping):
        items = list(value.items())
        rows = [
            h("<tr><th>{}</th><td>{}</td></tr>", str(k), value_html(v, depth + 1))
            for k, v in items[:MAX_ITEMS]
        ]
        if len(items) > MAX_ITEMS:
            rows.append(h("<tr><td colspan='2'>… {} more</td></tr>", len(items) - MAX_ITEMS))
        return h("<table class='kv'>{}</table>", page(rows)) if rows else Markup("{}")
    if isinstance(value, list | tuple):
        shown = [value_html(v, depth + 1) for v in value[:MAX_ITEMS]]
        more = [h("… {} more", len(value) - MAX_ITEMS)] if len(value) > MAX_ITEMS else []
        return Markup(", ").join([*shown, *more]) if shown else Markup("[]")
    return h("{}", str(value))


def card_rows(meta: Mapping[str, Any], summary: Mapping[str, Any], jobs: list[str]) -> list[Markup]:
    rows: list[Markup] = []

    def row(label: str, value: Markup) -> None:
        rows.append(h("<tr><th>{}</th><td>{}</td></tr>", label, value))

    for key, label in META_KEYS:
        if key in meta:
            row(label, when(meta[key]) if key.endswith("_at") else value_html(meta[key]))
    if "started_at" not in meta and "started_at" in summary:
        row("started", when(summary["started_at"]))
    if "concurrency" not in meta and "max_workers" in summary:
        row("requests in flight", value_html(summary["max_workers"]))
    if "arrival" not in meta and isinstance(summary.get("arrival"), Mapping):
        row("arrival", value_html(summary["arrival"]))
    good = summary.get("goodput")
    slos = good.get("slos") if isinstance(good, Mapping) else None
    if slos:
        row("SLOs", value_html(slos))
    if "wall_s" in summary:
        row("wall clock, s", number(summary["wall_s"], ".1f"))
    for key in ("interrupted", "complete"):
        if key in summary:
            row(key, value_html(summary[key]))
    for key, value in meta.items():
        if key not in META_HIDDEN and key not in dict(META_KEYS):
            row(str(key), value_html(value))
    for key, value in summary.items():
        if key not in SUMMARY_SHOWN:
            row(str(key), value_html(value))
    if jobs:
        row(
            "jobs still pending",
            h("{} (the provider may still bill them): {}", len(jobs), value_html(jobs)),
        )
    return rows


def run_card(results: Path, title: str) -> Markup:
    """One run's card: its provenance, or a sentence saying it has none recorded."""
    stem = results.name.removesuffix(".jsonl")
    meta = read_json(results.with_name(stem + ".meta.json"))
    summary = read_json(results.with_name(stem + ".summary.json"))
    jobs = pending_jobs(results.with_name(stem + ".jobs.ndjson"))
    rows = card_rows(meta, summary, jobs)
    body = (
        h("<table class='kv'>{}</table>", page(rows))
        if rows
        else Markup(
            "<p class='note'>No sidecar or summary beside this file (the board's or the "
            "seed's format, or an older asyncbench): its provenance is unknown.</p>"
        )
    )
    shown = title if len(title) <= LONG_TEXT else title[:LONG_TEXT] + "…"
    return h("<div class='card runcard'><h3 title='{}'>{}</h3>{}</div>", title, shown, body)


CSS = """
.runcards{display:grid;grid-template-columns:repeat(auto-fill,minmax(380px,1fr));gap:12px}
.runcard{min-width:0;overflow-x:auto}.runcard table.kv{font-size:12px;border-collapse:collapse}
table.kv th{text-align:left;vertical-align:top;color:#555;font-weight:600;padding:1px 8px 1px 0;
min-width:6em;max-width:12em;overflow-wrap:anywhere}
table.kv td{padding:1px 0;overflow-wrap:anywhere}
table.kv table.kv{margin:0}.v{white-space:pre-wrap;overflow-wrap:anywhere}
details.long summary{cursor:pointer;overflow-wrap:anywhere}
"""
