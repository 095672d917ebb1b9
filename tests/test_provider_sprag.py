"""Sprag Symphony: run_eval.py end to end against the mock, the CLI's one-line errors, the
wire (Bearer key, `model` and `temperature` only) and the process-wide request pacing. The
shared checks (errors, retries) are in test_provider_conformance.py."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from asyncbench.core.errors import ConfigError
from asyncbench.providers.base import ProviderSettings
from asyncbench.providers.sprag import SpragProvider

from .eval_runs import (
    Outcome,
    Spec,
    assert_end_to_end,
    assert_refused_before_any_request,
    lb_env,
    run_all,
    standard_specs,
)
from .provider_runs import assert_key_rejected, clip_list, wav_clip
from .support import MockServer

ENV = "SPRAG_API_KEY"
KEY = "sp-test-0123456789"
MODEL = "sprag/symphony"
SUFFIX = "/sprag/v1"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    specs = standard_specs(MODEL, ENV, KEY, "sprag", bad_option=(MODEL, ()), base_suffix=SUFFIX)
    specs["bad_option"] = Spec(
        MODEL, lb_env(**{ENV: KEY, "SPRAG_REQUESTS_PER_MINUTE": "fast"}), base_suffix=SUFFIX
    )
    del specs["no_key"]  # the conformance suite checks the missing key's line
    return run_all(tmp_path_factory.mktemp("sprag"), specs)


def provider(url: str | None) -> SpragProvider:
    return SpragProvider(ProviderSettings(model="symphony", api_key=KEY, base_url=url))


def test_run_eval_end_to_end(runs: dict[str, Outcome]) -> None:
    ok = runs["ok"]
    assert_end_to_end(ok, MODEL, "sprag")
    form = ok.mock.last_request["sprag form"]
    assert sorted(form) == ["file", "model", "temperature"]
    assert (form["model"], form["temperature"]) == ("symphony", "0.0")
    assert ok.mock.last_request["sprag"]["Authorization"] == f"Bearer {KEY}"


def test_rejected_key_stops_the_run(runs: dict[str, Outcome]) -> None:
    line = assert_key_rejected(runs["bad_key"].run, ENV)
    assert "Incorrect API key provided" in line and "wrong-key-0000" not in line


def test_bad_rate_is_one_line(runs: dict[str, Outcome]) -> None:
    assert_refused_before_any_request(
        runs["bad_option"],
        "sprag",
        "error: SPRAG_REQUESTS_PER_MINUTE must be a positive number of requests per minute "
        "(got 'fast')",
    )


async def test_one_rate_limit_for_the_whole_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two clients of one account (two splits of a batch) share the budget: at 600 requests a
    minute, 12 requests between them need at least 11 gaps of 0.1 s."""
    monkeypatch.setenv("SPRAG_REQUESTS_PER_MINUTE", "600")
    items = clip_list(12, seconds=0.5)
    async with MockServer() as mock, aiohttp.ClientSession() as session:
        clients = [provider(mock.url + SUFFIX), provider(mock.url + SUFFIX)]
        started = time.monotonic()
        texts = await asyncio.gather(
            *(
                clients[i % 2].transcribe(session, clients[i % 2].url, audio)
                for i, (_, audio) in enumerate(items)
            )
        )
        elapsed = time.monotonic() - started
    assert texts == [text for text, _ in items]
    assert elapsed >= 1.05, elapsed
    assert mock.state.counters["sprag.requests"] == 12


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPRAG_BASE_URL", raising=False)
    assert provider(None).endpoint_urls() == ["https://api.sprag.ai/v1/audio/transcriptions"]
    monkeypatch.setenv("SPRAG_BASE_URL", "http://10.0.0.2:8000/v1")
    assert provider(None).url == "http://10.0.0.2:8000/v1/audio/transcriptions"
    assert (SpragProvider.default_concurrency, SpragProvider.default_timeout) == (8, 600.0)
    assert not SpragProvider.fetches_urls
    monkeypatch.setenv("SPRAG_REQUESTS_PER_MINUTE", "0")
    with pytest.raises(ConfigError, match="got '0'"):
        provider(None)


async def test_the_openai_sdk_transcribes_through_the_mock() -> None:
    """Sprag serves the OpenAI protocol, so the official openai SDK is its client too."""
    import openai

    clip = wav_clip("Symphony heard this.", 0.8)
    async with MockServer() as mock:
        sdk = openai.AsyncOpenAI(api_key=KEY, base_url=f"{mock.url}{SUFFIX}", max_retries=0)
        reply = await sdk.audio.transcriptions.create(
            model="symphony", file=("a.wav", clip.data or b"", "audio/wav"), temperature=0.0
        )
        await sdk.close()
    assert reply.text == "Symphony heard this."
    assert mock.state.last_request["sprag form"]["temperature"] == "0.0"
