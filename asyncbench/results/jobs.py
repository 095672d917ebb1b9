"""The job journal: every async job accepted for a sample, so a sample is never billed twice.

An async-job provider (AssemblyAI, Rev AI, Speechmatics, Soniox, Gladia) charges per job it
accepts. If the run loses a job it was polling (a poll timeout, a dropped connection, a crash,
Ctrl-C) and submits the audio again, the provider bills the same sample twice. So the job id is
appended to `<results>.jobs.ndjson` (not `*.jsonl`: scorers glob those) as soon as the submit
reply is in, before the first poll, and a later attempt (this run's retry or a resumed run)
polls that job instead of submitting again. Only a job the provider reports as failed, or no
longer knows (404), is submitted again.

One line per event, appended with one `write` on an `O_APPEND` descriptor, so a SIGKILL tears
at most the last line, which the scan ignores (that one job is then submitted again: the one
window no client can close is between the provider accepting a job and its reply arriving):

    {"key": "<audio digest>", "job": "<job id>", "state": "submitted"|"done"|"failed",
     "url": "<endpoint>", "extra": {...}}

The key is a digest of what was sent (the audio bytes, or the URL in `--use_url` mode) with
the language (`asyncbench.providers._jobs.audio_key`), so the journal needs no sample id
from the engine, and a recording cut into parts journals each part on its own. The latest
line of a key wins. When a split completes the journal is compacted to the jobs still
pending (none, usually: then the file is removed).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from asyncbench.core.errors import ConfigError

SUFFIX = ".jobs.ndjson"
SUBMITTED = "submitted"
DONE = "done"
FAILED = "failed"


def jobs_path(results: Path) -> Path:
    """`results/X.jsonl` → `results/X.jobs.ndjson`."""
    return results.with_name(results.stem + SUFFIX)


@dataclass(slots=True, frozen=True)
class JobEntry:
    """A job the journal knows, in its latest state."""

    key: str
    job: str
    state: str
    url: str
    extra: dict[str, Any] = field(default_factory=dict)

    def to_line(self) -> bytes:
        obj: dict[str, Any] = {"key": self.key, "job": self.job, "state": self.state}
        obj["url"] = self.url
        if self.extra:
            obj["extra"] = self.extra
        return orjson.dumps(obj) + b"\n"


def scan_jobs(path: Path) -> dict[str, JobEntry]:
    """The latest entry of every key; a torn or unreadable line is skipped."""
    entries: dict[str, JobEntry] = {}
    if not path.exists():
        return entries
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read job journal {path}: {exc.strerror}") from None
    for line in data.split(b"\n"):
        if not line.strip():
            continue
        try:
            obj = orjson.loads(line)
            extra = obj.get("extra") or {}
            entry = JobEntry(
                key=str(obj["key"]),
                job=str(obj["job"]),
                state=str(obj["state"]),
                url=str(obj.get("url") or ""),
                extra=dict(extra) if isinstance(extra, dict) else {},
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            continue
        entries[entry.key] = entry
    return entries


class JobJournal:
    """The journal of one results file, read once when the run opens it.

    `pending(key)` is the job to resume for a request, `submitted` records a new job (and
    returns only once the line is written, so polling never starts on an unrecorded job),
    `finished` records its end. Writes go through the default executor: one small `write`
    each, never blocking the event loop.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries = scan_jobs(path)
        self.resumed = 0  # jobs polled again instead of submitted again (for tests, summary)
        self._fd: int | None = None

    def pending(self, key: str) -> JobEntry | None:
        entry = self.entries.get(key)
        return entry if entry is not None and entry.state == SUBMITTED else None

    def pending_count(self) -> int:
        return sum(1 for e in self.entries.values() if e.state == SUBMITTED)

    async def submitted(
        self, key: str, job: str, url: str, extra: dict[str, Any] | None = None
    ) -> None:
        await self._append(JobEntry(key, job, SUBMITTED, url, dict(extra or {})))

    async def finished(self, entry_key: str, job: str, *, failed: bool = False) -> None:
        old = self.entries.get(entry_key)
        if old is None or old.job != job:
            return
        await self._append(JobEntry(entry_key, job, FAILED if failed else DONE, old.url))

    def write_now(self, entry: JobEntry) -> None:
        """Record `entry` at once, in the caller's thread (the driver's ledger, which holds
        its own lock and is never on an event loop's hot path)."""
        self.entries[entry.key] = entry
        self._write(entry.to_line())

    async def _append(self, entry: JobEntry) -> None:
        self.entries[entry.key] = entry
        line = entry.to_line()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self._write, line)

    def _write(self, line: bytes) -> None:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.write(self._fd, line)

    def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    def compact(self) -> int:
        """Rewrite the journal to the jobs still pending (atomically); remove it when none
        is. Returns how many were kept."""
        self.close()
        keep = [e for e in scan_jobs(self.path).values() if e.state == SUBMITTED]
        if not keep:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            return 0
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_bytes(b"".join(e.to_line() for e in keep))
        os.replace(tmp, self.path)
        return len(keep)
