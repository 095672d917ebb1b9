"""The ground every test helper stands on: watermarked hub-layout datasets, the mock server
on a free port, the real CLI in a subprocess, and reading what a run wrote.

Datasets are real parquet folders loaded through `datasets`; their clips carry their own
transcript (`asyncbench.sources.watermark`), so any fake server answers each clip's true text
(`transcript_of`) and a test can check that every sample got its own prediction
(`read_results`). The other helpers build on this one: `loopback` (a scriptable Aldea-protocol
server), `inproc` (the CLI in-process beside servers on a background loop), `faultkit`
(numbered datasets and fault scripts), `provider_runs` (provider clients against the mock),
`eval_runs` (the leaderboard's newer providers through `run_eval.py`), `scoring_files`,
`board_layout` (a local copy of the board's datasets) and `_speech` (real speech).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson
from aiohttp import web

from asyncbench.servers.mock import PROTOCOLS, MockConfig, MockState, build_app
from asyncbench.servers.mock.state import STATE_KEY
from asyncbench.sources import watermark
from asyncbench.sources.audio import parse_wav
from asyncbench.sources.hub_layout import encode_audio, write_hub_folder

from .loopback import free_port, serve

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable

WORDS = (
    "the quick brown fox jumps over a lazy dog while seven bright stars shine above "
    "quiet hills and rivers run to the open sea every morning"
).split()


def sentence(i: int, n_words: int = 6) -> str:
    return " ".join(WORDS[(i * 7 + k * 3) % len(WORDS)] for k in range(n_words)).capitalize() + "."


def make_dataset(
    root: Path,
    splits: Mapping[tuple[str, str], int | Sequence[str]],
    *,
    fmt: str = "flac",
    seconds: float = 1.0,
    with_ids: bool = True,
    robust: bool = False,
) -> Path:
    """A hub-layout folder: `{(config, split): n or [texts]}`; clip i of a split says text i
    (with `robust`, in the watermark that survives resampling, for 24 kHz-only APIs).

    Durations vary (seconds .. seconds+0.9) so the longest-first order is exercised.
    """
    tables: dict[str, dict[str, list[dict]]] = {}
    for (config, split), spec in splits.items():
        texts = [sentence(i) for i in range(spec)] if isinstance(spec, int) else list(spec)
        rows = []
        for i, text in enumerate(texts):
            secs = seconds + (i % 10) / 10
            pcm = watermark.embed(text, secs, seed=i, robust=robust)
            row = {
                "audio": {"bytes": encode_audio(pcm, 16000, fmt), "path": f"{i}.{fmt}"},
                "text": text,
                "dataset": config,
                "audio_length_s": len(pcm) / 16000,
            }
            if with_ids:
                row["id"] = f"{config}-{split}-{i:05d}"
            rows.append(row)
        tables.setdefault(config, {})[split] = rows
    return write_hub_folder(root, tables)


@dataclass
class MockHandle:
    url: str
    port: int
    state: MockState


class MockServer:
    """`async with MockServer(MockConfig(...)) as mock:` — the real mock app on a free port."""

    def __init__(self, config: MockConfig | None = None, protocols: tuple[str, ...] = PROTOCOLS):
        self.app = build_app(config, protocols)
        self.port = free_port()
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> MockHandle:
        self._runner = await serve(self.app, [self.port])
        return MockHandle(f"http://127.0.0.1:{self.port}", self.port, self.app[STATE_KEY])

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALDEA_", "OPENAI_"))}
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def run_cli(
    *args: str | Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """`python -m asyncbench ARGS` in a subprocess, as a user runs it."""
    return subprocess.run(
        [PYTHON, "-m", "asyncbench", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(env) if env is not None else cli_env(),
        cwd=cwd or REPO,
    )


async def run_cli_async(
    *args: str | Path, env: Mapping[str, str] | None = None, timeout: float = 120
) -> tuple[int, str, str]:
    """The same without blocking the event loop (for tests that also serve in-process)."""
    proc = await asyncio.create_subprocess_exec(
        PYTHON,
        "-m",
        "asyncbench",
        *map(str, args),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=dict(env) if env is not None else cli_env(),
        cwd=REPO,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def heard(body: bytes) -> str | None:
    """The transcript a request body carries (the clip's watermark), None if it has none."""
    info = parse_wav(body)
    if info is None:
        return None
    return watermark.extract(body[info.data_offset : info.data_offset + info.data_len])


def transcript_of(body: bytes) -> str:
    """What a perfect recogniser answers: the clip's own words (every test clip carries them
    as a watermark)."""
    return heard(body) or "no watermark"


def read_results(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()] if path.exists() else []


def only_file(directory: Path) -> Path:
    files = sorted(directory.glob("*.jsonl"))
    assert len(files) == 1, files
    return files[0]


def kill_when(proc: subprocess.Popen[bytes], path: Path, lines: int, timeout: float = 60) -> None:
    """SIGKILL `proc` once `path` holds at least `lines` lines."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_bytes().count(b"\n") >= lines:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            return
        if proc.poll() is not None:
            raise AssertionError(f"process ended before {lines} lines were written")
        time.sleep(0.005)
    proc.kill()
    raise AssertionError(f"{path} never reached {lines} lines")
