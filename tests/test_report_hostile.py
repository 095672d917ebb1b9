"""Outside text is data until the last step: a results folder whose every field holds a hostile
string (script tags, event handlers, `javascript:` URLs, quotes of every kind, `</script>`,
formula prefixes, control and bidi characters, entities, very long strings) is read by
`report` and `score`. The page is driven in Debian's chromium through Playwright (hover,
sort, filter, search) against a loopback server that every hostile URL points at.

Passes when no script ran (`window.__pwned` never set), the page's policy never had to block
anything (no `securitypolicyviolation`: an escaping slip shows here even though the policy
would stop it), no request left the page (request events and the server's hit count), and
every string appears literally in the page's text (its control and bidi characters as the
visible escapes the terminal uses, `\\x1b`, `\\u202e`; none raw). A second test inserts raw
markup into a rendered page, as an escaping slip would, and checks the Content-Security-Policy
alone stops it: nothing runs, nothing is fetched, and the charts still draw.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest

from .inproc import cli
from .test_report import _CaptureShim
from .test_report_browser import browser  # noqa: F401  (the shared chromium fixture)

FILES = 3  # results files, each with a share of the corpus in every field


class Hits:
    """A loopback HTTP server counting every request that reaches it."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        hits = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hits.paths.append(self.path)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def corpus(port: int) -> list[str]:
    leak = f"http://127.0.0.1:{port}"
    return [
        "<script>window.__pwned=1</script>",
        f"<img src='{leak}/img' onerror='window.__pwned=2'>",
        "<svg onload='window.__pwned=3'><circle r=9 /></svg>",
        "javascript:window.__pwned=4",
        f'"\'`><a href="{leak}/a" onclick="window.__pwned=5">«every» “kind” ‘of’ quote</a>',
        "</script><script>window.__pwned=6</script><!--",
        f"<iframe src='{leak}/frame'></iframe><link rel=stylesheet href='{leak}/css'>",
        f'=HYPERLINK("{leak}/csv";"x") +cmd|\' /C calc\'!A0 @SUM(1+1) -2+3',
        "\x1b[2J\x1b]8;;http://127.0.0.1/\x07bidi\u202eesrever\u202c\u2066x\u2069 \x07\x9b",
        "%{customdata} %{x} {{7*7}} ${7*7} <b>%{fullData.name}</b>",
        "&lt;script&gt; &amp; &#60;b&#62; already escaped",
        f"<style>body{{background:url({leak}/style)}}</style><base href='{leak}/'>",
        "L" * 4000 + f"<img src='{leak}/long' onerror='window.__pwned=7'>" + "M" * 4000,
    ]


def write_folder(root: Path, strings: list[str]) -> Path:
    """FILES results files (with sidecar, summary and job journal) and a sweep per file; file
    i carries strings[i::FILES] in every field, and one more file has a hostile language."""
    out = root / "results"
    out.mkdir()
    t = 1_800_000_000.0
    for i in range(FILES):
        mine = strings[i::FILES]
        s = " ".join(mine)  # what one field holds: this file's share of the corpus
        stem = f"MODEL_evil-m{i}<svg onload=window.__pwned=8>_DATASET_hostile_{i}_test"
        lines = []
        for k, piece in enumerate([*mine, s]):
            t += 0.5
            failed = k == 0
            lines.append(
                {
                    "id": f"{piece}#{k}",
                    "text": f"hello world {piece}",
                    "pred_text": None if failed else f"hello there {piece}",
                    "status": "failed" if failed else "ok",
                    "error_kind": piece if failed else None,
                    "error": piece,
                    "duration": 2.0 + k,
                    "time": 0.3 + 0.01 * k,
                    "t_end": t,
                    "endpoint": f"http://{piece}",
                    "attempts": 2,
                    "partial_texts": [piece],
                }
            )
        (out / f"{stem}.jsonl").write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in lines))
        summary = {
            "dataset": s,
            "split": "test",
            "model": s,
            "arrival": {"kind": s, "rate": s},
            "target_rate": s,
            "achieved_rate": s,
            "latency_from_intended": {"p50": s, "p90": s, "p99": s},
            "late_starts": {"count": s},
            "goodput": {"slos": [s], "requests_per_s": s, "audio_s_per_s": s, "share": s},
            "spend_usd": s,
            "max_workers": s,
            "wall_s": s,
            # file 0's warning and client row are drawn from hostile figures; the others show
            # the verdict itself as text
            "client_bound": True if i == 0 else s,
            "loop_lag_ms": {"n": s, "p50": s, "p99": s, "max": s},
            "loop_busy": {"n": s, "p50": s, "mean": s},
            "dispatch_lateness_ms": {"n": s, "p50": s, "p99": s, "max": s},
            "latency_validity": {"p99": {"value": s, "lo": s, "hi": s, "n": s, "needed": s}},
            "throughput": {
                "whole_per_s": s,
                "steady_per_s": s,
                "steady_n": s,
                "steady_window_s": s,
                "warmup": {"seconds": s, "requests": s},
                "hi_per_s": s,
                "whole_interval": {"lo": s, "hi": s, "needed": s},
            },
            "errors_top": [{"message": s, "count": s}],
            s[:200]: s,
        }
        (out / f"{stem}.summary.json").write_text(json.dumps(summary))
        meta = {
            "tool_version": s,
            "command": s,
            "started_at": s,
            "ended_at": t,
            "provider": s,
            "model_name": s,
            "endpoints": [s, s],
            "concurrency": s,
            "arrival": {"kind": s, s[:50]: s},
            "options": {s[:50]: s},
            "scoring": {"family": s, "normalizer_version": s},
            "dataset": {
                k: s
                for k in (
                    "kind",
                    "repo_id",
                    "revision",
                    "fingerprint",
                    "rows",
                    "audio_seconds",
                    "config",
                    "split",
                    "path",
                )
            },
            s[:100]: [s, {s[:30]: s}],
        }
        (out / f"{stem}.meta.json").write_text(json.dumps(meta))
        journal = [{"key": s, "job": s, "state": "submitted", "url": s, "extra": {s[:40]: s}}]
        (out / f"{stem}.jobs.ndjson").write_text(
            "".join(json.dumps(j) + "\n" for j in journal) + '{"torn'
        )
        sweep_dir = out / "sweeps" / str(i)
        sweep_dir.mkdir(parents=True)
        sweep = {
            "model": s,
            "dataset": s,
            "split": s,
            "kind": s,
            "arrival": {"kind": s} if i == 0 else None,
            "levels": [
                {
                    "level": 1,
                    "throughput_rtfx": 2.0,
                    "achieved_rate": 1.0,
                    "goodput": s,
                    "p50": 0.1,
                    "p90": 0.2,
                    "p99": s,
                    "wer": s,
                    "samples_per_s": 1.0,
                    "samples_per_s_lo": s,
                    "samples_per_s_hi": s,
                    "client_bound": s,
                },
                {
                    "level": 2,
                    "throughput_rtfx": 3.0,
                    "achieved_rate": 2.0,
                    "goodput": 1.5,
                    "p50": 0.2,
                    "p90": 0.3,
                    "p99": 0.4,
                    "samples_per_s": 2.0,
                    "samples_per_s_lo": 1.5,
                    "samples_per_s_hi": 2.5,
                    "client_bound": True,
                },
                {"level": s},
                s,
            ],
            "knee_level": s,
            "knee_reason": s,
        }
        (sweep_dir / "sweep.json").write_text(json.dumps(sweep))
    stray = out / "MODEL_evil-lang_DATASET_hostile_x_test"
    Path(f"{stray}.jsonl").write_bytes(
        orjson.dumps({"id": "x", "text": "a", "pred_text": "a", "status": "ok"}) + b"\n"
    )
    Path(f"{stray}.meta.json").write_text(json.dumps({"language": strings[0]}))
    return out


@pytest.fixture(scope="module")
def hits() -> Iterator[Hits]:
    server = Hits()
    yield server
    server.close()


@pytest.fixture(scope="module")
def strings(hits: Hits) -> list[str]:
    return corpus(hits.port)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory, strings: list[str]) -> Path:
    return write_folder(tmp_path_factory.mktemp("hostile"), strings)


TITLE_PIECES = 4  # the --title holds the first few strings too


@pytest.fixture(scope="module")
def report_file(folder: Path, strings: list[str]) -> Path:
    out = folder.parent / "report.html"
    title = " ".join(strings[:TITLE_PIECES])
    code, stdout, err = _CaptureShim().cli("report", folder, "-o", out, "--title", title)
    assert code == 0, err
    assert "\x1b" not in stdout + err and "\u202e" not in stdout + err
    return out


WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
  e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
"""


def open_page(
    browser: Any,  # noqa: F811
    path: Path,
) -> tuple[Any, list[str], list[str]]:
    """The page loaded, with the URLs it asked for and those that got an answer (a request
    the policy blocks is asked for, and fails without reaching the network)."""
    tab = browser.new_page(viewport={"width": 1400, "height": 1000})
    requests: list[str] = []
    answered: list[str] = []
    tab.on("request", lambda r: requests.append(r.url))
    tab.on("requestfinished", lambda r: answered.append(r.url))
    tab.add_init_script(WATCH)
    tab.goto(path.as_uri())
    from playwright.sync_api import TimeoutError as Timeout

    try:
        tab.wait_for_selector("body[data-ready='1']", timeout=120_000)
    except Timeout:  # markup from a slip hid or broke the page's own script
        found = tab.evaluate("[window.__pwned, window.__csp]")
        tab.close()
        raise AssertionError(
            f"the page never finished drawing; pwned, violations: {found}"
        ) from None
    return tab, requests, answered


#: a control, bidi or separator character, which the page shows as an escape (`\\x1b`)
RAW = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f\u2028\u2029]")


def shown(s: str) -> str:
    """A string as the page shows it: its control characters as the terminal shows them."""
    from asyncbench.core.text import lines

    return lines(s)


def page_text(tab: Any) -> str:
    """Everything the page shows as text (tables, cards, chart labels), scripts left out."""
    return tab.evaluate(
        """() => { const b = document.body.cloneNode(true);
        b.querySelectorAll('script').forEach(s => s.remove()); return b.textContent; }"""
    )


def assert_clean(tab: Any, requests: list[str], hits: Hits, path: Path) -> None:
    assert tab.evaluate("window.__pwned") is None
    assert tab.evaluate("window.__csp") == []  # nothing had to be blocked: no slip at all
    assert hits.paths == []
    outside = [u for u in requests if not u.startswith(("data:", "blob:")) and u != path.as_uri()]
    assert outside == []


def test_hostile_strings_run_nothing_send_nothing_and_show_literally(
    browser: Any,  # noqa: F811
    report_file: Path,
    strings: list[str],
    hits: Hits,
) -> None:
    tab, requests, _ = open_page(browser, report_file)
    try:
        assert tab.inner_text("#status") == ""  # the charts and the table drew
        text = page_text(tab)
        for s in strings:
            assert shown(s) in text, s[:60]
        # the control and bidi characters show as the terminal shows them, none raw
        assert "\\x1b[2J\\x1b]8;;http://127.0.0.1/\\x07bidi\\u202eesrever\\u202c" in text
        assert not RAW.search(text.replace("\n", " "))
        assert tab.title() == " ".join(strings[:TITLE_PIECES])
        # the client's figures (#28 item 8) drew from hostile values, as text
        warning = tab.locator("div.client-bound")
        assert warning.count() == 1 and strings[0] in warning.inner_text()
        assert tab.locator("#client-health tr").count() == FILES + 1
        assert tab.locator("p.sweep-client-bound").count() == FILES
        assert_clean(tab, requests, hits, report_file)

        # hover: sweep the mouse over every chart's plot area (plotly shows the nearest point)
        hovered = []
        for chart in tab.locator("div.chart").all():
            chart.scroll_into_view_if_needed()
            for area in chart.locator(".nsewdrag").all():
                box = area.bounding_box()
                if not box or box["width"] < 4 or box["height"] < 4:
                    continue
                for fx in (0.1, 0.3, 0.5, 0.7, 0.9):
                    for fy in (0.2, 0.5, 0.8):
                        tab.mouse.move(box["x"] + fx * box["width"], box["y"] + fy * box["height"])
                        hovered += tab.locator(".hoverlayer .hovertext").all_text_contents()
        assert hovered  # some hover label appeared
        assert any("#" in h for h in hovered)  # a sample id, drawn as text
        # sort by every column, both ways
        for th in tab.locator("#utterances th[data-key]").all():
            th.click()
            th.click()
        # filter by every dataset and model, then search for every string
        options = tab.locator("#f-dataset option").count()
        assert options == FILES + 1
        for n in range(options):
            tab.select_option("#f-dataset", index=n)
        tab.select_option("#f-dataset", index=0)
        for n in range(tab.locator("#f-model option").count()):
            tab.select_option("#f-model", index=n)
        tab.select_option("#f-model", index=0)
        for s in map(shown, strings):  # searched for as the page shows it
            tab.fill("#f-text", s[:200])
            rows = tab.locator("#utterances tbody tr").count()
            assert rows >= 1, s[:60]  # its sample id holds it
            assert s[:200] in page_text(tab)
        tab.fill("#f-text", "")
        assert_clean(tab, requests, hits, report_file)
    finally:
        tab.close()


def test_the_policy_alone_stops_a_slip(
    browser: Any,  # noqa: F811
    report_file: Path,
    strings: list[str],
    hits: Hits,
    tmp_path: Path,
) -> None:
    """Raw markup inserted into the page, as a missed escape would put it: nothing runs,
    nothing is fetched, the violations are reported, and the page's own scripts still run."""
    # every tag of the corpus but a comment opener, which would hide the rest of the page
    slip = "".join(s.replace("<!--", "") for s in strings if "<" in s and "L" * 100 not in s)
    text = report_file.read_text(encoding="utf-8")
    broken = tmp_path / "slip.html"
    broken.write_text(text.replace("<h2>Per dataset</h2>", slip + "<h2>Per dataset</h2>", 1))
    tab, _, answered = open_page(browser, broken)
    try:
        assert tab.inner_text("#status") == ""
        assert tab.locator("#chart-2 svg.main-svg").count() >= 1
        assert tab.evaluate("window.__pwned") is None
        assert hits.paths == []
        assert [u for u in answered if not u.startswith("file:")] == []
        violations = tab.evaluate("window.__csp")
        assert any(v.startswith("script-src") for v in violations), violations
        assert any(v.startswith("img-src") for v in violations), violations
    finally:
        tab.close()


def test_score_reads_the_same_folder_and_prints_no_control_character(
    folder: Path, strings: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(capsys, "score", folder)
    assert code == 0, err
    shown = out + err
    assert not any((ord(c) < 32 and c != "\n") or 0x7F <= ord(c) <= 0x9F for c in shown)
    assert not any(c in shown for c in "\u202e\u202c\u2066\u2069")
    warning = [ln for ln in err.splitlines() if "unknown language" in ln]
    assert len(warning) == 1 and warning[0].startswith("warning: ")
    code, out, _ = cli(capsys, "score", folder, "--json")
    assert code == 0
    assert len(json.loads(out)["datasets"]) == FILES


def test_a_summary_figure_from_outside_is_text_in_the_open_loop_table(tmp_path: Path) -> None:
    """The reported case: `late_starts.count` went into the page raw (every other figure of
    the summary was a number there). Now it is escaped text, and the data islands hold only
    base64, so `</script>` in any string cannot close them."""
    import re

    out = tmp_path / "results"
    out.mkdir()
    stem = "MODEL_aldea-default_DATASET_esb_ami_test"
    line = {"id": "a</script><script>window.__pwned=1</script>", "text": "a b",
            "pred_text": "a c", "status": "ok", "duration": 1.0, "time": 0.2,
            "t_end": 1_800_000_000.0}  # fmt: skip
    (out / f"{stem}.jsonl").write_bytes(orjson.dumps(line) + b"\n")
    summary = {
        "arrival": {"kind": "poisson"},
        "target_rate": 4.0,
        "achieved_rate": 3.9,
        "latency_from_intended": {"p50": 0.1, "p90": 0.2, "p99": 0.3},
        "late_starts": {"count": "<script>window.__pwned=1</script><svg onload=alert(1)>"},
        "goodput": {"slos": ["p90<1s"], "requests_per_s": 3.0, "audio_s_per_s": 3.0},
    }
    (out / f"{stem}.summary.json").write_text(json.dumps(summary))
    page = tmp_path / "r.html"
    code, _, err = _CaptureShim().cli("report", out, "-o", page)
    assert code == 0, err
    text = page.read_text()
    assert (
        "<td>&lt;script&gt;window.__pwned=1&lt;/script&gt;&lt;svg onload=alert(1)&gt;</td>" in text
    )
    assert "<td>p90&lt;1s</td>" in text
    assert "<script>window" not in text and "<svg onload" not in text
    for island in re.findall(r"<script type='application/octet-stream' id='[^']+'>([^<]*)<", text):
        assert re.fullmatch(r"[A-Za-z0-9+/=]+", island)
    assert text.count("<script") == 3  # the two islands and the page's own script
    csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', text)
    assert csp and csp.group(1).startswith("default-src 'none'; script-src 'sha256-")
    assert (
        "unsafe-eval" not in csp.group(1)
        and "'unsafe-inline'" not in csp.group(1).split("style-src")[0]
    )
