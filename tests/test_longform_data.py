"""The long-form test split: recordings of several minutes from the demo's spoken sentences,
in the hub layout of hf-audio/asr-leaderboard-longform, read back through `datasets`."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from asyncbench.sources.dataset import iter_samples, open_split
from asyncbench.sources.longform_data import SAMPLE_RATE, build_longform_split, string_together

pytestmark = pytest.mark.skipif(shutil.which("flite") is None, reason="needs flite")


def test_string_together_reaches_the_length_with_silences() -> None:
    parts = [("one", np.ones(8000, np.int16)), ("two", np.full(4000, 2, np.int16))]
    text, pcm = string_together(parts, 2.0, start=1, gap_s=0.25)
    assert text == "two one two one"
    assert len(pcm) == 2 * (4000 + 8000) + 4 * 4000 and len(pcm) >= 2 * SAMPLE_RATE
    assert not pcm[4000:8000].any()  # the gap after "two"


def test_a_split_of_minutes_long_recordings(tmp_path: Path) -> None:
    folder = build_longform_split(tmp_path / "longform", [1.0, 0.5])
    ds = open_split(str(folder), "earnings22", "test")
    samples = [s for b in iter_samples(ds, "earnings22", "test", normalize=str.lower) for s in b]
    assert [s.id for s in samples] == ["earnings22-test-long-000", "earnings22-test-long-001"]
    assert 60 <= samples[0].duration < 70 and 30 <= samples[1].duration < 40
    assert len(samples[0].reference.split()) > 100  # the sentences in order
    assert samples[0].audio[:4] == b"fLaC"
    assert samples[0].reference != samples[1].reference  # each starts elsewhere
