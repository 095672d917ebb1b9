"""The parts of chunked recordings: a side file, so a resumed run redoes only missing parts.

A recording over a provider's limit is sent as parts of one sample. The results file keeps
one final line per sample (the stitched transcript), so every scorer, ours, the seed's and
the leaderboard's, reads it unchanged. Each part that came back is appended as it arrives to
`<results>.parts.ndjson` (not `*.jsonl`: scorers glob those), one line per part with the
sample id, its place (`part` of `of`), the samples it covers (`start`, `end`), and its own
`pred_text` and `time`. On resume the runner reads this file once; a part is reused only when
the recording is cut the same way again (same count and same sample range), so a changed
limit or `--chunk_max_s` simply redoes the parts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

from asyncbench.core.errors import ConfigError

SUFFIX = ".parts.ndjson"


def parts_path(results: Path) -> Path:
    """`results/X.jsonl` → `results/X.parts.ndjson`."""
    return results.with_name(results.stem + SUFFIX)


@dataclass(slots=True, frozen=True)
class PartRecord:
    """One part that came back."""

    id: str
    part: int
    of: int
    start: int
    end: int
    pred_text: str
    time: float
    attempts: int = 1
    endpoint: str | None = None

    def to_line(self) -> bytes:
        return (
            orjson.dumps(
                {
                    "id": self.id,
                    "part": self.part,
                    "of": self.of,
                    "start": self.start,
                    "end": self.end,
                    "pred_text": self.pred_text,
                    "time": round(self.time, 6),
                    "attempts": self.attempts,
                    "endpoint": self.endpoint,
                }
            )
            + b"\n"
        )


#: sample id -> part index -> what came back
DoneParts = dict[str, dict[int, PartRecord]]


def scan_parts(path: Path, skip_ids: set[str] | frozenset[str] = frozenset()) -> DoneParts:
    """Parts already done, by sample (samples in `skip_ids`, already finished, are left out).
    A torn or unreadable line is ignored: that part is simply sent again."""
    done: DoneParts = {}
    if not path.exists():
        return done
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read parts file {path}: {exc.strerror}") from None
    for rec in read_parts(data):
        if rec.id not in skip_ids:
            done.setdefault(rec.id, {})[rec.part] = rec
    return done


def read_parts(data: bytes) -> Iterator[PartRecord]:
    """The part lines in `data`, in order; a torn or unreadable line is passed over."""
    for line in data.split(b"\n"):
        if not line.strip():
            continue
        try:
            obj = orjson.loads(line)
            yield PartRecord(
                id=str(obj["id"]),
                part=int(obj["part"]),
                of=int(obj["of"]),
                start=int(obj["start"]),
                end=int(obj["end"]),
                pred_text=str(obj["pred_text"]),
                time=float(obj["time"]),
                attempts=int(obj.get("attempts") or 1),
                endpoint=obj.get("endpoint"),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            continue


class PartWriter:
    """Appends part lines to the side file from one task, as the results writer does: one
    line per part, flushed as it comes (a killed run tears at most the last line, which the
    scan ignores). The file is created only when a first part comes back, so short-form
    runs leave none."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.queue: asyncio.Queue[PartRecord | None] = asyncio.Queue()
        self.written = 0

    def put(self, record: PartRecord) -> None:
        self.queue.put_nowait(record)

    def close(self) -> None:
        self.queue.put_nowait(None)

    async def run(self) -> None:
        import aiofiles

        item = await self.queue.get()
        if item is None:
            return
        async with aiofiles.open(self.path, "ab") as fh:
            done = False
            while not done:
                assert item is not None
                batch = [item.to_line()]
                while not self.queue.empty():
                    nxt = self.queue.get_nowait()
                    if nxt is None:
                        done = True
                        break
                    batch.append(nxt.to_line())
                await fh.write(b"".join(batch))
                await fh.flush()
                self.written += len(batch)
                if not done:
                    item = await self.queue.get()
                    done = item is None


def stitch(texts: list[str]) -> str:
    """Parts' transcripts in order as one: stripped, empty ones skipped, joined by one space
    (the leaderboard's rule for joining chunk predictions)."""
    return " ".join(t.strip() for t in texts if t and t.strip())
