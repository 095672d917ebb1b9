"""How much audio a split holds, from its `audio_length_s` column, without decoding audio.

Only that one column is read from the split's parquet files (pyarrow reads a column chunk,
not the rows), so the estimate of a whole batch takes seconds, not the hours a run takes.
The files are the ones `datasets` resolves for the config and split (a local folder with
the hub layout, or a hub id when the hub is reachable); a split without the column has an
unknown length, said so, never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

from asyncbench.core.errors import ConfigError

LENGTH_COLUMN = "audio_length_s"


@dataclass(frozen=True, slots=True)
class SplitAudio:
    path: str
    config: str
    split: str
    clips: int
    seconds: tuple[float, ...] | None  # each clip's length; None when the column is missing

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
) -> SplitAudio:
    """The clip lengths of `path` `config`/`split` (the first `max_samples` when given), a
    hub id read at `revision` when given."""
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
    lengths: list[float] = []
    clips = 0
    missing = False
    for file in files:
        try:
            schema = pq.read_schema(file)
            clips += pq.read_metadata(file).num_rows
            if LENGTH_COLUMN not in schema.names:
                missing = True
                continue
            # ParquetFile, not read_table: that goes through pyarrow.dataset, which imports
            # pandas (0.3 s of CPU) for one column of floats
            with pq.ParquetFile(file) as pf:
                column = pf.read(columns=[LENGTH_COLUMN]).column(0).to_pylist()
        except (OSError, ValueError, pa.ArrowException) as exc:
            # not parquet, or a corrupt file: measured nothing (the run says what is wrong)
            raise ConfigError(
                f"cannot read the audio lengths of {file} ({type(exc).__name__}: {exc})"
            ) from None
        lengths += [float(x or 0.0) for x in column]
    if max_samples is not None:
        clips = min(clips, max_samples)
        lengths = lengths[:max_samples]
    return SplitAudio(path, config, split, clips, None if missing else tuple(lengths))
