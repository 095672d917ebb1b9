"""The rate-robust watermark (`embed(..., robust=True)`): it survives the 16 kHz -> 24 kHz ->
16 kHz round trip that OpenAI's realtime API forces (the exact mark does not), for every
byte value, beside exact marks in one recording, and it never reads a text from noise."""

from __future__ import annotations

import numpy as np
import pytest
import soxr

from asyncbench.sources import watermark

#: every code point length UTF-8 has (1-4 bytes), so lead and continuation bytes all occur
TEXT = (
    "".join(chr(c) for c in range(1, 128))
    + "".join(chr(c) for c in range(0x80, 0x800, 7))
    + "€ and 😀 in one clip"
)


def round_trip(samples: np.ndarray, quality: str = "HQ") -> np.ndarray:
    """What a 24 kHz-only API's mock reads back: the client's 16 -> 24 kHz, the mock's 24 ->
    16 kHz."""
    up = soxr.resample(samples, 16000, 24000, quality=quality)
    return soxr.resample(up, 24000, 16000, quality=quality)


def _stream(samples: np.ndarray, rate_in: int, rate_out: int, chunk: int) -> np.ndarray:
    stream = soxr.ResampleStream(rate_in, rate_out, 1, dtype="int16")
    parts = [stream.resample_chunk(samples[i : i + chunk]) for i in range(0, len(samples), chunk)]
    parts.append(stream.resample_chunk(np.zeros(0, dtype=np.int16), last=True))
    return np.concatenate(parts)


def streamed_round_trip(samples: np.ndarray) -> np.ndarray:
    """The same with both resamplers fed 100 ms at a time, as the mock resamples a stream."""
    return _stream(_stream(samples, 16000, 24000, 1600), 24000, 16000, 2400)


def test_the_exact_mark_does_not_survive_resampling_and_the_robust_one_does() -> None:
    exact = watermark.embed(TEXT, 2.0)
    assert watermark.extract(exact) == TEXT
    assert watermark.extract(round_trip(exact)) is None
    robust = watermark.embed(TEXT, 2.0, robust=True)
    assert watermark.extract(robust) == TEXT
    assert watermark.extract_all(robust) == [TEXT]


@pytest.mark.parametrize("quality", ["HQ", "VHQ", "MQ", "LQ"])
def test_robust_marks_survive_16_24_16_khz(quality: str) -> None:
    robust = watermark.embed(TEXT, 2.0, robust=True, seed=3)
    assert watermark.extract(round_trip(robust, quality)) == TEXT


def test_robust_marks_survive_a_streamed_resampler() -> None:
    robust = watermark.embed(TEXT, 2.0, robust=True)
    assert watermark.extract(streamed_round_trip(robust)) == TEXT


def test_every_byte_value_survives_the_round_trip() -> None:
    data = bytes(range(256)) + bytes(range(255, -1, -1))
    mark = np.concatenate([watermark.robust_mark(data), np.zeros(64, dtype=np.int16)])
    assert watermark.extract_robust_bytes(mark) == data
    assert watermark.extract_robust_bytes(round_trip(mark)) == data
    assert watermark.extract_robust_bytes(streamed_round_trip(mark)) == data


def test_the_block_means_stay_far_inside_the_tolerance() -> None:
    """The margin measured: after the round trip no block's middle mean is more than 400
    from its level (the decoder allows 1200; levels are 3000 apart)."""
    data = bytes(range(256))
    mark = watermark.robust_mark(data)
    back = round_trip(np.concatenate([mark, np.zeros(64, dtype=np.int16)]))
    blocks = (len(mark) - 32) // watermark.BLOCK
    sent = mark[32:].astype(np.float64).reshape(blocks, watermark.BLOCK)[:, 4:12].mean(axis=1)
    got = back[32 : 32 + blocks * watermark.BLOCK].astype(np.float64)
    got = got.reshape(blocks, watermark.BLOCK)[:, 4:12].mean(axis=1)
    assert np.abs(got - sent).max() < 400


def test_extract_all_reads_robust_and_exact_marks_in_order() -> None:
    parts = [
        watermark.embed("first robust", 0.5, robust=True),
        watermark.embed("then an exact one", 0.5, seed=1),
        watermark.embed("last robust", 0.5, robust=True, seed=2),
    ]
    assert watermark.extract_all(np.concatenate(parts)) == [
        "first robust",
        "then an exact one",
        "last robust",
    ]


def test_noise_truncation_and_a_flipped_symbol_read_as_nothing() -> None:
    noise = (np.random.default_rng(5).standard_normal(16000 * 20) * 9000).astype(np.int16)
    assert watermark.extract(noise) is None
    assert watermark.extract_all(noise) == []
    mark = watermark.embed("a short text", 1.0, robust=True)
    cut = mark[: len(watermark.robust_mark(b"a short text")) - watermark.BLOCK]
    assert watermark.extract(cut) is None
    bad = mark.copy()
    at = 32 + 12 * watermark.BLOCK  # a data block: one nibble one level up
    bad[at : at + watermark.BLOCK] += 3000
    assert watermark.extract(bad) is None  # the CRC catches it
