"""Chunked sets: long recordings cut into chunks, each sent on its own, scored per recording.

The board's Earnings22 (`ArtificialAnalysis/Earnings22-Cleaned-AA-chunked`, 6 calls in 341
chunks) is laid out unlike the ESB sets (`reference/PROTOCOLS-2026.md` C2):

- a metadata table (`parent_id`, `chunk_index`, `file_name`, ...) with no audio column and no
  reference, loaded without a config name (`--dataset` only names the results file);
- the chunk audio in the repo's `audio/` folder (`huggingface_hub.snapshot_download` with
  `allow_patterns=["audio/*"]`; for a local folder, `<folder>/audio/<file_name>`);
- each chunk's reference is the whole call's transcript, taken from the parent dataset
  (`ArtificialAnalysis/Earnings22-Cleaned-AA`, matched on `id`, text by the board's
  `get_text` order, which finds `transcript` there).

A split is chunked when its table has `parent_id` and `chunk_index` columns, whatever its
path or folder name, or when `--parent_dataset_path` says so; a local copy therefore behaves
like the hub id. The metadata table is small (one row per chunk), so it is read whole before
the first request: a missing column, a parent without a transcript or a chunk file missing
from `audio/` is one clear line and exit 2, not 341 failed samples. The audio of each chunk
is read only when its turn comes (in the engine's reader thread).

Each results line carries `parent_id` and `chunk_index`; scoring joins the chunk
predictions per recording (`asyncbench.scoring.resultfiles`). The resume key of a chunk is
its `id` column if the table has one, else `<parent_id>/<chunk_index>`.

UNCONFIRMED (the hub card does not document the chunked table): its other columns, whether
it has a `duration`; the parent split being named like the chunked one (`test`). Both are
handled defensively: durations come from decoding when absent, and a parent split that does
not exist is named in the error.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asyncbench.core.errors import ConfigError
from asyncbench.sources.dataset import Sample, SourceStats, digest, in_shard

CHUNK_COLUMNS = ("parent_id", "chunk_index")
#: the board's `get_text`: the first of these columns is a dataset's reference
TEXT_COLUMNS = ("text", "sentence", "normalized_text", "transcript", "transcription")
#: chunked sets on the hub and the datasets that hold their recordings' transcripts
KNOWN_PARENTS = {
    "ArtificialAnalysis/Earnings22-Cleaned-AA-chunked": "ArtificialAnalysis/Earnings22-Cleaned-AA",
}
DURATION_COLUMNS = ("duration", "audio_length_s")
BATCH = 16


@dataclass(frozen=True, slots=True)
class Chunk:
    id: str
    parent_id: str
    chunk_index: int
    file_name: str
    duration: float | None


@dataclass(slots=True)
class ChunkedSplit:
    """A chunked split, checked and ready: chunks in table order, references by parent."""

    source: str  # what the metadata table was read from (hub id or folder)
    audio_dir: Path
    chunks: list[Chunk]
    references: dict[str, str]
    stats: dict[str, int] = field(default_factory=dict)

    @property
    def num_rows(self) -> int:
        return len(self.chunks)

    def recordings(self, max_samples: int | None = None) -> int:
        """Recordings the first `max_samples` chunks (all: None) belong to: what the scorer
        counts as samples once it has joined each recording's chunks."""
        chosen = self.chunks if max_samples is None else self.chunks[:max_samples]
        return len({chunk.parent_id for chunk in chosen})

    def iter_samples(
        self,
        *,
        skip_ids: set[str] | frozenset[str] = frozenset(),
        max_samples: int | None = None,
        stats: SourceStats | None = None,
        shard: tuple[int, int] | None = None,
    ) -> Iterator[list[Sample]]:
        """Batches of chunk samples in table order, as `dataset.iter_samples` yields rows:
        `max_samples` counts chunks from the start (finished ones included), `shard` keeps
        the chunks whose id hashes to slice i of n, finished ids are skipped. A chunk whose
        file cannot be read any more is yielded without audio and with the reason, so it
        fails on its own (kind `missing_audio`) and the run goes on."""
        stats = stats if stats is not None else SourceStats()
        chosen = self.chunks if max_samples is None else self.chunks[:max_samples]
        out: list[Sample] = []
        for index, chunk in enumerate(chosen):
            stats.rows += 1
            if shard is not None and not in_shard(chunk.id, *shard):
                continue
            if chunk.id in skip_ids:
                stats.skipped_done += 1
                continue
            meta: dict[str, Any] = {"parent_id": chunk.parent_id, "chunk_index": chunk.chunk_index}
            path = self.audio_dir / chunk.file_name
            try:
                audio: bytes | None = path.read_bytes()
            except OSError as exc:
                audio = None
                meta["audio_error"] = f"cannot read {path}: {exc.strerror or exc}"
            out.append(
                Sample(
                    id=chunk.id,
                    index=index,
                    reference=self.references[chunk.parent_id],
                    duration=chunk.duration,
                    audio=audio,
                    meta=meta,
                    audio_sha=digest(audio),
                    ref_sha=digest(self.references[chunk.parent_id]),
                )
            )
            if len(out) >= BATCH:
                stats.yielded += len(out)
                yield out
                out = []
        if out:
            stats.yielded += len(out)
            yield out


# --------------------------------------------------------------------------- opening


def is_chunked(columns: Sequence[str]) -> bool:
    """A table with either chunk column is meant to be chunked (a missing one is an error)."""
    return any(c in columns for c in CHUNK_COLUMNS)


def known_parent(dataset_path: str) -> str | None:
    return KNOWN_PARENTS.get(dataset_path.rstrip("/"))


def _looks_local(path: str) -> bool:
    from asyncbench.sources import dataset

    return dataset._looks_local(path)


def _config_candidates(
    read_path: str, config: str, hinted: bool, revision: str | None = None
) -> list[str | None]:
    """The config to read the table with: the one named if the dataset has it; else, for a
    set that may be chunked, its only (default) config, as the board loads it without one."""
    import datasets

    try:
        configs = datasets.get_dataset_config_names(read_path, revision=revision)
    except Exception:
        return [None, config] if hinted else [config]
    if config in configs:
        return [config]
    if hinted or configs == ["default"]:
        return [None] if len(configs) <= 1 else [config]
    return [config]


def peek_chunked(
    read_path: str, config: str, split: str, *, hinted: bool, revision: str | None = None
) -> Any | None:
    """The split's streaming table when it is chunked, else None (a plain split, or one that
    cannot be opened here: `dataset.open_split` then names what is wrong). A hub id is read
    at `revision` (None: its current one), as `open_split` reads it."""
    import datasets

    local = _looks_local(read_path)
    source = str(Path(read_path).expanduser()) if local else read_path
    if not local:
        from asyncbench.sources.locate import check_hub_reachable

        check_hub_reachable(read_path)
    if local and not Path(source).is_dir():
        if hinted:
            raise ConfigError(
                f"dataset folder {read_path!r} does not exist; pass a hub id or a folder with "
                "the hub layout (for a chunked set: its table and its audio/ folder)"
            )
        return None
    failure: Exception | None = None
    for candidate in _config_candidates(source, config, hinted, None if local else revision):
        try:
            ds = datasets.load_dataset(
                source, candidate, split=split, streaming=True, revision=None if local else revision
            )
        except Exception as exc:
            failure = exc
            continue
        columns = list(ds.features) if ds.features is not None else _first_row_columns(ds)
        return ds if is_chunked(columns) else None
    if hinted and failure is not None:  # a set expected to be chunked that cannot be read
        raise ConfigError(
            f"cannot open the chunk metadata of {read_path} split {split!r}: "
            f"{type(failure).__name__}: {failure}; check the hub id or folder, the network "
            "and HF_TOKEN"
        )
    return None


def _first_row_columns(ds: Any) -> list[str]:
    try:
        return list(next(iter(ds.take(1))))
    except Exception:
        return []


def open_chunked(
    table: Any,
    *,
    read_path: str,
    dataset_path: str,
    split: str,
    parent_read_path: str | None,
    parent_path: str | None,
) -> ChunkedSplit:
    """Read and check the whole chunk table, find the audio, fetch the references."""
    chunks = _read_chunks(table, dataset_path, split)
    audio_dir = _audio_dir(read_path)
    _check_audio(audio_dir, chunks, dataset_path)
    parent_shown = parent_path or parent_read_path
    if parent_read_path is None:
        raise ConfigError(
            f"{dataset_path} {split} is a chunked set (columns parent_id, chunk_index) but no "
            "parent dataset is known for its references; pass --parent_dataset_path with the "
            "dataset whose `transcript` holds each recording's text"
        )
    references = _parent_references(parent_read_path, str(parent_shown), split)
    missing: dict[str, int] = {}
    for c in chunks:
        if c.parent_id not in references:
            missing[c.parent_id] = missing.get(c.parent_id, 0) + 1
    if missing:
        first, n = next(iter(missing.items()))
        more = f" (and {len(missing) - 1} more parent ids)" if len(missing) > 1 else ""
        raise ConfigError(
            f"parent id {first!r} of {n} chunk(s) of {dataset_path} has no transcript in "
            f"{parent_shown}{more}; check --parent_dataset_path"
        )
    return ChunkedSplit(read_path, audio_dir, chunks, references)


def _read_chunks(table: Any, dataset_path: str, split: str) -> list[Chunk]:
    columns = list(table.features) if table.features is not None else _first_row_columns(table)
    need = [*CHUNK_COLUMNS, "file_name"]
    absent = [c for c in need if c not in columns]
    if absent:
        raise ConfigError(
            f"chunk metadata of {dataset_path} {split} has no "
            f"{' or '.join(repr(a) for a in absent)} column; a chunked set needs "
            f"{', '.join(need)} (columns present: {', '.join(columns)})"
        )
    keep = [c for c in (*need, "id", *DURATION_COLUMNS) if c in columns]
    duration_col = next((c for c in DURATION_COLUMNS if c in columns), None)
    chunks: list[Chunk] = []
    seen: set[str] = set()
    for row in table.select_columns(keep):
        index = row["chunk_index"]
        if isinstance(index, bool) or not isinstance(index, int) or row["parent_id"] is None:
            raise ConfigError(
                f"chunk metadata of {dataset_path} row {len(chunks)}: parent_id "
                f"{row['parent_id']!r} and chunk_index {index!r} must be an id and an integer"
            )
        parent = str(row["parent_id"])
        cid = str(row["id"]) if row.get("id") is not None else f"{parent}/{index}"
        if cid in seen:
            raise ConfigError(f"chunk metadata of {dataset_path} has two rows for chunk {cid!r}")
        seen.add(cid)
        length = row.get(duration_col) if duration_col else None
        chunks.append(
            Chunk(cid, parent, index, str(row["file_name"]), float(length) if length else None)
        )
    if not chunks:
        raise ConfigError(f"chunk metadata of {dataset_path} {split} has no rows")
    return chunks


def _audio_dir(read_path: str) -> Path:
    """`<folder>/audio` for a local copy; the hub repo's `audio/` folder, downloaded once."""
    if _looks_local(read_path):
        return Path(read_path).expanduser() / "audio"
    try:
        from huggingface_hub import snapshot_download

        root = snapshot_download(read_path, repo_type="dataset", allow_patterns=["audio/*"])
    except Exception as exc:
        raise ConfigError(
            f"cannot download the audio/ folder of {read_path}: {type(exc).__name__}: {exc}; "
            "check the network and HF_TOKEN, or pass a local copy"
        ) from None
    return Path(root) / "audio"


def _check_audio(audio_dir: Path, chunks: Sequence[Chunk], dataset_path: str) -> None:
    if not audio_dir.is_dir():
        raise ConfigError(
            f"{dataset_path} has no audio/ folder (looked for {audio_dir}); a chunked set "
            "keeps its chunk audio there, named by the table's file_name"
        )
    missing = [c.file_name for c in chunks if not (audio_dir / c.file_name).is_file()]
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise ConfigError(
            f"audio file {missing[0]!r}{more} of {dataset_path} missing from {audio_dir}"
        )


def _parent_references(read_path: str, shown: str, split: str) -> dict[str, str]:
    """`id` → the board's reference text of each recording of the parent dataset."""
    import datasets

    local = _looks_local(read_path)
    source = str(Path(read_path).expanduser()) if local else read_path
    if local and not Path(source).is_dir():
        raise ConfigError(
            f"parent dataset folder {shown!r} does not exist (tried {source}); pass "
            "--parent_dataset_path with a hub id or a local folder"
        )
    try:
        ds = datasets.load_dataset(source, split=split, streaming=True)
    except Exception as exc:
        raise ConfigError(
            f"cannot open the parent dataset {shown} split {split!r}: {type(exc).__name__}: {exc}"
        ) from None
    columns = list(ds.features) if ds.features is not None else _first_row_columns(ds)
    text = next((c for c in TEXT_COLUMNS if c in columns), None)
    if "id" not in columns or text is None:
        raise ConfigError(
            f"parent dataset {shown} needs an 'id' column and a transcript column (one of "
            f"{', '.join(TEXT_COLUMNS)}); columns present: {', '.join(columns)}"
        )
    out: dict[str, str] = {}
    for row in ds.select_columns(["id", text]):
        if row["id"] is not None and row[text]:
            out[str(row["id"])] = row[text]
    return out


def open_source(
    read_path: str,
    dataset_path: str,
    config: str,
    split: str,
    *,
    parent_path: str | None = None,
    parent_read_path: str | None = None,
    parent_given: bool = False,
    revision: str | None = None,
) -> Any:
    """A plain split (`dataset.open_split`) or a `ChunkedSplit`, decided by the table.

    `read_path` is where the data is read (a local copy may stand in for a hub id);
    `dataset_path` is the name the results file and messages use. A set known or said to be
    chunked (a `parent_path`: `--parent_dataset_path` when `parent_given`, else
    `KNOWN_PARENTS`) is looked at first; any other split is opened as usual and only looked
    at again when that fails, so plain splits cost no extra open."""
    from asyncbench.sources.dataset import open_split

    parent = parent_path or known_parent(dataset_path)
    if parent is not None:
        table = peek_chunked(read_path, config, split, hinted=True, revision=revision)
        if table is None:
            if parent_given:
                raise ConfigError(
                    f"{dataset_path} {config}/{split} should be a chunked set (references from "
                    f"{parent}) but has no {' or '.join(CHUNK_COLUMNS)} column; drop "
                    "--parent_dataset_path or point --dataset_path at the chunk metadata"
                )
            return open_split(read_path, config, split, revision)
    else:
        try:
            return open_split(read_path, config, split, revision)
        except ConfigError:
            table = peek_chunked(read_path, config, split, hinted=False, revision=revision)
            if table is None:
                raise
    return open_chunked(
        table,
        read_path=read_path,
        dataset_path=dataset_path,
        split=split,
        parent_read_path=parent_read_path or parent,
        parent_path=parent,
    )
