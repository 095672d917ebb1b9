"""The report's layout as a reader meets it at 1400 px: every table scrolls inside its own
frame (the page itself never scrolls sideways), every chart axis has a title, a chart with
nothing to show is one sentence instead of an empty frame, and each run has a card naming
what made its numbers (tool version, command, dataset identity, settings)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
import pytest

from asyncbench.reporting.webpage import unpack

from .test_report import embedded, section, written_report
from .test_report_browser import browser  # noqa: F401  (the shared chromium fixture)

LONG = "very-long-dataset-name-" * 12  # one unbreakable word, wider than the page
META = {
    "format": "asyncbench-results/1",
    "tool_version": "0.1.0+g1234abc",
    "command": "asyncbench run --model_name aldea/default --max_workers 16",
    "started_at": "2026-12-07T20:00:00Z",
    "ended_at": "2026-12-07T20:05:00Z",
    "provider": "aldea",
    "model_name": "aldea/default",
    "endpoints": ["http://127.0.0.1:8800", "http://127.0.0.1:8801"],
    "language": "en",
    "concurrency": 16,
    "arrival": {"kind": "poisson", "rate": 4.0, "seed": 7},
    "options": {"timeout_s": 30},
    "scoring": {"family": "english", "normalizer_version": "board-d1e99b2"},
    "dataset": {
        "kind": "hub",
        "repo_id": "hf-audio/esb-datasets-test-only-sorted",
        "revision": "0123456789abcdef",
        "rows": 4,
        "audio_seconds": 14.0,
        "config": "ami",
        "split": "test",
    },
    "shiny_new_key": {"added": "by a later version"},
}


def write_folder(root: Path) -> Path:
    """Our run (timestamps, endpoints, no failure, no retry; sidecar and summary) and a file
    in the board's format (no timestamps)."""
    out = root / "results"
    out.mkdir(parents=True)
    stem = "MODEL_aldea-default_DATASET_esb_ami_test"
    lines = [
        {
            "id": f"ami-{i}",
            "text": "the cat sat on the mat",
            "pred_text": "the cat sat on a mat" if i % 2 else "the cat sat on the mat",
            "status": "ok",
            "duration": 2.0 + i,
            "time": 0.2 + 0.05 * i,
            "t_end": 1_800_000_000.0 + i,
            "endpoint": f"http://127.0.0.1:{8800 + i % 2}",
            "attempts": 1,
        }
        for i in range(4)
    ]
    (out / f"{stem}.jsonl").write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in lines))
    (out / f"{stem}.meta.json").write_bytes(orjson.dumps(META))
    summary = {"dataset": LONG, "split": "test", "max_workers": 16, "wall_s": 4.5}
    (out / f"{stem}.summary.json").write_bytes(orjson.dumps(summary))
    board = out / "MODEL_openai-whisper-1_DATASET_esb_ami_test.jsonl"
    board.write_bytes(
        orjson.dumps(
            {
                "audio_filepath": "a0",
                "duration": 2.0,
                "time": 0.8,
                "text": "a b",
                "pred_text": "a c",
            }
        )
        + b"\n"
    )
    return out


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return written_report(write_folder(tmp_path_factory.mktemp("layout")))


def test_a_chart_with_nothing_to_show_is_one_sentence(report_file: Path) -> None:
    text = report_file.read_text()
    errors = section(text, "Errors over time")
    assert "No sample failed and no request was retried." in errors
    assert "class='chart'" not in errors
    data = orjson.loads(unpack(embedded(text, "report-data")))
    assert "chart-3" not in data["charts"]
    for kept in ("chart-0", "chart-1", "chart-2", "chart-4"):
        assert f"id='{kept}'" in text and data["charts"][kept]["data"]


def test_only_untimed_files_give_sentences_not_empty_frames(tmp_path: Path) -> None:
    folder = write_folder(tmp_path)
    for p in folder.glob("MODEL_aldea*"):
        p.unlink()
    out = written_report(folder, tmp_path / "r.html")
    text = out.read_text()
    assert "there is nothing to plot over time." in section(text, "Throughput over time")
    assert "errors cannot be placed in time." in section(text, "Errors over time")
    assert "records which endpoint answered" in section(text, "Load per endpoint")
    assert re.findall(r"id='chart-(\d)'", text) == ["0", "2"]


def axes_of(spec: dict[str, Any]) -> set[str]:
    """The layout keys of every axis a trace is drawn on and that shows its own labels
    (`xaxis`, `yaxis2`, ...); an axis shared with the subplot below shows none of its own."""
    found = set()
    for trace in spec["data"]:
        for letter in ("x", "y"):
            ref = trace.get(f"{letter}axis", letter)  # "x", "x2", ...
            axis = f"{letter}axis{ref[1:]}"
            shown = spec["layout"].get(axis) or {}
            if not (shown.get("matches") and shown.get("showticklabels") is False):
                found.add(axis)
    return found


def test_every_chart_axis_has_a_title(report_file: Path) -> None:
    data = orjson.loads(unpack(embedded(report_file.read_text(), "report-data")))
    assert len(data["charts"]) >= 6
    for chart_id, spec in data["charts"].items():
        for axis in axes_of(spec):
            title = (spec["layout"].get(axis) or {}).get("title") or {}
            assert title.get("text"), f"{chart_id}: {axis} has no title"


def test_run_card_names_version_command_dataset_and_settings(report_file: Path) -> None:
    cards = section(report_file.read_text(), "Runs")
    ours, board = cards.split("<div class='card runcard'>")[1:]
    for label, value in (
        ("asyncbench version", "0.1.0+g1234abc"),
        ("command", "asyncbench run --model_name aldea/default --max_workers 16"),
        ("requests in flight", "16"),
        ("provider", "aldea"),
        ("language", "en"),
        ("repo_id", "hf-audio/esb-datasets-test-only-sorted"),
        ("revision", "0123456789abcdef"),
        ("normalizer_version", "board-d1e99b2"),
        ("kind", "poisson"),
        ("shiny_new_key", ""),  # a key this version does not know is shown, not dropped
        ("added", "by a later version"),
        ("wall clock, s", "4.5"),
    ):
        assert re.search(rf"<th>{re.escape(label)}</th><td>.*?{re.escape(value)}", ours), label
    assert "http://127.0.0.1:8801" in ours and "2026-12-07T20:00:00Z" in ours
    assert "provenance is unknown" in board


def test_tables_scroll_inside_their_frames(browser: Any, report_file: Path) -> None:  # noqa: F811
    tab = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        tab.goto(report_file.as_uri())
        tab.wait_for_selector("body[data-ready='1']", timeout=120_000)
        overflow = tab.evaluate(
            """() => {
            const out = [];
            if (document.documentElement.scrollWidth > window.innerWidth)
              out.push('page ' + document.documentElement.scrollWidth);
            for (const t of document.querySelectorAll('table')) {
              let frame = t.parentElement;
              while (frame && frame !== document.body &&
                     getComputedStyle(frame).overflowX === 'visible') frame = frame.parentElement;
              const scrolls = frame && frame !== document.body;
              const edge = (scrolls ? frame : t).getBoundingClientRect().right;
              if (edge > window.innerWidth)
                out.push((t.id || t.className || 'table') + ' ' + Math.round(edge));
            }
            return out;
          }"""
        )
        assert overflow == [], overflow
        # the per-dataset table is wider than the page and scrolls inside its frame
        wide = tab.evaluate(
            """() => { const f = document.querySelector('div.wide');
            return [f.scrollWidth > f.clientWidth, getComputedStyle(f).overflowX]; }"""
        )
        assert wide == [True, "auto"]
    finally:
        tab.close()
