"""Smallest AI Pulse: run_eval.py end to end against the mock, the CLI's one-line errors,
URL mode (the service fetches `{"url"}`), each error kind through the real engine, and the
wire (Bearer key, raw bytes as octet-stream, `language` query)."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from asyncbench.core.errors import ConfigError, ProviderError
from asyncbench.core.limits import Limits
from asyncbench.providers import smallestai
from asyncbench.providers.base import AudioPayload, ProviderSettings
from asyncbench.providers.smallestai import SmallestAIProvider

from .eval_runs import (
    Outcome,
    assert_end_to_end,
    assert_refused_before_any_request,
    run_all,
    standard_specs,
)
from .provider_runs import (
    AudioHost,
    assert_key_rejected,
    clip_list,
    run_clips,
    transcribe_one,
    wav_clip,
)
from .support import MockServer

ENV = "SMALLESTAI_API_KEY"
KEY = "sm-test-0123456789"
MODEL = "smallestai/pulse"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    specs = standard_specs(MODEL, ENV, KEY, "smallestai", bad_option=("smallestai/pulse-pro", ()))
    return run_all(tmp_path_factory.mktemp("smallestai"), specs)


def provider(url: str | None, language: str = "en") -> SmallestAIProvider:
    return SmallestAIProvider(
        ProviderSettings(model="pulse", api_key=KEY, base_url=url, language=language)
    )


def test_run_eval_end_to_end(runs: dict[str, Outcome]) -> None:
    ok = runs["ok"]
    assert_end_to_end(ok, MODEL, "smallestai")
    assert ok.mock.last_request["smallestai query"] == {"language": "en"}
    headers = ok.mock.last_request["smallestai"]
    assert headers["Authorization"] == f"Bearer {KEY}"
    assert headers["Content-Type"] == "application/octet-stream"


def test_rejected_key_stops_the_run(runs: dict[str, Outcome]) -> None:
    assert_key_rejected(runs["bad_key"].run, ENV)


def test_unknown_model_is_one_line(runs: dict[str, Outcome]) -> None:
    assert_refused_before_any_request(
        runs["bad_option"],
        "smallestai",
        "error: unknown Smallest AI model 'pulse-pro': the Pulse endpoint serves one model, "
        "use smallestai/pulse",
    )
    with pytest.raises(ConfigError, match="language 'EN_us' is not a code"):
        provider(None, "EN_us")


async def test_url_mode_sends_json_and_the_service_fetches() -> None:
    clip = wav_clip("Fetched by Pulse.", 0.8)
    async with AudioHost({"a.wav": clip.data}) as host, MockServer() as mock:
        url_only = AudioPayload(None, "audio/wav", "a.wav", clip.duration, url=host.url("a.wav"))
        assert await transcribe_one(provider(mock.url), url_only) == "Fetched by Pulse."
        missing = AudioPayload(None, "audio/wav", "b.wav", 1.0, url=host.url("b.wav"))
        async with aiohttp.ClientSession() as session:
            p = provider(mock.url)
            with pytest.raises(ProviderError) as info:
                await p.transcribe(session, p.endpoint_urls()[0], missing)
    assert mock.state.last_request["smallestai"]["Content-Type"] == "application/json"
    assert (info.value.kind, info.value.status) == ("bad_request", 400)
    assert "could not fetch the audio url" in str(info.value)
    assert SmallestAIProvider.fetches_urls


async def test_over_the_size_limit_is_refused_before_upload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(smallestai.SmallestAIProvider, "limits", Limits(max_bytes=10_000))
    async with MockServer() as mock:
        _, rows = await run_clips(provider(mock.url), clip_list(2), tmp_path / "r")
    assert {(r["status"], r["error_kind"]) for r in rows} == {("failed", "too_large")}
    assert mock.state.counters["smallestai.requests"] == 0


async def test_the_mocks_too_large_reply_is_read() -> None:
    body = b'{"errors":"Audio data too large","status":"error","message":"at most 250 MB"}'
    err = provider(None).error(400, body, {})
    assert (err.kind, err.retryable, err.message) == ("bad_request", False, "at most 250 MB")


async def test_the_mock_refuses_unknown_options_and_types() -> None:
    async with MockServer() as mock, aiohttp.ClientSession() as session:
        url = f"{mock.url}/waves/v1/pulse/get_text"
        auth = {"Authorization": f"Bearer {KEY}"}
        async with session.post(url, params={"speed": "2"}, data=b"x", headers=auth) as r:
            unknown = (r.status, await r.json())
        async with session.post(
            url, data=b"x", headers={**auth, "Content-Type": "text/plain"}
        ) as r:
            text_type = (r.status, await r.json())
    assert unknown == (400, {"error": "unknown query parameter(s): speed"})
    assert text_type == (400, {"error": "unsupported Content-Type text/plain"})


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SMALLESTAI_BASE_URL", raising=False)
    assert provider(None).endpoint_urls() == ["https://api.smallest.ai/waves/v1/pulse/get_text"]
    assert (SmallestAIProvider.default_concurrency, SmallestAIProvider.default_timeout) == (
        16,
        300.0,
    )
