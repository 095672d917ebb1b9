"""Which run a results file belongs to: a small sidecar, `<results stem>.meta.json`.

The results file name encodes model, dataset path, config and split, but not uniquely: `/`
becomes `-` (`aldea/x/y` and `aldea/x-y` share a name), and a relative `--dataset_path esb`
names a different folder from each working directory. Resuming into a file another run wrote
would mix two models' or two datasets' answers in one file and score them as one — silently,
and with the other run's samples skipped as "done". So a run records who it is beside the
results file before its first request, and a later run into the same file must be the same
model, dataset (folders compared by their absolute path), config and split, or it stops
with exit code 2 before any request, naming both files and what to do.

The sidecar also records the run's language (`"language": "de"`), which scoring reads to pick
the normaliser; the file names stay the leaderboard's. A run in another language into the
same file is refused like another model; a sidecar from before languages were recorded has
none and is taken as agreeing. The hub revision a run read its dataset at (`"revision"`,
`--revision` or a suite entry's pinned one) is recorded and checked the same way: answers
read from two versions of a dataset are not one run.

A sidecar rather than a field in every line: the check costs one small read whatever the size
of the results file, and lines keep the leaderboard's shape. A results file without a sidecar
(written before sidecars existed) is adopted by the first run that resumes it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from asyncbench.core.errors import ConfigError

SUFFIX = ".meta.json"
FORMAT = "asyncbench-results/1"
#: what must match, in the order differences are reported
FIELDS = ("model_name", "dataset_source", "config", "split")
_LABEL = {
    "model_name": "model",
    "dataset_source": "dataset",
    "config": "config",
    "split": "split",
    "language": "language",
    "revision": "revision",
}
#: recorded only when known, and compared only when both sidecars have them
OPTIONAL = ("language", "revision")


def manifest_path(results: Path) -> Path:
    """`results/X.jsonl` → `results/X.meta.json` (not `*.jsonl`, so scoring ignores it)."""
    return results.with_name(results.stem + SUFFIX)


def dataset_source(dataset_path: str) -> str:
    """A local folder by its absolute path (what the relative name meant here), else the hub id."""
    folder = Path(dataset_path).expanduser()
    return str(folder.resolve()) if folder.is_dir() else dataset_path


def identity(
    model_name: str,
    dataset_path: str,
    config: str,
    split: str,
    *,
    language: str | None = None,
    revision: str | None = None,
) -> dict[str, str]:
    ident = {
        "model_name": model_name,
        "dataset_source": dataset_source(dataset_path),
        "config": config,
        "split": split,
    }
    if language is not None:
        ident["language"] = language
    if revision is not None:
        ident["revision"] = revision
    return ident


def check(results: Path, ours: dict[str, str]) -> bool:
    """Refuse (ConfigError) a results file with lines that another run's sidecar claims.

    Returns True when the file has lines but no sidecar (a file from before sidecars)."""
    try:
        has_lines = results.stat().st_size > 0
    except OSError:
        return False
    if not has_lines:
        return False
    meta = manifest_path(results)
    try:
        theirs: Any = json.loads(meta.read_text())
    except FileNotFoundError:
        return True
    except (OSError, ValueError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not valid JSON"
        raise ConfigError(
            f"cannot read {meta} ({why}), so {results} cannot be checked to belong to this run; "
            f"delete {meta.name} if the results file is this run's, or pass another --results_dir"
        ) from None
    if not isinstance(theirs, dict):
        theirs = {}
    differ = [f for f in FIELDS if theirs.get(f) != ours[f]]
    differ += [f for f in OPTIONAL if f in ours and theirs.get(f) not in (None, ours[f])]
    if differ:
        was = ", ".join(f"{_LABEL[f]} {theirs.get(f)!r}" for f in differ)
        now = ", ".join(f"{_LABEL[f]} {ours[f]!r}" for f in differ)
        raise ConfigError(
            f"results file {results} belongs to another run ({was}, says {meta.name}), "
            f"not to this one ({now}); pass another --results_dir, or move both files away "
            "to start afresh"
        )
    return False


def write(results: Path, ours: dict[str, str]) -> None:
    """Record this run's identity beside the results file (atomically: never half-written)."""
    meta = manifest_path(results)
    tmp = meta.with_name(meta.name + ".tmp")
    tmp.write_text(json.dumps({"format": FORMAT, **ours}, indent=2) + "\n")
    os.replace(tmp, meta)
