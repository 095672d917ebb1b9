"""Resume after SIGKILL and stop on Ctrl-C, with the real CLI and a server in another process."""

from __future__ import annotations

import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from . import faultkit
from .loopback import free_port
from .support import (
    PYTHON,
    REPO,
    cli_env,
    kill_when,
    make_dataset,
    only_file,
    read_results,
    run_cli,
)

N = 240


@pytest.fixture(scope="module")
def esb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("resume") / "esb", {("ami", "test"): N}, fmt="wav")


@pytest.fixture(scope="module")
def mock_url() -> Iterator[str]:
    """`asyncbench mock` in its own process, answering after 50 ms."""
    port = free_port()
    proc = subprocess.Popen(
        [PYTHON, "-m", "asyncbench", "mock", "--port", str(port), "--latency", "0.05"],
        cwd=REPO,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{url}/health", timeout=1).read()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise AssertionError("mock did not start") from None
            time.sleep(0.1)
    yield url
    proc.send_signal(signal.SIGINT)
    assert proc.wait(10) == 0


def run_args(esb: Path, mock_url: str, results: Path, workers: int = 40) -> list[str]:
    port = mock_url.rsplit(":", 1)[1]
    # the same port listed 4 times: 4 endpoints of the pool, one server
    endpoints = " ".join([f"127.0.0.1:{port}"] * 4)
    return faultkit.run_args(esb, endpoints, results, "--max_workers", workers)


def start(args: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [PYTHON, "-m", "asyncbench", *args],
        cwd=REPO,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def stop_when_written(
    args: list[str], results: Path, lines: int, sig: signal.Signals
) -> tuple[Path, int, bytes]:
    """Start the run and send it `sig` once its results file holds `lines` lines; the file,
    the exit code and stderr."""
    proc = start(args)
    path = only_file_when_created(results, proc)
    while path.read_bytes().count(b"\n") < lines:
        time.sleep(0.01)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    return path, proc.returncode, err


def check_exactly_once(path: Path) -> None:
    raw = path.read_bytes()
    assert raw.endswith(b"\n")
    rows = read_results(path)
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)) == N
    assert all(r["status"] == "ok" and r["pred_text"] == r["text"] for r in rows)


@pytest.mark.parametrize("kill_at", [1, 97, 200])
def test_sigkill_then_resume_gives_every_sample_exactly_once(
    esb: Path, mock_url: str, tmp_path: Path, kill_at: int
) -> None:
    args = run_args(esb, mock_url, tmp_path)
    proc = start(args)
    name = only_file_when_created(tmp_path, proc)
    kill_when(proc, name, kill_at)
    done_before = len(read_results_tolerant(name))
    assert done_before < N
    assert [p.name for p in tmp_path.glob("*.lock")] == [name.name + ".lock"]  # SIGKILL's
    out = run_cli(*args)
    assert out.returncode == 0, out.stderr
    assert f"resuming {name}: {done_before} finished" in out.stderr
    assert not list(tmp_path.glob("*.lock"))  # the next run took it over, and removed it
    check_exactly_once(name)


def test_torn_last_line_is_repaired_on_resume(esb: Path, mock_url: str, tmp_path: Path) -> None:
    args = run_args(esb, mock_url, tmp_path)
    out = run_cli(*args, "--max_samples", "50")
    assert out.returncode == 0, out.stderr
    path = only_file(tmp_path)
    with path.open("ab") as fh:
        fh.write(b'{"id": "ami-test-00199", "status": "ok", "pred_te')
    out = run_cli(*args)
    assert out.returncode == 0, out.stderr
    assert "torn last line repaired" in out.stderr
    check_exactly_once(path)


def test_ctrl_c_stops_cleanly_with_exit_130_and_resumes(
    esb: Path, mock_url: str, tmp_path: Path
) -> None:
    args = run_args(esb, mock_url, tmp_path, workers=20)
    path, code, err = stop_when_written(args, tmp_path, 40, signal.SIGINT)
    assert code == 130, err
    assert b"interrupted by SIGINT" in err and b"Traceback" not in err
    raw = path.read_bytes()
    assert raw.endswith(b"\n")  # nothing half-written
    assert not list(tmp_path.glob("*.lock"))  # an interrupted run leaves no lock file
    written = read_results(path)
    assert 40 <= len(written) < N
    out = run_cli(*args)
    assert out.returncode == 0, out.stderr
    check_exactly_once(path)


def test_sigterm_exits_143(esb: Path, mock_url: str, tmp_path: Path) -> None:
    args = run_args(esb, mock_url, tmp_path, workers=10)
    path, code, err = stop_when_written(args, tmp_path, 5, signal.SIGTERM)
    assert code == 143, err
    assert path.read_bytes().endswith(b"\n")
    assert not list(tmp_path.glob("*.lock"))


def only_file_when_created(
    directory: Path, proc: subprocess.Popen[bytes], timeout: float = 60
) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        files = list(directory.glob("*.jsonl"))
        if files:
            return files[0]
        if proc.poll() is not None:
            raise AssertionError(proc.stderr.read().decode() if proc.stderr else "exited")
        time.sleep(0.01)
    raise AssertionError("no results file")


def read_results_tolerant(path: Path) -> list[bytes]:
    """Whole lines only: what the next pre-scan will count as finished."""
    return [line for line in path.read_bytes().split(b"\n")[:-1] if line]
