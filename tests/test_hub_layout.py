"""Hub-layout folders load through `datasets` exactly like the real ESB set would."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np
import pytest
import yaml
from datasets import Audio, Value, load_dataset

from asyncbench.sources.hub_layout import (
    audio_cell,
    encode_audio,
    encode_wav,
    make_row,
    write_hub_folder,
)

ESB_COLUMNS = ["audio", "dataset", "text", "id", "audio_length_s"]


def tone(seconds: float, rate: int = 16000, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    mono = (0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)
    return np.stack([mono] * channels) if channels > 1 else mono


def row(name: str, seconds: float, config: str = "librispeech", **extra: object) -> dict:
    return make_row(
        tone(seconds), 16000, name=name, text=f"words of {name}", id=name, dataset=config, **extra
    )


def stream(root: Path, config: str, split: str, *, decode: bool = False):
    ds = load_dataset(str(root), config, split=split, streaming=True)
    return ds if decode else ds.decode(False)


def front_matter(root: Path) -> dict:
    text = (root / "README.md").read_text()
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def test_esb_shaped_folder_streams_each_split_longest_first(tmp_path: Path) -> None:
    tables = {
        "librispeech": {
            "test.clean": [row("c-short", 0.5), row("c-long", 1.5), row("c-mid", 1.0)],
            "test.other": [row("o-short", 0.25), row("o-long", 0.75)],
        },
        "voxpopuli": {"test": [row("v-a", 0.5, "voxpopuli"), row("v-b", 0.6, "voxpopuli")]},
    }
    root = write_hub_folder(tmp_path / "esb", tables)
    assert root == tmp_path / "esb"

    card = front_matter(root)
    assert card["configs"] == [
        {
            "config_name": "librispeech",
            "data_files": [
                {"split": "test.clean", "path": "librispeech/test.clean-*"},
                {"split": "test.other", "path": "librispeech/test.other-*"},
            ],
        },
        {"config_name": "voxpopuli", "data_files": [{"split": "test", "path": "voxpopuli/test-*"}]},
    ]
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*.parquet")) == [
        "librispeech/test.clean-00000-of-00001.parquet",
        "librispeech/test.other-00000-of-00001.parquet",
        "voxpopuli/test-00000-of-00001.parquet",
    ]

    expected_ids = {
        ("librispeech", "test.clean"): ["c-long", "c-mid", "c-short"],
        ("librispeech", "test.other"): ["o-long", "o-short"],
        ("voxpopuli", "test"): ["v-b", "v-a"],
    }
    originals = {r["id"]: r for splits in tables.values() for rows in splits.values() for r in rows}
    for (config, split), ids in expected_ids.items():
        ds = stream(root, config, split, decode=True)
        assert list(ds.features) == ESB_COLUMNS
        assert ds.features["audio"] == Audio(sampling_rate=16000)
        assert ds.features["audio_length_s"] == Value("float64")
        assert all(ds.features[c] == Value("string") for c in ("dataset", "text", "id"))
        rows = list(ds)
        assert [r["id"] for r in rows] == ids
        for r in rows:
            assert r["text"] == f"words of {r['id']}" and r["dataset"] == config
            samples = r["audio"].get_all_samples()
            assert samples.sample_rate == 16000
            assert samples.data.shape[1] == round(r["audio_length_s"] * 16000)
        for r in stream(root, config, split):
            assert r["audio"] == originals[r["id"]]["audio"]  # bytes and file name, untouched


@pytest.mark.parametrize("dropped", ["text", "id"])
def test_callers_may_leave_columns_out(tmp_path: Path, dropped: str) -> None:
    rows = [row("a", 0.3), row("b", 0.2)]
    for r in rows:
        del r[dropped]
    root = write_hub_folder(tmp_path / dropped, {"ami": {"test": rows}})
    ds = stream(root, "ami", "test")
    assert list(ds.features) == [c for c in ESB_COLUMNS if c != dropped]
    got = list(ds)
    assert [r["audio_length_s"] for r in got] == [0.3, 0.2]
    assert all(dropped not in r for r in got)


def test_odd_audio_is_stored_byte_for_byte(tmp_path: Path) -> None:
    stereo_44k = encode_audio(tone(0.8, 44100, channels=2), 44100, "flac")
    mp3 = encode_audio(tone(0.6), 16000, "mp3")
    empty = encode_wav(np.zeros(0, np.int16), 16000)
    rows = [
        {"audio": audio_cell(stereo_44k, "stereo.flac"), "id": "stereo", "audio_length_s": 0.8},
        {"audio": audio_cell(mp3, "clip.mp3"), "id": "mp3", "audio_length_s": 0.6},
        {"audio": audio_cell(b"\x00not audio", "bad.flac"), "id": "bad", "audio_length_s": 0.4},
        {"audio": audio_cell(empty, "empty.wav"), "id": "empty", "audio_length_s": 0.0},
        {"audio": stereo_44k, "id": "bare-bytes", "audio_length_s": 0.1},  # no file name
    ]
    root = write_hub_folder(tmp_path / "odd", {"odd": {"test": rows}})
    got = {r["id"]: r["audio"] for r in stream(root, "odd", "test")}
    assert got == {
        "stereo": {"bytes": stereo_44k, "path": "stereo.flac"},
        "mp3": {"bytes": mp3, "path": "clip.mp3"},
        "bad": {"bytes": b"\x00not audio", "path": "bad.flac"},
        "empty": {"bytes": empty, "path": "empty.wav"},
        "bare-bytes": {"bytes": stereo_44k, "path": None},
    }
    # Decoded by `datasets`, the 44.1 kHz stereo clip arrives at the feature's 16 kHz.
    first = next(iter(stream(root, "odd", "test", decode=True)))
    assert first["id"] == "stereo"
    assert first["audio"].get_all_samples().sample_rate == 16000


def test_shards_keep_the_order_and_a_rewrite_leaves_no_stale_shard(tmp_path: Path) -> None:
    rows = [row(f"r{i}", 0.1 + 0.05 * ((i * 3) % 7)) for i in range(7)]
    root = write_hub_folder(tmp_path / "sharded", {"ami": {"test": rows}}, max_rows_per_file=3)
    assert sorted(p.name for p in (root / "ami").iterdir()) == [
        "test-00000-of-00003.parquet",
        "test-00001-of-00003.parquet",
        "test-00002-of-00003.parquet",
    ]
    lengths = [r["audio_length_s"] for r in stream(root, "ami", "test")]
    assert lengths == sorted((r["audio_length_s"] for r in rows), reverse=True)

    write_hub_folder(root, {"ami": {"test": rows[:2]}})
    assert [p.name for p in (root / "ami").iterdir()] == ["test-00000-of-00001.parquet"]
    assert [r["id"] for r in stream(root, "ami", "test")] == ["r1", "r0"]


def test_order_is_kept_when_asked_or_when_there_are_no_lengths(tmp_path: Path) -> None:
    rows = [row("short", 0.1), row("long", 0.3)]
    root = write_hub_folder(tmp_path / "a", {"x": {"test": rows}}, sort_longest_first=False)
    assert [r["id"] for r in stream(root, "x", "test")] == ["short", "long"]

    bare = [{k: v for k, v in r.items() if k != "audio_length_s"} for r in rows]
    root = write_hub_folder(tmp_path / "b", {"x": {"test": bare}})
    assert [r["id"] for r in stream(root, "x", "test")] == ["short", "long"]

    mixed = [rows[0], bare[1]]
    with pytest.raises(ValueError, match=r"x/test: row 1 has no audio_length_s but others do"):
        write_hub_folder(tmp_path / "c", {"x": {"test": mixed}})


def test_an_empty_split_has_the_esb_columns_and_no_rows(tmp_path: Path) -> None:
    root = write_hub_folder(tmp_path / "empty", {"x": {"test": []}})
    ds = stream(root, "x", "test")
    assert list(ds.features) == ESB_COLUMNS
    assert list(ds) == []


def test_extra_and_nested_columns_are_typed(tmp_path: Path) -> None:
    rows = [row("a", 0.2, speaker=7, tags=["x", "y"]), row("b", 0.1, speaker=8, tags=[])]
    root = write_hub_folder(tmp_path / "extra", {"x": {"test": rows}})
    ds = stream(root, "x", "test")
    assert list(ds.features) == [*ESB_COLUMNS, "speaker", "tags"]
    assert ds.features["speaker"] == Value("int64")
    assert [(r["speaker"], r["tags"]) for r in ds] == [(7, ["x", "y"]), (8, [])]


@pytest.mark.parametrize(
    ("tables", "message"),
    [
        ({}, "tables is empty"),
        ({"x": {}}, "config 'x' has no splits"),
        ({"bad/name": {"test": []}}, "config name 'bad/name' must be word characters"),
        ({"x": {"test-1": []}}, "split name 'test-1' must be word characters"),
    ],
)
def test_malformed_tables_are_refused(tmp_path: Path, tables: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        write_hub_folder(tmp_path / "bad", tables)


def test_splits_of_one_config_share_one_schema(tmp_path: Path) -> None:
    other = row("b", 0.1)
    del other["text"]
    with pytest.raises(ValueError, match="one config, one schema"):
        write_hub_folder(
            tmp_path / "s", {"x": {"test.clean": [row("a", 0.1)], "test.other": [other]}}
        )


# --------------------------------------------------------------------------- encoders


def test_integer_wavs_are_readable_by_the_stdlib_and_int16_is_bit_exact() -> None:
    pcm = np.random.default_rng(1).integers(-32768, 32767, (2, 1000)).astype(np.int16)
    data = encode_wav(pcm, 22050)
    with wave.open(io.BytesIO(data)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (
            2,
            2,
            22050,
            1000,
        )
        frames = np.frombuffer(w.readframes(1000), "<i2").reshape(-1, 2).T
    assert np.array_equal(frames, pcm)
    for fmt, width in (("u8", 1), ("s32", 4)):
        with wave.open(io.BytesIO(encode_wav(tone(0.1), 16000, sample_format=fmt))) as w:
            assert (w.getsampwidth(), w.getnframes()) == (width, 1600)


def test_every_wav_format_and_flac_decode_to_the_same_signal() -> None:
    from torchcodec.decoders import AudioDecoder

    signal = tone(0.25, 8000)
    for fmt, tolerance in (("u8", 1 / 127), ("s16", 1 / 32767), ("s32", 1e-6), ("f32", 0.0)):
        data = encode_wav(signal, 8000, sample_format=fmt)
        if fmt == "f32":
            assert data[20:22] == b"\x03\x00"  # WAVE_FORMAT_IEEE_FLOAT
        decoded = AudioDecoder(data).get_all_samples()
        assert decoded.sample_rate == 8000
        assert np.abs(decoded.data.numpy()[0] - signal).max() <= tolerance + 1e-7
    flac = AudioDecoder(encode_audio(signal, 8000, "flac")).get_all_samples()
    assert np.abs(flac.data.numpy()[0] - signal).max() <= 1 / 32767


def test_make_row_measures_and_names_the_clip() -> None:
    r = make_row(tone(1.0, 8000, channels=2), 8000, name="clip", fmt="mp3", out_rate=16000, id="q")
    assert r["audio"]["path"] == "clip.mp3"
    assert r["audio_length_s"] == 1.0
    assert r["id"] == "q"
    assert r["audio"]["bytes"][:3] in (b"ID3", b"\xff\xfb"[:3])
    assert make_row(tone(0.5), 16000, name="w", fmt="wav")["audio"]["bytes"][:4] == b"RIFF"
    assert make_row(np.zeros(0), 16000, name="z")["audio_length_s"] == 0.0
