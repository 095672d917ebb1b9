"""The end-of-run summary: the seed's three lines, both RTFx figures, exact latency
percentiles, Little's law, the endpoint table, and the .summary.json beside the results."""

from __future__ import annotations

import json
import random
import re
import time
from pathlib import Path

import numpy as np
import pytest

from asyncbench.engine.stats import latency_summary, percentile
from asyncbench.reporting.summary import summary_path

from .inproc import Background, cli, run_args
from .loopback import LoopbackAldea
from .support import make_dataset, read_results, transcript_of


@pytest.fixture(scope="module")
def esb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dataset(
        tmp_path_factory.mktemp("summary") / "esb", {("ami", "test"): 30}, fmt="wav"
    )


def test_percentiles_are_exact_and_match_numpy() -> None:
    rng = random.Random(7)
    values = [rng.expovariate(3.0) for _ in range(2001)]
    ordered = sorted(values)
    for q in (0, 1, 50, 90, 99, 99.9, 100):
        assert percentile(ordered, q) == pytest.approx(float(np.percentile(values, q)), abs=1e-12)
    summary = latency_summary(values)
    assert summary["n"] == 2001 and summary["max"] == max(values)
    assert latency_summary([])["p50"] is None


def test_run_ends_with_the_summary_and_writes_it_as_json(
    esb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "results"
    t0 = time.time()
    with Background(LoopbackAldea(2, transcript=transcript_of, latency=0.05)) as srv:
        code, out, err = cli(
            capsys,
            "run",
            *run_args("aldea/default", esb, "ami", "test", srv.endpoints, results),
            "--max_workers",
            "6",
        )
    t1 = time.time()
    assert code == 0, err
    # the seed's lines, exactly: scripts and tests read them
    out_lines = out.splitlines()
    path = results / f"MODEL_aldea-default_DATASET_{esb.name}_ami_test.jsonl"
    assert f"Results saved at path: {path}" in out_lines
    assert "WER: 0.0 %" in out_lines
    rtfx_line = next(line for line in out_lines if line.startswith("RTFx: "))
    assert re.fullmatch(r"RTFx: \d+(\.\d+)?", rtfx_line)

    # both RTFx figures, named; percentiles; Little's law; the endpoint table
    assert re.search(r"latency over 30 ok requests: p50 [\d.]+ s, p90 [\d.]+ s, p99", err)
    assert "per-request RTFx" in err and "the leaderboard's: Σ audio ÷ Σ request time" in err
    assert "throughput RTFx" in err and "Σ audio ÷ wall clock" in err
    assert re.search(r"Little's law: [\d.]+ requests/s × [\d.]+ s mean latency = [\d.]+", err)
    assert "of 6 allowed" in err
    assert "endpoint" in err and err.count("/asr/transcribe") >= 2

    summary = json.loads(summary_path(path).read_text())
    rows = read_results(path)
    assert len(rows) == 30 and all(r["status"] == "ok" for r in rows)
    # percentiles from every sample: the file's times give the same figures
    times = sorted(r["time"] for r in rows)
    lat = summary["latency_s"]
    assert lat["n"] == 30
    for q in (50, 90, 99):
        assert lat[f"p{q}"] == pytest.approx(percentile(times, q), abs=1e-5)
    assert lat["max"] == pytest.approx(times[-1], abs=1e-5)
    audio = sum(r["duration"] for r in rows)
    assert summary["rtfx"]["per_request"] == pytest.approx(audio / sum(times), rel=1e-3)
    assert summary["rtfx"]["throughput"] == pytest.approx(audio / summary["wall_s"], rel=1e-3)
    # 6 in flight against 0.05 s answers: throughput is several times the per-request figure
    assert summary["rtfx"]["throughput"] > 2 * summary["rtfx"]["per_request"]
    little = summary["little"]
    assert little["mean_in_flight"] == pytest.approx(
        little["requests_per_s"] * little["mean_latency_s"], rel=1e-6
    )
    assert 1 < little["mean_in_flight"] <= 6
    assert summary["complete"] is True and summary["wer"]["wer"] == 0.0
    assert summary["wer"]["coverage_percent"] == 100.0
    assert sum(e["requests"] for e in summary["endpoints"]) == 30
    assert summary["model"] == "aldea/default" and summary["split"] == "test"
    # every line says when its answer came
    assert all(t0 <= r["t_end"] <= t1 for r in rows)


def test_failures_show_in_the_summary(
    esb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from .loopback import Action

    def plan(port: int, n: int, body: bytes) -> Action:
        return Action(status=400, body=b"bad audio") if n % 3 == 0 else Action()

    results = tmp_path / "results"
    with Background(LoopbackAldea(1, plan=plan, transcript=transcript_of)) as srv:
        code, _out, err = cli(
            capsys,
            "run",
            *run_args("aldea/default", esb, "ami", "test", srv.endpoints, results),
            "--max_workers",
            "20",
            "--max_samples",
            "12",
        )
    assert code == 3, err  # samples ended failed: not a full run's numbers (#25 item 6)
    summary = json.loads(next(results.glob("*.summary.json")).read_text())
    assert summary["this_run"]["failed"] == 4 and summary["complete"] is False
    assert summary["wer"]["failed"] == 4 and summary["wer"]["wer"] > 0
    assert "failed by kind:" in err
    # the Little's-law line knows 20 in flight could not be reached with 12 samples
    assert "of 20 allowed" in err and "only 12 samples to send" in err
