"""`asyncbench report`: one self-contained HTML page. Every chart's data is embedded, and
when Debian's chromium is installed the page is rendered to a real
screenshot."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import orjson
import pytest

from asyncbench.reporting.webpage import unpack
from asyncbench.scoring import collect_scores

from .inproc import Background, CappedAldea, cli, one_error_line, run_args
from .loopback import Action, LoopbackAldea
from .support import PYTHON, make_dataset, transcript_of

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class Page(HTMLParser):
    """The images, headings and table cells of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.links: list[str] = []
        self.headings: list[str] = []
        self.cells: list[str] = []
        self._tag = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._tag = tag
        a = dict(attrs)
        if tag == "img":
            self.images.append(a.get("src") or "")
        for key in ("href", "src"):
            if tag in ("link", "script") and a.get(key):
                self.links.append(a[key] or "")

    def handle_data(self, data: str) -> None:
        if self._tag == "h2":
            self.headings.append(data)
        elif self._tag == "td":
            self.cells.append(data)

    def handle_endtag(self, tag: str) -> None:
        self._tag = ""


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, which a valid PNG has first."""
    assert data[:8] == PNG_SIGNATURE, data[:8]
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert data.endswith(b"IEND\xaeB`\x82")
    return width, height


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A results folder as a user has it: two splits run with failures and retries over two
    endpoints, a file from the seed's script (no timestamps, no status), and a sweep."""
    capsys = _CaptureShim()
    root = tmp_path_factory.mktemp("report")
    esb = make_dataset(root / "esb", {("ami", "test"): 24, ("tedlium", "test"): 12}, fmt="wav")
    out = root / "results"

    def plan(port: int, n: int, body: bytes) -> Action:
        if n % 7 == 0:
            return Action(status=503, delay=0.02)  # retried
        if n % 11 == 0:
            return Action(status=400, body=b"unsupported audio")  # a failed sample
        return Action(delay=0.03 + (n % 5) * 0.01)

    with Background(LoopbackAldea(2, plan=plan, transcript=transcript_of)) as srv:
        for config in ("ami", "tedlium"):
            args = run_args("aldea/default", esb, config, "test", srv.endpoints, out)
            # failed samples are part of what the report shows: allowed, so the exit is 0
            code, _, err = capsys.cli("run", *args, "--max_workers", "6", "--max_failed_pct", "100")
            assert code == 0, err
    with Background(CappedAldea(capacity=2, service_s=0.05)) as capped:
        args = run_args("aldea/default", esb, "tedlium", "test", capped.endpoints, out)
        i = args.index("--results_dir")
        args[i : i + 2] = ["--sweep_dir", out / "sweeps"]
        code, _, err = capsys.cli("sweep", *args, "--levels", "1,2,4")
        assert code == 0, err
    seed = (
        out
        / "MODEL_elevenlabs-scribe_v1_DATASET_hf-audio-esb-datasets-test-only-sorted_ami_test.jsonl"
    )
    seed.write_bytes(
        b"".join(
            orjson.dumps(
                {"audio_filepath": f"a{i}", "duration": 2.0, "time": 0.8, "text": t, "pred_text": p}
            )
            + b"\n"
            for i, (t, p) in enumerate([("hello world", "hello world"), ("good day", "good")])
        )
    )
    return out


class _CaptureShim:
    """`cli` for a module fixture, where capsys is not available: capture with redirects."""

    def cli(self, *args: str | Path) -> tuple[int, str, str]:
        import contextlib
        import io

        from asyncbench.cli.app import main

        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main([str(a) for a in args], prog="asyncbench")
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
        return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def report(results: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    page = tmp_path_factory.mktemp("page") / "report.html"
    code, out, err = _CaptureShim().cli("report", results, "-o", page)
    assert code == 0, err
    assert out.startswith(f"report written to {page}")
    return page


def embedded(page: str, script_id: str) -> str:
    """The text of `<script id=script_id>` in the page."""
    found = re.search(rf"<script type='application/octet-stream' id='{script_id}'>([^<]*)<", page)
    assert found, script_id
    return found.group(1)


def written_report(folder: Path, out: Path | None = None) -> Path:
    """`asyncbench report FOLDER -o OUT` (default: report.html beside the folder), which must
    succeed; returns OUT."""
    out = out or folder.parent / "report.html"
    code, _, err = _CaptureShim().cli("report", folder, "-o", out)
    assert code == 0, err
    return out


def section(text: str, heading: str) -> str:
    """The page from `<h2>heading</h2>` to the next h2."""
    start = text.index(f"<h2>{heading}</h2>")
    end = text.find("<h2>", start + 4)
    return text[start : end if end > 0 else None]


def test_report_is_one_file_whose_every_chart_has_data(report: Path, results: Path) -> None:
    page = Page()
    page.feed(report.read_text())
    assert not page.links  # no stylesheet, script or image outside the file
    assert page.headings[:6] == [
        "Per dataset",
        "Latency",
        "Throughput over time",
        "WER per dataset",
        "Errors over time",
        "Load per endpoint",
    ]
    assert any(h.startswith("Sweep: aldea/default on tedlium/test") for h in page.headings)
    # every figure is now an interactive chart whose plotly spec travels inside the page
    assert not page.images
    text = report.read_text()
    data = orjson.loads(unpack(embedded(text, "report-data")))
    assert len(unpack(embedded(text, "plotly-js"))) > 1_000_000  # plotly.js, inlined
    ids = re.findall(r"<div class='chart' id='([^']+)'>", text)
    assert {"chart-0", "chart-1", "chart-2", "chart-3", "chart-4", "sweep-0"} <= set(ids)
    for chart in ids:
        assert data["charts"][chart]["data"], chart  # at least one trace each

    # the table holds the scorer's numbers, for our files and the seed's
    scores = collect_scores(results)
    cells = page.cells
    for f in scores.files:
        assert f"{f.wer:.2f}" in cells
    assert "elevenlabs/scribe_v1" in cells and "aldea/default" in cells
    assert "per-request RTFx" in text and "Throughput RTFx</b> is Σ audio ÷ wall clock" in text
    assert "have no timestamps" in text  # the seed's file is scored, not plotted over time


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium not installed")
def test_report_renders_in_headless_chromium(report: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    subprocess.run(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={shot}",
            "--window-size=1400,3000",
            report.as_uri(),
        ],
        capture_output=True,
        timeout=90,
        check=True,
    )
    data = shot.read_bytes()
    assert png_size(data) == (1400, 3000)
    assert len(data) > 100_000  # plots and tables, not a blank page


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing", "error: results directory"),
        (lambda p: p, "error: no results files (*.jsonl) under"),
    ],
)
def test_bad_results_dir(
    make, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli(capsys, "report", make(tmp_path), "-o", tmp_path / "r.html")
    assert code == 2
    assert one_error_line(err).startswith(message)
    assert not (tmp_path / "r.html").exists()


def test_output_in_a_missing_folder(
    results: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(capsys, "report", results, "-o", tmp_path / "no" / "r.html")
    assert code == 2
    assert one_error_line(err).startswith("error: cannot write")


def test_help_stays_light() -> None:
    """matplotlib, plotly and rich's live display load only when a report or a run needs them."""
    probe = (
        "import sys, asyncbench.cli.app; "
        "heavy = [m for m in ('matplotlib', 'numpy', 'plotly', 'rich.live', 'torch') "
        "if m in sys.modules]; "
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    done = subprocess.run([PYTHON, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_report_shows_what_each_real_run_said_about_its_client(report: Path, results: Path) -> None:
    """The seam: summaries written by real runs and a real sweep reach the page. Each run's
    client verdict and whole-run throughput are in the client table, and each sweep level's
    throughput is listed with its client verdict."""
    import json

    from asyncbench.reporting.report import gather
    from asyncbench.reporting.summary import read_summary

    from .page_text import parsed

    page = parsed(report)
    shown = {(r[0], r[1]): r for r in page.rows["client-health"][1:]}
    ours = [f for f in gather(results).files if f.score.model_id == "aldea/default"]
    # ami and tedlium: the sweep's levels are found by their sidecars and kept out of the
    # runs' tables (they are shown in the sweep's own section below)
    assert len(ours) == 2 == len(shown)
    for f in ours:
        summary = read_summary(f.score.path)
        assert summary is not None and isinstance(summary["client_bound"], bool)
        row = shown[("aldea/default", f.name)]
        assert row[2] == ("bound" if summary["client_bound"] else "not the bottleneck")
        assert row[8] == f"{summary['throughput']['whole_per_s']:.2f}"
    sweep = json.loads(next((results / "sweeps").rglob("sweep.json")).read_text())
    levels = page.rows["sweep-0-levels"]
    assert [r[0] for r in levels[1:]] == [f"{r['level']:g}" for r in sweep["levels"]]
    for shown_row, level in zip(levels[1:], sweep["levels"], strict=True):
        assert shown_row[1] == f"{level['samples_per_s']:.2f}"
        assert shown_row[3] == ("bound" if level["client_bound"] else "not the bottleneck")
