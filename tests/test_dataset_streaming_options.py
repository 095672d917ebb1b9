"""Parquet splits are streamed without pyarrow's pre-buffering; other builders still open.

Pre-buffering keeps every range read from a parquet file until the file is done, so memory
grew with the shard (measured by `make bench`, not here: no timings or sizes in unit tests).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import datasets
import orjson
import pytest

from asyncbench.sources import parquet_split
from asyncbench.sources.dataset import PARQUET_BATCH_ROWS, open_split

from .support import make_dataset


def keywords_of_calls(
    monkeypatch: pytest.MonkeyPatch, owner: Any, name: str
) -> list[dict[str, Any]]:
    """`owner.name` still called, and the keyword arguments of each call recorded."""
    calls: list[dict[str, Any]] = []
    real = getattr(owner, name)

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, spy)
    return calls


def test_parquet_is_read_without_pre_buffering(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through `datasets` (a card that does not list the files plainly)..."""
    root = make_dataset(tmp_path / "esb", {("ami", "test"): 3})
    calls = keywords_of_calls(monkeypatch, datasets, "load_dataset")
    monkeypatch.setattr(parquet_split, "open_parquet_split", lambda *a: None)
    ds = open_split(str(root), "ami", "test")
    assert [len(batch["text"]) for batch in ds.iter(batch_size=8)] == [3]
    options = calls[-1]["fragment_scan_options"]
    assert options.pre_buffer is False and calls[-1]["batch_size"] == PARQUET_BATCH_ROWS


def test_plain_parquet_is_read_without_pre_buffering_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """...and straight from the parquet files (`sources/parquet_split.py`)."""
    import pyarrow.parquet as pq

    root = make_dataset(tmp_path / "esb", {("ami", "test"): 3})
    opened = keywords_of_calls(monkeypatch, pq, "ParquetFile")
    ds = open_split(str(root), "ami", "test")
    assert isinstance(ds, parquet_split.ParquetSplit)
    assert [len(batch["text"]) for batch in ds.iter(batch_size=8)] == [3]
    assert opened == [{"pre_buffer": False, "buffer_size": parquet_split.READ_BUFFER}]
    assert ds.batch_rows == PARQUET_BATCH_ROWS


def test_a_builder_without_parquet_options_still_opens(tmp_path: Path) -> None:
    folder = tmp_path / "jsonl"
    folder.mkdir()
    rows = [{"text": f"line {i}", "audio": None, "id": f"j{i}"} for i in range(3)]
    (folder / "test.jsonl").write_bytes(b"\n".join(orjson.dumps(r) for r in rows) + b"\n")
    ds = open_split(str(folder), "default", "test")
    assert [r["id"] for r in ds] == ["j0", "j1", "j2"]


def test_asyncbench_loader_datasets_reads_a_local_folder_as_a_hub_id_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The escape hatch: the same folder through `datasets`, with the same rows."""
    root = make_dataset(tmp_path / "esb", {("ami", "test"): 4})
    plain = [b["text"] for b in open_split(str(root), "ami", "test").iter(batch_size=8)]
    monkeypatch.setenv("ASYNCBENCH_LOADER", "datasets")
    ds = open_split(str(root), "ami", "test")
    assert not isinstance(ds, parquet_split.ParquetSplit)
    assert [b["text"] for b in ds.iter(batch_size=8)] == plain
