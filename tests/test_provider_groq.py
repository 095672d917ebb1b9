"""Groq: the real CLI against the mock, each error kind through the real engine, and the wire
(multipart even for a URL-only form, `url` instead of `file`, Retry-After on 429)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from asyncbench.core.errors import PermanentError, TransientError
from asyncbench.providers.base import AudioPayload
from asyncbench.providers.groq import GroqProvider
from asyncbench.servers.mock.state import MockConfig

from .provider_runs import (
    AudioHost,
    assert_each_retried_once,
    assert_split_end_to_end,
    by_id,
    client,
    clip_list,
    run_clips,
    run_with_key,
    split_fixture,
    transcribe_one,
    wav_clip,
)
from .support import MockServer

ENV = "GROQ_API_KEY"
KEY = "gsk_test_0123456789"
MODEL = "groq/whisper-large-v3"


split = split_fixture("groq")


async def test_split_end_to_end(split: Path, tmp_path: Path) -> None:
    state = await assert_split_end_to_end(MODEL, split, tmp_path, ENV, KEY, "groq")
    assert state.last_request["groq form"]["model"] == "whisper-large-v3"


async def test_rate_limit_honours_retry_after(tmp_path: Path) -> None:
    async with MockServer(MockConfig(retry_after=0.4)) as mock:
        t0 = time.monotonic()
        engine, rows = await run_clips(
            client(MODEL, mock.url, "mock-rate_limit"), clip_list(3), tmp_path / "r"
        )
    assert time.monotonic() - t0 >= 0.4
    assert_each_retried_once(engine, rows, 3, "rate_limited")


async def test_server_errors_are_retried(tmp_path: Path) -> None:
    engine, rows = await run_with_key(MODEL, "mock-server_error", 2, tmp_path / "r")
    assert_each_retried_once(engine, rows, 2, "server_error")


async def test_permanent_errors_are_failed_lines(tmp_path: Path) -> None:
    """An unknown model (404) and bytes that are not audio (400): recorded, never retried."""
    broken = AudioPayload(b"RIFF-not-really-audio", "audio/wav", "audio.wav", 1.0)
    async with MockServer() as mock:
        _, rows = await run_clips(
            client(MODEL, mock.url), [("Fine words.", wav_clip("Fine words.", 1.0)), ("x", broken)],
            tmp_path / "a",
        )  # fmt: skip
        _, unknown = await run_clips(
            client("groq/whisper-2", mock.url), clip_list(1), tmp_path / "b"
        )
    row = by_id(rows)
    assert row["c0"]["pred_text"] == "Fine words."
    assert (row["c1"]["status"], row["c1"]["error_kind"], row["c1"]["attempts"]) == (
        "failed",
        "bad_request",
        1,
    )
    assert "Audio file might be corrupted or unsupported" in row["c1"]["error"]
    assert unknown[0]["error"] == (
        "HTTP 404: The model `whisper-2` does not exist or you do not have access to it."
    )


async def test_rejected_key_is_fatal_and_names_the_variable(tmp_path: Path) -> None:
    keys = MockConfig(keys={"groq": KEY})
    engine, rows = await run_with_key(MODEL, "gsk_wrong_000000", 5, tmp_path / "r", keys)
    assert rows == [] and engine.fatal is not None and engine.fatal.kind == "auth"
    assert str(engine.fatal).startswith("HTTP 401: key rejected; check GROQ_API_KEY: Incorrect")


def test_capacity_exceeded_is_retryable() -> None:
    provider = client(MODEL, "http://h:1")
    assert isinstance(provider, GroqProvider)
    err = provider.error(498, b'{"error": {"message": "Flex tier capacity exceeded"}}', {})
    assert isinstance(err, TransientError) and err.kind == "rate_limited"


async def test_url_mode_sends_a_multipart_url_field() -> None:
    clip = wav_clip("Fetched by Groq.", 0.8)
    async with AudioHost({"a.wav": clip.data}) as host, MockServer() as mock:
        provider = client(MODEL, mock.url)
        url_only = AudioPayload(None, "audio/wav", "a.wav", clip.duration, url=host.url("a.wav"))
        assert await transcribe_one(provider, url_only) == "Fetched by Groq."
        form = mock.state.last_request["groq form"]
        assert form["url"] == host.url("a.wav") and "file" not in form
        assert mock.state.last_request["groq"]["Content-Type"].startswith("multipart/form-data")
        gone = AudioPayload(None, "audio/wav", "b.wav", 1.0, url=host.url("gone.wav"))
        with pytest.raises(PermanentError, match="failed to retrieve media: HTTP 404"):
            await transcribe_one(provider, gone)
    assert GroqProvider.fetches_urls and GroqProvider.default_concurrency == 8


def test_default_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GROQ_BASE_URL", raising=False)
    assert client(MODEL, None).endpoint_urls() == [
        "https://api.groq.com/openai/v1/audio/transcriptions"
    ]
    assert client(MODEL, "http://127.0.0.1:9").endpoint_urls() == [
        "http://127.0.0.1:9/openai/v1/audio/transcriptions"
    ]
