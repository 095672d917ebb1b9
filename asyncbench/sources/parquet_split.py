"""A local hub-layout folder's split read straight from its parquet files, without `datasets`.

`import datasets` costs about 1.2 s of CPU (pandas, huggingface_hub, fsspec, its own
modules), most of what a run spends before its first request; at 4,000 short clips that is
0.3 ms of CPU per request, and reading rows through its streaming formatter costs more than
reading them with pyarrow. A folder whose README.md card says plainly where a split's files
are (`configs:` → `data_files:` → `{split, path}` globs of `.parquet` files, which is what
`sources.hub_layout` writes and the ESB sets have) needs none of it: this module resolves the
files from the card and reads them with pyarrow as `datasets`' parquet builder does (row group
by row group, no pre-buffering, a few rows per record batch, so memory stays flat), in the
same order, giving the same row dicts (`audio` as `{"bytes", "path"}`).

Anything the card does not say plainly (no card, no `configs:`, an unknown config or split, a
pattern with `**`, hidden files, files that are not parquet, a missing audio or text column,
an audio column that is not the `{bytes, path}` struct) returns None, and the caller opens the
split through `datasets` as before, with its checks and its error messages.
"""

from __future__ import annotations

import functools
import glob
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asyncbench.core.errors import ConfigError

#: bytes pyarrow reads at a time from a column chunk (see `ParquetSplit._record_batches`)
READ_BUFFER = 1 << 16
#: keys of a `configs:` entry this reader understands (anything else: `datasets` decides)
_CONFIG_KEYS = frozenset({"config_name", "data_files", "default"})


def read_card(folder: Path) -> dict[str, Any] | None:
    """The YAML front matter of `folder/README.md`, or None when there is none.

    Parsed once per version of the file (a run asks for it several times before its first
    request, and a hub card listing dozens of configs takes tens of ms in pure-Python YAML),
    with libyaml's safe loader where PyYAML has it. Callers must not change what it returns."""
    readme = folder / "README.md"
    try:
        st = readme.stat()
    except OSError:
        return None
    return _parse_card(str(readme), st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=32)
def _parse_card(readme: str, _mtime_ns: int, _size: int) -> dict[str, Any] | None:
    try:
        text = Path(readme).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    if not text.startswith("---"):
        return None
    end = text.find("\n---", 3)
    if end < 0:
        return None
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        card = yaml.load(text[3:end], Loader=loader)  # a safe loader either way
    except yaml.YAMLError:
        return None
    return card if isinstance(card, dict) else None


def card_language(path: str) -> str | None:
    """The one language a local folder's card declares (`language: [de]`, what `dataset
    make --language` writes), or None: no card, no such field, or several languages."""
    if not os.path.isdir(os.path.expanduser(path)):
        return None
    card = read_card(Path(path).expanduser())
    value = card.get("language") if card else None
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], str):
        return value[0]
    return None


def _patterns(card: dict[str, Any], config: str, split: str) -> list[str] | None:
    """The card's path patterns for config/split, when it lists them plainly."""
    configs = card.get("configs")
    if not isinstance(configs, list):
        return None
    entries = [c for c in configs if isinstance(c, dict) and c.get("config_name") == config]
    if len(entries) != 1 or not set(entries[0]) <= _CONFIG_KEYS:
        return None
    data_files = entries[0].get("data_files")
    if not isinstance(data_files, list):
        return None
    found: list[str] | None = None
    for item in data_files:
        if not isinstance(item, dict) or set(item) != {"split", "path"}:
            return None
        if item["split"] != split:
            continue
        if found is not None:  # the same split listed twice: not plain
            return None
        path = item["path"]
        found = [path] if isinstance(path, str) else path
    if not found or not all(isinstance(p, str) for p in found):
        return None
    return found


def split_files(folder: Path, config: str, split: str) -> list[str] | None:
    """The parquet files of config/split in the order `datasets` streams them (each pattern's
    matches sorted, patterns in the card's order); None when the card does not say it plainly."""
    card = read_card(folder)
    patterns = None if card is None else _patterns(card, config, split)
    if patterns is None:
        return None
    files: list[str] = []
    for pattern in patterns:
        if "**" in pattern or "://" in pattern or "::" in pattern or os.path.isabs(pattern):
            return None
        if any(part.startswith((".", "_")) for part in Path(pattern).parts):
            return None
        matched = sorted(glob.glob(str(folder / pattern)))
        for path in matched:
            rel = Path(path).relative_to(folder)
            if any(part.startswith((".", "_")) for part in rel.parts):
                return None  # hidden files: datasets' own rules decide
            if not os.path.isfile(path):
                continue
            if not path.endswith(".parquet"):
                return None
            if path not in files:
                files.append(path)
    return files or None


def own_config(path: str) -> str:
    """The config of a local copy of a one-set repository, for an entry run with no config
    (the board passes none for a set that names its own repository): its only config, else
    `default`; ConfigError naming the configs when neither fits."""
    import datasets

    try:
        configs = datasets.get_dataset_config_names(str(Path(path).expanduser()))
    except Exception as exc:  # datasets raises many types for a malformed folder
        raise ConfigError(f"cannot read dataset folder {path!r}: {exc}") from None
    if len(configs) == 1:
        return str(configs[0])
    if "default" in configs:
        return "default"
    raise ConfigError(
        f"{path} has configs {', '.join(sorted(configs))}, but its set is read with no "
        "config: a copy of a one-set repository has one config (or one named default)"
    )


def data_files(path: str, config: str, split: str, revision: str | None = None) -> list[str]:
    """The split's data files in the order `datasets` streams them: from the card when it lists
    them plainly, else as `datasets` resolves them (a folder's odd card, or a hub id, at
    `revision` when given). Raises what `datasets` raises."""
    if not config.strip() and Path(path).expanduser().is_dir():
        # a set run with no config (its own repository): a local copy's own config
        config = own_config(path)
    plain = split_files(Path(path).expanduser(), config, split)
    if plain is not None:
        return plain
    import datasets

    local = Path(path).expanduser().is_dir()
    builder = datasets.load_dataset_builder(
        path, config or None, revision=None if local else revision
    )
    return [str(f) for f in (builder.config.data_files or {}).get(split) or []]


@dataclass(slots=True, frozen=True)
class SplitInfo:
    """What the card says of a split (what `datasets`' `ds.info.splits[split]` holds)."""

    num_examples: int
    num_bytes: int


@dataclass(slots=True)
class CardInfo:
    """`ds.info` as far as a run reads it: the splits the card describes, or None."""

    splits: dict[str, SplitInfo] | None = None


def _card_info(card: dict[str, Any], config: str) -> CardInfo:
    infos = card.get("dataset_info")
    entries = infos if isinstance(infos, list) else [infos] if isinstance(infos, dict) else []
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("config_name", "default") != config:
            continue
        splits: dict[str, SplitInfo] = {}
        for s in entry.get("splits") or []:
            try:
                splits[str(s["name"])] = SplitInfo(
                    int(s["num_examples"]), int(s.get("num_bytes") or 0)
                )
            except (KeyError, TypeError, ValueError):
                return CardInfo()
        return CardInfo(splits or None)
    return CardInfo()


@dataclass
class ParquetSplit:
    """One split's parquet files, read as `datasets` streams them (see the module docstring).

    Duck-types the parts of a streaming `IterableDataset` a run uses: `iter(batch_size)`
    (dicts of columns, `text` named so), `skip(n)`, `features` (the columns) and `info`."""

    files: list[str]
    columns: list[str]  # what is read, in the card's column order
    text: str  # the column holding the reference (given out as `text`)
    info: CardInfo = field(default_factory=CardInfo)
    batch_rows: int = 4  # rows per record batch pyarrow decodes (memory, see dataset.py)
    skipped: int = 0

    @property
    def features(self) -> dict[str, None]:
        return {("text" if c == self.text else c): None for c in self.columns}

    def skip(self, n: int) -> ParquetSplit:
        return ParquetSplit(
            self.files, self.columns, self.text, self.info, self.batch_rows, self.skipped + n
        )

    def _record_batches(self) -> Iterator[Any]:
        """Record batches of `batch_rows` rows, file after file, row group after row group.

        `ParquetFile.iter_batches` gives the rows `datasets`' fragment scan gives, for half
        its CPU and without importing `pyarrow.dataset` (0.4 s). No pre-buffering (it keeps
        every range read until the file is done, so memory would grow with the shard), and
        no decode threads of pyarrow's own: the reader is already a thread of its own. Column
        chunks are read through a 64 KiB buffer, page by page: unbuffered, pyarrow reads a
        row group's whole audio chunk (megabytes) at once. Reading the 4,000 bench clips
        (100-row groups of 12 MB) peaks at 141 MB of RSS buffered, 167 MB unbuffered."""
        import pyarrow.parquet as pq

        for path in self.files:
            with pq.ParquetFile(path, pre_buffer=False, buffer_size=READ_BUFFER) as pf:
                yield from pf.iter_batches(
                    batch_size=self.batch_rows, columns=self.columns, use_threads=False
                )

    def iter(self, batch_size: int) -> Iterator[dict[str, list[Any]]]:
        """Batches of `batch_size` rows (the last may be shorter), as column lists."""
        names = list(self.features)
        pending: dict[str, list[Any]] = {n: [] for n in names}
        held = 0
        to_skip = self.skipped
        for batch in self._record_batches():
            rows = batch.num_rows
            if to_skip >= rows:
                to_skip -= rows
                continue
            if to_skip:
                batch = batch.slice(to_skip)
                rows -= to_skip
                to_skip = 0
            for name, column in zip(names, batch.columns, strict=True):
                pending[name].extend(column.to_pylist())
            held += rows
            while held >= batch_size:
                yield {n: v[:batch_size] for n, v in pending.items()}
                pending = {n: v[batch_size:] for n, v in pending.items()}
                held -= batch_size
        if held:
            yield pending


def _audio_is_struct(schema: Any) -> bool:
    import pyarrow as pa

    audio = schema.field("audio").type
    return pa.types.is_struct(audio) and audio.get_field_index("bytes") >= 0


def open_parquet_split(
    folder: Path, config: str, split: str, text_columns: tuple[str, ...], batch_rows: int
) -> ParquetSplit | None:
    """The split read without `datasets`, or None when `datasets` must open it."""
    if not folder.is_dir():
        return None
    card = read_card(folder)
    files = split_files(folder, config, split)
    if card is None or files is None:
        return None
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(files[0])
        if any(pq.read_schema(f).names != schema.names for f in files[1:]):
            return None
    except Exception:  # an unreadable first file: the run's own checks name it
        return None
    present = set(schema.names)
    text = next((c for c in text_columns if c in present), None)
    if "audio" not in present or text is None or not _audio_is_struct(schema):
        return None
    # file_name: the key of reviewed corrections (sources/corrections.py); reference_lists:
    # an OIWER reference lattice (sources/dataset.py LATTICE_COLUMN)
    wanted = ("audio", text, "id", "audio_length_s", "file_name", "reference_lists")
    keep = [c for c in wanted if c in present]
    return ParquetSplit(files, keep, text, _card_info(card, config), batch_rows)
