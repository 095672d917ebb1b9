"""Batch runs: run_api.sh (as the seed describes it) and `asyncbench batch` over all 8 splits
of a local hub-layout set, resumable as a whole, with per-provider default concurrency."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest

from asyncbench.cli.batch import ESB_SPLITS, default_workers, parse_datasets
from asyncbench.core.errors import ConfigError

from .inproc import Background, cli, one_error_line
from .loopback import LoopbackAldea
from .support import PYTHON, REPO, cli_env, make_dataset, read_results, transcript_of

PER_SPLIT = 3


@pytest.fixture(scope="module")
def esb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dataset(
        tmp_path_factory.mktemp("batch") / "esb", dict.fromkeys(ESB_SPLITS, PER_SPLIT), fmt="wav"
    )


def run_api(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """`bash run_api.sh` as under nohup: no terminal, output to a log."""
    return subprocess.run(
        ["bash", str(REPO / "run_api.sh")],
        capture_output=True,
        text=True,
        timeout=120,
        env=cli_env(PYTHON=PYTHON, **env),  # this interpreter, wherever the checkout is
        stdin=subprocess.DEVNULL,
        cwd=cwd,
    )


def test_run_api_sh_runs_all_8_splits_and_prints_the_composite_table(
    esb: Path, tmp_path: Path
) -> None:
    results = tmp_path / "results"
    with Background(LoopbackAldea(3, transcript=transcript_of, latency=0.02)) as srv:
        env = {
            "MODEL": "aldea/default",
            "DATASET_PATH": str(esb),
            "ALDEA_ENDPOINTS": srv.endpoints,
            "RESULTS_DIR": str(results),
        }
        done = run_api(env, tmp_path)
        assert done.returncode == 0, done.stderr[-3000:]
        files = sorted(results.glob("*.jsonl"))
        assert len(files) == 8
        assert all(len(read_results(f)) == PER_SPLIT for f in files)
        # aldea's own default concurrency, taken from the provider, not from the script
        assert "== aldea/default ami/test with 160 requests in flight" in done.stderr
        assert srv.count and all(n > 0 for n in srv.count.values())  # ALDEA_ENDPOINTS forwarded
        out = done.stdout
        assert "Filtering models by id: aldea/default" in out
        ds = esb.name
        for config, split in ESB_SPLITS:
            assert f"aldea/default | {ds}_{config}_{split}: WER = 0.00 %, RTFx = " in out
        assert "Composite Results:" in out and "aldea/default: WER = 0.00 %" in out
        assert "aldea/default: RTFx = " in out

        # resumable as a whole: a rerun skips every finished split at once
        t0 = time.monotonic()
        again = run_api(env, tmp_path)
        assert again.returncode == 0, again.stderr[-2000:]
        assert again.stderr.count(", skipped") == 8
        assert "aldea/default: WER = 0.00 %" in again.stdout
        assert time.monotonic() - t0 < 15
        assert all(len(read_results(f)) == PER_SPLIT for f in files)

        # an unfinished split (a sample lost) is run again and completed, the others skipped
        part = results / f"MODEL_aldea-default_DATASET_{ds}_tedlium_test.jsonl"
        part.write_bytes(b"".join(part.read_bytes().splitlines(keepends=True)[:-1]))
        summary = part.with_name(part.stem + ".summary.json")
        summary.write_text(summary.read_text().replace('"complete": true', '"complete": false'))
        third = run_api({**env, "DATASETS": "tedlium voxpopuli"}, tmp_path)
    assert third.returncode == 0, third.stderr[-2000:]
    assert "== aldea/default tedlium/test with 160 requests in flight" in third.stderr
    assert "== aldea/default voxpopuli/test: complete" in third.stderr
    assert len(read_results(part)) == PER_SPLIT


def test_killed_batch_resumes_where_it_stopped(esb: Path, tmp_path: Path) -> None:
    """`kill` (SIGTERM) of a nohup'd run_api.sh: the split in progress stops cleanly, the
    batch says how to resume, and the rerun finishes every split exactly once."""
    results = tmp_path / "results"
    ami = results / f"MODEL_aldea-default_DATASET_{esb.name}_ami_test.jsonl"
    with Background(LoopbackAldea(1, transcript=transcript_of, latency=0.3)) as srv:
        env = cli_env(
            PYTHON=PYTHON,
            MODEL="aldea/default",
            DATASET_PATH=str(esb),
            ALDEA_ENDPOINTS=srv.endpoints,
            RESULTS_DIR=str(results),
            MAX_WORKERS="1",
        )
        proc = subprocess.Popen(
            ["nohup", "bash", str(REPO / "run_api.sh")],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=tmp_path,
        )
        deadline = time.monotonic() + 60
        while not (ami.exists() and ami.read_bytes().count(b"\n") >= 1):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        proc.terminate()
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 143, err[-2000:]
        assert "batch interrupted: rerun the same command to resume" in err
        assert len(list(results.glob("*.jsonl"))) == 1
        srv.latency = 0.0
        again = run_api(
            {k: env[k] for k in ("MODEL", "DATASET_PATH", "ALDEA_ENDPOINTS", "RESULTS_DIR")},
            tmp_path,
        )
    assert again.returncode == 0, again.stderr[-2000:]
    files = sorted(results.glob("*.jsonl"))
    assert len(files) == 8
    for f in files:
        ids = [row["id"] for row in read_results(f)]
        assert len(ids) == len(set(ids)) == PER_SPLIT


def test_batch_command_with_a_subset_and_max_workers(
    esb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Background(LoopbackAldea(1, transcript=transcript_of)) as srv:
        code, out, err = cli(
            capsys,
            "batch",
            "--model",
            "aldea/default",
            "--datasets",
            "librispeech,ami:test",
            "--dataset_path",
            esb,
            "--aldea_endpoints",
            srv.endpoints,
            "--results_dir",
            tmp_path,
            "--max_workers",
            "2",
            "--no_progress",
        )
    assert code == 0, err
    assert [p.name.rsplit("_", 2)[-2:] for p in sorted(tmp_path.glob("*.jsonl"))] == [
        ["ami", "test.jsonl"],
        ["librispeech", "test.clean.jsonl"],
        ["librispeech", "test.other.jsonl"],
    ]
    assert "with 2 requests in flight" in err
    assert "batch: 3 splits" in err and err.count(" done ") >= 3
    assert out.count("WER = 0.00 %") == 4  # 3 datasets + the composite


def test_parse_datasets() -> None:
    assert parse_datasets(None) == list(ESB_SPLITS)
    assert parse_datasets("voxpopuli librispeech/test.other, ami") == [
        ("ami", "test"),
        ("librispeech", "test.other"),
        ("voxpopuli", "test"),
    ]
    with pytest.raises(ConfigError, match="librispeech has split"):
        parse_datasets("librispeech:test")


def test_default_concurrency_comes_from_the_providers() -> None:
    expected = {
        "groq/whisper-large-v3": 8,
        "elevenlabs/scribe_v1": 5,
        "assembly/best": 200,
        "deepgram/nova-3": 50,
        "speechmatics-rt/enhanced": 15,
        "speechmatics/enhanced": 30,
        "openai/whisper-1": 20,
        "revai/machine": 20,
    }
    assert {m: default_workers(m) for m in expected} == expected
    assert default_workers("aldea/default") >= 160


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--datasets", "ami,commonvoice"], "error: unknown dataset 'commonvoice' in DATASETS"),
        (["--datasets", "librispeech:test"], "error: unknown dataset 'librispeech:test'"),
        (["--max_workers", "0"], "error: --max_workers must be at least 1 (got 0)"),
    ],
)
def test_bad_batch_input(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(
        capsys, "batch", "--model", "aldea/default", "--results_dir", tmp_path, *args
    )
    assert code == 2
    assert one_error_line(err).startswith(message)


def test_unknown_provider_is_listed_not_started_and_the_batch_goes_on(
    esb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Background(LoopbackAldea(1, transcript=transcript_of)) as srv:
        code, _, err = cli(
            capsys,
            "batch",
            *("--model", "nope/x", "--model", "aldea/default", "--max_workers", "4"),
            *("--datasets", "ami", "--dataset_path", esb, "--aldea_endpoints", srv.endpoints),
            *("--results_dir", tmp_path, "--no_progress"),
        )
    assert code == 1
    assert "error: nope/x ami/test: unknown provider prefix 'nope'" in err
    # columns as wide as their entries (issue 26 item 3: the table fits 80 columns)
    assert re.search(r"^nope/x\s+ami/test\s+not started", err, re.M), err
    (done,) = tmp_path.glob("*.jsonl")
    assert len(read_results(done)) == PER_SPLIT


def test_run_api_sh_forwards_sequential_and_max_runs(tmp_path: Path) -> None:
    """SEQUENTIAL and MAX_RUNS reach `asyncbench batch` as its flags (an interpreter that
    prints what it was asked to run stands in for Python)."""
    echo = tmp_path / "python"
    echo.write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    echo.chmod(0o755)
    env = cli_env(PYTHON=str(echo), MODEL="aldea/default", SEQUENTIAL="1", MAX_RUNS="3")
    done = subprocess.run(
        ["bash", str(REPO / "run_api.sh")], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    argv = done.stdout.splitlines()
    assert done.returncode == 0, done.stderr
    assert argv[argv.index("-m") : argv.index("-m") + 2] == ["-m", "asyncbench"]
    assert "--sequential" in argv and argv[argv.index("--max_runs") + 1] == "3"
    unset = subprocess.run(
        ["bash", str(REPO / "run_api.sh")],
        capture_output=True,
        text=True,
        env=cli_env(PYTHON=str(echo), MODEL="aldea/default"),
        cwd=tmp_path,
    )
    assert "--sequential" not in unset.stdout and "--max_runs" not in unset.stdout
