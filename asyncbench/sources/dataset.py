"""Sample source: one split of a hub id or a local folder with the hub layout, streamed.

`datasets.load_dataset(path, config, split=..., streaming=True)` reads a hub id and a local
folder (README.md YAML `configs:` + parquet) through the same code, and streaming keeps memory
independent of the split's size. Audio stays encoded (`Audio(decode=False)`): decoding happens
later, off the event loop, only for samples that will really be sent.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asyncbench.core.errors import ConfigError
from asyncbench.sources.locate import check_hub_reachable, check_local_folder, looks_local

# `datasets` imports torch (seconds of CPU) for every streaming dataset when torch is
# installed, only to share an epoch counter with torch DataLoader workers, which asyncbench
# never uses; audio is decoded by torchcodec, which does not depend on this switch.
os.environ.setdefault("USE_TORCH", "0")

log = logging.getLogger("asyncbench")

IGNORE_REFERENCE = "ignore time segment in scoring"
BATCH = 64
#: where the transcript may be, in the leaderboard's order (`get_text` in its data_utils.py):
#: Common Voice says `sentence`, Earnings22 `transcript`; the first one present is used
TEXT_COLUMNS = ("text", "sentence", "normalized_text", "transcript", "transcription")
#: a reference lattice (slots of accepted spellings), which the board's OIWER scores against
#: (OAL@db339acb eval_utils `score_oiwer`: `reference_lists`); that Monsoon hi ships its lattice
#: in this column is UNCONFIRMED, so a split without it is scored against its text
LATTICE_COLUMN = "reference_lists"


def text_column(columns: Iterable[str]) -> str | None:
    """The column holding the reference text, or None when there is none."""
    present = set(columns)
    return next((c for c in TEXT_COLUMNS if c in present), None)


def text_of(row: Mapping[str, Any]) -> str:
    """A row's reference text, from the first text column it has."""
    column = text_column(row)
    value = row.get(column) if column else None
    return value if isinstance(value, str) else ""


@dataclass(slots=True)
class Sample:
    """One clip to transcribe. `id` is the resume key: stable across runs."""

    id: str
    index: int
    reference: str
    duration: float | None
    audio: bytes | None = None
    url: str | None = None
    mime: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    # short digests of the encoded audio and of the reference, written on the sample's results
    # line: a rerun after the dataset changed knows which samples changed (`--revalidate`)
    audio_sha: str | None = None
    ref_sha: str | None = None


#: hex characters kept of each digest (48 bits: a changed clip among a million keeps its
#: digest with odds of one in hundreds of millions)
DIGEST_CHARS = 12


def digest(data: bytes | str | None) -> str | None:
    """The short digest of a clip's encoded bytes or of a reference (UTF-8), None for none.

    XXH3-64, not SHA-256: the digest tells a changed sample from an unchanged one (nobody
    forges clips against it), and it is computed for every clip a run reads: SHA-256 cost
    0.034 ms of CPU per 70 KB clip, +9 % of asyncbench's whole CPU per request
    (bench/client_cost.py); XXH3 costs 0.001 ms."""
    if data is None:
        return None
    import xxhash

    raw = data.encode("utf-8") if isinstance(data, str) else data
    return xxhash.xxh3_64_hexdigest(raw)[:DIGEST_CHARS]


@dataclass(slots=True)
class SourceStats:
    """What the source saw, for the end-of-run summary (nothing is dropped silently)."""

    rows: int = 0
    dropped_empty_reference: int = 0
    skipped_done: int = 0
    yielded: int = 0
    duplicate_ids: int = 0  # rows whose id an earlier row already had (keyed `id#2`, ...)


def _looks_local(path: str) -> bool:
    """A hub id is `owner/name`; anything that exists, is explicitly relative or absolute, has
    more path parts, or starts with a folder that is here, is a folder (so a missing folder
    gets a folder error, not a Hub one): `sources/locate.py`."""
    return looks_local(path)


def is_scorable_reference(text: str, normalize: Callable[[str], str]) -> bool:
    """The leaderboard drops references that normalise to nothing or that mark an ignored
    segment; keeping them would count every word of a prediction as an insertion."""
    stripped = text.strip()
    if not stripped or stripped.lower() == IGNORE_REFERENCE:
        return False
    normalized = normalize(stripped).strip()
    return bool(normalized) and normalized != IGNORE_REFERENCE


def _check_local(path: str, config: str, split: str) -> None:
    """Validate a local folder before `datasets` does, to name what exists instead."""
    import datasets

    folder = Path(path).expanduser()
    check_local_folder(path)
    if not folder.is_dir():
        raise ConfigError(f"--dataset_path {path!r} is a file; it must be a folder or a hub id")
    try:
        configs = datasets.get_dataset_config_names(str(folder))
    except Exception as exc:  # datasets raises many types for a malformed folder
        raise ConfigError(f"cannot read dataset folder {path!r}: {exc}") from None
    if config not in configs:
        raise ConfigError(
            f"unknown config {config!r} in {path}; available configs: {', '.join(sorted(configs))}"
        )
    try:
        splits = datasets.get_dataset_split_names(str(folder), config)
    except Exception as exc:
        raise ConfigError(f"cannot list the splits of {path} config {config!r}: {exc}") from None
    if split not in splits:
        raise ConfigError(
            f"unknown split {split!r} for config {config!r} in {path}; "
            f"available splits: {', '.join(splits)}"
        )


def open_split(path: str, config: str, split: str, revision: str | None = None) -> Any:
    """Open one split as a streaming `IterableDataset` with audio left encoded.

    `revision` (a commit, branch or tag) pins a hub id to that version, as the board pins its
    long-form sets; a local folder is read as it is (it stands for that revision).

    A local folder whose card lists the split's parquet files plainly is read without
    `datasets` (`sources/parquet_split.py`: the same rows, without its second of imports)."""
    local = _looks_local(path)
    if local:
        check_local_folder(path)  # at once, naming the nearest folder that exists
    else:
        check_hub_reachable(path)  # in seconds, instead of a minute of retries
    if not config.strip() and local:
        from asyncbench.sources.parquet_split import own_config

        config = own_config(path)
    # ASYNCBENCH_LOADER=datasets reads a local folder the way a hub id is read, always
    if local and os.environ.get("ASYNCBENCH_LOADER", "").strip().lower() != "datasets":
        from asyncbench.sources.parquet_split import open_parquet_split

        plain = open_parquet_split(
            Path(path).expanduser(), config, split, TEXT_COLUMNS, PARQUET_BATCH_ROWS
        )
        if plain is not None:
            return plain
    import datasets

    if local:
        _check_local(path, config, split)
    try:
        # a hub repository of one set (VoiceArena/Monsoon_en_IN_test) is read as the board
        # reads it, with no config name: `datasets` takes the repository's own
        source = str(Path(path).expanduser()) if local else path
        ds = _load_streaming(source, config or None, split, None if local else revision)
    except ValueError as exc:
        msg = str(exc)
        if "BuilderConfig" in msg or "not found" in msg:
            raise ConfigError(f"unknown config {config!r} for {path}: {msg}") from None
        if "split" in msg.lower():
            raise ConfigError(
                f"unknown split {split!r} for {path} config {config!r}: {msg}"
            ) from None
        raise ConfigError(f"cannot open {path} {config}/{split}: {msg}") from None
    except FileNotFoundError as exc:
        raise ConfigError(
            f"dataset {path!r} not found ({exc}); check the hub id or the folder path"
        ) from None
    except ConnectionError as exc:
        raise ConfigError(
            f"cannot reach the Hugging Face Hub for {path!r} ({exc}); check the network and "
            "HF_TOKEN, or pass a local folder with the hub layout as --dataset_path"
        ) from None
    except Exception as exc:
        raise ConfigError(
            f"cannot open {path} {config}/{split}: {type(exc).__name__}: {exc}"
        ) from None

    features = ds.features
    if features is not None:
        text = text_column(features)
        missing = ["'audio' column"] if "audio" not in features else []
        if text is None:
            missing.append(f"text column ({', '.join(TEXT_COLUMNS[:-1])} or {TEXT_COLUMNS[-1]})")
        if missing:
            raise ConfigError(
                f"{path} {config}/{split} has no {' and no '.join(missing)}; "
                f"columns present: {', '.join(features)}"
            )
        if isinstance(features["audio"], datasets.Audio):
            ds = ds.cast_column("audio", datasets.Audio(decode=False))
        keep = [c for c in ("audio", text, "id", "audio_length_s") if c in features]
        ds = ds.select_columns(keep)
        if text != "text":
            ds = ds.rename_column(text, "text")
    return ds


# Rows per Arrow record batch read from parquet. pyarrow decodes a bounded number of batches
# ahead in its own threads whatever the consumer does, so the batch size bounds that memory:
# small batches keep it to a few MB of audio, and cost no more CPU per row than large ones.
PARQUET_BATCH_ROWS = 4


def _load_streaming(source: str, config: str | None, split: str, revision: str | None) -> Any:
    """`load_dataset(..., streaming=True)`, reading parquet so memory stays flat.

    With pyarrow's defaults memory grew with the shard being read: pre-buffering keeps every
    range it read until the file is done, and its scan threads decode ahead by a number of
    record batches, each a whole row group. Measured over one 1.4 GB file of 20,000 clips:
    1.4-1.6 GB of RSS with the defaults; 0.39 GB without pre-buffering and with 4-row batches
    (0.35 GB over 2,000 clips). Other builders (json, audio folders) have no such options and
    are opened as they are.
    """
    import datasets
    import pyarrow.dataset as pds

    try:
        return datasets.load_dataset(
            source,
            config,
            split=split,
            streaming=True,
            revision=revision,
            fragment_scan_options=pds.ParquetFragmentScanOptions(pre_buffer=False),
            batch_size=PARQUET_BATCH_ROWS,
        )
    except ValueError as exc:
        if "fragment_scan_options" not in str(exc) and "batch_size" not in str(exc):
            raise
    return datasets.load_dataset(source, config, split=split, streaming=True, revision=revision)


def _audio_bytes(cell: Any) -> bytes | None:
    if isinstance(cell, dict):
        data = cell.get("bytes")
        if data is None and cell.get("path") and os.path.exists(cell["path"]):
            with open(cell["path"], "rb") as fh:
                return fh.read()
        return data
    if isinstance(cell, (bytes, bytearray)):
        return bytes(cell)
    return None


def iter_samples(
    ds: Any,
    config: str,
    split: str,
    *,
    normalize: Callable[[str], str],
    skip_ids: set[str] | frozenset[str] = frozenset(),
    max_samples: int | None = None,
    stats: SourceStats | None = None,
    shard: tuple[int, int] | None = None,
    batch_rows: int = BATCH,
) -> Iterator[list[Sample]]:
    """Yield batches of samples in dataset order.

    `max_samples` counts scorable samples from the start of the split (finished ones
    included), so a resumed run with the same flags covers the same samples. `shard=(i, n)`
    keeps the samples whose stable id hashes to slice i of n. `batch_rows` is how many rows
    are read at once (1 for long recordings, each of which weighs megabytes).
    """
    stats = stats if stats is not None else SourceStats()
    taken = 0
    index = 0
    seen: dict[str, int] = {}
    for batch in readable_batches(ds, batch_rows):
        column = text_column(batch)
        if column is None:
            raise ConfigError(
                f"the dataset has no text column ({', '.join(TEXT_COLUMNS)}); "
                f"columns: {', '.join(batch)}"
            )
        texts = batch[column]
        n = len(texts)
        ids = batch.get("id") or [None] * n
        lengths = batch.get("audio_length_s") or [None] * n
        lattices = batch.get(LATTICE_COLUMN) or [None] * n
        audios = batch["audio"]
        out: list[Sample] = []
        for k in range(n):
            i = index + k
            stats.rows += 1
            ref = texts[k] or ""
            if isinstance(lattices[k], list) and lattices[k]:
                # the reference lattice the board's OIWER scores against, carried as its JSON
                ref = json.dumps(lattices[k], ensure_ascii=False)
            if not is_scorable_reference(ref, normalize):
                stats.dropped_empty_reference += 1
                continue
            if max_samples is not None and taken >= max_samples:
                break
            taken += 1
            sid = str(ids[k]) if ids[k] is not None else f"{config}/{split}/{i}"
            sid = unique_id(sid, seen, stats, i)
            if shard is not None and not in_shard(sid, *shard):
                continue
            if sid in skip_ids:
                stats.skipped_done += 1
                continue
            length = lengths[k]
            audio = _audio_bytes(audios[k])
            out.append(
                Sample(
                    id=sid,
                    index=i,
                    reference=ref,
                    duration=float(length) if length is not None else None,
                    audio=audio,
                    audio_sha=digest(audio),
                    ref_sha=digest(ref),
                )
            )
        index += n
        if out:
            stats.yielded += len(out)
            yield out
        if max_samples is not None and taken >= max_samples:
            return


def readable_batches(ds: Any, batch_size: int = BATCH) -> Iterator[dict[str, list[Any]]]:
    """`ds.iter(batch_size)`, except that a read error (a corrupt parquet page) costs only the
    rows that cannot be read: the batch it broke is read again row by row from its first row
    (a fresh pass over the split, skipping the rows already given), so the readable rows
    before the bad page still come out; then the error is raised as it was."""
    given = 0
    try:
        for batch in ds.iter(batch_size=batch_size):
            yield batch
            given += len(next(iter(batch.values()), []))
    except Exception as first:
        if not hasattr(ds, "skip"):
            raise
        with contextlib.suppress(Exception):  # it fails again at the first bad row
            yield from ds.skip(given).iter(batch_size=1)
        raise first from None


def unique_id(sid: str, seen: dict[str, int], stats: SourceStats, row: int) -> str:
    """`sid`, or `sid#2`, `sid#3`... for the second, third row with the same id.

    The id is the resume key and the scorer keeps one line per id, so two rows sharing an id
    would be sent twice and scored once (and on resume the second would count as done).
    Renaming by order of appearance is deterministic (the split is read in the same order
    every run), so resume and shards see the same keys. Said once, when first seen."""
    n = seen.get(sid, 0) + 1
    seen[sid] = n
    if n == 1:
        return sid
    new = f"{sid}#{n}"
    while new in seen:  # a row whose own id is already `x#2`
        n += 1
        new = f"{sid}#{n}"
    seen[sid] = n
    seen[new] = 1
    stats.duplicate_ids += 1
    if stats.duplicate_ids == 1:
        print(
            f"warning: row {row} has the id {sid!r} of an earlier row; rows sharing an id are "
            f"kept apart as {sid!r}, {new!r}, ... so each is sent and scored once",
            file=sys.stderr,
        )
    return new


def in_shard(sample_id: str, i: int, n: int) -> bool:
    """Deterministic, machine-independent slice by id (not Python's salted `hash`)."""
    import zlib

    return zlib.crc32(sample_id.encode()) % n == i


def take(it: Iterator[list[Sample]]) -> list[Sample]:
    """Next batch or [] at the end: called in a thread so parquet reads never block the loop."""
    return next(it, [])


def known_size(ds: Any, split: str) -> int | None:
    """Row count when the dataset card declares it (hub sets do), for progress and ETA."""
    try:
        info = ds.info.splits
        return int(info[split].num_examples) if info and split in info else None
    except Exception:
        return None
