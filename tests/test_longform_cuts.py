"""Long recordings in pieces: limits arithmetic, silence cuts, streamed encoding, part records."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from asyncbench.core.errors import PermanentError
from asyncbench.core.limits import MB, WAV_BYTES_PER_S, Limits, max_part_seconds, request_timeout
from asyncbench.providers import resolve
from asyncbench.results.parts import PartRecord, parts_path, scan_parts, stitch
from asyncbench.runs.longform import MAX_PARTS, LongformPolicy, plan_recording
from asyncbench.sources import watermark
from asyncbench.sources.audio import parse_wav
from asyncbench.sources.longform import (
    FRAME,
    encode_flac,
    encode_wav_part,
    energy_db,
    open_recording,
    plan_cuts,
)
from asyncbench.sources.longform_layout import flac_bytes, recording


@pytest.fixture(scope="module")
def two_minutes() -> tuple[np.ndarray, str]:
    return recording(120, seed=7)


def test_limits_and_the_longest_part() -> None:
    openai = Limits(max_bytes=25 * MB, max_seconds=1400)
    assert openai.allows(25 * MB, 1400) and not openai.allows(25 * MB + 1, 10)
    assert not openai.allows(10, 1401)
    # 25 MB of 16 kHz PCM16 WAV is about 819 s: the byte limit binds before 1400 s
    assert 810 < max_part_seconds(openai, 10_000) < 25 * MB / WAV_BYTES_PER_S
    assert max_part_seconds(openai, 300) == 300
    assert max_part_seconds(Limits(max_seconds=600), 900) == 600
    assert openai.with_max_bytes(None) is openai
    assert openai.with_max_bytes(3 * MB).max_bytes == 3 * MB
    assert openai.describe() == "25 MB, 1400 s"
    # --timeout is a floor; long audio gets its per-second allowance above it
    assert request_timeout(120, 0.25, 60) == 120
    assert request_timeout(120, 0.25, 1200) == 300


def test_every_provider_declares_its_limits() -> None:
    """C5's figures live in the provider files, where the engine never looks."""
    openai, _ = resolve("openai/whisper-1")
    assert openai.limits == Limits(max_bytes=25 * MB, max_seconds=1400.0) and openai.accepts_flac
    assert resolve("groq/whisper-large-v3")[0].limits.max_bytes == 25 * MB
    assert resolve("openai-compatible/whisper")[0].limits == Limits()
    assert resolve("aldea/default")[0].limits.max_seconds == 600
    assert resolve("assembly/best")[0].limits.max_seconds == 36000
    assert resolve("revai/machine")[0].limits.max_bytes == 2 * 1024 * MB


def test_cuts_fall_in_pauses_and_parts_carry_their_own_sentences(
    two_minutes: tuple[np.ndarray, str], tmp_path: Path
) -> None:
    samples, reference = two_minutes
    rec = open_recording(flac_bytes(samples))
    try:
        assert rec.frames == len(samples)
        energy = energy_db(rec)
        assert len(energy) == len(samples) // FRAME
        parts = plan_cuts(energy, rec.frames, 25 * 16000)
        assert parts[0][0] == 0 and parts[-1][1] == len(samples)
        assert all(a[1] == b[0] for a, b in itertools.pairwise(parts))
        assert all(0 < end - start <= 25 * 16000 for start, end in parts)
        assert len(parts) >= 5
        texts = []
        for start, end in parts:
            # at the cut the recording is quiet (a pause), never inside a sentence
            if start:
                around = samples[start - 800 : start + 800].astype(np.float64)
                assert np.sqrt(np.mean(around**2)) < 100
            wav = encode_wav_part(rec, start, end)
            info = parse_wav(bytes(wav))
            assert info is not None and info.data_len == 2 * (end - start)
            body = np.frombuffer(wav, dtype="<i2", offset=44)
            assert np.array_equal(body, samples[start:end])  # lossless, sample for sample
            texts.append(" ".join(watermark.extract_all(body)))
        assert stitch(texts) == reference
    finally:
        rec.close()


def test_flac_is_encoded_block_by_block_and_lossless(two_minutes: tuple[np.ndarray, str]) -> None:
    samples, _ = two_minutes
    rec = open_recording(flac_bytes(samples))
    try:
        fh = encode_flac(rec)
        assert fh is not None
        fh.seek(0)
        flac = fh.read()
        fh.close()
        # hopeless: given up on well before the end
        assert encode_flac(rec, max_bytes=len(flac) // 2) is None
        assert encode_flac(rec, max_bytes=len(flac)) is not None
    finally:
        rec.close()
    decoded, rate = sf.read(io.BytesIO(flac), dtype="int16")
    assert rate == 16000 and np.array_equal(decoded, samples)
    assert len(flac) < 2 * len(samples)


def test_a_recording_at_another_rate_is_decoded_in_blocks_at_16k(tmp_path: Path) -> None:
    """44.1 kHz: read 30 s at a time and resampled as a stream into a 16 kHz spill: the
    same samples as resampling the whole file at once, and no whole-file array."""
    import soxr

    from asyncbench.sources.audio import BadAudio, to_wav16k

    t = np.arange(44100 * 65) / 44100
    tone = (np.sin(2 * np.pi * 440 * t) * 8000 * (1 + np.sin(t))).astype(np.int16)
    buf = io.BytesIO()
    sf.write(buf, tone, 44100, format="FLAC")
    data = buf.getvalue()
    rec = open_recording(data)
    try:
        assert rec.frames == 65 * 16000
        got = np.empty(rec.frames, dtype=np.int16)
        rec.read(0, got)
    finally:
        rec.close()
    assert np.array_equal(got, soxr.resample(tone, 44100, 16000))  # as if resampled at once
    # and close to what FFmpeg makes of the whole file (another resampler)
    whole = np.frombuffer(to_wav16k(data)[0], "<i2", offset=44).astype(np.int32)
    assert np.abs(got.astype(np.int32) - whole)[100:-100].max() < 400
    with pytest.raises(BadAudio, match="cannot decode the recording"):
        open_recording(b"\x00garbage" * 1000)


def policy(**kw: object) -> LongformPolicy:
    values: dict = dict(provider="openai", limits=Limits(max_bytes=25 * MB), accepts_flac=True)
    values.update(kw)
    return LongformPolicy(**values)


def test_whole_flac_or_parts_by_the_limits(two_minutes: tuple[np.ndarray, str]) -> None:
    samples, _ = two_minutes
    rec = open_recording(flac_bytes(samples))
    wav_size = 44 + 2 * len(samples)
    try:
        assert plan_recording(rec, policy()).ranges == [(0, len(samples))]
        # over the byte limit as WAV, under it as FLAC: whole, as FLAC
        fh = encode_flac(rec)
        assert fh is not None
        flac_size = fh.seek(0, 2)
        fh.close()
        plan = plan_recording(rec, policy(limits=Limits(max_bytes=(flac_size + wav_size) // 2)))
        assert plan.fmt == "flac" and len(plan.ranges) == 1
        # no FLAC for this provider: parts, each under the limit as WAV
        plan = plan_recording(rec, policy(limits=Limits(max_bytes=MB), accepts_flac=False))
        assert plan.fmt == "wav" and len(plan.ranges) >= 4
        assert all(44 + 2 * (b - a) <= MB for a, b in plan.ranges)
        # over the duration limit: FLAC cannot help
        plan = plan_recording(rec, policy(limits=Limits(max_seconds=50)))
        assert plan.fmt == "wav" and all(b - a <= 50 * 16000 for a, b in plan.ranges)
        with pytest.raises(PermanentError) as off:
            plan_recording(rec, policy(limits=Limits(max_seconds=50), chunking="off"))
        assert off.value.kind == "over_limit" and "--chunking auto" in str(off.value)
        with pytest.raises(PermanentError) as long:
            plan_recording(rec, policy(limits=Limits(max_seconds=120 / (MAX_PARTS + 1))))
        assert long.value.kind == "too_long"
    finally:
        rec.close()


def test_part_records_survive_a_torn_line(tmp_path: Path) -> None:
    path = parts_path(tmp_path / "MODEL_x_DATASET_y_test.jsonl")
    assert path.name == "MODEL_x_DATASET_y_test.parts.ndjson"  # not *.jsonl: scorers skip it
    lines = [
        PartRecord("a", 0, 2, 0, 10, "one", 0.5).to_line(),
        PartRecord("b", 0, 2, 0, 10, "x", 0.5).to_line(),
        PartRecord("a", 1, 2, 10, 20, "two", 0.25).to_line()[:-9],  # killed mid-append
    ]
    path.write_bytes(b"".join(lines))
    done = scan_parts(path, skip_ids={"b"})
    assert list(done) == ["a"] and list(done["a"]) == [0]
    assert done["a"][0].pred_text == "one" and done["a"][0].time == 0.5
    assert stitch([" one ", "", "two"]) == "one two"


def test_progress_counts_audio_seconds() -> None:
    """With a few long recordings the sample count hardly moves; audio done does (the
    engine adds each part as it comes back)."""
    from asyncbench.engine.endpoints import EndpointPool
    from asyncbench.engine.stats import RunStats
    from asyncbench.reporting.progress import RateMeter, progress_line

    stats = RunStats(total=8)
    stats.audio_s = 3725.0
    line = progress_line(
        stats, EndpointPool(["http://127.0.0.1:9/v1"], 8), RateMeter(stats).sample(), 8
    )
    assert "0/8 done" in line and "1h02m audio done" in line


def test_a_container_libsndfile_cannot_read_goes_through_ffmpeg_in_blocks() -> None:
    """MP4 (AAC) at 48 kHz: FFmpeg decodes it range by range at its own rate, soxr makes it
    16 kHz; the length and the level of the tone survive (AAC is lossy)."""
    from asyncbench.sources.hub_layout import encode_audio

    t = np.arange(48000 * 65) / 48000
    tone = (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)
    data = encode_audio(tone, 48000, "mp4")
    with pytest.raises(sf.LibsndfileError):
        sf.info(io.BytesIO(data))
    rec = open_recording(data)
    try:
        assert abs(rec.frames - 65 * 16000) < 2048  # AAC adds priming samples
        got = np.empty(rec.frames, dtype=np.int16)
        rec.read(0, got)
    finally:
        rec.close()
    level = np.sqrt(np.mean(got[16000:-16000].astype(np.float64) ** 2))
    assert abs(level - 8000 / np.sqrt(2)) < 300
