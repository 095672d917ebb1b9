"""The demo speech set: real flite speech, ESB layout, recognisable, built once."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from datasets import load_dataset

from asyncbench.core.errors import ConfigError
from asyncbench.sources.demo_data import (
    FLITE_MISSING,
    STAMP_NAME,
    build_demo_dataset,
    demo_clips,
    load_demo_sentences,
)

from ._speech import word_errors

ESB_COLUMNS = ["audio", "dataset", "text", "id", "audio_length_s"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo_dataset(tmp_path_factory.mktemp("demo") / "demo_data")


def splits_of(root: Path) -> list[tuple[str, str]]:
    card = yaml.safe_load((root / "README.md").read_text().split("---\n")[1])
    return [(c["config_name"], f["split"]) for c in card["configs"] for f in c["data_files"]]


def rows_of(root: Path, config: str, split: str) -> list[dict]:
    return list(load_dataset(str(root), config, split=split, streaming=True).decode(False))


def test_sentences_are_plain_english_spoken_by_real_voices() -> None:
    clips = demo_clips()
    assert 40 <= len(clips) <= 60
    voices = subprocess.run(["flite", "-lv"], capture_output=True, text=True).stdout.split()
    for clip in clips:
        assert not re.search(r"\d", clip.text), clip.text
        assert clip.voice in voices
    assert len({c.text for c in clips}) == len(clips)


def test_demo_set_has_the_esb_layout(demo: Path) -> None:
    assert splits_of(demo) == [
        ("librispeech", "test.clean"),
        ("librispeech", "test.other"),
        ("voxpopuli", "test"),
        ("tedlium", "test"),
    ]
    spec = load_demo_sentences()["configs"]
    ids: set[str] = set()
    for config, split in splits_of(demo):
        ds = load_dataset(str(demo), config, split=split, streaming=True)
        assert list(ds.features) == ESB_COLUMNS
        rows = rows_of(demo, config, split)
        assert sorted(r["text"] for r in rows) == sorted(spec[config][split]["sentences"])
        lengths = [r["audio_length_s"] for r in rows]
        assert lengths == sorted(lengths, reverse=True) and lengths[-1] > 1.0
        for r in rows:
            assert r["dataset"] == config
            assert r["audio"]["bytes"][:4] == b"fLaC"
            assert r["audio"]["path"] == f"{r['id']}.flac"
            ids.add(r["id"])
    assert len(ids) == len(demo_clips())


def test_clips_are_16k_mono_and_as_long_as_they_say(demo: Path) -> None:
    from torchcodec.decoders import AudioDecoder

    for config, split in splits_of(demo):
        r = rows_of(demo, config, split)[-1]
        decoded = AudioDecoder(r["audio"]["bytes"])
        assert (decoded.metadata.sample_rate, decoded.metadata.num_channels) == (16000, 1)
        samples = decoded.get_all_samples()
        assert samples.data.shape[1] / 16000 == pytest.approx(r["audio_length_s"], abs=1e-3)


def test_pocketsphinx_understands_the_demo_speech(demo: Path) -> None:
    from asyncbench.servers.serve import transcribe_audio

    errors = words = 0
    for config, split in splits_of(demo):
        r = rows_of(demo, config, split)[-1]  # the shortest of each split, to keep it quick
        errors += word_errors(r["text"], transcribe_audio(r["audio"]["bytes"]))
        words += len(r["text"].split())
    # The whole set scores 5-6 % WER; four clips leave room for one bad sentence, not for
    # noise, silence or speech at the wrong rate.
    assert errors / words < 0.25


def test_a_second_build_returns_at_once_and_rewrites_nothing(demo: Path) -> None:
    before = {p: p.stat().st_mtime_ns for p in demo.rglob("*") if p.is_file()}
    t0 = time.perf_counter()
    assert build_demo_dataset(demo) == demo
    assert time.perf_counter() - t0 < 1.0
    assert {p: p.stat().st_mtime_ns for p in demo.rglob("*") if p.is_file()} == before


def test_an_incomplete_set_is_rebuilt(demo: Path, tmp_path: Path) -> None:
    copy = shutil.copytree(demo, tmp_path / "copy")
    lost = copy / "voxpopuli" / "test-00000-of-00001.parquet"
    lost.unlink()
    build_demo_dataset(copy)
    assert lost.is_file()
    assert len(rows_of(copy, "voxpopuli", "test")) == 14
    assert (copy / STAMP_NAME).is_file()


def test_missing_flite_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH on which there is no flite
    with pytest.raises(ConfigError) as info:
        build_demo_dataset(tmp_path / "out")
    assert str(info.value) == FLITE_MISSING
    assert not (tmp_path / "out").exists()

    out = subprocess.run(
        [sys.executable, "-m", "asyncbench.sources.demo_data", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": str(tmp_path)},
    )
    assert out.returncode == 2
    assert out.stderr == (
        "error: flite not found; install it with 'apt-get install flite' (make install does this)\n"
    )
