"""`--revalidate`: redo exactly the samples whose audio or reference changed since they ran.

A dataset revised under the same ids (a clip re-cut, a reference corrected) makes a resumed
run's old answers wrong without a sign: their ids are "done". Every results line carries short
digests of the clip's encoded bytes and of its reference (`audio_sha`, `ref_sha`); this reads
the split once, compares, and removes from the results file the lines whose digests differ,
whose id the split no longer has, or that carry no digest to compare (written before digests
existed), so the resume that follows sends exactly those samples again. The file is rewritten
to a temporary name and renamed over the original, as the pre-scan does: a crash leaves the
old file or the new one.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import orjson

from asyncbench.core.errors import ConfigError

Digests = tuple[str | None, str | None]  # (audio_sha, ref_sha)


@dataclass(frozen=True, slots=True)
class Revalidation:
    checked: int  # lines compared
    changed: int  # digests differ
    gone: int  # id no longer in the split
    unverifiable: int  # a line without digests

    @property
    def redo(self) -> int:
        return self.changed + self.gone + self.unverifiable


def current_digests(batches: Iterable[list]) -> dict[str, Digests]:  # type: ignore[type-arg]
    """id → (audio digest, reference digest) of every sample the split yields now."""
    return {s.id: (s.audio_sha, s.ref_sha) for batch in batches for s in batch}


def _differs(line: Mapping[str, object], now: Digests) -> bool | None:
    """True when a digest the line has differs from now's; None when it has none."""
    audio, ref = line.get("audio_sha"), line.get("ref_sha")
    if audio is None and ref is None:
        return None
    return (audio is not None and now[0] is not None and audio != now[0]) or (
        ref is not None and ref != now[1]
    )


def revalidate(path: Path, now: Mapping[str, Digests]) -> Revalidation:
    """Remove from `path` the lines of samples that changed (see the module docstring)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Revalidation(0, 0, 0, 0)
    kept: list[bytes] = []
    checked = changed = gone = unverifiable = 0
    for line in raw.splitlines(keepends=True):
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            kept.append(line)  # the pre-scan repairs or reports it
            continue
        if not isinstance(obj, dict) or "id" not in obj:
            kept.append(line)
            continue
        checked += 1
        sid = str(obj["id"])
        if sid not in now:
            gone += 1
            continue
        differs = _differs(obj, now[sid])
        if differs is None:
            unverifiable += 1
            continue
        if differs:
            changed += 1
            continue
        kept.append(line)
    if checked and len(kept) != len(raw.splitlines()):
        tmp = path.with_name(path.name + ".revalidate.tmp")
        try:
            with tmp.open("wb") as f:
                f.writelines(kept)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            raise ConfigError(
                f"cannot rewrite {path} for --revalidate: {exc.strerror}; free some space and rerun"
            ) from None
    return Revalidation(checked, changed, gone, unverifiable)


def say(path: Path, result: Revalidation, what_changed: str | None) -> None:
    """One line on stderr: what --revalidate found and what will be redone."""
    why = f" ({what_changed})" if what_changed else ""
    bits = [f"{result.changed} changed (audio or reference)"]
    if result.gone:
        bits.append(f"{result.gone} no longer in the dataset")
    if result.unverifiable:
        bits.append(f"{result.unverifiable} without digests to compare")
    print(
        f"revalidate: {result.checked} samples of {path.name} checked against the dataset{why}: "
        f"{', '.join(bits)}; {result.redo} will be redone",
        file=sys.stderr,
    )
