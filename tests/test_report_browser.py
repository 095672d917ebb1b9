"""Report 2.0 as a person sees it: 3 models × 4 datasets written as results files, the real
`asyncbench report` command, then the page driven in Debian's headless chromium through
Playwright (table rows, filters, the S/I/D diff of a known sample, charts drawn). When
chromium cannot start, the browser tests skip with the reason and the DOM-level test (the
embedded data and the markup) still runs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from asyncbench.reporting.summary import summary_path
from asyncbench.reporting.webpage import unpack

from .support import sentence
from .test_report import _CaptureShim

MODELS = ("aldea/alpha", "deepgram/beta", "openai/gamma")
DATASETS = ("ami", "tedlium", "voxpopuli", "spgispeech")
PER_FILE = 8
KNOWN = ("the cat sat on the mat", "the bat sat on mat today")  # one S, one D, one I
CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def write_results(root: Path) -> Path:
    """One file per model and dataset; the first model's last sample of each set failed, the
    second model drops a word now and then, the known sample is alpha's ami-0. Spend is
    known for two models only."""
    out = root / "results"
    out.mkdir()
    t = 1_800_000_000.0
    for m, model in enumerate(MODELS):
        for dataset in DATASETS:
            path = out / f"MODEL_{model.replace('/', '-')}_DATASET_esb_{dataset}_test.jsonl"
            lines = []
            for i in range(PER_FILE):
                ref = sentence(i + 3 * m)
                pred = " ".join(ref.split()[: -1 if (m == 1 and i % 2) else None])
                if m == 0 and dataset == "ami" and i == 0:
                    ref, pred = KNOWN
                failed = m == 0 and i == PER_FILE - 1
                t += 0.25
                lines.append(
                    {
                        "id": f"{dataset}-{i}",
                        "text": ref,
                        "pred_text": None if failed else pred,
                        "status": "failed" if failed else "ok",
                        "error_kind": "server_error" if failed else None,
                        "duration": 2.0 + i,
                        "time": 0.2 + 0.1 * m + 0.01 * i,
                        "t_end": t,
                        "endpoint": f"http://127.0.0.1:{8800 + m}",
                        "attempts": 2 if i == 3 else 1,
                    }
                )
            path.write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in lines))
            summary: dict[str, Any] = {"dataset": dataset, "split": "test"}
            if m < 2:
                summary["spend_usd"] = 0.01 * (m + 1)
            summary_path(path).write_bytes(orjson.dumps(summary))
    return out


@pytest.fixture(scope="module")
def page_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("report2")
    results = write_results(root)
    out = root / "report.html"
    code, _, err = _CaptureShim().cli("report", results, "-o", out)
    assert code == 0, err
    return out


def data_of(text: str) -> dict[str, Any]:
    found = re.search(r"<script type='application/octet-stream' id='report-data'>([^<]*)<", text)
    assert found
    return orjson.loads(unpack(found.group(1)))


def test_dom_holds_every_utterance_and_the_known_diff(page_file: Path) -> None:
    text = page_file.read_text()
    data = data_of(text)
    assert len(data["rows"]) == len(MODELS) * len(DATASETS) * PER_FILE
    assert data["models"] == list(MODELS)
    assert data["datasets"] == sorted(f"{d}/test" for d in DATASETS)
    known = [r for r in data["rows"] if r[2] == "ami-0" and data["models"][r[1]] == MODELS[0]]
    assert known[0][6] == ["the", ["cat", "bat"], "sat", "on", ["the", ""], "mat", ["", "today"]]
    assert known[0][3] == 50.0  # 3 errors over 6 reference words
    assert sum(r[4] == "failed" for r in data["rows"]) == len(DATASETS)
    for chart in ("cmp-heatmap", "cmp-rtfx", "cmp-cost", "chart-0", "chart-2"):
        assert data["charts"][chart]["data"], chart
    # the latency scatter names each request's sample in its hover
    scatter = [t for t in data["charts"]["chart-0"]["data"] if t["type"] == "scatter"]
    assert (
        "ami-0" in scatter[0]["customdata"]
        and "sample %{customdata}" in (scatter[0]["hovertemplate"])
    )
    # CIs as error bars, and the cost chart has only the two priced models
    assert data["charts"]["chart-2"]["data"][0]["error_y"]["visible"]
    assert {t["name"] for t in data["charts"]["cmp-cost"]["data"]} >= {MODELS[0], MODELS[1]}
    assert MODELS[2] not in {t["name"] for t in data["charts"]["cmp-cost"]["data"]}
    assert "Spend unknown" in text and "openai/gamma" in text
    for heading in ("Model comparison", "Error analysis", "Most frequent substitutions"):
        assert heading in text
    assert "<span class='S' title='substituted'><s>cat</s> bat</span>" in text  # worst-N table
    assert "<script src" not in text and "<link" not in text and "https://cdn" not in text


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError as exc:
        pytest.skip(f"playwright is not installed ({exc}): pip install playwright==1.65.2")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium")
    with sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        except Error as exc:
            pytest.skip(f"chromium cannot start: {str(exc).splitlines()[0]}")
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, page_file: Path) -> Iterator[Any]:
    tab = browser.new_page(viewport={"width": 1400, "height": 1000})
    tab.route(
        "**/*",
        lambda route: route.continue_() if route.request.url.startswith("file:") else route.abort(),
    )  # offline: anything else would be a fetch from outside
    tab.goto(page_file.as_uri())
    tab.wait_for_selector("body[data-ready='1']", timeout=120_000)
    yield tab
    tab.close()


def rows(tab: Any) -> int:
    return tab.locator("#utterances tbody tr").count()


def test_table_rows_and_filters(page: Any) -> None:
    assert page.inner_text("#status") == ""
    total = len(MODELS) * len(DATASETS) * PER_FILE
    assert rows(page) == total
    assert page.inner_text("#row-count") == f"{total} of {total} utterances"
    page.select_option("#f-dataset", label="ami/test")
    assert rows(page) == len(MODELS) * PER_FILE
    page.select_option("#f-status", label="failed")
    assert rows(page) == 1  # alpha's ami-7
    page.select_option("#f-dataset", label="all")
    assert rows(page) == len(DATASETS)
    page.select_option("#f-status", label="all")
    page.fill("#f-text", "ami-0")
    assert rows(page) == len(MODELS)
    # a click on "WER %" sorts up, a second one down (a failed sample is all deletions)
    page.fill("#f-text", "")

    def first_wer() -> str:
        return page.locator("#utterances tbody tr").first.locator("td").nth(3).inner_text()

    page.click("#utterances th[data-key='3']")
    assert first_wer() == "0.00"
    page.click("#utterances th[data-key='3']")
    assert first_wer() == "100.00"


def test_known_sample_shows_s_i_d(page: Any) -> None:
    page.select_option("#f-model", label=MODELS[0])
    page.fill("#f-text", "ami-0")
    row = page.locator("#utterances tbody tr")
    assert row.count() == 1
    diff = row.locator("td.diff")
    assert diff.locator(".S").all_inner_texts() == ["cat bat"]
    assert diff.locator("s").all_inner_texts() == ["cat"]
    assert diff.locator("ins.I").all_inner_texts() == ["today"]
    assert diff.locator("del.D").all_inner_texts() == ["the"]
    colours = {
        cls: diff.locator(sel).evaluate("e => getComputedStyle(e).backgroundColor")
        for cls, sel in (("S", ".S"), ("I", "ins.I"), ("D", "del.D"))
    }
    assert len(set(colours.values())) == 3  # three different colours


def test_every_chart_is_drawn(page: Any) -> None:
    charts = page.locator("div.chart")
    assert charts.count() >= 8
    for i in range(charts.count()):
        chart = charts.nth(i)
        svg = chart.locator("svg.main-svg").first
        box = svg.bounding_box()
        assert box and box["width"] > 300 and box["height"] > 200, chart.get_attribute("id")
        marks = chart.locator("g.trace, g.hm, image").count()
        assert marks > 0, chart.get_attribute("id")
    # the heatmap writes each cell's WER on it: 12 cells
    cells = page.locator("#cmp-heatmap text").all_text_contents()
    assert sum(bool(re.fullmatch(r"\d+\.\d\d", c.strip())) for c in cells) >= 12, cells
