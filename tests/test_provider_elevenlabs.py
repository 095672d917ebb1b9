"""ElevenLabs: the real CLI against the mock, its two 429s, quota and 422 through the real
engine or its own error bodies, and the wire (`xi-api-key`, multipart `model_id`)."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from asyncbench.core.errors import PermanentError, TransientError
from asyncbench.providers.elevenlabs import ElevenLabsProvider
from asyncbench.servers.mock.state import MockConfig

from .provider_runs import (
    assert_each_retried_once,
    assert_split_end_to_end,
    client_of,
    run_clips,
    run_with_key,
    split_fixture,
    wav_clip,
)
from .support import MockServer

ENV = "ELEVENLABS_API_KEY"
KEY = "xi-test-0123456789"
MODEL = "elevenlabs/scribe_v1"


split = split_fixture("elevenlabs")


def provider(url: str, key: str = KEY) -> ElevenLabsProvider:
    return client_of(ElevenLabsProvider, MODEL, url, key)


async def test_split_end_to_end(split: Path, tmp_path: Path) -> None:
    state = await assert_split_end_to_end(MODEL, split, tmp_path, ENV, KEY, "elevenlabs")
    form = state.last_request["elevenlabs form"]
    assert (form["model_id"], form["tag_audio_events"]) == ("scribe_v1", "true")
    assert "language_code" not in form and form["file"].startswith("audio.wav;audio/wav;")
    headers = state.last_request["elevenlabs"]
    assert headers["xi-api-key"] == KEY and "Authorization" not in headers


@pytest.mark.parametrize(
    ("scenario", "kind"),
    [("too_many_concurrent_requests", "concurrency_limited"), ("system_busy", "rate_limited")],
)
async def test_both_429s_are_retried_under_their_own_kind(
    tmp_path: Path, scenario: str, kind: str
) -> None:
    engine, rows = await run_with_key(MODEL, f"mock-{scenario}", 3, tmp_path / "r")
    assert_each_retried_once(engine, rows, 3, kind)


async def test_quota_and_auth_are_fatal(tmp_path: Path) -> None:
    quota, rows_q = await run_with_key(MODEL, "mock-quota_exceeded", 4, tmp_path / "q")
    keys = MockConfig(keys={"elevenlabs": KEY})
    auth, rows_a = await run_with_key(MODEL, "xi-wrong-00000", 4, tmp_path / "a", keys)
    assert rows_q == rows_a == []
    assert quota.fatal is not None and quota.fatal.kind == "quota"
    assert str(quota.fatal) == (
        "HTTP 401: quota or credit exhausted for ELEVENLABS_API_KEY: This request exceeds your "
        "quota. You have 0 credits remaining. (add credit or use another key)"
    )
    assert auth.fatal is not None and auth.fatal.kind == "auth"
    assert str(auth.fatal) == "HTTP 401: key rejected; check ELEVENLABS_API_KEY: Invalid API key"


async def test_validation_errors_are_permanent_with_the_field_named() -> None:
    """What the mock answers a form without `model_id` (a FastAPI 422) means to the client."""
    async with MockServer() as mock, aiohttp.ClientSession() as session:
        form = aiohttp.FormData(default_to_multipart=True)
        form.add_field("file", wav_clip("x", 0.5).data, filename="a.wav", content_type="audio/wav")
        async with session.post(
            f"{mock.url}/v1/speech-to-text", data=form, headers={"xi-api-key": KEY}
        ) as resp:
            status, body = resp.status, await resp.read()
    err = provider(mock.url).error(status, body, {})
    assert isinstance(err, PermanentError) and (err.kind, err.status) == ("bad_request", 422)
    assert err.message == "body.model_id: Field required"


async def test_undecodable_audio_is_a_failed_line(tmp_path: Path) -> None:
    broken = wav_clip("x", 0.5)
    broken.data = b"not audio at all"
    async with MockServer() as mock:
        _, rows = await run_clips(provider(mock.url), [("x", broken)], tmp_path / "r")
    assert (rows[0]["status"], rows[0]["error_kind"], rows[0]["attempts"]) == (
        "failed",
        "bad_request",
        1,
    )
    assert rows[0]["error"].startswith("HTTP 400: the file could not be decoded")


def test_retry_after_is_kept_when_sent() -> None:
    body = b'{"detail": {"status": "system_busy", "message": "busy"}}'
    err = provider("http://h:1").error(429, body, {"Retry-After": "3"})
    assert isinstance(err, TransientError) and (err.kind, err.retry_after) == ("rate_limited", 3.0)
    assert ElevenLabsProvider.default_concurrency == 5 and not ElevenLabsProvider.fetches_urls
