"""Runs found by their sidecars, not by globbing: what `score`, `compare`, `report` and
`verify` read from a results folder.

A results folder collects more than one model's runs: sweep levels (a `sweep.json` folder
holds the same samples run at each concurrency), shards, runs of the same model on another
copy of the data. Globbing `*.jsonl` and grouping by file name merged those into one model's
table, so a 10-sample sweep level sat beside the 60-sample run as another row of the same
dataset and moved the composite. Here every results file is read with its sidecar
(`<stem>.meta.json`, written by the run: `results/manifest.py`), and files are grouped into
runs: the shard files of one split are one run; every other file is a run of its own.

- Files inside a sweep's folder (a folder with `sweep.json`, or below one) are sweep levels:
  they are left out of the tables (and said to be) unless the folder passed is that sweep.
- When one model has more than one run of the same dataset, `--model` cannot pick silently:
  the candidates are listed and the user names one with `--run PATH`.
- A file without a sidecar is read as the board's format (its name says model and dataset;
  coverage is counted from its own lines) and said to be so.
- The denominator comes from the sidecar: the `expected_samples` the run recorded, else the
  dataset's `rows` (capped by `max_samples`); never the number of lines the file happens to
  hold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asyncbench.core.errors import ConfigError
from asyncbench.scoring.language import read_meta

SWEEP_MARKER = "sweep.json"
#: sidecar keys carried into `score --json` and the report's run card
PROVENANCE_KEYS = (
    "format",
    "tool_version",
    "scoring",
    "dataset",
    "provider",
    "model_name",
    "endpoints",
    "language",
    "options",
    "arrival",
    "concurrency",
    "command",
    "started_at",
    "ended_at",
    "provider_model_version",
    "expected_samples",
)


@dataclass(frozen=True, slots=True)
class Run:
    """One run's results: a file, or the shard files of one split; its sidecar (or {})."""

    files: tuple[Path, ...]
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def has_sidecar(self) -> bool:
        return bool(self.meta)

    @property
    def label(self) -> str:
        """The run's path for messages (control characters shown as `?`)."""
        first = printable(self.files[0])
        return first if len(self.files) == 1 else f"{first} (+ shards)"

    def expected_samples(self) -> int | None:
        """The samples the run should end with, as its sidecar says (see module docstring)."""
        return expected_samples(self.meta)

    @property
    def records_size(self) -> bool:
        """Whether the sidecar is of a version that records the dataset's size (format 2 and
        later have `dataset`); without one, coverage is counted from the file's own lines."""
        return isinstance(self.meta.get("dataset"), dict)

    @property
    def size_known(self) -> bool:
        """False only when a sidecar that records sizes says none: coverage `of ?`."""
        return not self.records_size or self.expected_samples() is not None

    def provenance(self) -> dict[str, Any] | None:
        if not self.meta:
            return None
        return {k: self.meta[k] for k in PROVENANCE_KEYS if k in self.meta}


def printable(text: object) -> str:
    """Outside text (paths, names from file names) for a message: control characters `?`."""
    return "".join(c if c.isprintable() else "?" for c in str(text))


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def expected_samples(meta: Mapping[str, Any]) -> int | None:
    """The denominator a sidecar gives: its `expected_samples`, else its dataset's `rows`
    capped by `max_samples`. A shard's files are scored as their whole split (the shards of
    one split are one run), so a shard's denominator is the split's: a run missing a shard
    shows the samples it lacks instead of 100 %. None when the sidecar does not say."""
    options = meta.get("options") if isinstance(meta.get("options"), dict) else {}
    if (given := _int(meta.get("expected_samples"))) is not None:
        return given
    dataset = meta.get("dataset")
    rows = _int(dataset.get("rows")) if isinstance(dataset, dict) else None
    if rows is None:
        return None
    cap = _int(options.get("max_samples")) if isinstance(options, dict) else None
    return min(rows, cap) if cap else rows


def in_sweep(path: Path, root: Path) -> bool:
    """Whether `path` lies in a sweep's folder below `root` (root itself may be a sweep)."""
    folder = path.parent
    while folder != root and root in folder.parents:
        if (folder / SWEEP_MARKER).is_file():
            return True
        folder = folder.parent
    return False


def runs_of(groups: Sequence[tuple[Path, ...]]) -> list[Run]:
    """Each group of files (`resultfiles.group_shards`) as a run with its sidecar."""
    return [Run(group, read_meta(group[0])) for group in groups]


def without_sweeps(root: Path, groups: Sequence[tuple[Path, ...]]) -> tuple[list, list[str]]:
    """The groups that are not sweep levels, and one note per sweep folder left out."""
    kept: list[tuple[Path, ...]] = []
    left: dict[Path, int] = {}
    for group in groups:
        if in_sweep(group[0], root):
            folder = group[0].parent
            while not (folder / SWEEP_MARKER).is_file():
                folder = folder.parent
            left[folder] = left.get(folder, 0) + 1
        else:
            kept.append(group)
    notes = [
        f"{printable(folder)}: a sweep's {n} level file{'s' * (n != 1)} left out of the tables "
        "(score that folder itself to see them)"
        for folder, n in left.items()
    ]
    return kept, notes


def choose(runs: Sequence[Run], key_of, run: str | None) -> list[Run]:  # type: ignore[no-untyped-def]
    """At most one run per key (model, dataset): `run` (a path) picks among several; without
    it, several runs of one key are refused with the candidates listed."""
    if run is not None:
        wanted = Path(run).resolve()
        picked = [r for r in runs if any(f.resolve() == wanted for f in r.files)]
        if not picked:
            raise ConfigError(
                f"--run {printable(run)}: no results file of the runs found is that path"
            )
        keys = {key_of(r) for r in picked}
        return [r for r in runs if key_of(r) not in keys] + picked
    by_key: dict[Any, list[Run]] = {}
    for r in runs:
        by_key.setdefault(key_of(r), []).append(r)
    for key, same in by_key.items():
        if len(same) > 1:
            listed = "; ".join(r.label for r in same)
            raise ConfigError(
                f"{len(same)} runs of {printable(key[0])} on {printable(key[1])} found "
                f"({listed}); pass a folder "
                "that holds only one of them (score also takes --run PATH to choose one)"
            )
    return list(runs)
