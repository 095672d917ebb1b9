"""Write local dataset folders with the Hugging Face hub's layout (README configs + parquet).

The runner loads data with `datasets.load_dataset(path, config, split=..., streaming=True)`,
which treats a hub id and a local folder with the same layout alike. So tests, the demo and
the benchmarks build folders shaped like `hf-audio/esb-datasets-test-only-sorted` and exercise
the very code path a real run takes, offline.

Parquet is written with pyarrow directly rather than through `datasets.Dataset`: a 20,000-clip
benchmark set then costs one columnar write instead of a per-row encode, and the only thing
`datasets` needs to type `audio` as `Audio` is the "huggingface" schema metadata, added here.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asyncbench.core.languages import MULTILINGUAL_CONFIGS

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

__all__ = [
    "COLUMNS",
    "MULTILINGUAL_CONFIGS",
    "audio_cell",
    "encode_audio",
    "encode_wav",
    "make_row",
    "multilingual_sentences",
    "write_chunked_set",
    "write_hub_folder",
    "write_multilingual_folder",
    "write_split_streamed",
]

# Column order and value types of the ESB test sets; callers may leave any of them out.
COLUMNS = ("audio", "dataset", "text", "id", "audio_length_s")
# Rows per parquet row group. Streaming reads a row group at a time, so small groups keep a
# reader's memory to a few clips instead of a whole shard of audio.
ROWS_PER_GROUP = 100

_WAV_FORMATS = {  # sample_format -> (bytes per sample, WAVE format tag)
    "u8": (1, 1),
    "s16": (2, 1),
    "s32": (4, 1),
    "f32": (4, 3),
}


# --------------------------------------------------------------------------- audio bytes


def _as_channels_first(samples: np.ndarray) -> np.ndarray:
    import numpy as np

    arr = np.asarray(samples)
    if arr.ndim == 1:
        arr = arr[np.newaxis, :]
    if arr.ndim != 2:
        raise ValueError(f"samples must be 1-D or (channels, samples); got shape {arr.shape}")
    return arr


def _as_float(samples: np.ndarray) -> np.ndarray:
    """Integer PCM is scaled to [-1, 1); float input is taken as already in that range."""
    import numpy as np

    if np.issubdtype(samples.dtype, np.floating):
        return samples.astype(np.float32, copy=False)
    if samples.dtype == np.uint8:
        return (samples.astype(np.float32) - 128.0) / 128.0
    if np.issubdtype(samples.dtype, np.integer):
        scale = float(2 ** (8 * samples.dtype.itemsize - 1))
        return samples.astype(np.float32) / scale
    raise ValueError(f"unsupported sample dtype {samples.dtype}")


def encode_wav(samples: np.ndarray, sample_rate: int, *, sample_format: str = "s16") -> bytes:
    """Samples -> WAV bytes: "u8", "s16" (the usual), "s32" PCM or "f32" IEEE float.

    Written by hand (44-byte RIFF header) because the stdlib `wave` module cannot write float
    WAVs, and tests need those odd layouts; it also handles zero-length audio.
    `samples` is 1-D (mono) or (channels, samples), float in [-1, 1] or integer PCM.
    """
    import numpy as np

    if sample_format not in _WAV_FORMATS:
        raise ValueError(f"sample_format must be one of {sorted(_WAV_FORMATS)}")
    width, tag = _WAV_FORMATS[sample_format]
    raw = _as_channels_first(samples)
    channels = raw.shape[0]
    if sample_format == "s16" and raw.dtype == np.int16:
        pcm = raw.T.astype("<i2")  # int16 in, int16 out: bit-exact, no float round trip
    elif sample_format == "f32":
        pcm = _as_float(raw).T.astype("<f4")
    else:
        # Same scaling as FFmpeg's float->integer conversion (x * 2^(bits-1), clipped), so
        # WAV and FLAC written from one array decode to the same integers.
        scale = float(2 ** (8 * width - 1))
        ints = np.clip(np.round(_as_float(raw).T.astype(np.float64) * scale), -scale, scale - 1)
        pcm = (ints + 128).astype(np.uint8) if sample_format == "u8" else ints.astype(f"<i{width}")
    payload = pcm.tobytes()
    fmt = struct.pack(
        "<HHIIHH",
        tag,
        channels,
        sample_rate,
        sample_rate * channels * width,
        channels * width,
        8 * width,
    )
    if tag != 1:
        fmt += struct.pack("<H", 0)  # cbSize: non-PCM formats carry an (empty) extension
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt
    chunks += b"data" + struct.pack("<I", len(payload)) + payload
    if len(payload) % 2:
        chunks += b"\x00"  # RIFF chunks are word-aligned
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


def encode_audio(
    samples: np.ndarray,
    sample_rate: int,
    fmt: str = "flac",
    *,
    out_rate: int | None = None,
) -> bytes:
    """Samples -> encoded file bytes ("flac", "wav", "mp3", "ogg", "opus"... as FFmpeg names them).

    WAV without resampling is written by `encode_wav` (PCM16) so it needs no torch; every
    other case goes through torchcodec's `AudioEncoder`, which also resamples to `out_rate`.
    """
    if fmt == "wav" and out_rate in (None, sample_rate):
        return encode_wav(samples, sample_rate)
    import torch
    from torchcodec.encoders import AudioEncoder

    data = _as_float(_as_channels_first(samples))
    encoder = AudioEncoder(torch.from_numpy(data.copy()), sample_rate=sample_rate)
    return encoder.to_tensor(fmt, sample_rate=out_rate).numpy().tobytes()


def audio_cell(data: bytes, name: str) -> dict[str, Any]:
    """The value an `Audio` column holds before decoding: encoded bytes plus a file name
    (its extension is the only format hint some readers get)."""
    return {"bytes": data, "path": name}


def make_row(
    samples: np.ndarray,
    sample_rate: int,
    *,
    name: str,
    fmt: str = "flac",
    out_rate: int | None = None,
    **columns: Any,
) -> dict[str, Any]:
    """One dataset row from raw samples: encoded audio, its true length, and any columns given
    (`text`, `id`, `dataset`...). `audio_length_s` is measured, never typed by hand."""
    length = _as_channels_first(samples).shape[1] / sample_rate
    row: dict[str, Any] = {
        "audio": audio_cell(
            encode_audio(samples, sample_rate, fmt, out_rate=out_rate), f"{name}.{fmt}"
        )
    }
    row.update(columns)
    row.setdefault("audio_length_s", length)
    return row


# --------------------------------------------------------------------------- the folder


def write_hub_folder(
    root: Path,
    tables: Mapping[str, Mapping[str, Sequence[Mapping[str, Any]]]],
    *,
    sort_longest_first: bool = True,
    sampling_rate: int | None = 16000,
    max_rows_per_file: int | None = None,
    title: str = "asyncbench local dataset",
    rows_per_group: int = ROWS_PER_GROUP,
    language: str | None = None,
) -> Path:
    """Write `tables[config][split] = rows` as a hub-layout folder under `root`; returns `root`.

    Each config gets `<config>/<split>-0000i-of-0000n.parquet` and an entry in README.md's
    `configs:` (plus `dataset_info` features), exactly the shape of the ESB sets. Columns are
    whatever the rows carry, in ESB order first; a row missing a column gets null. Rows are
    sorted by `audio_length_s` descending (stable) like the real sets, unless the caller turns
    that off or the rows have no lengths. Old shards of the same split are removed so a
    rewrite never leaves stale files for the `<split>-*` pattern to pick up. `rows_per_group`
    is the parquet row group (what a streaming reader holds at once): 1 for long recordings.
    `language` (an ISO 639-1 code) goes into the card's `language:` list, the hub's own field,
    where a run that is given no `--language` finds it (`card_language`).
    """
    import pyarrow.parquet as pq

    root = Path(root)
    if not tables:
        raise ValueError("tables is empty: give at least one config with one split")
    root.mkdir(parents=True, exist_ok=True)
    configs_yaml: list[dict[str, Any]] = []
    infos_yaml: list[dict[str, Any]] = []
    for config, splits in tables.items():
        _check_name("config", config)
        if not splits:
            raise ValueError(f"config {config!r} has no splits")
        (root / config).mkdir(exist_ok=True)
        data_files: list[dict[str, str]] = []
        split_infos: list[dict[str, Any]] = []
        features: dict[str, Any] | None = None
        download_size = 0
        for split, rows in splits.items():
            _check_name("split", split)
            ordered = _sorted_rows(rows, config, split) if sort_longest_first else list(rows)
            table = _to_table(ordered, sampling_rate)
            if features is not None and list(features) != table.column_names:
                raise ValueError(
                    f"config {config!r}: split {split!r} has columns {table.column_names}, "
                    f"other splits have {list(features)}; one config, one schema"
                )
            features = json.loads(table.schema.metadata[b"huggingface"])["info"]["features"]
            for stale in (root / config).glob(f"{split}-*.parquet"):
                stale.unlink()
            per_file = max_rows_per_file or max(len(ordered), 1)
            n_files = max(1, math.ceil(len(ordered) / per_file))
            for i in range(n_files):
                path = root / config / f"{split}-{i:05d}-of-{n_files:05d}.parquet"
                shard = table.slice(i * per_file, per_file)
                if shard.num_rows:
                    pq.write_table(shard, path, row_group_size=rows_per_group)
                else:
                    # Schema only, no row group: `datasets` reads an empty row group as a
                    # batch size of 0 and fails, while no row group at all is zero rows.
                    pq.ParquetWriter(path, shard.schema).close()
                download_size += path.stat().st_size
            data_files.append({"split": split, "path": f"{config}/{split}-*"})
            split_infos.append(
                {"name": split, "num_bytes": table.nbytes, "num_examples": len(ordered)}
            )
        configs_yaml.append({"config_name": config, "data_files": data_files})
        info: dict[str, Any] = {"config_name": config}
        card_features = _features_yaml(features or {})
        if card_features is not None:
            info["features"] = card_features
        info["splits"] = split_infos
        info["download_size"] = download_size
        info["dataset_size"] = sum(s["num_bytes"] for s in split_infos)
        infos_yaml.append(info)
    _write_readme(root, configs_yaml, infos_yaml, title, language)
    return root


def write_split_streamed(
    root: Path,
    config: str,
    split: str,
    batches: Iterable[Sequence[Mapping[str, Any]]],
    *,
    sampling_rate: int | None = 16000,
    title: str = "asyncbench local dataset",
    language: str | None = None,
    rows_per_group: int = ROWS_PER_GROUP,
) -> int:
    """One config with one split, written batch by batch (rows already in their final order,
    every batch with the same columns): the card and layout of `write_hub_folder`, holding
    one batch of audio in memory at a time instead of the whole split. For sets too large to
    hold at once (`dataset make` on a folder of recordings). Returns the rows written."""
    import pyarrow.parquet as pq

    _check_name("config", config)
    _check_name("split", split)
    root = Path(root)
    (root / config).mkdir(parents=True, exist_ok=True)
    for stale in (root / config).glob(f"{split}-*.parquet"):
        stale.unlink()
    path = root / config / f"{split}-00000-of-00001.parquet"
    writer: pq.ParquetWriter | None = None
    rows = num_bytes = 0
    features: dict[str, Any] = {}
    try:
        for batch in batches:
            table = _to_table(batch, sampling_rate)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
                features = json.loads(table.schema.metadata[b"huggingface"])["info"]["features"]
            elif table.schema != writer.schema:
                raise ValueError(f"{config}/{split}: a batch has other columns than the first")
            if table.num_rows:
                writer.write_table(table, row_group_size=rows_per_group)
            rows += table.num_rows
            num_bytes += table.nbytes
        if writer is None:  # no batch at all: the ESB schema, zero rows
            table = _to_table([], sampling_rate)
            writer = pq.ParquetWriter(path, table.schema)
            features = json.loads(table.schema.metadata[b"huggingface"])["info"]["features"]
    finally:
        if writer is not None:
            writer.close()
    info: dict[str, Any] = {"config_name": config}
    card_features = _features_yaml(features)
    if card_features is not None:
        info["features"] = card_features
    info["splits"] = [{"name": split, "num_bytes": num_bytes, "num_examples": rows}]
    info["download_size"] = path.stat().st_size
    info["dataset_size"] = num_bytes
    configs = [
        {"config_name": config, "data_files": [{"split": split, "path": f"{config}/{split}-*"}]}
    ]
    _write_readme(root, configs, [info], title, language)
    return rows


def _check_name(kind: str, name: str) -> None:
    import re

    # The hub's own rule for split names, applied to configs too since both become paths.
    if not re.fullmatch(r"\w+(\.\w+)*", name):
        raise ValueError(f"{kind} name {name!r} must be word characters, optionally dotted")


def _sorted_rows(
    rows: Sequence[Mapping[str, Any]], config: str, split: str
) -> list[Mapping[str, Any]]:
    rows = list(rows)
    with_length = [r.get("audio_length_s") is not None for r in rows]
    if not any(with_length):
        return rows  # nothing to sort by: keep the caller's order
    if not all(with_length):
        missing = with_length.index(False)
        raise ValueError(
            f"{config}/{split}: row {missing} has no audio_length_s but others do; give every "
            "row a length or pass sort_longest_first=False"
        )
    return sorted(rows, key=lambda r: -float(r["audio_length_s"]))


def _to_table(rows: Sequence[Mapping[str, Any]], sampling_rate: int | None) -> pa.Table:
    import pyarrow as pa

    if not rows:
        names = list(COLUMNS)  # an empty split still gets the ESB schema, zero rows
    else:
        names = [c for c in COLUMNS if any(c in r for r in rows)]
        for row in rows:
            names += [k for k in row if k not in names]
    if not names:
        raise ValueError("rows carry no columns at all")
    arrays: list[pa.Array] = []
    features: dict[str, Any] = {}
    for name in names:
        values = [r.get(name) for r in rows]
        if name == "audio":
            cells = [
                {"bytes": v, "path": None} if isinstance(v, bytes | bytearray) else v
                for v in values
            ]
            arrays.append(
                pa.array(cells, pa.struct([("bytes", pa.binary()), ("path", pa.string())]))
            )
            audio: dict[str, Any] = {"_type": "Audio"}
            if sampling_rate is not None:
                audio = {"sampling_rate": sampling_rate, "_type": "Audio"}
            features[name] = audio
            continue
        known = {"text": pa.string(), "id": pa.string(), "dataset": pa.string()}
        known["audio_length_s"] = pa.float64()
        array = pa.array(values, known.get(name))
        arrays.append(array)
        features[name] = _value_feature(name, array.type)
    meta = {b"huggingface": json.dumps({"info": {"features": features}}).encode()}
    return pa.Table.from_arrays(arrays, names=names).replace_schema_metadata(meta)


def _value_feature(name: str, arrow_type: pa.DataType) -> dict[str, Any]:
    """The `datasets` feature dict for a plain column; unusual types ask `datasets` itself."""
    import pyarrow as pa

    simple = {
        pa.string(): "string",
        pa.large_string(): "large_string",
        pa.float64(): "float64",
        pa.float32(): "float32",
        pa.int64(): "int64",
        pa.int32(): "int32",
        pa.bool_(): "bool",
        pa.binary(): "binary",
        pa.null(): "null",
    }
    if arrow_type in simple:
        return {"dtype": simple[arrow_type], "_type": "Value"}
    from datasets import Features

    return Features.from_arrow_schema(pa.schema([(name, arrow_type)])).to_dict()[name]


def _features_yaml(features: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """README `dataset_info.features` entries in the hub card's shape, or None when a column
    is nested: the card is then left without features and the parquet metadata, which
    `datasets` reads as well, types every column on its own."""
    out: list[dict[str, Any]] = []
    for name, feature in features.items():
        if feature.get("_type") == "Audio":
            audio = {k: v for k, v in feature.items() if k != "_type"}
            out.append({"name": name, "dtype": {"audio": audio} if audio else "audio"})
        elif feature.get("_type") == "Value":
            out.append({"name": name, "dtype": feature["dtype"]})
        else:
            return None
    return out


def _write_readme(
    root: Path,
    configs: list[dict[str, Any]],
    infos: list[dict[str, Any]],
    title: str,
    language: str | None = None,
) -> None:
    import yaml

    card: dict[str, Any] = {"language": [language]} if language else {}
    card.update(configs=configs, dataset_info=infos)
    front = yaml.safe_dump(card, sort_keys=False, allow_unicode=True)
    body = (
        f"# {title}\n\nWritten by `asyncbench.sources.hub_layout` in the layout of "
        "`hf-audio/esb-datasets-test-only-sorted`: one config per corpus, parquet shards per "
        "split, rows sorted longest first.\n"
    )
    (root / "README.md").write_text(f"---\n{front}---\n\n{body}", encoding="utf-8")


# --------------------------------------------------------------------------- chunked sets


def write_chunked_set(
    root: Path,
    chunks: Sequence[Mapping[str, Any]],
    *,
    split: str = "test",
    title: str = "asyncbench local chunked set",
) -> Path:
    """Write a chunked set in the layout of `ArtificialAnalysis/Earnings22-Cleaned-AA-chunked`.

    Each chunk row has `parent_id`, `chunk_index` and `audio` (an `audio_cell` or bytes),
    and may have `file_name` and any other column (`duration`...). The audio goes to
    `root/audio/<file_name>` (default `<parent_id>_<chunk_index>.<ext>`, the extension from
    the cell's path), and the metadata table, with `file_name` instead of audio and no
    reference, to the `default` config, as the board loads it without a config name. The
    recordings' transcripts belong in a parent set: `write_hub_folder(parent_root,
    {"default": {split: rows with id and transcript}})`.
    """
    root = Path(root)
    audio_dir = root / "audio"
    audio_dir.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    for chunk in chunks:
        row = {k: v for k, v in chunk.items() if k != "audio"}
        cell = chunk.get("audio")
        if cell is not None:
            data = cell["bytes"] if isinstance(cell, Mapping) else bytes(cell)
            ext = (
                Path(str(cell.get("path") or "x.flac")).suffix if isinstance(cell, Mapping) else ""
            )
            name = (
                row.get("file_name")
                or f"{row['parent_id']}_{row['chunk_index']:04d}{ext or '.flac'}"
            )
            (audio_dir / name).write_bytes(data)
            row["file_name"] = name
        rows.append(row)
    return write_hub_folder(root, {"default": {split: rows}}, sort_longest_first=False, title=title)


# --------------------------------------------------------------------------- multilingual


def multilingual_sentences() -> dict[str, list[str]]:
    """`{language: sentences}`: accented text with numbers, per language of the track."""
    from importlib.resources import files

    raw = json.loads((files("asyncbench") / "data" / "multilingual_sentences.json").read_text())
    return {lang: list(texts) for lang, texts in raw.items() if not lang.startswith("_")}


def write_multilingual_folder(
    root: Path,
    configs: Sequence[str] = MULTILINGUAL_CONFIGS,
    *,
    per_config: int = 4,
    seconds: float = 1.0,
    text_columns: Mapping[str, str] | None = None,
) -> Path:
    """A small copy of the multilingual track: `configs` (`fleurs_de`, `mcv_fr`, `mls_it`...)
    with split `test`, `per_config` clips each, in the real set's columns (`file_name`,
    `audio`, `duration`, `text`: no `id`, so samples are keyed config/split/index).

    flite speaks no German or French, so each clip carries its own sentence as a watermark
    (`asyncbench.sources.watermark`): the mock answers every clip with its own accented text,
    and a run in the wrong language or with a neighbour's answer shows. `text_columns` names
    another transcript column per config (`{"mcv_fr": "sentence"}`, Common Voice's own name)
    to exercise the loader's column choice. 16 kHz PCM16 WAV, written without torch.
    """
    from asyncbench.core.languages import config_language
    from asyncbench.sources import watermark

    sentences = multilingual_sentences()
    tables: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for n, config in enumerate(configs):
        lang = config_language(config)
        if lang is None or lang not in sentences:
            raise ValueError(
                f"{config!r} is not a multilingual config with fixture sentences "
                f"(<fleurs|mcv|mls>_<{'|'.join(sorted(sentences))}>)"
            )
        texts = sentences[lang]
        column = (text_columns or {}).get(config, "text")
        rows = []
        for i in range(per_config):
            text = texts[(i + n) % len(texts)]
            pcm = watermark.embed(text, seconds + (i % 5) / 10, seed=1000 * n + i)
            name = f"{config}_{i:04d}.wav"
            rows.append(
                {
                    "file_name": name,
                    "audio": audio_cell(encode_wav(pcm, watermark.RATE), name),
                    "duration": len(pcm) / watermark.RATE,
                    column: text,
                }
            )
        tables[config] = {"test": rows}
    return write_hub_folder(
        root, tables, title="asyncbench multilingual fixture (open-asr-leaderboard layout)"
    )
