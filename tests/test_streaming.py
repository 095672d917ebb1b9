"""Streaming as a voice agent feels it: the real-time pacer, the per-sample metrics through
the real engine and results writer, and each failure kind of a stream (against the strict
speechmatics-rt mock and misbehaving loopback servers)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import orjson
import pytest
from aiohttp import WSMsgType, web

from asyncbench.core.errors import ConfigError
from asyncbench.core.streaming import PacedAudio, StreamOptions, check_stream_options, split_chunks
from asyncbench.providers.base import ProviderSettings
from asyncbench.providers.speechmatics_rt import SpeechmaticsRTProvider
from asyncbench.servers.mock.state import MockConfig

from .loopback import served
from .provider_runs import N_SAMPLES, clips, run_engine
from .support import MockServer

KEY = "sm-rt-stream-key"


def provider(url: str, **opts: object) -> SpeechmaticsRTProvider:
    streaming = StreamOptions(**{"realtime_factor": 4.0, **opts})  # type: ignore[arg-type]
    settings = ProviderSettings(model="enhanced", api_key=KEY, base_url=url, streaming=streaming)
    return SpeechmaticsRTProvider(settings)


# -- the pacer -------------------------------------------------------------------------------


async def test_chunks_follow_an_absolute_schedule_and_never_go_early() -> None:
    """2 s of audio at 2x: each chunk is handed over at or after the moment its last sample
    would be spoken, and a consumer that stalls for 0.6 s mid-stream does not push the end
    back by 0.6 s: the chunks after the stall catch up (no drift)."""
    pcm = b"\0\0" * 32000  # 2 s at 16 kHz
    audio = PacedAudio(split_chunks(pcm, 32000, 100), 32000, realtime=True, factor=2.0)
    handed: list[float] = []
    async for _chunk in audio:
        handed.append(time.monotonic())
        if len(handed) == 3:
            await asyncio.sleep(0.6)
    assert audio.t0 is not None and audio.t_end is not None
    assert len(handed) == len(audio.lateness) == audio.sent == 20
    for when, end_s in zip(handed, audio.ends_s, strict=True):
        assert when >= audio.t0 + end_s / 2.0
    assert all(late >= 0 for late in audio.lateness)
    # the stall cost only the chunks due during it: one clock, not one sleep per chunk
    assert audio.t_end - audio.t0 < 1.0 + 0.45
    assert max(audio.lateness) >= 0.5  # and it was measured, not hidden


async def test_no_realtime_sends_at_once() -> None:
    audio = PacedAudio(split_chunks(b"\0\0" * 160000, 32000, 100), 32000, realtime=False)
    start = time.monotonic()
    chunks = [c async for c in audio]
    assert len(chunks) == 100 and time.monotonic() - start < 1.0 and audio.lateness == []


def test_chunks_are_whole_frames_of_the_chosen_length() -> None:
    chunks = split_chunks(b"\1\2" * 16050, 32000, 100)
    assert [len(c) for c in chunks] == [3200] * 10 + [100]


@pytest.mark.parametrize(
    ("chunk_ms", "factor", "needle"),
    [
        (5, 1.0, "--chunk_ms must be between 10 and 1000 (got 5)"),
        (1001, 1.0, "--chunk_ms must be between 10 and 1000 (got 1001)"),
        (None, 0.0, "--realtime_factor must be a number above 0"),
        (None, -2.0, "--realtime_factor must be a number above 0"),
        (None, float("nan"), "--realtime_factor must be a number above 0"),
    ],
)
def test_bad_stream_flags_are_refused(chunk_ms: int | None, factor: float, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        check_stream_options(chunk_ms, factor, 10.0)
    check_stream_options(10, 0.5, 10.0)
    check_stream_options(1000, 100.0, 0.1)


# -- metrics through the engine ----------------------------------------------------------------


async def test_each_line_carries_the_stream_metrics(tmp_path: Path) -> None:
    """Real-time at 4x against the mock finalising 0.25 s after the end of audio: every line
    has its own final transcript, partials came first, and final_after_end_s measures the
    mock's delay (never less; the upper bound is loose: the machine is shared)."""
    delay = 0.25
    async with MockServer(MockConfig(stream_final_delay=delay, stream_partial_every=1)) as mock:
        rows = await run_engine(provider(mock.url), clips(), tmp_path)
    assert len(rows) == N_SAMPLES
    for row in rows.values():
        assert row["status"] == "ok" and row["pred_text"] == row["text"], row
        assert row["partials"] >= 1 and row["chunks"] >= 1
        assert 0 <= row["first_partial_s"] < row["first_final_s"]
        assert delay <= row["final_after_end_s"] < delay + 1.0
        assert row["chunk_late_max_s"] >= 0 and row["connect_s"] >= 0


# -- faults: each fails the sample with a kind and is retried as a whole ------------------------


@pytest.mark.parametrize(
    ("fault", "kind", "reason"),
    [
        ("drop", "connection", "stream closed before the final transcript"),
        ("error", "server_error", "internal_error: injected mid-stream failure"),
        ("no_final", "final_timeout", "no final transcript within 0.3 s of the end of audio"),
    ],
)
async def test_stream_faults_fail_the_sample_and_retry_it_whole(
    tmp_path: Path, fault: str, kind: str, reason: str
) -> None:
    """Every session faults: the sample is streamed again from the start (one new session
    per attempt), then recorded failed with the kind, and no partial is ever its text. (One
    sample: three failures in a row would rest the only endpoint for seconds.)"""
    config = MockConfig(stream_fault=fault, stream_partial_every=1)
    async with MockServer(config) as mock:
        client = provider(mock.url, final_timeout_s=0.3)
        client.retry_after = 0.01
        rows = await run_engine(client, clips(1), tmp_path, max_retries=1)
    assert len(rows) == 1
    for row in rows.values():
        assert (row["status"], row["error_kind"], row["attempts"]) == ("failed", kind, 2), row
        assert reason in row["error"] and row["pred_text"] == "", row
        assert "first_partial_s" not in row
    assert mock.state.counters["speechmatics-rt.requests"] == 2
    assert mock.state.counters["stream.faults"] == 2


async def _serve_script(script):  # type: ignore[no-untyped-def]
    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await script(ws)
        return ws

    app = web.Application()
    app.router.add_get("/v2", handler)
    return app


async def test_partials_without_a_final_are_never_scored(tmp_path: Path) -> None:
    """A server that sends partials and ends the transcript without one final: `no_final`."""

    async def script(ws: web.WebSocketResponse) -> None:
        await ws.receive()
        await ws.send_str('{"message": "RecognitionStarted"}')
        while (await ws.receive()).type == WSMsgType.BINARY:
            part = {"message": "AddPartialTranscript", "metadata": {"transcript": "almost "}}
            await ws.send_str(orjson.dumps(part).decode())
        await ws.send_str('{"message": "EndOfTranscript"}')
        await ws.close()

    async with served(await _serve_script(script)) as base:
        rows = await run_engine(provider(base), clips(2), tmp_path, max_retries=0)
    for row in rows.values():
        assert (row["status"], row["error_kind"], row["pred_text"]) == ("failed", "no_final", "")
        assert "partials and no final" in row["error"]


async def test_a_close_before_recognition_started_is_a_protocol_error(tmp_path: Path) -> None:
    async def script(ws: web.WebSocketResponse) -> None:
        await ws.receive()  # StartRecognition, then the socket goes
        await ws.close()

    async with served(await _serve_script(script)) as base:
        rows = await run_engine(provider(base), clips(2), tmp_path, max_retries=3)
    for row in rows.values():
        assert (row["status"], row["error_kind"], row["attempts"]) == ("failed", "protocol", 1)
        assert "closed the stream before RecognitionStarted" in row["error"]
