"""How much audio a split holds, from its `audio_length_s` column, without decoding audio.

Only that one column is read from the split's parquet files (pyarrow reads a column chunk,
not the rows), so the estimate of a whole batch takes seconds, not the hours a run takes.
The files are the ones `datasets` resolves for the config and split (a local folder with
the hub layout, or a hub id when the hub is reachable). A clip whose column is missing, not
a number, negative or 0 is measured from its audio's container header instead
(`audio_header`: the file's audio column is read for those rows only), and counted in
`repaired` so the caller warns once; a clip that cannot be measured either way leaves the
split's length unknown, said so, never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

from asyncbench.core.errors import ConfigError
from asyncbench.sources.audio_header import usable

LENGTH_COLUMN = "audio_length_s"


@dataclass(frozen=True, slots=True)
class SplitAudio:
    path: str
    config: str
    split: str
    clips: int
    seconds: tuple[float, ...] | None  # each clip's length; None when it cannot be known
    repaired: int = 0  # clips whose audio_length_s was unusable, measured from their header

    @property
    def hours(self) -> float | None:
        return None if self.seconds is None else sum(self.seconds) / 3600


def split_audio(
    path: str,
    config: str,
    split: str,
    max_samples: int | None = None,
    *,
    revision: str | None = None,
    shard: tuple[int, int] | None = None,
) -> SplitAudio:
    """The clip lengths of `path` `config`/`split` (the first `max_samples` when given), a
    hub id read at `revision` when given; with `shard` (i, n), only the clips of that slice
    (`--shard i/n`: the stable id hash over the first `max_samples`, as the run takes them)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from asyncbench.sources.parquet_split import data_files

    try:
        files = data_files(path, config, split, revision)
    except ConfigError:  # already one line naming the copy and the fix
        raise
    except Exception as exc:
        raise ConfigError(
            f"cannot find {path} {config}/{split} to measure its audio ({type(exc).__name__}: "
            f"{exc}); pass a local folder with the hub layout as --dataset_path"
        ) from None
    if not files:
        raise ConfigError(f"{path} {config} has no split {split!r} to measure")
    lengths: list[float | None] = []  # each clip's, None when it cannot be known
    ids: list[object] = []  # each clip's id cell (None: no id column), for a shard
    clips = 0
    repaired = 0
    for file in files:
        if max_samples is not None and clips >= max_samples:
            break
        try:
            schema = pq.read_schema(file)
            rows = pq.read_metadata(file).num_rows
            clips += rows
            # ParquetFile, not read_table: that goes through pyarrow.dataset, which imports
            # pandas (0.3 s of CPU) for one column of floats
            with pq.ParquetFile(file) as pf:
                column: list[object] = (
                    pf.read(columns=[LENGTH_COLUMN]).column(0).to_pylist()
                    if LENGTH_COLUMN in schema.names
                    else [None] * rows
                )
                bad = [i for i, x in enumerate(column) if not usable(x)]
                if bad and "audio" in schema.names:
                    measured = _measure(pf, bad)
                    for i in bad:
                        column[i] = measured.get(i)
                    repaired += sum(1 for i in bad if column[i] is not None)
                if shard is not None:
                    ids += (
                        pf.read(columns=["id"]).column(0).to_pylist()
                        if "id" in schema.names
                        else [None] * rows
                    )
        except (OSError, ValueError, pa.ArrowException) as exc:
            # not parquet, or a corrupt file: measured nothing (the run says what is wrong)
            raise ConfigError(
                f"cannot read the audio lengths of {file} ({type(exc).__name__}: {exc})"
            ) from None
        lengths += [
            None if x is None else float(x) if usable(x) else 0.0  # type: ignore[arg-type]
            for x in column
        ]
    if max_samples is not None:
        clips = min(clips, max_samples)
        lengths = lengths[:max_samples]
    if shard is not None:
        from asyncbench.sources.dataset import in_shard

        # the run's sample ids: the id column, else the row's place (sources.dataset)
        names = [str(x) if x is not None else f"{config}/{split}/{i}" for i, x in enumerate(ids)]
        lengths = [s for s, name in zip(lengths, names, strict=False) if in_shard(name, *shard)]
        clips = len(lengths)
    known = None if any(s is None for s in lengths) else tuple(s or 0.0 for s in lengths)
    return SplitAudio(path, config, split, clips, known, repaired)


def _measure(pf: object, rows: list[int]) -> dict[int, float]:
    """Seconds of the clips at `rows` of an open ParquetFile, from their audio headers
    (row group by row group, so only the groups holding those rows are read)."""
    from asyncbench.sources.audio_header import header_seconds

    out: dict[int, float] = {}
    wanted = set(rows)
    start = 0
    meta = pf.metadata  # type: ignore[attr-defined]
    for group in range(meta.num_row_groups):
        n = meta.row_group(group).num_rows
        inside = [i for i in range(start, start + n) if i in wanted]
        if inside:
            cells = pf.read_row_group(group, columns=["audio"]).column(0).to_pylist()  # type: ignore[attr-defined]
            for i in inside:
                cell = cells[i - start]
                data = cell.get("bytes") if isinstance(cell, dict) else None
                seconds = header_seconds(data)
                if seconds is not None and seconds > 0:
                    out[i] = seconds
        start += n
    return out
