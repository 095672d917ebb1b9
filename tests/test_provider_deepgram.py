"""Deepgram: the real CLI against the mock, each error kind through the real engine, and the
wire (`Token` auth, raw bytes with their MIME type, JSON `{"url"}` with its Content-Type,
both error body shapes)."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from asyncbench.core.errors import PermanentError
from asyncbench.providers.base import AudioPayload
from asyncbench.providers.deepgram import DeepgramProvider

from .provider_runs import (
    AudioHost,
    assert_split_end_to_end,
    client_of,
    split_fixture,
    transcribe_one,
    wav_clip,
)
from .support import MockServer

ENV = "DEEPGRAM_API_KEY"
KEY = "dg-test-0123456789"
MODEL = "deepgram/nova-3"


split = split_fixture("deepgram")


def provider(url: str | None, key: str = KEY) -> DeepgramProvider:
    return client_of(DeepgramProvider, MODEL, url, key)


async def test_split_end_to_end(split: Path, tmp_path: Path) -> None:
    state = await assert_split_end_to_end(MODEL, split, tmp_path, ENV, KEY, "deepgram")
    assert state.last_request["deepgram query"] == {
        "model": "nova-3",
        "language": "en",
        "smart_format": "true",
    }
    headers = state.last_request["deepgram"]
    assert headers["Authorization"] == f"Token {KEY}" and headers["Content-Type"] == "audio/wav"


async def test_url_mode_sends_json_with_its_content_type() -> None:
    clip = wav_clip("Fetched by Deepgram.", 0.8)
    async with AudioHost({"a.wav": clip.data}) as host, MockServer() as mock:
        url_only = AudioPayload(None, "audio/wav", "a.wav", clip.duration, url=host.url("a.wav"))
        assert await transcribe_one(provider(mock.url), url_only) == "Fetched by Deepgram."
        assert mock.state.last_request["deepgram"]["Content-Type"] == "application/json"
        # the pitfall the client avoids: the same JSON without the header is read as audio
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"{mock.url}/v1/listen",
                data=b'{"url": "%s"}' % host.url("a.wav").encode(),
                headers={"Authorization": f"Token {KEY}", "Content-Type": "audio/wav"},
            ) as resp,
        ):
            status, body = resp.status, await resp.read()
    err = provider(mock.url).error(status, body, {})
    assert (status, err.message) == (
        400,
        "Bad Request: failed to process audio: corrupt or unsupported data",
    )
    assert DeepgramProvider.fetches_urls and DeepgramProvider.default_concurrency == 50


async def test_both_error_shapes_are_read() -> None:
    async with MockServer() as mock, aiohttp.ClientSession() as session:
        async with session.post(
            f"{mock.url}/v1/listen",
            json={"link": "http://x/a.wav"},
            headers={"Authorization": f"Token {KEY}"},
        ) as resp:
            status, body = resp.status, await resp.read()
        async with session.post(
            f"{mock.url}/v1/listen", data=b"x", headers={"Authorization": f"Bearer {KEY}"}
        ) as resp:
            auth_status, auth_body = resp.status, await resp.read()
    err = provider(mock.url).error(status, body, {})
    assert isinstance(err, PermanentError) and status == 400
    assert err.message == (
        "Invalid JSON submitted. (Json deserialize error: missing field `url` at line 1 column 1)"
    )
    auth = provider(mock.url).error(auth_status, auth_body, {})
    assert (auth_status, auth.kind, auth.message) == (
        401,
        "auth",
        "key rejected; check DEEPGRAM_API_KEY: Invalid credentials.",
    )


def test_default_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEEPGRAM_BASE_URL", raising=False)
    assert provider(None).endpoint_urls() == ["https://api.deepgram.com/v1/listen"]
    monkeypatch.setenv("DEEPGRAM_BASE_URL", "https://api.eu.deepgram.com")
    assert provider(None).endpoint_urls() == ["https://api.eu.deepgram.com/v1/listen"]
