"""Sweeps: the same samples at each level, figures per level, and the knee, against a server
that really stops scaling (a fixed number of workers)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from asyncbench.cli.sweep import find_knee, parse_levels

from .inproc import Background, CappedAldea, cli, one_error_line, run_args
from .support import make_dataset, read_results

N = 16


@pytest.fixture(scope="module")
def esb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("sweep") / "esb", {("ami", "test"): N}, fmt="wav")


def sweep_args(esb: Path, endpoints: str, sweep_dir: Path) -> list[str | Path]:
    args = run_args("aldea/default", esb, "ami", "test", endpoints, sweep_dir)
    i = args.index("--results_dir")
    return [*args[:i], "--sweep_dir", sweep_dir, *args[i + 2 :]]


def test_sweep_finds_where_throughput_stops_growing(
    esb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 4 workers, 0.1 s each: 40 requests/s at most, reached at 4 in flight. Each step below
    # doubles throughput; past 4 a few % of turnaround is all there is to gain, so a knee
    # threshold of 25 % stays clear of the noise of a loaded machine.
    flags = ("--levels", "1,2,4,8,16", "--knee", "0.25")
    with Background(CappedAldea(capacity=4, service_s=0.1)) as srv:
        code, out, err = cli(capsys, "sweep", *sweep_args(esb, srv.endpoints, tmp_path), *flags)
        assert code == 0, err
        root = next(p for p in tmp_path.iterdir() if p.is_dir())
        data = json.loads((root / "sweep.json").read_text())
        levels = data["levels"]
        assert [r["level"] for r in levels] == [1, 2, 4, 8, 16]
        for r in levels:  # every level sent every sample, into its own folder
            results = root / f"c{r['level']}"
            rows = read_results(next(results.glob("*.jsonl")))
            assert len(rows) == N and {row["status"] for row in rows} == {"ok"}
            assert r["wer"] == 0.0 and r["failed"] == 0
            assert r["p50"] is not None and r["p50"] <= r["p90"] <= r["p99"] <= r["max"]
        thr = [r["throughput_rtfx"] for r in levels]
        assert thr[1] > 1.5 * thr[0] and thr[2] > 1.5 * thr[1]
        assert data["knee_level"] == 8
        assert "knee: throughput stops growing at concurrency 8" in out
        assert levels[4]["p50"] > 2 * levels[2]["p50"]  # past the knee, latency is queueing
        table = out[out.index("in flight samples/s") :]
        assert len(table.splitlines()) >= 6

        # rerun: every level is complete and skipped, the same figures come back
        code, out2, err2 = cli(capsys, "sweep", *sweep_args(esb, srv.endpoints, tmp_path), *flags)
    assert code == 0, err2
    assert err2.count(", skipped") == 5
    assert "knee: throughput stops growing at concurrency 8" in out2


def test_rate_sweep_paces_each_level(
    esb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Background(CappedAldea(capacity=8, service_s=0.02)) as srv:
        code, out, err = cli(
            capsys,
            "sweep",
            *sweep_args(esb, srv.endpoints, tmp_path),
            *("--rates", "10,40", "--max_workers", "8"),
        )
    assert code == 0, err
    root = next(p for p in tmp_path.iterdir() if p.is_dir())
    data = json.loads((root / "sweep.json").read_text())
    assert data["kind"] == "rate" and [r["level"] for r in data["levels"]] == [10, 40]
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == ["r10", "r40"]
    slow, fast = data["levels"]
    # the bucket lets one second of rate through at once, then spaces requests at the cap
    assert slow["samples_per_s"] <= N / ((N - 10) / 10)
    assert fast["samples_per_s"] > 1.5 * slow["samples_per_s"]
    assert "req/s cap" in out


def test_find_knee() -> None:
    assert find_knee([10, 19, 37, 39, 40]) == 3
    assert find_knee([10, 20, 40]) is None
    assert find_knee([10, 10.5], threshold=0.01) is None
    assert find_knee([]) is None


def test_parse_levels() -> None:
    assert parse_levels("64, 8,16,8") == [8, 16, 64]
    assert parse_levels("2.5,5", what="--rates", integer=False) == [2.5, 5.0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--levels", "8,x,32"], "error: --levels '8,x,32': 'x' is not a number"),
        (["--levels", "0,8"], "error: --levels '0,8': every level must be positive"),
        (["--levels", ","], "error: --levels is empty"),
        (["--levels", "8", "--rates", "5"], "error: give exactly one of --levels"),
        ([], "error: give exactly one of --levels"),
        (["--rates", "5,-1"], "error: --rates '5,-1': every level must be positive"),
        (["--levels", "8", "--knee", "1.5"], "error: --knee must be a fraction"),
        (["--levels", "8", "--max_samples", "0"], "error: --max_samples must be at least 1"),
    ],
)
def test_bad_sweep_input(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(
        capsys,
        "sweep",
        *("--model_name", "aldea/default", "--dataset", "ami", "--dataset_path", tmp_path),
        *args,
    )
    assert code == 2
    assert one_error_line(err).startswith(message)
