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
import errno
import os
import re
from collections.abc import Callable, Iterator
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
    """The seed's file name, `MODEL_<model>_DATASET_<dataset>_<config>_<split>.jsonl` with `/`
    → `-`, where `<dataset>` is a hub id as given, and a local folder its own name (`myset`,
    not `-tmp-ux-work-myset`: where a folder lies is not what it is; the sidecar records its
    absolute path, so two folders of one name are still told apart on resume)."""
    model = model_name.replace("/", "-")
    dataset = dataset_label(dataset_path)
    return f"MODEL_{model}_DATASET_{dataset}_{config.replace('/', '-')}_{split}.jsonl"


def legacy_results_name(model_name: str, dataset_path: str, config: str, split: str) -> str:
    """The name a local folder's results had before `results_name` used the folder's own name
    (its whole path, `/` → `-`): a run looks for it so an older results file still resumes."""
    model = model_name.replace("/", "-")
    path = dataset_path.rstrip("/").replace("/", "-")
    return f"MODEL_{model}_DATASET_{path}_{config.replace('/', '-')}_{split}.jsonl"


def is_local_path(dataset_path: str) -> bool:
    """A hub id is `owner/name`; anything that exists, is explicitly relative or absolute, or
    has more path parts is a folder (the rule the dataset loader uses)."""
    return (
        os.path.exists(dataset_path)
        or dataset_path.startswith((".", "/", "~"))
        or dataset_path.count("/") >= 2
    )


def dataset_label(dataset_path: str) -> str:
    """What a results file name calls the dataset: a local folder's own name, else the hub id
    with `/` → `-` (the board's names, unchanged)."""
    if is_local_path(dataset_path):
        folder = Path(dataset_path).expanduser()
        name = folder.name if folder.name not in ("", ".", "..") else folder.resolve().name
        if name:
            return name.replace("/", "-")
    return dataset_path.rstrip("/").replace("/", "-")


#: a transcript longer than this (characters) is written a slice at a time (`line_pieces`);
#: small, since orjson reserves ~16 bytes per character of what it encodes
_SLICE_CHARS = 1 << 16
_PRED_KEY = b',"pred_text":"'


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
    # a streamed sample: first_partial_s, first_final_s, final_after_end_s, partials, ...
    # (core/streaming.py), written as fields of the line
    stream: dict[str, float | int | None] | None = None
    # short digests of the clip's encoded bytes and of its reference (sources.dataset.digest):
    # a changed sample is known as changed (resume --revalidate, verify); scoring ignores them
    audio_sha: str | None = None
    ref_sha: str | None = None

    def to_line(self) -> bytes:
        # the newline by orjson: `+ b"\n"` copied a 10 MB transcript's line once more
        return orjson.dumps(self._fields(self.pred_text), option=orjson.OPT_APPEND_NEWLINE)

    def _fields(self, pred_text: str) -> dict[str, Any]:
        """The line's fields in their order, with `pred_text` as given."""
        line: dict[str, Any] = {
            "id": self.id,
            "status": self.status,
            "audio_filepath": self.id,
            "duration": round(self.duration, 4),
            "time": round(self.time, 6),
            "text": self.text,
            "pred_text": pred_text,
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
        if self.stream is not None:
            line.update(self.stream)
        if self.audio_sha is not None:
            line["audio_sha"] = self.audio_sha
        if self.ref_sha is not None:
            line["ref_sha"] = self.ref_sha
        return line

    def line_pieces(self) -> Iterator[bytes]:
        """`to_line()`'s bytes in order, in pieces: a long transcript is encoded a slice at a
        time, so its line is never whole in memory next to it (a 10 MB transcript and its
        10 MB line were both held while the line was written, as the next reply came in).

        The pieces join to exactly `to_line()`: orjson escapes each character on its own, so
        the slices' encodings join to the whole's; the line is split at its `pred_text` key,
        which no encoded string before it can contain (every `"` in one is escaped).
        """
        text = self.pred_text
        if len(text) <= _SLICE_CHARS:
            yield self.to_line()
            return
        line = orjson.dumps(self._fields(""), option=orjson.OPT_APPEND_NEWLINE)
        head, key, tail = line.partition(_PRED_KEY)
        yield head + key
        for at in range(0, len(text), _SLICE_CHARS):
            yield orjson.dumps(text[at : at + _SLICE_CHARS])[1:-1]
        yield tail  # from the closing quote of the (empty) text on


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


# Our own lines, whole: the exact JSON grammar of `Result.to_line` (orjson: no spaces, fields
# in order, `t_end` optional), then any further flat fields (a newer writer's). A file whose
# every line matches this is valid JSON line by line with the types the scorer needs, so the
# usual resume reads a million lines with one C-speed regex pass (about what the looser
# start-of-line regex it replaced cost) instead of a parse per line at 2-3 times that; a
# line damaged anywhere, even in the middle of its text, fails to match and takes the full
# parse. (Only UTF-8 validity is left to check, at once for the whole file.) Strings are
# written "unrolled" (plain run, then escape + plain run, ...): twice as fast in `re` as an
# alternation per character.
_STR = rb'"[^"\\\x00-\x1f]*+(?:\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})[^"\\\x00-\x1f]*+)*+"'
_NUM = rb"-?(?:0|[1-9][0-9]*+)(?:\.[0-9]++)?(?:[eE][-+]?[0-9]++)?"
_NUM_OR_NULL = rb"(?:" + _NUM + rb"|null)"
_STR_OR_NULL = rb"(?:" + _STR + rb"|null)"
_KNOWN = rb"id|status|audio_filepath|duration|time|text|pred_text|error|error_kind|attempts"
_KNOWN += rb"|endpoint|t_end|parent_id|chunk_index"
_EXTRA = rb'(?:,(?!"(?:' + _KNOWN + rb')")' + _STR + rb":(?:" + _STR + rb"|" + _NUM
_EXTRA += rb"|null|true|false))*+"
_WHOLE_LINE = re.compile(
    rb'(?m)^\{"id":"([^"\\\n\x00-\x1f]*+)","status":"(ok|skipped_short|failed)"'
    rb',"audio_filepath":'
    + _STR
    + rb',"duration":'
    + _NUM_OR_NULL
    + rb',"time":'
    + _NUM_OR_NULL
    + rb',"text":'
    + _STR
    + rb',"pred_text":'
    + _STR
    + rb',"error":'
    + _STR_OR_NULL
    + rb',"error_kind":'
    + _STR_OR_NULL
    + rb',"attempts":-?[0-9]++,"endpoint":'
    + _STR_OR_NULL
    + rb'(?:,"t_end":'
    + _NUM_OR_NULL
    + rb")?"
    + _EXTRA
    + rb"\}\n"
)
_STATUS_OF = {s.encode(): s for s in (OK, SKIPPED_SHORT, FAILED)}


def _scan_ours(data: bytes, end: int, n_lines: int) -> tuple[list[str], list[str]] | None:
    """Ids and statuses of all lines when every line is a whole line of ours, else None.

    Matches never overlap and each is exactly one line (it starts at a line start and ends
    with its newline), so as many matches as lines means every line matched."""
    if n_lines == 0:
        return None
    found = _WHOLE_LINE.findall(data, 0, end)
    if len(found) != n_lines:
        return None
    try:
        if not data.isascii():
            _valid_utf8(data, end)
        ids = [raw.decode() for raw, _ in found]
    except UnicodeDecodeError:
        return None
    return ids, [_STATUS_OF[status] for _, status in found]


def _valid_utf8(data: bytes, end: int, chunk: int = 1 << 24) -> None:
    """UnicodeDecodeError unless data[:end] is UTF-8 (in chunks: no file-sized copy)."""
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(data)
    for start in range(0, end, chunk):
        decoder.decode(view[start : min(end, start + chunk)], final=False)
    decoder.decode(b"", final=True)


def _number_or_none(value: object) -> bool:
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))


def _unreadable(obj: dict[str, Any]) -> str | None:
    """Why the scorer (`scoring.resultfiles`) would leave this line of ours out, or None.

    The pre-scan counts a sample as done only if the scorer will count it too: a line the
    scorer skips must be redone, or coverage would read 100 % with that sample missing."""
    if obj.get("status") not in _STATUSES:
        return "unknown status"
    if not isinstance(obj.get("text"), str):
        return "'text' is not a string"
    pred = obj.get("pred_text")
    if pred is not None and not isinstance(pred, str):
        return "'pred_text' is not a string"
    if not all(_number_or_none(obj.get(k)) for k in ("duration", "time", "t_end")):
        return "a time is not a number"
    chunk = obj.get("chunk_index")
    if obj.get("parent_id") is not None and (isinstance(chunk, bool) or not isinstance(chunk, int)):
        return "'chunk_index' is not an integer"
    return None


_STATUSES = frozenset({OK, SKIPPED_SHORT, FAILED})


def _line_id_status(line: bytes) -> tuple[str | None, str | None]:
    """A line's id and status from a full parse (ValueError if the scorer could not use it:
    invalid UTF-8 or JSON anywhere in it, not an object, or fields of the wrong type).

    Every line is parsed whole, not just its start: a line damaged in its middle (another
    writer's bytes, a disk block of NULs, invalid UTF-8) must count as unreadable here
    exactly as it does for the scorer."""
    obj: Any = orjson.loads(line)
    if not isinstance(obj, dict):
        raise ValueError("not an object")
    sid = obj.get("id")
    if sid is None:
        sid = obj.get("audio_filepath")
    status = obj.get("status")
    if status is not None:
        why = _unreadable(obj)
        if why is not None:
            raise ValueError(why)
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
            except ValueError:  # orjson.JSONDecodeError is a ValueError (invalid UTF-8 too)
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
    try:
        with open(tmp, "wb") as fh:
            fh.write(b"".join(chunks))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        # before any request: a full disk, or a folder that forbids the rename (a sticky
        # folder such as /tmp lets only a file's owner replace it; a read-only mount)
        with contextlib.suppress(OSError):
            if tmp.is_file():
                tmp.unlink()
        hint = (
            "the folder must let this user create and rename files in it (in a sticky "
            "folder such as /tmp only the file's owner may replace it); "
            if exc.errno in (errno.EPERM, errno.EACCES, errno.EISDIR, errno.EROFS)
            else "free some space, or "
        )
        raise ConfigError(
            f"cannot rewrite {path} to resume it (through {tmp.name}): {exc.strerror}; "
            f"{hint}pass another --results_dir"
        ) from None


class WriteFailed(Exception):
    """Appending to the results file failed: the run must stop (see `ResultWriter`)."""

    def __init__(self, path: Path, reason: str, unsaved: list[Any]) -> None:
        # `unsaved`: the Results not written (a shard driver's: the lines it could not append)
        super().__init__(f"cannot write {path}: {reason}")
        self.path = path
        self.reason = reason
        self.unsaved = unsaved

    def message(self) -> str:
        """The one line the user sees."""
        n = len(self.unsaved)
        return (
            f"cannot write {self.path}: {self.reason}; {n} sample{'s' * (n != 1)} answered "
            f"{'were' if n != 1 else 'was'} not saved and will be redone on resume"
        )


class ResultWriter:
    """Appends lines from one task, so lines never interleave.

    Each batch of finished results is written with one unbuffered `write` (looped over short
    writes) in a worker thread: a line is in the kernel's hands as soon as the writer gets to
    it, and SIGKILL can only tear the very last line, which the next pre-scan repairs.

    A failed append (ENOSPC, EDQUOT, EIO, EFBIG, or the file deleted or replaced under the
    run, which would otherwise swallow every later line unseen) is never retried and never
    ignored: the writer keeps what it could not write in `failure.unsaved`, calls `on_fail`
    (the engine stops sending and abandons requests in flight) and takes nothing more. The
    file then holds whole lines and at most one torn tail, as after a crash.

    The file is created (opened) only when the first line is written, never before: a run that
    ends before its first answer (stopped while its requests were queued behind another run's
    in a batch, a key refused on the first request, a second Ctrl-C) leaves no results file,
    so a batch killed mid-split leaves exactly the files of the splits that wrote something.
    Everything that must refuse a run up front (the lock, the sidecar check, the pre-scan, a
    results folder or file that is not writable) is checked by `runs/runner.prepare` before
    the first request, so nothing is lost by opening late; a file that cannot be opened then
    fails the first append like any other write failure.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.queue: asyncio.Queue[Result | None] = asyncio.Queue()
        self.written = 0
        self.failure: WriteFailed | None = None
        self.on_fail: Callable[[WriteFailed], None] | None = None

    def put(self, result: Result) -> None:
        if self.failure is not None:
            self.failure.unsaved.append(result)
            return
        self.queue.put_nowait(result)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        fd: int | None = None
        try:
            while True:
                batch, done = await self._next_batch()
                if batch:
                    if fd is None:  # the first line: only now does the file exist
                        try:
                            fd = await loop.run_in_executor(None, _open_append, self.path)
                        except OSError as exc:
                            self._fail(exc, self._drain(batch))
                            return
                    # encoded as they are written, a megabyte at a time: a long transcript's
                    # whole line was held next to it while it was written
                    try:
                        await loop.run_in_executor(None, _append, fd, self.path, batch)
                    except _Partial as partial:
                        # the lines that got out whole before the failure are saved
                        self.written += partial.whole
                        self._fail(partial.error, self._drain(batch[partial.whole :]))
                        return
                    n = len(batch)
                    # let go of the transcripts before waiting for the next (emptied, not
                    # just dropped: the executor's work item may still hold the list)
                    batch.clear()
                    self.written += n
                if done:
                    return
        finally:
            if fd is not None:
                os.close(fd)

    async def _next_batch(self) -> tuple[list[Result], bool]:
        """Whatever results are queued (waiting for one), and whether the end came with them."""
        item = await self.queue.get()
        if item is None:
            return [], True
        batch = [item]
        while not self.queue.empty():
            nxt = self.queue.get_nowait()
            if nxt is None:
                return batch, True
            batch.append(nxt)
        return batch, False

    def _drain(self, batch: list[Result]) -> list[Result]:
        """The batch that failed plus everything queued behind it: answered, never saved."""
        while not self.queue.empty():
            item = self.queue.get_nowait()
            if item is not None:
                batch.append(item)
        return batch

    def _fail(self, exc: OSError, unsaved: list[Result]) -> None:
        self.failure = WriteFailed(self.path, exc.strerror or str(exc), unsaved)
        if self.on_fail is not None:
            self.on_fail(self.failure)

    def close(self) -> None:
        self.queue.put_nowait(None)


def _open_append(path: Path) -> int:
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)


class _Partial(Exception):
    """An append failed after the first `whole` of its lines reached the file whole."""

    def __init__(self, error: OSError, whole: int) -> None:
        super().__init__(str(error))
        self.error = error
        self.whole = whole


#: bytes of encoded lines gathered before they are written: many short lines go in one
#: write, a long line in pieces of about this size, each written before the next is encoded
_GATHER_BYTES = 1 << 20


def _append(fd: int, path: Path, results: list[Result]) -> None:
    """Write the lines of `results` (encoded piece by piece as they go, gathered up to
    `_GATHER_BYTES` a write; a short write is continued), then check that `fd` is still the
    file at `path`: lines appended to a deleted or replaced file are lost, all of them. A
    failure raises `_Partial` with how many lines got out whole."""
    pending = bytearray()
    written = 0
    ends: list[int] = []  # where each line ends, counted from the first byte of this append

    def flush() -> None:
        nonlocal written
        view = memoryview(pending)
        try:
            while view:
                n = os.write(fd, view)
                if n == 0:  # pragma: no cover - a regular file never takes 0 bytes of a write
                    raise OSError(errno.EIO, os.strerror(errno.EIO))
                written += n
                view = view[n:]
        finally:
            view.release()
        pending.clear()

    try:
        for result in results:
            for piece in result.line_pieces():
                pending += piece
                if len(pending) >= _GATHER_BYTES:
                    flush()
            ends.append(written + len(pending))
        flush()
    except OSError as exc:
        raise _Partial(exc, sum(1 for end in ends if end <= written)) from None
    here, there = os.fstat(fd), None
    with contextlib.suppress(FileNotFoundError):
        there = os.stat(path)
    if there is None or (there.st_ino, there.st_dev) != (here.st_ino, here.st_dev):
        gone = OSError(errno.ENOENT, "the file was deleted or replaced while the run wrote it")
        raise _Partial(gone, 0)


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
