"""A batch runs every model and split at once, each provider within its own budget.

Through the real CLI against two real loopback servers (an Aldea-protocol server that counts
the requests it holds at once, and the OpenAI mock), so the server's own records are the
evidence: the budget is never exceeded, both providers work at the same time, every sample
is written once, and a run that cannot start does not stop the others.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from asyncbench.servers.mock.state import MockConfig

from .inproc import Background, cli, one_error_line
from .loopback import LoopbackAldea
from .support import MockServer, make_dataset, read_results, transcript_of

SPLITS = (("ami", "test"), ("gigaspeech", "test"), ("spgispeech", "test"), ("voxpopuli", "test"))
PER_SPLIT = 8
BUDGET = 3


@pytest.fixture(scope="module")
def esb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dataset(
        tmp_path_factory.mktemp("sched") / "esb", dict.fromkeys(SPLITS, PER_SPLIT), fmt="wav"
    )


def batch_args(esb: Path, results: Path, endpoints: str, *extra: str) -> list[str | Path]:
    return [
        "batch",
        "--model", "aldea/default",
        "--model", "openai/whisper-1",
        "--datasets", "ami gigaspeech spgispeech voxpopuli",
        "--dataset_path", esb,
        "--aldea_endpoints", endpoints,
        "--max_workers", str(BUDGET),
        "--results_dir", results,
        "--no_progress",
        *extra,
    ]  # fmt: skip


def t_ends(results: Path, model: str) -> list[float]:
    return [row["t_end"] for f in results.glob(f"MODEL_{model}_*.jsonl") for row in read_results(f)]


def test_providers_run_side_by_side_and_each_stays_within_its_budget(
    esb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    results = tmp_path / "results"
    # both servers slow enough that each provider's 4 splits take seconds: started together
    # in one loop, neither can finish before the other has begun, however loaded the machine
    with (
        Background(LoopbackAldea(1, transcript=transcript_of, latency=0.15)) as srv,
        Background(MockServer(MockConfig(latency=0.15))) as mock,
    ):
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-1234")
        monkeypatch.setenv("OPENAI_BASE_URL", f"{mock.url}/v1")
        code, out, err = cli(capsys, *batch_args(esb, results, srv.endpoints))
        assert code == 0, err
        # the Aldea server never held more than the budget, although 4 runs shared it
        assert srv.max_in_flight == BUDGET
    files = sorted(results.glob("*.jsonl"))
    assert len(files) == 2 * len(SPLITS)
    for f in files:
        ids = [row["id"] for row in read_results(f)]
        assert len(ids) == len(set(ids)) == PER_SPLIT
        assert all(row["pred_text"] == row["text"] for row in read_results(f))
    # both providers were busy at the same time: neither finished before the other began
    aldea, openai = t_ends(results, "aldea-default"), t_ends(results, "openai-whisper-1")
    assert min(openai) < max(aldea) and min(aldea) < max(openai)
    # the leaderboard's table for every model at the end
    assert "aldea/default: WER = 0.00 %" in out and "openai/whisper-1: WER = 0.00 %" in out


def test_sequential_runs_one_split_after_another(
    esb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "results"
    with Background(LoopbackAldea(1, transcript=transcript_of, latency=0.02)) as srv:
        args = batch_args(esb, results, srv.endpoints, "--sequential")
        at = args.index("openai/whisper-1")
        del args[at - 1 : at + 1]
        code, _, err = cli(capsys, *args)
        assert code == 0, err
    spans = []
    for config, _ in SPLITS:
        (f,) = results.glob(f"*_{config}_test.jsonl")
        ends = [row["t_end"] for row in read_results(f)]
        spans.append((min(ends), max(ends)))
    # in the batch's order, each split entirely after the one before
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))


def test_a_run_that_cannot_start_is_reported_and_the_others_run(
    esb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    results = tmp_path / "results"
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with Background(LoopbackAldea(1, transcript=transcript_of)) as srv:
        code, _, err = cli(
            capsys, *batch_args(esb, results, srv.endpoints), "--model", "nosuch/model"
        )
    assert code == 1, err
    assert len(list(results.glob("MODEL_aldea-default_*.jsonl"))) == len(SPLITS)
    assert not list(results.glob("MODEL_openai-*.jsonl"))
    assert "OPENAI_API_KEY" in err  # the missing key is named, per run
    assert "unknown provider prefix 'nosuch'" in err
    table = err[err.index("batch: ") :]
    # openai (no key) and nosuch (no such provider): each of their splits listed, not started
    assert table.count("not started") == 2 * len(SPLITS)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--max_runs", "0"], "error: --max_runs must be at least 1 (got 0)"),
        (
            ["--sequential", "--max_runs", "2"],
            "error: --sequential runs one at a time: leave out --max_runs",
        ),
    ],
)
def test_bad_parallel_knobs_are_one_line(
    esb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    code, _, err = cli(capsys, *batch_args(esb, tmp_path, "127.0.0.1:9", *extra))
    assert code == 2
    assert one_error_line(err) == message


def test_max_runs_caps_how_many_runs_go_at_once(
    esb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With --max_runs 1 the two providers take turns: one provider's runs all end before the
    other's begin (the cap holds across budgets)."""
    results = tmp_path / "results"
    with (
        Background(LoopbackAldea(1, transcript=transcript_of, latency=0.02)) as srv,
        Background(MockServer()) as mock,
    ):
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-1234")
        monkeypatch.setenv("OPENAI_BASE_URL", f"{mock.url}/v1")
        code, _, err = cli(capsys, *batch_args(esb, results, srv.endpoints, "--max_runs", "1"))
        assert code == 0, err
    spans = sorted(
        (min(ends), max(ends))
        for f in results.glob("*.jsonl")
        for ends in [[row["t_end"] for row in read_results(f)]]
    )
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))
