"""Tools the fault, crash, health, pacing, bad-input and secrets tests share.

Every sample of these datasets says "... number N." in its watermark, so a loopback server can
tell which sample a request carries (and script that sample's fate), and a test can check that
each sample ended with its own transcript. Runs go through the real CLI in a subprocess while
the server runs in the test's event loop, so the server's own records (arrival times, requests
in flight, bodies) are the evidence.
"""

from __future__ import annotations

import asyncio
import re
import signal
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import orjson
import pytest

from asyncbench.results.store import results_name

from .loopback import LoopbackAldea, Seen
from .support import PYTHON, REPO, cli_env, heard, make_dataset, sentence, transcript_of

_NUMBER = re.compile(r" number (\d+)\.$")


def numbered_texts(n: int) -> list[str]:
    """n distinct references; sample i says "... number i."."""
    return [f"{sentence(i)[:-1]} number {i}." for i in range(n)]


def numbered_dataset(
    root: Path, n: int, *, config: str = "ami", split: str = "test", seconds: float = 0.2
) -> Path:
    """A hub-layout WAV folder (16 kHz mono PCM16: the CLI never needs torch) of n samples."""
    return make_dataset(root, {(config, split): numbered_texts(n)}, fmt="wav", seconds=seconds)


def dataset_fixture(folder: str, n: int) -> Callable[[pytest.TempPathFactory], Path]:
    """A module's dataset fixture (named by the variable it is assigned to): a numbered
    dataset of `n` samples, written once for the module under a temporary `folder`."""

    @pytest.fixture(scope="module")
    def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
        return numbered_dataset(tmp_path_factory.mktemp(folder) / "esb", n)

    return dataset


def results_file(dataset: Path, results: Path, config: str = "ami") -> Path:
    """The results file a `run_args` run on `dataset` writes in `results`."""
    return results / results_name("aldea/default", str(dataset), config, "test")


def number_of(body: bytes) -> int | None:
    """Which sample a request carries."""
    text = heard(body)
    match = _NUMBER.search(text or "")
    return int(match.group(1)) if match else None


def sample_id(i: int, config: str = "ami", split: str = "test") -> str:
    return f"{config}-{split}-{i:05d}"


def by_sample(seen: Iterable[Seen]) -> dict[int, list[Seen]]:
    """The requests each sample got, in arrival order."""
    out: dict[int, list[Seen]] = defaultdict(list)
    for s in seen:
        n = number_of(s.body)
        if n is not None:
            out[n].append(s)
    return out


def gaps(requests: list[Seen]) -> list[float]:
    """Seconds between one sample's successive attempts, as the server saw them."""
    return [b.at - a.at for a, b in pairwise(requests)]


class Attempts:
    """Counts each sample's attempts as they arrive, for plans that script by attempt."""

    def __init__(self) -> None:
        self.count: dict[int, int] = defaultdict(int)

    def __call__(self, body: bytes) -> tuple[int | None, int]:
        n = number_of(body)
        if n is None:
            return None, 0
        self.count[n] += 1
        return n, self.count[n]


def run_args(
    dataset: Path, endpoints: str, results: Path, *extra: str | Path, config: str = "ami"
) -> list[str]:
    return [
        "run",
        "--model_name",
        "aldea/default",
        "--dataset",
        config,
        "--dataset_path",
        str(dataset),
        "--aldea_endpoints",
        endpoints,
        "--results_dir",
        str(results),
        "--no_progress",
        *map(str, extra),
    ]


async def start(
    args: list[str], env: Mapping[str, str] | None = None, cwd: Path = REPO
) -> asyncio.subprocess.Process:
    """`python -m asyncbench ARGS` in a subprocess, its output piped (from any `cwd`: the
    package is found through PYTHONPATH)."""
    env = dict(env) if env is not None else cli_env()
    env["PYTHONPATH"] = str(REPO)
    return await asyncio.create_subprocess_exec(
        PYTHON,
        "-m",
        "asyncbench",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=cwd,
    )


async def finish(proc: asyncio.subprocess.Process, timeout: float = 120) -> tuple[int, str, str]:
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def wait_until(
    condition: Callable[[], bool],
    proc: asyncio.subprocess.Process | None = None,
    timeout: float = 60,
    what: str = "condition",
) -> None:
    """Poll every 5 ms; fail if the process ends first or time runs out."""
    deadline = time.monotonic() + timeout
    while not condition():
        if proc is not None and proc.returncode is not None:
            _, err = await proc.communicate()
            raise AssertionError(f"process ended (code {proc.returncode}) before {what}: {err!r}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


async def interrupt(proc: asyncio.subprocess.Process, sig: signal.Signals) -> None:
    proc.send_signal(sig)
    await asyncio.sleep(0)


def whole_lines(path: Path) -> tuple[list[dict], bytes]:
    """The complete lines of a results file (each must parse) and the torn tail, if any."""
    raw = path.read_bytes() if path.exists() else b""
    cut = raw.rfind(b"\n") + 1
    return [orjson.loads(x) for x in raw[:cut].splitlines() if x], raw[cut:]


def ledger(path: Path) -> dict[str, dict]:
    """id -> line, after checking that no id appears twice and every line is whole."""
    rows, tail = whole_lines(path)
    assert tail == b"", f"torn last line: {tail[:80]!r}"
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)), "an id appears twice"
    return {r["id"]: r for r in rows}


@dataclass
class EndpointRow:
    url: str
    requests: int
    errors: int
    mean_latency: float | None
    kinds: str


_ROW = re.compile(
    r"^(?P<url>https?://\S+)\s+(?P<requests>\d+)\s+[\d.]+%\s+(?P<errors>\d+)\s+"
    r"(?P<lat>[\d.]+|n/a)s\s*(?P<kinds>.*)$"
)


def endpoint_table(stderr: str) -> dict[str, EndpointRow]:
    """The per-endpoint table of the end-of-run summary, by URL."""
    rows = {}
    for line in stderr.splitlines():
        m = _ROW.match(line.strip())
        if m:
            lat = m["lat"]
            rows[m["url"]] = EndpointRow(
                m["url"],
                int(m["requests"]),
                int(m["errors"]),
                None if lat == "n/a" else float(lat),
                m["kinds"].strip(),
            )
    return rows


def url(port: int) -> str:
    return f"http://127.0.0.1:{port}/asr/transcribe"


def server(n_ports: int = 1, **kw: object) -> LoopbackAldea:
    kw.setdefault("transcript", transcript_of)
    return LoopbackAldea(n_ports, **kw)  # type: ignore[arg-type]


def failed_by_kind(stderr: str) -> dict[str, int]:
    """The summary's "failed by kind: a: 1, b: 2 (...)" line as a dict ({} when absent)."""
    m = re.search(r"^failed by kind: (.*?) \(rerun the same command", stderr, re.MULTILINE)
    if not m:
        return {}
    pairs = (part.rsplit(": ", 1) for part in m.group(1).split(", "))
    return {kind: int(n) for kind, n in pairs}
