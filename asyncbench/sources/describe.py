"""A dataset reference resolved once: what it is, how big it is, and which version of it.

A run's numbers are only as good as its denominator and its identity. Before this module
each consumer worked part of that out again: the runner took the size from the card's
`dataset_info` (absent from most hand-written cards, so a run interrupted at 128 of 448 rows
reported 128/128, 100 %), scoring re-guessed it from the file, and nothing recorded which
version of the data was read, so a run resumed after the data changed kept the old answers
silently. Here a reference (hub id, local folder, viewer, chunked set) is resolved once into
one frozen `DatasetDescription`; run, batch, estimate, score, report and verify read that
description (the run stores it in the results sidecar) and none derives it again.

Rows come from the cheapest source that is exact: the parquet footers of the split's files
(a footer read per file, no data), else the card's `dataset_info`, else the viewer's size or
the chunk table. None only when nothing says; then progress shows `of ?`, never 100 %.

Identity: a hub id by its repository id and the revision the Hub resolves (when it can be
asked: offline it is None and said so); a local folder by a fingerprint of the split's files
— each file's name relative to the folder, its size, and a hash of its first and last MiB
(which hold a parquet file's footer with every row group's offsets and statistics; smaller
files are hashed whole). Cheap at any size, and a file replaced, added or removed, or a clip
re-encoded, changes it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: bytes hashed from each end of a data file for its fingerprint
EDGE_BYTES = 1 << 20
#: what identifies the fingerprint's recipe, so a later recipe never compares unequal falsely
FINGERPRINT_SCHEME = "v1"


@dataclass(frozen=True, slots=True)
class DatasetDescription:
    """One dataset split as every stage sees it (see the module docstring)."""

    kind: str  # "local" | "hub" | "viewer" | "chunked"
    path: str  # as the user gave it (--dataset_path)
    config: str
    split: str
    repo_id: str | None = None  # hub and viewer sets
    revision: str | None = None  # the hub's commit, when resolved
    fingerprint: str | None = None  # local files (see `fingerprint_files`)
    rows: int | None = None  # rows in the split; None: nothing says
    rows_from: str | None = None  # "parquet footers" | "card dataset_info" | "viewer" | ...
    audio_seconds: float | None = None  # when an `audio_length_s` column or the card says
    language: str = "en"
    scoring: str = "english"  # "english" | "multilingual"
    chunking: str | None = None  # "chunked" for a set whose rows are chunks of recordings

    def sidecar(self) -> dict[str, Any]:
        """The `dataset` entry of the results sidecar (the report renders these keys)."""
        return {
            "kind": self.kind,
            "repo_id": self.repo_id,
            "revision": self.revision,
            "fingerprint": self.fingerprint,
            "rows": self.rows,
            "audio_seconds": self.audio_seconds,
            "config": self.config,
            "split": self.split,
            "path": self.path,
        }


def scoring_family(language: str) -> str:
    """English is scored with the board's English scheme, every other language with its
    multilingual one (`scoring.language`)."""
    return "english" if language.split("-")[0].split("_")[0].lower() == "en" else "multilingual"


def fingerprint_files(folder: Path, files: list[str], extra: Iterable[str] = ()) -> str | None:
    """A short hash of the split's files (names relative to `folder`, sizes, first and last
    MiB of each) and of `extra` lines (a chunked set's audio files, by name and size); None
    when there are no files or one cannot be read."""
    if not files:
        return None
    h = hashlib.sha256(FINGERPRINT_SCHEME.encode())
    for line in extra:
        h.update(f"\0{line}".encode())
    for name in sorted(files):
        path = Path(name)
        try:
            rel = str(path.resolve().relative_to(folder.resolve()))
        except ValueError:
            rel = path.name
        try:
            with path.open("rb") as f:
                size = os.fstat(f.fileno()).st_size
                h.update(f"\0{rel}\0{size}\0".encode())
                if size <= 2 * EDGE_BYTES:
                    h.update(f.read())
                else:
                    h.update(f.read(EDGE_BYTES))
                    f.seek(size - EDGE_BYTES)
                    h.update(f.read(EDGE_BYTES))
        except OSError:
            return None
    return f"{FINGERPRINT_SCHEME}:{h.hexdigest()[:16]}"


def parquet_rows(files: list[str]) -> int | None:
    """Rows in these parquet files from their footers alone, or None if one is not parquet or
    cannot be read (the run's own checks name that file)."""
    if not files or not all(f.endswith(".parquet") for f in files):
        return None
    import pyarrow.parquet as pq

    total = 0
    try:
        for name in files:
            total += pq.ParquetFile(name).metadata.num_rows
    except Exception:
        return None
    return total


def parquet_seconds(files: list[str]) -> float | None:
    """The sum of the `audio_length_s` column when every file has one (a float column: reads
    kilobytes, not the audio). Through `ParquetFile`, not `read_table` or `pyarrow.compute`:
    those import `pyarrow.dataset` and pandas, a quarter of a second of CPU at every start."""
    if not files or not all(f.endswith(".parquet") for f in files):
        return None
    import pyarrow.parquet as pq

    total = 0.0
    try:
        for name in files:
            with pq.ParquetFile(name) as pf:
                if "audio_length_s" not in pf.schema_arrow.names:
                    return None
                column = pf.read(columns=["audio_length_s"], use_threads=False).column(0)
                total += sum(v for v in column.to_pylist() if v is not None)
    except Exception:
        return None
    return round(total, 3)


def _chunk_files(ds: Any) -> list[str]:
    """A chunked set's audio files as `name size` lines (a stat each, no reads: the audio of
    a long-form set weighs gigabytes; the per-line digests catch a clip changed in place)."""
    lines = []
    for chunk in ds.chunks:
        try:
            size = (ds.audio_dir / chunk.file_name).stat().st_size
        except OSError:
            size = -1
        lines.append(f"{chunk.file_name} {size}")
    return lines


def _card_rows(folder: Path, config: str, split: str) -> int | None:
    from asyncbench.sources.parquet_split import _card_info, read_card

    card = read_card(folder)
    if card is None:
        return None
    info = _card_info(card, config).splits
    return info[split].num_examples if info and split in info else None


def split_data_files(folder: Path, config: str, split: str) -> list[str]:
    """The split's files: from the card when it lists them plainly, else as `datasets`
    resolves them; [] when neither can say (the run's own checks report why)."""
    from asyncbench.sources.parquet_split import data_files, split_files

    plain = split_files(folder, config, split)
    if plain is not None:
        return plain
    try:
        return data_files(str(folder), config, split)
    except Exception:
        return []


def hub_revision(repo_id: str) -> str | None:
    """The commit the Hub resolves for `repo_id` now, or None offline (HF_HUB_OFFLINE, no
    network, no such repo): the sidecar then says the revision is unknown."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip() not in ("", "0"):
        return None
    try:
        from huggingface_hub import HfApi

        return HfApi().dataset_info(repo_id, timeout=5).sha  # type: ignore[no-any-return]
    except Exception:
        return None


def describe(
    dataset_path: str,
    config: str,
    split: str,
    *,
    read_path: str | None = None,
    language: str = "en",
    use_url: bool = False,
    ds: Any = None,
    resolve_revision: bool = True,
) -> DatasetDescription:
    """Resolve a dataset reference once (see the module docstring).

    `read_path` is where the files are read from (a `--data_root` copy of a hub id), `ds` the
    opened split when the caller has it (a chunked set's row count, the card `datasets`
    read). `resolve_revision=False` skips asking the Hub (tests, estimates)."""
    read = read_path or dataset_path
    folder = Path(read).expanduser()
    local = folder.is_dir()
    rows: int | None = None
    rows_from: str | None = None
    seconds: float | None = None
    fingerprint: str | None = None
    chunking = None
    from asyncbench.sources.chunked import ChunkedSplit

    if isinstance(ds, ChunkedSplit):
        chunking = "chunked"
        rows, rows_from = ds.num_rows, "chunk table"
    if local and not use_url:
        files = split_data_files(folder, config, split)
        if chunking and not files:  # the board's chunk table sits in the `default` config
            files = split_data_files(folder, "default", split)
        extra = _chunk_files(ds) if chunking else ()
        fingerprint = fingerprint_files(folder, files, extra)
        if rows is None and (rows := parquet_rows(files)) is not None:
            rows_from = "parquet footers"
        seconds = parquet_seconds(files) if chunking is None else None
        if rows is None and (rows := _card_rows(folder, config, split)) is not None:
            rows_from = "card dataset_info"
    if rows is None and ds is not None:
        from asyncbench.sources.dataset import known_size

        if (rows := known_size(ds, split)) is not None:
            rows_from = "card dataset_info"
    on_hub = not Path(dataset_path).expanduser().is_dir()
    kind = "viewer" if use_url else "chunked" if chunking else "hub" if on_hub else "local"
    return DatasetDescription(
        kind=kind,
        path=dataset_path,
        config=config,
        split=split,
        repo_id=dataset_path if on_hub else None,
        revision=hub_revision(dataset_path) if on_hub and resolve_revision else None,
        fingerprint=fingerprint,
        rows=rows,
        rows_from=rows_from,
        audio_seconds=seconds,
        language=language,
        scoring=scoring_family(language),
        chunking=chunking,
    )


def describe_run(cfg: Any, ds: Any = None) -> DatasetDescription:
    """`describe` for a run's configuration (`runs.runner.RunConfig`, duck-typed: sources
    import nothing above them): its dataset, config, split, local copy and language."""
    from asyncbench.sources.suites import local_copy

    read = local_copy(cfg.dataset_path, cfg.data_root) if not cfg.use_url else None
    return describe(
        cfg.dataset_path,
        cfg.dataset,
        cfg.split,
        read_path=read,
        language=cfg.language or "en",
        use_url=cfg.use_url,
        ds=ds,
    )
