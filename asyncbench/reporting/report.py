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

import html
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
        score = score_read_file(result, model_id=model_id)
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
            sweeps.append(json.loads(path.read_text()))
        except (OSError, ValueError) as exc:
            problems.append(f"{path}: unreadable sweep file ({exc}); left out")
    # 95 % intervals from the scorer's own bootstrap (the numbers `score` prints)
    scored, means = with_intervals(
        [f.score for f in files], composites([f.score for f in files]), 1000, DEFAULT_SEED
    )
    for f, score in zip(files, scored, strict=True):
        f.score = score
    return ReportData(root, files, means, problems, sweeps)


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
    lat = latency_summary([s.time for s in ok])
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
        "when": time.strftime("%Y-%m-%d %H:%M", time.localtime(min(ends))) if ends else "",
    }


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;
max-width:1240px;color:#222;padding:0 16px}
h1{margin:0 0 4px;font-size:26px}h2{margin:32px 0 8px;font-size:19px;border-bottom:1px solid
#ddd;padding-bottom:4px}.meta{color:#666;margin:0 0 16px}
.cards{display:flex;gap:12px;flex-wrap:wrap}.card{border:1px solid #ddd;border-radius:8px;
padding:10px 16px;min-width:220px;background:#fafafa}.card h3{margin:0 0 6px;font-size:15px}
.big{font-size:24px;font-weight:600}.card td{padding:1px 8px 1px 0}
table.data{border-collapse:collapse;font-size:13px;width:100%}
table.data th,table.data td{padding:4px 8px;border-bottom:1px solid #eee;text-align:right}
table.data th{background:#f3f3f3;position:sticky;top:0}
table.data td{white-space:nowrap}
table.data td:nth-child(-n+2),table.data th:nth-child(-n+2){text-align:left}
.note{color:#555;font-size:13px}img{max-width:100%;border:1px solid #eee;margin:6px 0}
.wide{overflow-x:auto}.bad{color:#b00}ul.problems{font-size:12px;color:#a40}
"""


def _fmt(value: float | None, spec: str = ".2f") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return format(value, spec)


def load_table(data: ReportData) -> list[str]:
    """Open-loop load and goodput per results file, from the summaries its runs wrote (files
    run closed-loop without `--slo` have nothing to add, and are left out)."""
    from asyncbench.reporting.summary import read_summary

    e = html.escape
    rows = []
    for f in data.files:
        s = read_summary(f.score.path) or {}
        arrival = s.get("arrival") or {}
        good = s.get("goodput") or {}
        if arrival.get("kind", "closed") == "closed" and not good.get("slos"):
            continue
        lat = s.get("latency_from_intended") or {}
        share = good.get("share")
        cells = (
            e(f.score.model_id),
            e(f.name),
            e(str(arrival.get("kind"))),
            _fmt(s.get("target_rate")),
            _fmt(s.get("achieved_rate")),
            _fmt(lat.get("p50"), ".3f"),
            _fmt(lat.get("p90"), ".3f"),
            _fmt(lat.get("p99"), ".3f"),
            str((s.get("late_starts") or {}).get("count", "-")),
            e(" and ".join(good.get("slos") or []) or "none"),
            _fmt(good.get("requests_per_s")),
            _fmt(good.get("audio_s_per_s")),
            _fmt(None if share is None else 100 * share, ".1f"),
        )
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    if not rows:
        return []
    head = (
        "model", "dataset", "arrival", "target req/s", "sent req/s", "p50 s", "p90 s",
        "p99 s", "late starts", "SLOs", "goodput req/s", "goodput audio s/s", "met %",
    )  # fmt: skip
    return [
        "<h2>Open-loop load and goodput</h2><div class='wide'><table class='data'><tr>",
        "".join(f"<th>{h}</th>" for h in head),
        "</tr>",
        *rows,
        "</table></div><p class='note'>Latency here counts from each request's intended "
        "start (the arrival schedule's send time), so a server stall shows in full; late "
        "starts went more than 10 ms after their time. Goodput: requests (and audio seconds) "
        "per second that came back ok and met every SLO; met %: of the requests sent.</p>",
    ]


def render(data: ReportData, title: str = "asyncbench report") -> str:
    """The whole page as one string."""
    from asyncbench.reporting import analysis, webpage  # plotly and numpy: only here
    from asyncbench.reporting.sections import (
        CHART_HEADINGS,
        confidence,
        error_analysis,
        interactive_charts,
        model_comparison,
    )
    from asyncbench.reporting.webpage import CSS as WEB_CSS

    e = html.escape
    rows = [file_row(f) for f in data.files]
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{e(title)}</title><style>{CSS}{WEB_CSS}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        f"<p class='meta'>{len(data.files)} results files under <code>{e(str(data.directory))}"
        f"</code> · generated {time.strftime('%Y-%m-%d %H:%M')} by asyncbench</p>",
        "<div class='cards'>",
    ]
    for c in data.composites:
        mine = [r for r in rows if r["model"] == c.model_id]
        n = sum(r["samples"] for r in mine)
        failed = sum(r["failed"] for r in mine)
        thr = [r["throughput_rtfx"] for r in mine if r["throughput_rtfx"]]
        parts.append(
            f"<div class='card'><h3>{e(c.model_id)}</h3><div class='big'>WER "
            f"{_fmt(c.wer)} %</div><table>"
            f"<tr><td>datasets</td><td>{c.n_datasets}</td></tr>"
            f"<tr><td>samples</td><td>{n}"
            + (f" <span class='bad'>({failed} failed)</span>" if failed else "")
            + "</td></tr>"
            f"<tr><td>per-request RTFx</td><td>{_fmt(c.rtfx)}</td></tr>"
            f"<tr><td>throughput RTFx</td><td>{_fmt(min(thr) if thr else None)}"
            f"{' – ' + _fmt(max(thr)) if len(thr) > 1 else ''}</td></tr></table></div>"
        )
    parts.append("</div>")

    head = (
        "model",
        "dataset",
        "samples",
        "coverage",
        "failed",
        "WER %",
        "WER ok only %",
        "per-request RTFx",
        "throughput RTFx",
        "p50 s",
        "p90 s",
        "p99 s",
        "max s",
        "started",
    )
    parts.append("<h2>Per dataset</h2><div class='wide'><table class='data'><tr>")
    parts += [f"<th>{h}</th>" for h in head]
    parts.append("</tr>")
    for r in rows:
        cells = (
            e(r["model"]),
            e(r["dataset"]),
            str(r["samples"]),
            r["coverage"],
            f"<span class='bad'>{r['failed']}</span>" if r["failed"] else "0",
            _fmt(r["wer"]),
            _fmt(r["wer_ok_only"]),
            _fmt(r["per_request_rtfx"]),
            _fmt(r["throughput_rtfx"]),
            _fmt(r["p50"], ".3f"),
            _fmt(r["p90"], ".3f"),
            _fmt(r["p99"], ".3f"),
            _fmt(r["max"], ".3f"),
            e(r["when"]),
        )
        parts.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    parts.append(
        "</table></div><p class='note'>WER: the Open ASR Leaderboard's normaliser and WER, a "
        'failed sample counting as an empty transcript ("WER ok only" leaves failures out); the '
        "composite is the mean of the per-dataset WERs. <b>Per-request RTFx</b> is the "
        "leaderboard's: Σ audio ÷ Σ request time, how fast one request is answered. "
        "<b>Throughput RTFx</b> is Σ audio ÷ wall clock (the time with at least one request in "
        "flight): what the endpoints got through with many requests in flight. Latency "
        "percentiles are exact, over every successful request.</p>"
    )
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
    charts = interactive_charts(
        data.files,
        data.sweeps,
        dict(groups),
        points,
        series,
        edges,
        by_kind,
        retries,
        cis,
        endpoint_rows(data.files),
    )
    comparison, comparison_charts = model_comparison(data.files, rows, cis)
    charts.update(comparison_charts)
    parts.append("<p id='status'>drawing the charts…</p>")
    for i, heading in enumerate(CHART_HEADINGS):
        parts.append(f"<h2>{e(heading)}</h2><div class='chart' id='chart-{i}'></div>")
        if heading.startswith("Throughput") and untimed:
            parts.append(
                f"<p class='note'>{untimed} file(s) have no timestamps (older runs, or the "
                "leaderboard's or the seed's scripts): they are scored above but not plotted "
                "over time.</p>"
            )
    for n, s in enumerate(data.sweeps):
        if s.get("levels"):
            parts.append(
                f"<h2>{e('Sweep: ' + s['model'] + ' on ' + s['dataset'] + '/' + s['split'])}"
                f"</h2><div class='chart' id='sweep-{n}'></div>"
            )
    parts += comparison
    parts += error_analysis(utter)
    if data.problems:
        parts.append("<h2>Lines left out</h2><ul class='problems'>")
        parts += [f"<li>{e(p)}</li>" for p in data.problems[:200]]
        if len(data.problems) > 200:
            parts.append(f"<li>... and {len(data.problems) - 200} more</li>")
        parts.append("</ul>")
    parts.append(webpage.scripts(webpage.payload(charts, utter)))
    parts.append("</body></html>\n")
    return "".join(parts)


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
        print(f"warning: {problem}", file=sys.stderr)
    print(f"report written to {output} ({len(page) // 1024} KiB, {len(data.files)} results files)")
