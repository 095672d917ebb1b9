"""`asyncbench report RESULTS_DIR -o report.html`: one self-contained HTML page to share.

It reads the results files (ours, and the leaderboard's or the seed's, which score but have no
timestamps), scores them with the leaderboard's rules (`asyncbench.scoring`), and draws with
matplotlib (`reporting.plots`): latency distribution and latency vs audio length, throughput
and requests in flight over time, WER per dataset per model, errors over time, load and
latency per endpoint, and each sweep found under the folder (`sweep.json`). Images are
embedded as base64 PNG, so the file can be mailed or attached to an issue as it is.

Times come from each line's `t_end` (when the answer came) and `time` (how long the request
took), so a request's interval is [t_end - time, t_end]; throughput RTFx per file is its
audio over the time during which at least one of its requests was in flight, which leaves
out pauses between a run and its resumption.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any

import typer

from asyncbench.core.errors import ConfigError
from asyncbench.core.text import lines
from asyncbench.reporting.markup import Markup, h, is_number, number, page, policy, table
from asyncbench.reporting.series import Series

NICE_BINS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400)
TARGET_BINS = 80


@dataclass
class FileData:
    score: Any  # FileScore
    samples: list[Any]  # scoring's Sample, with t_end/endpoint/attempts for our files
    name: str = ""

    @cached_property
    def timed(self) -> list[Any]:
        return [s for s in self.samples if s.t_end is not None and s.time is not None]


@dataclass
class ReportData:
    directory: Path
    files: list[FileData]
    composites: Sequence[Any]
    problems: list[str]
    sweeps: list[dict[str, Any]] = field(default_factory=list)


def gather(directory: str | Path, model_id: str | None = None) -> ReportData:
    """Read and score every results file under `directory` (shards of a split as one)."""
    from dataclasses import replace

    from asyncbench.scoring.bootstrap import DEFAULT_SEED
    from asyncbench.scoring.resultfiles import read_result_files
    from asyncbench.scoring.score import composites, find_runs, score_read_file, with_intervals

    root = Path(directory)
    files: list[FileData] = []
    # runs by their sidecars, as `score` finds them: sweep levels stay in the sweep section
    runs, problems = find_runs(root, model_id)
    for run in runs:
        group = run.files
        result = read_result_files(group)
        problems.extend(result.problems)
        if not result.samples:
            problems.append(f"{group[0]}: nothing to score; left out of the report")
            continue
        try:  # a sidecar language the scorer cannot score: this file only, as `score` does
            score = score_read_file(result, model_id=model_id)
        except ConfigError as exc:
            problems.append(f"{exc}; left out of the report")
            continue
        score = replace(
            score,
            expected_samples=run.expected_samples(),
            provenance=run.provenance(),
            size_known=run.size_known,
        )
        files.append(FileData(score, result.samples))
    if not files:
        raise ConfigError(
            f"none of the results files under {str(directory)!r} has a line that can be "
            "scored: " + "; ".join(problems[-3:])
        )
    _name_files(files, root)
    sweeps = []
    for path in sorted(root.rglob("sweep.json")):
        try:
            sweep = clean_sweep(json.loads(path.read_text()))
        except (OSError, ValueError) as exc:
            problems.append(f"{path}: unreadable sweep file ({exc}); left out")
            continue
        if sweep is None:
            problems.append(f"{path}: no sweep level with a numeric level to plot; left out")
        else:
            sweeps.append(sweep)
    # 95 % intervals from the scorer's own bootstrap (the numbers `score` prints)
    scored, means = with_intervals(
        [f.score for f in files], composites([f.score for f in files]), 1000, DEFAULT_SEED
    )
    for f, score in zip(files, scored, strict=True):
        f.score = score
    return ReportData(root, files, means, problems, sweeps)


def clean_sweep(raw: object) -> dict[str, Any] | None:
    """A sweep file as the charts can draw it: levels are objects with a numeric `level`, and
    only their numeric figures (and a JSON true/false `client_bound`) are kept (a string
    where a figure belongs is dropped, not plotted as a category); None when no level is
    left."""
    if not isinstance(raw, dict) or not isinstance(raw.get("levels"), list):
        return None
    levels = [
        {k: v for k, v in r.items() if is_number(v) or (k == "client_bound" and v in (True, False))}
        for r in raw["levels"]
        if isinstance(r, dict) and is_number(r.get("level"))
    ]
    if not levels:
        return None
    knee = raw.get("knee_level")
    return {**raw, "levels": levels, "knee_level": knee if is_number(knee) else None}


def short_name(f: FileData) -> str:
    """`config/split` (what a reader knows a split by): from the run's summary when there is
    one, else the last two parts of the dataset id (`<dataset path>_<config>_<split>`)."""
    from asyncbench.reporting.summary import read_summary

    summary = read_summary(f.score.path)
    if summary and summary.get("dataset") and summary.get("split"):
        return f"{summary['dataset']}/{summary['split']}"
    parts = f.score.dataset_id.rsplit("_", 2)
    return "/".join(parts[-2:]) if len(parts) == 3 else f.score.dataset_id


def _name_files(files: list[FileData], root: Path) -> None:
    """Label = `config/split`, with the folder when two files of a model share it (a sweep's
    levels, the same split run twice on two dataset copies)."""
    for f in files:
        f.name = short_name(f)
    seen: dict[tuple[str, str], int] = defaultdict(int)
    for f in files:
        seen[(f.score.model_id, f.name)] += 1
    clashes = [f for f in files if seen[(f.score.model_id, f.name)] > 1]
    folders = {f.score.path.parent for f in clashes}
    by_name = len({folder.name for folder in folders}) == len(folders)
    for f in clashes:  # the folder's name (a sweep's c8, c16, ...), or its path when needed
        folder = f.score.path.parent
        short = folder.name if by_name else folder.relative_to(root).as_posix()
        f.name = f"{f.name} [{short or '.'}]"


# -- figures over time ---------------------------------------------------------------------


def bin_width(span_s: float) -> float:
    """A round bin width that gives about TARGET_BINS bins over the span."""
    for width in NICE_BINS_S:
        if span_s / width <= TARGET_BINS:
            return float(width)
    return float(NICE_BINS_S[-1])


def time_axis(files: Sequence[FileData]) -> tuple[float, list[float]]:
    """(t0, bin edges in seconds from t0) covering every timed request."""
    timed = [s for f in files for s in f.timed]
    if not timed:
        return 0.0, []
    t0 = min(s.t_end - s.time for s in timed)
    span = max(s.t_end for s in timed) - t0
    width = bin_width(max(span, 1.0))
    n = max(1, math.ceil(span / width))
    return t0, [i * width for i in range(n + 1)]


def busy_seconds(intervals: list[tuple[float, float]]) -> float:
    """Length of the union of intervals: time with at least one request in flight."""
    total = 0.0
    end = -math.inf
    for a, b in sorted(intervals):
        if b <= end:
            continue
        total += b - max(a, end)
        end = b
    return total


def series_over_time(f: FileData, t0: float, edges: list[float]) -> Series:
    n = len(edges) - 1
    width = edges[1] - edges[0]
    audio = [0.0] * n
    flight = [0.0] * n
    for s in f.timed:
        end = s.t_end - t0
        start = end - s.time
        if s.status == "ok":
            audio[min(n - 1, int(end // width))] += s.duration or 0.0
        first, last = int(start // width), min(n - 1, int(end // width))
        for i in range(max(0, first), last + 1):
            overlap = min(end, edges[i + 1]) - max(start, edges[i])
            if overlap > 0:
                flight[i] += overlap / width
    return Series(f"{f.score.model_id} · {f.name}", audio, flight)


def errors_over_time(
    files: Sequence[FileData], t0: float, edges: list[float]
) -> tuple[dict[str, list[int]], list[int]]:
    n = len(edges) - 1
    width = edges[1] - edges[0] if n else 1.0
    by_kind: dict[str, list[int]] = defaultdict(lambda: [0] * n)
    retries = [0] * n
    for f in files:
        for s in f.timed:
            i = min(n - 1, int((s.t_end - t0) // width))
            if s.status == "failed":
                by_kind[s.error_kind or "unknown"][i] += 1
            if s.attempts and s.attempts > 1:
                retries[i] += s.attempts - 1
    return dict(by_kind), retries


def endpoint_rows(files: Sequence[FileData]) -> list[dict[str, Any]]:
    from asyncbench.engine.stats import percentile
    from asyncbench.reporting.progress import short_endpoint

    ok: dict[str, list[float]] = defaultdict(list)
    failed: dict[str, int] = defaultdict(int)
    for f in files:
        for s in f.samples:
            if s.endpoint is None:
                continue
            if s.status == "ok" and s.time is not None:
                ok[s.endpoint].append(s.time)
            elif s.status == "failed":
                failed[s.endpoint] += 1
    rows = []
    for url in sorted(set(ok) | set(failed)):
        lat = sorted(ok[url])
        rows.append(
            {
                "name": short_endpoint(url),
                "url": url,
                "ok": len(lat),
                "failed": failed[url],
                "p50": percentile(lat, 50) if lat else None,
                "p90": percentile(lat, 90) if lat else None,
            }
        )
    return rows


# -- the page ------------------------------------------------------------------------------


def file_row(f: FileData) -> dict[str, Any]:
    from asyncbench.engine.stats import latency_summary

    ok = [s for s in f.samples if s.status == "ok" and s.time is not None]
    ordered = sorted(s.time for s in ok)
    lat = latency_summary(ordered)
    timed_ok = [s for s in f.timed if s.status == "ok"]
    busy = busy_seconds([(s.t_end - s.time, s.t_end) for s in f.timed])
    audio = sum(s.duration or 0.0 for s in timed_ok)
    sc = f.score
    ends = [s.t_end for s in f.timed]
    return {
        "model": sc.model_id,
        "dataset": f.name,
        "samples": sc.n_samples,
        "coverage": f"{sc.coverage:.2f} %" if sc.ours and sc.size_known else "n/a",
        "failed": sc.n_failed,
        "wer": sc.wer,
        "wer_ok_only": sc.wer_ok_only,
        "per_request_rtfx": sc.rtfx,
        "throughput_rtfx": audio / busy if busy > 0 else None,
        "p50": lat["p50"],
        "p90": lat["p90"],
        "p99": lat["p99"],
        "max": lat["max"],
        "ordered": ordered,  # the percentile cells' 95 % intervals come from these
        "when": time.strftime("%Y-%m-%d %H:%M", time.localtime(min(ends))) if ends else "",
    }


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;
max-width:1240px;color:#222;padding:0 16px}
h1{margin:0 0 4px;font-size:26px;overflow-wrap:anywhere}h2{margin:32px 0 8px;font-size:19px;
border-bottom:1px solid #ddd;padding-bottom:4px;overflow-wrap:anywhere}h3{overflow-wrap:anywhere}
.meta{color:#666;margin:0 0 16px;overflow-wrap:anywhere}
.cards{display:flex;gap:12px;flex-wrap:wrap}.card{border:1px solid #ddd;border-radius:8px;
padding:10px 16px;min-width:220px;max-width:100%;box-sizing:border-box;background:#fafafa;
overflow-wrap:anywhere}.card h3{margin:0 0 6px;font-size:15px}
.big{font-size:24px;font-weight:600}.card td{padding:1px 8px 1px 0}
table.data{border-collapse:collapse;font-size:13px;width:100%}
table.data th,table.data td{padding:4px 8px;border-bottom:1px solid #eee;text-align:right}
table.data th{background:#f3f3f3;position:sticky;top:0}
table.data td{white-space:nowrap}
table.data td:nth-child(-n+2),table.data th:nth-child(-n+2){text-align:left}
.note{color:#555;font-size:13px;overflow-wrap:anywhere}img{max-width:100%;border:1px solid #eee;
margin:6px 0}.wide{overflow-x:auto;max-width:100%;border:1px solid #eee}.bad{color:#b00}
ul.problems{font-size:12px;color:#a40;overflow-wrap:anywhere}
p.empty{color:#555;font-style:italic}
"""


def _fmt(value: object, spec: str = ".2f") -> Markup:
    return number(value, spec)


def _get(mapping: object, key: str) -> Any:
    """`mapping[key]` when `mapping` is an object (a summary someone edited may hold a string
    or a list where an object belongs), else None."""
    return mapping.get(key) if isinstance(mapping, dict) else None


def load_table(data: ReportData) -> list[Markup]:
    """Open-loop load and goodput per results file, from the summaries its runs wrote (files
    run closed-loop without `--slo` have nothing to add, and are left out)."""
    from asyncbench.reporting.client_report import badge, summary_percentile
    from asyncbench.reporting.summary import read_summary

    rows = []
    for f in data.files:
        s = read_summary(f.score.path) or {}
        arrival = s.get("arrival") if isinstance(s.get("arrival"), dict) else {}
        good = s.get("goodput") if isinstance(s.get("goodput"), dict) else {}
        slos = good.get("slos")
        if arrival.get("kind", "closed") == "closed" and not slos:
            continue
        lat = s.get("latency_from_intended")
        share = good.get("share")
        slo_text = " and ".join(str(x) for x in slos) if isinstance(slos, list) else str(slos or "")
        rows.append(
            (
                f.score.model_id,
                h("{}{}", f.name, badge(s)),
                str(arrival.get("kind")),
                _fmt(s.get("target_rate")),
                _fmt(s.get("achieved_rate")),
                summary_percentile(lat, 50),
                summary_percentile(lat, 90),
                summary_percentile(lat, 99),
                number(_get(s.get("late_starts"), "count"), "d", missing="-"),
                slo_text or "none",
                _fmt(good.get("requests_per_s")),
                _fmt(good.get("audio_s_per_s")),
                _fmt(100 * share if is_number(share) else share, ".1f"),
            )
        )
    if not rows:
        return []
    head = (
        "model", "dataset", "arrival", "target req/s", "sent req/s", "p50 s", "p90 s",
        "p99 s", "late starts", "SLOs", "goodput req/s", "goodput audio s/s", "met %",
    )  # fmt: skip
    return [
        Markup("<h2>Open-loop load and goodput</h2>"),
        table(head, rows),
        Markup(
            "<p class='note'>Latency here counts from each request's intended "
            "start (the arrival schedule's send time), so a server stall shows in full (the "
            "summary keeps these percentiles without their requests, so only a count too small "
            "for one is noted here; the per-dataset table gives intervals); late "
            "starts went more than 10 ms after their time. Goodput: requests (and audio seconds) "
            "per second that came back ok and met every SLO; met %: of the requests sent.</p>"
        ),
    ]


def empty_charts(
    groups: dict[str, list[float]],
    series: Sequence[Series],
    by_kind: dict[str, list[int]],
    retries: list[int],
    endpoints: Sequence[dict[str, Any]],
) -> dict[str, str]:
    """The sentence that replaces each chart with nothing to show, by the chart's id."""
    out = {}
    if not groups:
        out["chart-0"] = "No request succeeded: there is no latency to show."
    if not series:
        out["chart-1"] = (
            "No results file has timestamps (the board's or the seed's format, or an older "
            "asyncbench): there is nothing to plot over time."
        )
    failed = sum(sum(c) for c in by_kind.values())
    if not series:
        out["chart-3"] = "No timestamps: errors cannot be placed in time."
    elif not failed and not sum(retries):
        out["chart-3"] = "No sample failed and no request was retried."
    if not endpoints:
        out["chart-4"] = "No results file records which endpoint answered each request."
    return out


def render(data: ReportData, title: str = "asyncbench report") -> str:
    """The whole page as one string. Every piece of text reaches it through `markup.h` or
    `markup.page` (escaped unless built as markup), under a policy that runs only the
    page's own scripts and sends nothing."""
    from asyncbench.reporting import analysis, client_report, runcard, webpage  # plotly: here
    from asyncbench.reporting.sections import (
        CHART_HEADINGS,
        confidence,
        error_analysis,
        interactive_charts,
        model_comparison,
    )
    from asyncbench.reporting.summary import read_summary
    from asyncbench.reporting.webpage import CSS as WEB_CSS

    rows = [file_row(f) for f in data.files]
    summaries = [read_summary(f.score.path) or {} for f in data.files]
    parts: list[Markup] = [
        h(
            "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            '<meta http-equiv="Content-Security-Policy" content="{}">'
            "<meta name='referrer' content='no-referrer'>"
            "<title>{}</title><style>{}</style></head><body><h1>{}</h1>",
            Markup(policy(webpage.script_sources())),  # ours: keywords and base64 only
            title,
            Markup(CSS + WEB_CSS + runcard.CSS + client_report.CSS),
            title,
        ),
        h(
            "<p class='meta'>{} results files under <code>{}</code> · generated {} by "
            "asyncbench</p><div class='cards'>",
            len(data.files),
            str(data.directory),
            time.strftime("%Y-%m-%d %H:%M"),
        ),
    ]
    for c in data.composites:
        mine = [r for r in rows if r["model"] == c.model_id]
        n = sum(r["samples"] for r in mine)
        failed = sum(r["failed"] for r in mine)
        thr = [r["throughput_rtfx"] for r in mine if r["throughput_rtfx"]]
        parts.append(
            h(
                "<div class='card'><h3>{}</h3><div class='big'>WER {} %</div><table>"
                "<tr><td>datasets</td><td>{}</td></tr><tr><td>samples</td><td>{}{}</td></tr>"
                "<tr><td>per-request RTFx</td><td>{}</td></tr>"
                "<tr><td>throughput RTFx</td><td>{}{}</td></tr></table></div>",
                c.model_id,
                _fmt(c.wer),
                c.n_datasets,
                n,
                h(" <span class='bad'>({} failed)</span>", failed) if failed else "",
                _fmt(c.rtfx),
                _fmt(min(thr) if thr else None),
                h(" – {}", _fmt(max(thr))) if len(thr) > 1 else "",
            )
        )
    parts.append(Markup("</div>"))

    head = (
        "model", "dataset", "samples", "coverage", "failed", "WER %", "WER ok only %",
        "per-request RTFx", "throughput RTFx", "p50 s", "p90 s", "p99 s", "max s", "started",
    )  # fmt: skip
    cells = [
        (
            r["model"],
            h("{}{}", r["dataset"], client_report.badge(s)),
            r["samples"],
            r["coverage"],
            h("<span class='bad'>{}</span>", r["failed"]) if r["failed"] else "0",
            _fmt(r["wer"]),
            _fmt(r["wer_ok_only"]),
            _fmt(r["per_request_rtfx"]),
            _fmt(r["throughput_rtfx"]),
            client_report.percentile_cell(r["ordered"], 50),
            client_report.percentile_cell(r["ordered"], 90),
            client_report.percentile_cell(r["ordered"], 99),
            _fmt(r["max"], ".3f"),
            r["when"],
        )
        for r, s in zip(rows, summaries, strict=True)
    ]
    runs = [
        (f"{f.score.model_id} · {f.name}", s) for f, s in zip(data.files, summaries, strict=True)
    ]
    parts += [
        Markup("<h2>Per dataset</h2>"),
        *client_report.warnings(runs),
        table(head, cells),
        Markup(
            "<p class='note'>WER: the Open ASR Leaderboard's normaliser and WER, a failed "
            'sample counting as an empty transcript ("WER ok only" leaves failures out); the '
            "composite is the mean of the per-dataset WERs. <b>Per-request RTFx</b> is the "
            "leaderboard's: Σ audio ÷ Σ request time, how fast one request is answered. "
            "<b>Throughput RTFx</b> is Σ audio ÷ wall clock (the time with at least one request "
            "in flight): what the endpoints got through with many requests in flight. Latency "
            "percentiles are exact, over every successful request; under each, its "
            "distribution-free 95 % interval, or, when there were too few requests to bound "
            "it, how many it needs (a p99 from 40 requests is not a p99).</p>"
        ),
        *client_report.client_table(
            [(f.score.model_id, f.name, s) for f, s in zip(data.files, summaries, strict=True)]
        ),
    ]
    parts += load_table(data)
    from asyncbench.reporting.stream_report import stream_html

    parts += stream_html(data.files)

    t0, edges = time_axis(data.files)
    timed_files = [f for f in data.files if f.timed]
    untimed = len(data.files) - len(timed_files)
    series = [series_over_time(f, t0, edges) for f in timed_files] if edges else []
    groups: dict[str, list[float]] = defaultdict(list)
    points: list[tuple[float, float, str, str]] = []
    for f in data.files:
        for i, s in enumerate(f.samples):
            if s.status == "ok" and s.time is not None:
                groups[f.score.model_id].append(s.time)
                if s.duration is not None:
                    points.append((s.duration, s.time, s.sample_id or f"#{i}", f.score.model_id))
    by_kind, retries = errors_over_time(timed_files, t0, edges) if edges else ({}, [])

    utter = analysis.utterances(data.files)
    cis = confidence(data.files, data.composites)
    endpoints = endpoint_rows(data.files)
    charts = interactive_charts(
        data.files, data.sweeps, dict(groups), points, series, edges, by_kind, retries, cis,
        endpoints,
    )  # fmt: skip
    empty = empty_charts(groups, series, by_kind, retries, endpoints)
    comparison, comparison_charts = model_comparison(data.files, rows, cis)
    charts.update(comparison_charts)
    parts.append(Markup("<p id='status'>drawing the charts…</p>"))
    for i, heading in enumerate(CHART_HEADINGS):
        chart_id = f"chart-{i}"
        parts.append(h("<h2>{}</h2>", heading))
        if chart_id in empty:
            charts.pop(chart_id, None)
            parts.append(h("<p class='note empty'>{}</p>", empty[chart_id]))
        else:
            parts.append(h("<div class='chart' id='{}'></div>", chart_id))
        if heading.startswith("Throughput") and untimed and chart_id not in empty:
            parts.append(
                h(
                    "<p class='note'>{} file(s) have no timestamps (older runs, or the "
                    "leaderboard's or the seed's scripts): they are scored above but not "
                    "plotted over time.</p>",
                    untimed,
                )
            )
    for n, s in enumerate(data.sweeps):
        if f"sweep-{n}" in charts:
            parts.append(
                h(
                    "<h2>Sweep: {} on {}/{}</h2><div class='chart' id='sweep-{}'></div>",
                    s.get("model"),
                    s.get("dataset"),
                    s.get("split"),
                    n,
                )
            )
            parts += client_report.sweep_notes(s, n)
    parts += comparison
    parts += error_analysis(utter)
    parts += [
        Markup(
            "<h2>Runs</h2><p class='note'>What made each results file's numbers, from the "
            "files beside it (sidecar, summary, job journal).</p><div class='runcards'>"
        ),
        *(runcard.run_card(f.score.path, f"{f.score.model_id} · {f.name}") for f in data.files),
        Markup("</div>"),
    ]
    if data.problems:
        parts.append(Markup("<h2>Lines left out</h2><ul class='problems'>"))
        parts += [h("<li>{}</li>", p) for p in data.problems[:200]]
        if len(data.problems) > 200:
            parts.append(h("<li>... and {} more</li>", len(data.problems) - 200))
        parts.append(Markup("</ul>"))
    parts.append(webpage.scripts(webpage.payload(charts, utter)))
    parts.append(Markup("</body></html>\n"))
    return str(page(parts))


def report_command(
    results_dir: Annotated[
        Path, typer.Argument(help="Folder searched recursively for *.jsonl results files")
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="The HTML file to write")] = Path(
        "report.html"
    ),
    model: Annotated[
        str | None, typer.Option("--model", help="Only this model's files, e.g. aldea/default")
    ] = None,
    title: Annotated[str, typer.Option("--title", help="Heading of the page")] = (
        "asyncbench report"
    ),
) -> None:
    """Write one self-contained HTML report (plots embedded) of the results under a folder."""
    parent = output.expanduser().resolve().parent
    if not parent.is_dir():
        raise ConfigError(f"cannot write {output}: folder {parent} does not exist")
    data = gather(results_dir, model)
    page = render(data, title)
    try:
        output.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write {output}: {exc.strerror}") from None
    for problem in data.problems:
        print(f"warning: {lines(problem)}", file=sys.stderr)
    print(f"report written to {output} ({len(page) // 1024} KiB, {len(data.files)} results files)")
