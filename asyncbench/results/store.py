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
plot throughput and errors over time; files without it still resume and score; `t_sent` and
`t_intended`: when the first attempt went and when the arrival schedule meant it to go).
`id` and `status` come first so the pre-scan can read them cheaply.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from asyncbench.core.errors import ConfigError

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
    # wall clock of the answer (seconds since the epoch: the engine anchors its monotonic
    # clock to time.time() once, so t_end - t_sent is exact), for plots over time
    t_end: float | None = None
    # wall clock of the schedule's send time (open loop; closed loop: when a worker took the
    # sample) and of the first attempt's send: latency from the intended start = t_end - this
    t_intended: float | None = None
    t_sent: float | None = None
    # a chunk of a chunked set (the board's Earnings22): scoring joins chunks per parent
    parent_id: str | None = None
    chunk_index: int | None = None
    parts: int | None = None  # a long recording sent in parts: how many (see results.parts)

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
        if self.parent_id is not None:  # the board's field names for chunked manifests
            line["parent_id"] = self.parent_id
            line["chunk_index"] = self.chunk_index
        if self.parts is not None:
            line["parts"] = self.parts
        if self.t_intended is not None:
            line["t_intended"] = round(self.t_intended, 6)
        if self.t_sent is not None:
            line["t_sent"] = round(self.t_sent, 6)
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


# The start of every line our writer writes (orjson: no spaces, `id` and `status` first).
# `{"id":"` cannot occur inside a JSON string (its quotes would be escaped), so this only
# matches where a line of ours begins; ids with escapes fall through to the full parse.
_OURS = rb'\{"id":"([^"\\\n]*)","status":"(ok|skipped_short|failed)"[,}]'
_OUR_LINE = re.compile(_OURS)
_OUR_NEXT_LINE = re.compile(rb"}\n" + _OURS)  # also proves the line before ends with `}`
_STATUS_OF = {s.encode(): s for s in (OK, SKIPPED_SHORT, FAILED)}
# A second `id` or `status` key later in a line would win in a JSON parse: such lines (never
# ours) take the full parse too. (Unescaped, these can only be keys.)
_ID_KEY, _STATUS_KEY = b',"id":', b',"status":'


def _line_id_status(line: bytes) -> tuple[str | None, str | None]:
    match = _OUR_LINE.match(line)
    if (
        match is not None
        and line.endswith(b"}")
        and _ID_KEY not in line
        and line.count(_STATUS_KEY) == 1
    ):
        with contextlib.suppress(UnicodeDecodeError):
            return match[1].decode(), _STATUS_OF[match[2]]
    obj: Any = orjson.loads(line)
    if not isinstance(obj, dict):
        raise ValueError("not an object")
    sid = obj.get("id")
    if sid is None:
        sid = obj.get("audio_filepath")
    status = obj.get("status")
    return (str(sid) if sid is not None else None), status


def _scan_ours(data: bytes, end: int, n_lines: int) -> tuple[list[str], list[str]] | None:
    """Ids and statuses of all lines at C speed when every line is one of ours, else None.

    The regex finds each line's `id` and `status` where they start (at the file's start and
    after each newline) without parsing the texts that make up most of the bytes, so a
    million-line resume takes about a second instead of several. Every line must match and
    end with `}`; a file with any other line (blank, foreign, broken) takes the per-line path.
    (A line damaged in its middle while both ends stay intact would pass for whole here; the
    writer only appends, so only the last line can be torn, and that one is cut first.)
    """
    if n_lines == 0 or data[end - 2 : end] != b"}\n":
        return None
    if data.find(_ID_KEY, 0, end) >= 0 or data.count(_STATUS_KEY, 0, end) != n_lines:
        return None
    first = _OUR_LINE.match(data, 0, end)
    if first is None:
        return None
    found = [first.groups(), *_OUR_NEXT_LINE.findall(data, 0, end)]
    if len(found) != n_lines:
        return None
    try:
        ids = [raw.decode() for raw, _ in found]
    except UnicodeDecodeError:
        return None
    return ids, [_STATUS_OF[status] for _, status in found]


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
    state.lines = data.count(b"\n", 0, cut)

    lines: list[bytes] | None = None
    scanned = _scan_ours(data, cut, state.lines)
    if scanned is not None:
        ids: list[str | None] = list(scanned[0])
        statuses: list[str | None] = list(scanned[1])
        distinct = set(scanned[0])
        if len(distinct) == len(ids) and FINISHED.issuperset(statuses):
            # the usual resume: every line a distinct finished sample, nothing to drop
            state.done_ids = distinct
            state.finished = len(ids)
            if state.repaired_tail:
                _rewrite(path, [data[:cut]])
                state.rewritten = True
            return state
    else:
        lines = _split(data, cut)
        ids, statuses = [None] * len(lines), [None] * len(lines)
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

    last: dict[str | None, int] = dict(zip(ids, range(len(ids)), strict=True))  # last line per id
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
    if len(keep) != state.lines or state.repaired_tail:
        lines = lines if lines is not None else _split(data, cut)
        _rewrite(path, [b"\n".join([lines[n] for n in keep]), b"\n" if keep else b""])
        state.rewritten = True
    return state


def _split(data: bytes, end: int) -> list[bytes]:
    lines = data[:end].split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


def _rewrite(path: Path, chunks: list[bytes]) -> None:
    """Replace the file atomically: a crash leaves the old file or the new one, never half."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(b"".join(chunks))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


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
