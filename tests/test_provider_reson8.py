"""Reson8: run_eval.py end to end against the mock, the CLI's one-line errors, the access
token (bought once, shared, renewed before it expires and when refused), each error kind
through the real engine, and the wire (query, raw bytes, Bearer token)."""

from __future__ import annotations

import aiohttp
import pytest

from asyncbench.core.errors import ConfigError
from asyncbench.providers.base import AudioPayload, ProviderSettings
from asyncbench.providers.reson8 import Reson8Provider
from asyncbench.servers.mock import reson8 as reson8_mock
from asyncbench.servers.mock.state import MockConfig

from .eval_runs import (
    Outcome,
    assert_end_to_end,
    assert_refused_before_any_request,
    run_all,
    standard_specs,
)
from .provider_runs import (
    assert_key_rejected,
    clip_list,
)
from .support import MockServer

ENV = "RESON8_API_KEY"
KEY = "r8-test-0123456789"
MODEL = "reson8/resonant-1"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    specs = standard_specs(
        MODEL, ENV, KEY, "reson8", bad_option=(MODEL, ("--base_url", "ftp://127.0.0.1:1"))
    )
    return run_all(tmp_path_factory.mktemp("reson8"), specs)


def provider(url: str | None, key: str = KEY, language: str = "en") -> Reson8Provider:
    return Reson8Provider(
        ProviderSettings(model="resonant-1", api_key=key, base_url=url, language=language)
    )


async def transcribe_all(p: Reson8Provider, items: list[tuple[str, AudioPayload]]) -> list[str]:
    async with aiohttp.ClientSession() as session:
        return [await p.transcribe(session, p.endpoint_urls()[0], audio) for _, audio in items]


def test_run_eval_end_to_end(runs: dict[str, Outcome]) -> None:
    ok = runs["ok"]
    assert_end_to_end(ok, MODEL, "reson8")
    state = ok.mock
    assert state.counters["reson8.tokens"] == 1  # one token shared by 8 workers
    assert state.last_request["reson8 token"]["Authorization"] == f"ApiKey {KEY}"
    assert state.last_request["reson8 query"] == {
        "encoding": "auto",
        "model": "resonant-1",
        "language": "en",
    }
    headers = state.last_request["reson8"]
    assert headers["Content-Type"] == "application/octet-stream"
    assert headers["Authorization"].startswith("Bearer ") and KEY not in headers["Authorization"]


def test_rejected_key_stops_the_run(runs: dict[str, Outcome]) -> None:
    assert_key_rejected(runs["bad_key"].run, ENV)
    assert runs["bad_key"].mock.counters["reson8.requests"] == 0  # refused at the token


def test_bad_base_url_is_one_line(runs: dict[str, Outcome]) -> None:
    outcome = runs["bad_option"]
    assert_refused_before_any_request(
        outcome,
        "reson8",
        "error: --base_url: bad endpoint 'ftp://127.0.0.1:1': scheme 'ftp' is not http(s); "
        "expected host:port or a URL such as http://127.0.0.1:8800/asr/transcribe",
    )
    with pytest.raises(ConfigError, match="language 'en us' is not a language code"):
        provider(None, language="en us")


async def test_a_refused_token_is_renewed_and_the_clip_sent_again() -> None:
    items = clip_list(3)
    async with MockServer() as mock:
        texts = await transcribe_all(provider(mock.url, "mock-revoke"), items)
    assert texts == [text for text, _ in items]
    # each token is revoked after one use: clips 2 and 3 are refused once, then sent again
    assert mock.state.counters["reson8.tokens"] == 3
    assert mock.state.counters["reson8.requests"] == 5


async def test_a_token_near_its_expiry_is_renewed(monkeypatch: pytest.MonkeyPatch) -> None:
    items = clip_list(3)
    async with MockServer() as mock:
        assert await transcribe_all(provider(mock.url), items) == [t for t, _ in items]
        assert mock.state.counters["reson8.tokens"] == 1
        # tokens that live 20 s are inside the 30 s renewal margin from the start
        monkeypatch.setattr(reson8_mock, "TOKEN_LIFE", 20)
        assert await transcribe_all(provider(mock.url), items) == [t for t, _ in items]
    assert mock.state.counters["reson8.tokens"] == 1 + 3


async def test_the_mock_refuses_unknown_options_and_bodies() -> None:
    async with MockServer(MockConfig(keys={"reson8": KEY})) as mock:
        url = f"{mock.url}/v1/speech-to-text/prerecorded"
        auth = {"Authorization": f"ApiKey {KEY}"}
        async with aiohttp.ClientSession() as session:
            async with session.post(url, params={"punctuate": "true"}, headers=auth) as r:
                unknown = (r.status, await r.json())
            async with session.post(url, json={"url": "http://x/a.wav"}, headers=auth) as r:
                json_body = r.status
            async with session.post(url, data=b"RIFF", headers={"Authorization": "Token x"}) as r:
                bad_scheme = r.status
    assert unknown == (400, {"error": "unknown query parameter(s): punctuate"})
    assert (json_body, bad_scheme) == (415, 401)


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RESON8_BASE_URL", raising=False)
    p = provider(None)
    assert p.endpoint_urls() == ["https://api.reson8.dev/v1/speech-to-text/prerecorded"]
    assert p.token_url == "https://api.reson8.dev/v1/auth/token"
    assert (Reson8Provider.default_concurrency, Reson8Provider.default_timeout) == (16, 300.0)
