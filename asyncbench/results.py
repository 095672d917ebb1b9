"""Result store: one JSONL line per finished sample, appended as it finishes; resume by id.

The file is the run's only state. A rerun pre-scans it once, repairs a torn last line (the
only line a killed writer can leave half-written, since lines are only ever appended), and
keeps one line per id. Lines for samples that will be tried again (failed ones, by default)
are removed by rewriting the file to a temporary name and renaming it over the original,
which is atomic: a crash at any moment leaves either the old file or the new one, and the
samples not in it are simply done again. So every sample ends up exactly once.

Lines carry the fields the leaderboard's tools read (`audio_filepath`, `duration`, `time`,
`text`, `pred_text`) plus our ledger (`id`, `status`, `error`, `error_kind`, `attempts`,
`endpoint`, and `t_end`: when the answer came, in seconds since the epoch, so reports can
plot throughput and errors over time; files without it still resume and score).
`id` and `status` come first so the pre-scan can read them cheaply.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from asyncbench.errors import ConfigError

OK = "ok"
SKIPPED_SHORT = "skipped_short"
FAILED = "failed"
FINISHED = frozenset({OK, SKIPPED_SHORT})


def results_name(model_name: str, dataset_path: str, config: str, split: str) -> str:
    """The seed's file name: `MODEL_<model>_DATASET_<path>_<config>_<split>.jsonl`, `/` → `-`."""
    model = model_name.replace("/", "-")
    path = dataset_path.rstrip("/").replace("/", "-")
    return f"MODEL_{model}_DATASET_{path}_{config.replace('/', '-')}_{split}.jsonl"


@dataclass(slots=True)
class Result:
    id: str
    status: str
    duration: float
    time: float
    text: str
    pred_text: str
    error: str | None = None
    error_kind: str | None = None
    attempts: int = 0
    endpoint: str | None = None
    t_end: float | None = None  # wall clock of the answer (time.time()), for plots over time

    def to_line(self) -> bytes:
        line = {
            "id": self.id,
            "status": self.status,
            "audio_filepath": self.id,
            "duration": round(self.duration, 4),
            "time": round(self.time, 6),
            "text": self.text,
            "pred_text": self.pred_text,
            "error": self.error,
            "error_kind": self.error_kind,
            "attempts": self.attempts,
            "endpoint": self.endpoint,
        }
        if self.t_end is not None:
            line["t_end"] = round(self.t_end, 3)
        return orjson.dumps(line) + b"\n"


@dataclass(slots=True)
class ResumeState:
    """What the pre-scan found."""

    done_ids: set[str] = field(default_factory=set)
    lines: int = 0
    finished: int = 0
    failed_kept: int = 0
    failed_dropped: int = 0
    duplicates_dropped: int = 0
    bad_lines: list[int] = field(default_factory=list)
    repaired_tail: bool = False
    rewritten: bool = False
    foreign: bool = False


def _line_id_status(line: bytes) -> tuple[str | None, str | None]:
    obj: Any = orjson.loads(line)
    if not isinstance(obj, dict):
        raise ValueError("not an object")
    sid = obj.get("id")
    if sid is None:
        sid = obj.get("audio_filepath")
    status = obj.get("status")
    return (str(sid) if sid is not None else None), status


def prescan(path: Path, *, retry_failed: bool = True) -> ResumeState:
    """Read the existing results once and make the file hold exactly one line per kept id.

    Synchronous on purpose: it runs once before the event loop starts its work, and one
    sequential read is the fastest way through a million lines.
    """
    state = ResumeState()
    if not path.exists():
        return state
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read results file {path}: {exc.strerror}") from None
    if not data:
        return state
    cut = len(data)
    if not data.endswith(b"\n"):
        cut = data.rfind(b"\n") + 1  # the torn tail of a killed append
        state.repaired_tail = True
    lines = data[:cut].split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    state.lines = len(lines)

    last: dict[str, int] = {}
    statuses: list[str | None] = [None] * len(lines)
    ids: list[str | None] = [None] * len(lines)
    for n, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            sid, status = _line_id_status(line)
        except (orjson.JSONDecodeError, ValueError):
            state.bad_lines.append(n + 1)
            continue
        if status is None:
            state.foreign = True
            status = OK
        ids[n], statuses[n] = sid, status
        if sid is not None:
            last[sid] = n

    keep: list[int] = []
    for n, sid in enumerate(ids):
        if sid is None:
            continue
        if last[sid] != n:
            state.duplicates_dropped += 1
            continue
        status = statuses[n]
        if status in FINISHED or not retry_failed:
            keep.append(n)
            state.done_ids.add(sid)
            if status in FINISHED:
                state.finished += 1
            else:
                state.failed_kept += 1
        else:
            state.failed_dropped += 1

    if state.foreign:
        raise ConfigError(
            f"{path} was not written by asyncbench (its lines have no 'status'); "
            "move it away or pass another --results_dir to start a fresh run"
        )
    if len(keep) != len(lines) or state.repaired_tail:
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as fh:
            fh.write(b"".join(lines[n] + b"\n" for n in keep))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        state.rewritten = True
    return state


class ResultWriter:
    """Appends lines through aiofiles from one task, so lines never interleave.

    Each batch of finished results is written with one write and flushed at once: a line is
    in the kernel's hands as soon as the writer gets to it, and SIGKILL can only tear the
    very last line, which the next pre-scan repairs.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.queue: asyncio.Queue[Result | None] = asyncio.Queue()
        self.written = 0

    def put(self, result: Result) -> None:
        self.queue.put_nowait(result)

    async def run(self) -> None:
        import aiofiles

        async with aiofiles.open(self.path, "ab") as fh:
            while True:
                item = await self.queue.get()
                batch: list[bytes] = []
                done = item is None
                if item is not None:
                    batch.append(item.to_line())
                while not done and not self.queue.empty():
                    nxt = self.queue.get_nowait()
                    if nxt is None:
                        done = True
                    else:
                        batch.append(nxt.to_line())
                if batch:
                    await fh.write(b"".join(batch))
                    await fh.flush()
                    self.written += len(batch)
                if done:
                    return

    def close(self) -> None:
        self.queue.put_nowait(None)


def check_writable(directory: Path) -> None:
    """Fail before any paid request if results cannot be stored."""
    if directory.exists() and not directory.is_dir():
        raise ConfigError(
            f"results directory {directory} is a file, not a folder; "
            "pick another with --results_dir"
        )
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot create results directory {directory}: {exc.strerror}; "
            "pick another with --results_dir"
        ) from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise ConfigError(
            f"results directory {directory} is not writable; pick another with --results_dir"
        )
