"""Saying where a split stopped being readable: which parquet file, which rows.

`datasets` streams a split file after file and raises a bare `OSError: Corrupt snappy
compressed data.` (or pyarrow's "magic bytes not found") when a page or a footer is broken,
without naming the file. The engine stops reading there and still sends and writes every row
read before; this module turns the row where reading stopped into the one line the user
sees: the file that holds that row and the rows it covers, found from the files' own footers
(which survive a broken page; a file without a readable footer is named as a whole).
"""

from __future__ import annotations

from pathlib import Path


def split_files(dataset_path: str, config: str, split: str) -> list[str]:
    """The split's data files in the order `datasets` streams them ([] if unknown, and for
    hub ids: naming a file there is not worth a network round trip)."""
    folder = Path(dataset_path).expanduser()
    if not folder.is_dir():
        return []
    from asyncbench.sources.parquet_split import data_files

    try:
        return data_files(str(folder), config, split)
    except Exception:  # an odd builder: the message just names no file
        return []


def _row_count(path: str) -> int | None:
    import pyarrow.parquet as pq

    try:
        return int(pq.read_metadata(path).num_rows)
    except Exception:
        return None


def where(files: list[str], row: int) -> tuple[str, int, int] | None:
    """(file, first, last) split rows of the file that holds split row `row`: the first
    file whose rows run past it, or the first file whose footer cannot be read."""
    start = 0
    for path in files:
        n = _row_count(path)
        if n is None:
            return path, start, -1
        if row < start + n:
            return path, start, start + n - 1
        start += n
    return None


def describe(dataset_path: str, config: str, split: str, row: int, exc: BaseException) -> str:
    """`cannot read rows 64-149 of ami/test (file .../test-00000-of-00002.parquet): ...`."""
    why = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
    found = where(split_files(dataset_path, config, split), row)
    if found is None:
        return f"cannot read {config}/{split} of {dataset_path} from row {row} on ({why})"
    path, first, last = found
    span = f"rows {max(row, first)}-{last}" if last >= 0 else f"rows from {max(row, first)} on"
    return f"cannot read {span} of {config}/{split} (file {path}): {why}"


def check_first_file(dataset_path: str, config: str, split: str) -> None:
    """ConfigError (exit 2, before any request) when the file the split starts with is not
    a readable parquet file at all (garbage, or cut short so its footer is gone)."""
    import pyarrow.parquet as pq

    from asyncbench.core.errors import ConfigError

    files = split_files(dataset_path, config, split)
    if not files or not files[0].endswith(".parquet"):
        return
    try:
        pq.read_metadata(files[0])
    except Exception as exc:
        why = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        raise ConfigError(
            f"cannot read {files[0]}, the first file of {config}/{split}: {why}; "
            "replace or re-download it"
        ) from None


def quiet_parquet_errors() -> None:
    """`datasets` logs its own "Failed to read file ..." line before raising; the run says
    the same in its one `error:` line (with the rows), so that log line is turned off."""
    import logging

    logging.getLogger("datasets.packaged_modules.parquet.parquet").setLevel(logging.CRITICAL)
