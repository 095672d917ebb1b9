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

Since format 2 the sidecar is also the run's provenance (what made its numbers: tool version,
scoring family and normaliser version, the dataset's identity and size, provider, model,
endpoints with secrets removed, language, options, arrival and concurrency, the redacted
command line, start and end time; `runs/provenance.py` builds it), and resume checks the
dataset's identity by the same rule as the model's: a folder whose fingerprint or a hub set
whose revision changed since the file was written is refused, unless `--revalidate` asks to
redo exactly the samples whose audio or reference digest changed. A format-1 sidecar has no
dataset identity and is taken as agreeing (and upgraded by the run that resumes it).
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asyncbench.core.errors import ConfigError

SUFFIX = ".meta.json"
FORMAT = "asyncbench-results/2"
#: the formats this module reads (1: identity only, before provenance)
READABLE_FORMATS = ("asyncbench-results/1", FORMAT)
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


#: the dataset's identity fields, in the order a change is reported
DATASET_IDENTITY = ("fingerprint", "revision")


@dataclass(frozen=True, slots=True)
class Claim:
    """What `check` found beside a results file that may be resumed."""

    adopted: bool = False  # lines but no sidecar: a file from before sidecars
    dataset_changed: str | None = None  # "fingerprint 'v1:..' → 'v1:..'" when --revalidate


def read(results: Path) -> dict[str, Any] | None:
    """The sidecar of `results`, or None when there is none or it is not a JSON object."""
    try:
        data = json.loads(manifest_path(results).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def dataset_change(theirs: dict[str, Any], ours: dict[str, Any]) -> str | None:
    """How the dataset's identity differs between two sidecars ("fingerprint 'a' → 'b'"), or
    None when it agrees or either side cannot say (a format-1 sidecar, an offline hub)."""
    was, now = theirs.get("dataset"), ours.get("dataset")
    if not isinstance(was, dict) or not isinstance(now, dict):
        return None
    for key in DATASET_IDENTITY:
        a, b = was.get(key), now.get(key)
        if a is not None and b is not None and a != b:
            return f"{key} {a!r} → {b!r}"
    return None


def check(results: Path, ours: dict[str, Any], *, revalidate: bool = False) -> Claim:
    """Refuse (ConfigError) a results file with lines that another run's sidecar claims, or
    that was written from another version of the dataset (unless `revalidate`).

    One rule for every field of identity: model (and so provider), dataset, config, split,
    language, and the dataset's fingerprint or revision."""
    try:
        has_lines = results.stat().st_size > 0
    except OSError:
        return Claim()
    if not has_lines:
        return Claim()
    meta = manifest_path(results)
    try:
        theirs: Any = json.loads(meta.read_text())
    except FileNotFoundError:
        return Claim(adopted=True)
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
    changed = dataset_change(theirs, ours)
    if changed is not None and not revalidate:
        raise ConfigError(
            f"results file {results} was written from another version of the dataset "
            f"({changed}, says {meta.name}); pass another --results_dir to start afresh, or "
            "--revalidate to redo exactly the samples whose audio or reference changed"
        )
    return Claim(dataset_changed=changed)


def write(results: Path, ours: dict[str, Any]) -> None:
    """Record this run's identity beside the results file (atomically: never half-written)."""
    meta = manifest_path(results)
    tmp = meta.with_name(meta.name + ".tmp")
    body = {"format": FORMAT, **{k: v for k, v in ours.items() if k != "format"}}
    tmp.write_text(json.dumps(body, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, meta)


def finish(results: Path, **updates: Any) -> None:
    """Add what is known only at the end (`ended_at`, the dataset's rows once the viewer told
    them, `expected_samples`) to the sidecar; a sidecar that cannot be read or written is
    left as it is (the run's results are already safe)."""
    meta = read(results)
    if meta is None:
        return
    dataset = updates.pop("dataset", None)
    if isinstance(dataset, dict) and isinstance(meta.get("dataset"), dict):
        meta["dataset"] = {**meta["dataset"], **{k: v for k, v in dataset.items() if v is not None}}
    meta.update(updates)
    with contextlib.suppress(OSError):
        write(results, meta)
