"""Reviewed reference corrections laid over a split: Armenian FLEURS, as the board does.

OAL #215 (open PR; OAL@db339acb normalizer/data_utils.py) scores Armenian FLEURS against
references reviewed by Metric-AI: the table `Metric-AI/fleurs-corrections` (split `test`,
columns `file_name`, `original_transcription`, `corrected_transcription`) replaces the
reference of each clip it names. The board's safety rules are kept:

- a clip is found by the base name of its audio file (`file_name`, else `path`, else the
  name its audio cell carries);
- a clip whose reference is neither the recorded original nor the correction is an error
  (the table and the dataset are of different revisions), never a silent overwrite;
- one file named twice with different corrections is an error.

The board also checks, on a fully loaded split, that every correction names a clip of the
split; asyncbench streams the split, so that check is not made (said in
docs/board-2026h2.md). The overlay applies to the configs the board applies it to
(`fleurs_hy`, `hy_am`), split `test`, whatever suite or path they are run from.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from asyncbench.core.errors import ConfigError

CORRECTIONS_PATH = "Metric-AI/fleurs-corrections"
CORRECTED_CONFIGS = frozenset({"fleurs_hy", "hy_am"})

Table = dict[str, tuple[str, str]]  # file base name → (original, corrected)


def applies(config: str, split: str) -> bool:
    return config in CORRECTED_CONFIGS and split == "test"


def build_table(rows: Iterable[Mapping[str, Any]], where: str = CORRECTIONS_PATH) -> Table:
    """The corrections by file base name; ConfigError for a row without its three fields or
    for one file corrected two ways."""
    table: Table = {}
    for n, row in enumerate(rows):
        name, original, corrected = (
            row.get("file_name"),
            row.get("original_transcription"),
            row.get("corrected_transcription"),
        )
        if not (isinstance(name, str) and name.strip()) or not isinstance(original, str):
            raise ConfigError(
                f"{where} row {n} lacks file_name or original_transcription; is it the "
                "corrections table?"
            )
        if not isinstance(corrected, str):
            raise ConfigError(f"{where} row {n} lacks corrected_transcription")
        key = os.path.basename(name)
        if key in table and table[key] != (original, corrected):
            raise ConfigError(f"{where} corrects {key!r} in two different ways")
        table[key] = (original, corrected)
    return table


def corrected_reference(reference: str, file_name: str | None, table: Table, where: str) -> str:
    """The reviewed reference of one clip (its own when the table does not name it)."""
    if not file_name:
        raise ConfigError(
            f"{where}: a clip has neither file_name nor path, so its reviewed reference "
            "cannot be found safely"
        )
    found = table.get(os.path.basename(file_name))
    if found is None:
        return reference
    original, corrected = found
    if reference not in (original, corrected):
        raise ConfigError(
            f"{where}: the reference of {os.path.basename(file_name)!r} is neither the "
            f"original nor the correction in {CORRECTIONS_PATH}: the two are of different "
            "revisions"
        )
    return corrected


class CorrectedSplit:
    """A streaming split whose text column reads the corrected references; everything else
    (skip, info, ...) is the split's own."""

    def __init__(self, ds: Any, table: Table, where: str) -> None:
        self._ds, self._table, self._where = ds, table, where

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ds, name)

    def skip(self, n: int) -> CorrectedSplit:
        return CorrectedSplit(self._ds.skip(n), self._table, self._where)

    def iter(self, batch_size: int) -> Iterator[dict[str, list[Any]]]:
        from asyncbench.sources.dataset import text_column

        for batch in self._ds.iter(batch_size=batch_size):
            column = text_column(batch)
            if column is not None:
                names = batch.get("file_name") or batch.get("path") or _audio_names(batch)
                batch = dict(batch)
                batch[column] = [
                    corrected_reference(ref or "", name, self._table, self._where)
                    for ref, name in zip(batch[column], names, strict=True)
                ]
            yield batch


def _audio_names(batch: Mapping[str, list[Any]]) -> list[str | None]:
    """The file name each audio cell carries (`{"bytes", "path"}`), when the split has no
    `file_name` or `path` column of its own (or the reader left it out)."""
    cells = batch.get("audio") or []
    return [c.get("path") if isinstance(c, Mapping) else None for c in cells]


def with_corrections(ds: Any, config: str, split: str, read_path: str, where: str) -> Any:
    """`ds` with the reviewed references laid over it when the board does so for `config`;
    `read_path` is where the corrections table is read (a hub id, or its local copy)."""
    if not applies(config, split):
        return ds
    return CorrectedSplit(ds, build_table(_table_rows(read_path), CORRECTIONS_PATH), where)


def _table_rows(read_path: str) -> Iterator[Mapping[str, Any]]:
    """The corrections table's rows (a small, text-only table: read once, streamed)."""
    from pathlib import Path

    import datasets

    from asyncbench.sources.dataset import _looks_local

    local = _looks_local(read_path)
    source = str(Path(read_path).expanduser()) if local else read_path
    try:
        table = datasets.load_dataset(source, split="test", streaming=True)
        yield from table
    except ConfigError:
        raise
    except Exception as exc:  # datasets raises many kinds; one line names the table
        raise ConfigError(
            f"cannot read the corrections table {CORRECTIONS_PATH} (from {read_path}): "
            f"{type(exc).__name__}: {exc}"
        ) from None
