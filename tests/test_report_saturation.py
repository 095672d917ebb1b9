"""The report says when a run measured its own client, and how far each figure can be trusted
(#28 item 8): a client-bound run gets a visible warning with its figures where its latency and
throughput are shown, steady throughput stands beside whole-run throughput, every latency
percentile carries its 95 % interval or says it is not that percentile, and a sweep shows
each level's throughput interval and marks the levels whose client was the bottleneck.

Two runs written as files (one client-bound with 40 requests, one healthy with 400) and a
sweep, then the real `asyncbench report`; checked in the markup and in Debian's chromium."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from asyncbench.engine.stats import needed_for_bound, percentile, percentile_bounds
from asyncbench.reporting.summary import summary_path
from asyncbench.reporting.webpage import unpack

from .page_text import Texts, parsed
from .test_report import embedded, section, written_report
from .test_report_browser import browser  # noqa: F401  (the shared chromium fixture)
from .test_report_hostile import WATCH

BOUND_N, HEALTHY_N = 40, 400
BOUND_LINE = (
    "client-bound: aldea/alpha · ami/test: loop lag p99 38 ms (max 52 ms), loop thread on "
    "the CPU 97 % of the time; latency includes up to 38 ms of client delay and fewer "
    "requests were in flight than it seems; try more client processes (--processes)"
)
SWEEP_LINE = (
    "client-bound at level 4: its client's own event loop was late, so it measured the "
    "client as much as the server (its throughput is a floor, its latency holds client delay)"
)


def times(n: int) -> list[float]:
    return [0.02 + 0.001 * ((i * 37) % n) for i in range(n)]


def write_run(out: Path, model: str, dataset: str, n: int, summary: dict[str, Any]) -> Path:
    path = out / f"MODEL_{model.replace('/', '-')}_DATASET_esb_{dataset}_test.jsonl"
    t = 1_800_000_000.0
    lines = []
    for i, latency in enumerate(times(n)):
        t += 0.005
        lines.append(
            {"id": f"{dataset}-{i}", "text": "a b c", "pred_text": "a b c", "status": "ok",
             "duration": 2.0, "time": latency, "t_end": t, "attempts": 1}
        )  # fmt: skip
    path.write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in lines))
    summary_path(path).write_bytes(orjson.dumps({"dataset": dataset, "split": "test", **summary}))
    return path


BOUND = {
    "client_bound": True,
    "loop_lag_ms": {"n": 300, "p50": 12.0, "p99": 38.2, "max": 52.4},
    "loop_busy": {"n": 300, "p50": 0.97, "mean": 0.95},
    "dispatch_lateness_ms": {"n": 40, "p50": 3.0, "p99": 30.5, "max": 41.0},
    "throughput": {
        "whole_per_s": 204.0,
        "steady_per_s": 213.0,
        "steady_n": 30,
        "steady_window_s": 0.141,
        "warmup": {"seconds": 5.0, "requests": None},
        "client_delay_s": 0.2,
        "hi_per_s": 220.0,
        "whole_interval": {"rate": 204.0, "lo": 198.0, "hi": 210.0, "n": 40, "needed": None},
    },
}
HEALTHY = {
    "client_bound": False,
    "loop_lag_ms": {"n": 900, "p50": 0.4, "p99": 1.5, "max": 2.0},
    "loop_busy": {"n": 900, "p50": 0.2, "mean": 0.2},
    "dispatch_lateness_ms": {"n": 400, "p50": 0.1, "p99": 0.9, "max": 1.2},
    "throughput": {
        "whole_per_s": 50.0,
        "steady_per_s": None,
        "steady_n": 1,
        "steady_window_s": 0.5,
        "warmup": {"seconds": None, "requests": 200},
        "client_delay_s": 0.0,
        "hi_per_s": 50.0,
        "whole_interval": {"rate": 50.0, "lo": None, "hi": None, "n": 3, "needed": 12},
    },
}
SWEEP = {
    "model": "aldea/alpha",
    "dataset": "ami",
    "split": "test",
    "levels": [
        {"level": 1, "samples_per_s": 10.0, "samples_per_s_lo": 9.0, "samples_per_s_hi": 11.0,
         "throughput_rtfx": 20.0, "p50": 0.1, "p90": 0.2, "p99": 0.3, "client_bound": False},
        {"level": 2, "samples_per_s": 19.0, "samples_per_s_lo": 17.5, "samples_per_s_hi": 20.5,
         "throughput_rtfx": 38.0, "p50": 0.1, "p90": 0.2, "p99": 0.3, "client_bound": False},
        {"level": 4, "samples_per_s": 20.0, "samples_per_s_lo": 18.0, "samples_per_s_hi": 23.0,
         "throughput_rtfx": 40.0, "p50": 0.2, "p90": 0.3, "p99": 0.5, "client_bound": True},
    ],
    "knee_level": 2,
}  # fmt: skip


def write_folder(root: Path) -> Path:
    out = root / "results"
    out.mkdir()
    write_run(out, "aldea/alpha", "ami", BOUND_N, BOUND)
    write_run(out, "aldea/alpha", "tedlium", HEALTHY_N, HEALTHY)
    sweep = out / "sweeps" / "alpha"
    sweep.mkdir(parents=True)
    (sweep / "sweep.json").write_bytes(orjson.dumps(SWEEP))
    return out


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return written_report(write_folder(tmp_path_factory.mktemp("saturation")))


def test_a_client_bound_run_is_announced_with_its_figures_where_latency_is_shown(
    report_file: Path,
) -> None:
    text = report_file.read_text()
    per_dataset = section(text, "Per dataset")
    p = Texts()
    p.feed(per_dataset)
    assert p.by["client-bound"] == [BOUND_LINE]  # one warning: the healthy run has none
    # above the table it warns about, and the run's row carries the mark
    assert per_dataset.index("client-bound'") < per_dataset.index("<table")
    rows = {r[1]: r for r in p.rows[""] if len(r) > 2}
    assert rows["ami/test client-bound"][0] == "aldea/alpha"
    assert "tedlium/test" in rows


def test_steady_throughput_beside_whole_run_and_the_client_figures(report_file: Path) -> None:
    rows = parsed(report_file).rows["client-health"]
    assert rows[0] == [
        "model", "dataset", "client", "loop lag p50 ms", "loop lag p99 ms", "loop lag max ms",
        "loop thread busy %", "sends late p99 ms", "whole run ok/s", "95 % interval",
        "steady ok/s", "steady window", "up to (client delay out) ok/s",
    ]  # fmt: skip
    assert rows[1] == [
        "aldea/alpha", "ami/test", "bound", "12.0", "38.2", "52.4", "97", "30.5", "204.00",
        "198.00 – 210.00", "213.00", "30 samples in 0.1 s after warmup 5 s, drain left out",
        "220.00",
    ]  # fmt: skip
    assert rows[2] == [
        "aldea/alpha", "tedlium/test", "not the bottleneck", "0.4", "1.5", "2.0", "20", "0.9",
        "50.00", "needs 12 samples", "n/a",
        "fewer than 2 samples came back between warmup 200 requests and the drain", "50.00",
    ]  # fmt: skip


def test_each_percentile_carries_its_interval_or_says_it_is_not_one(report_file: Path) -> None:
    p = parsed(report_file)
    rows = {r[1].split()[0]: r for r in p.rows[""] if len(r) > 11 and r[0] == "aldea/alpha"}
    p50, p90, p99 = 9, 10, 11
    few = sorted(times(BOUND_N))
    b = percentile_bounds(few, 50)
    assert rows["ami/test"][p50] == f"{b['value']:.3f}[{b['lo']:.3f}, {b['hi']:.3f}]"
    assert rows["ami/test"][p99] == (
        f"{percentile(few, 99):.3f}not a p99 from {BOUND_N} requests (needs "
        f"{needed_for_bound(0.99)})"
    )
    many = sorted(times(HEALTHY_N))
    for col, q in ((p90, 90), (p99, 99)):
        b = percentile_bounds(many, q)
        assert rows["tedlium/test"][col] == f"{b['value']:.3f}[{b['lo']:.3f}, {b['hi']:.3f}]"
    assert "not a p99 from 40 requests (needs 368)" in p.by["short"]


def test_a_run_without_saturation_figures_shows_no_client_section(tmp_path: Path) -> None:
    """Older asyncbench and the board's files: no warning, no client table, no guess."""
    out = tmp_path / "results"
    out.mkdir()
    write_run(out, "aldea/alpha", "ami", 10, {})
    page = written_report(out, tmp_path / "r.html")
    p = parsed(page)
    assert "client-bound" not in p.by and "#client-health" not in p.by


def test_sweep_levels_show_their_interval_and_the_client_bound_ones(report_file: Path) -> None:
    text = report_file.read_text()
    p = parsed(report_file)
    assert p.by["sweep-client-bound"] == [SWEEP_LINE]
    assert p.rows["sweep-0-levels"] == [
        ["level", "ok samples/s", "interval", "client"],
        ["1", "10.00", "9.00 – 11.00", "not the bottleneck"],
        ["2", "19.00", "17.50 – 20.50", "not the bottleneck"],
        ["4", "20.00", "18.00 – 23.00", "bound"],
    ]
    spec = orjson.loads(unpack(embedded(text, "report-data")))["charts"]["sweep-0"]
    rate = next(t for t in spec["data"] if t["name"] == "ok samples/s")
    assert rate["y"] == [10.0, 19.0, 20.0]
    assert rate["error_y"]["array"] == [1.0, 1.5, 3.0]
    assert rate["error_y"]["arrayminus"] == [1.0, 1.5, 2.0]
    marked = next(t for t in spec["data"] if t["name"] == "client-bound level")
    assert marked["x"] == [4] and marked["y"] == [20.0]


def test_in_chromium_the_warning_notes_and_interval_bars_are_visible(
    browser: Any,  # noqa: F811
    report_file: Path,
) -> None:
    tab = browser.new_page(viewport={"width": 1400, "height": 1000})
    requests: list[str] = []
    tab.on("request", lambda r: requests.append(r.url))
    tab.add_init_script(WATCH)
    try:
        tab.goto(report_file.as_uri())
        tab.wait_for_selector("body[data-ready='1']", timeout=120_000)
        warning = tab.locator("div.client-bound")
        assert warning.count() == 1 and warning.is_visible()
        assert warning.inner_text() == BOUND_LINE
        table = tab.locator("table.data").first.bounding_box()
        box = warning.bounding_box()
        assert box and table and box["y"] + box["height"] <= table["y"]  # read before the table
        colour = warning.evaluate("e => getComputedStyle(e).borderLeftColor")
        assert colour != "rgba(0, 0, 0, 0)"
        short = tab.locator("span.short", has_text="not a p99 from 40 requests (needs 368)")
        assert short.count() == 1 and short.is_visible()
        assert tab.locator("#client-health").is_visible()
        assert tab.locator("p.sweep-client-bound").inner_text() == SWEEP_LINE
        # the interval bars and the client-bound marker are drawn
        sweep = tab.locator("#sweep-0")
        sweep.scroll_into_view_if_needed()
        assert sweep.locator("g.errorbar path").count() >= 3
        legend = sweep.locator("g.legend text").all_text_contents()
        assert "client-bound level" in legend and "ok samples/s" in legend
        assert tab.evaluate("window.__csp") == []
        assert [u for u in requests if not u.startswith(("file:", "data:", "blob:"))] == []
    finally:
        tab.close()


def test_texts_parser_reads_nested_cells() -> None:
    p = Texts()
    p.feed("<table id='t'><tr><td>a<span class='x'>b</span></td><td>c</td></tr></table>")
    assert p.rows["t"] == [["ab", "c"]] and p.by["x"] == ["b"]


def test_an_open_loop_percentile_from_too_few_requests_says_so(tmp_path: Path) -> None:
    """The open-loop table's percentiles come from the summary (latency from the intended
    start), which keeps their count but not the requests: a count too small for the
    percentile is said; one large enough shows the figure alone. A client-bound run is
    marked in this table as well."""
    out = tmp_path / "results"
    out.mkdir()
    write_run(
        out, "aldea/alpha", "ami", 40,
        {"arrival": {"kind": "poisson", "rate": 4.0, "seed": 1}, "target_rate": 4.0,
         "achieved_rate": 3.9, "sent": 40, "client_bound": True,
         "latency_from_intended": {"n": 40, "p50": 0.1, "p90": 0.2, "p99": 0.3, "max": 0.4}},
    )  # fmt: skip
    page = written_report(out, tmp_path / "r.html")
    open_loop = Texts()
    open_loop.feed(section(page.read_text(), "Open-loop load and goodput"))
    row = open_loop.rows[""][1]
    assert row[1] == "ami/test client-bound"  # its latency is marked here too
    assert row[5:8] == ["0.100", "0.200", "0.300not a p99 from 40 requests (needs 368)"]


NO_WARMUP = {"seconds": None, "requests": None}


@pytest.mark.parametrize(
    ("steady", "warmup", "shown"),
    [
        (9.5, NO_WARMUP, "19 samples in 2.0 s, drain left out (no --warmup)"),
        (None, NO_WARMUP, "fewer than 2 samples came back before the drain"),
        (9.5, {"seconds": 1.5}, "19 samples in 2.0 s after warmup 1.5 s, drain left out"),
    ],
)  # fmt: skip
def test_the_steady_window_says_what_was_left_out(
    steady: float | None, warmup: dict[str, Any], shown: str
) -> None:
    from asyncbench.reporting.client_report import client_row

    t = {"steady_per_s": steady, "steady_n": 19, "steady_window_s": 2.0, "warmup": warmup}
    p = Texts()
    p.feed(str(client_row("m", "d", {"throughput": t})[11]))
    assert p.by["wrap"] == [shown]
