"""Aldea's public API (`POST /v1/listen`, Deepgram-compatible): which protocol each endpoint
gets, run_eval.py end to end against the mock, the CLI's one-line errors, URL mode, and each
error kind through the real engine."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from asyncbench.core.errors import ConfigError
from asyncbench.providers.aldea import AldeaProvider, listen_url
from asyncbench.providers.base import AudioPayload, ProviderSettings
from asyncbench.servers.mock.state import MockConfig

from .eval_runs import (
    Outcome,
    assert_end_to_end,
    assert_refused_before_any_request,
    run_all,
    standard_specs,
)
from .provider_runs import (
    AudioHost,
    assert_each_retried_once,
    assert_key_rejected,
    clip_list,
    run_clips,
    transcribe_one,
    wav_clip,
)
from .support import MockServer

ENV = "ALDEA_API_KEY"
KEY = "org_test0123456789"
MODEL = "aldea/default"
LISTEN = ("--aldea_api", "listen")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    specs = standard_specs(
        MODEL,
        ENV,
        KEY,
        "aldea_listen",
        bad_option=(MODEL, ("--aldea_api", "lisen")),
        extra=LISTEN,
        base_suffix="/aldea",
    )
    return run_all(tmp_path_factory.mktemp("aldea_listen"), specs)


@pytest.fixture(autouse=True)
def _no_aldea_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("ALDEA_ENDPOINTS", "ALDEA_API_URL", "ALDEA_API_KEY"):
        monkeypatch.delenv(var, raising=False)


def aldea(
    endpoints: str | None = None, api: str | None = None, key: str | None = KEY
) -> AldeaProvider:
    options = {"aldea_api": api} if api else {}
    return AldeaProvider(
        ProviderSettings(model="default", api_key=key, endpoints=endpoints, options=options)
    )


def test_which_protocol_each_endpoint_speaks() -> None:
    # the seed's default URL is the public host: it now answers as /v1/listen
    assert aldea().endpoint_urls() == ["https://api.aldea.ai/v1/listen"]
    assert aldea().fetches_urls
    # local ports keep the seed's protocol, unless listen is asked for
    mixed = aldea("127.0.0.1:8800 https://api.aldea.ai/asr/transcribe")
    assert mixed.endpoint_urls() == [
        "http://127.0.0.1:8800/asr/transcribe",
        "https://api.aldea.ai/v1/listen",
    ]
    assert not mixed.fetches_urls  # one endpoint takes bytes only, so all get bytes
    assert aldea("127.0.0.1:8800", "listen").endpoint_urls() == ["http://127.0.0.1:8800/v1/listen"]
    assert aldea("https://api.aldea.ai", "transcribe").endpoint_urls() == [
        "https://api.aldea.ai/asr/transcribe"
    ]
    assert aldea("127.0.0.1:8800", key=None).api_key is None  # the seed's servers need no key


@pytest.mark.parametrize(
    ("given", "url"),
    [
        ("http://h:1/asr/transcribe", "http://h:1/v1/listen"),
        ("http://h:1/transcribe", "http://h:1/v1/listen"),
        ("http://h:1/aldea/asr/transcribe", "http://h:1/aldea/v1/listen"),
        ("http://h:1/aldea", "http://h:1/aldea/v1/listen"),
        ("http://h:1/aldea/v1/listen", "http://h:1/aldea/v1/listen"),
        ("https://api.aldea.ai/anything", "https://api.aldea.ai/v1/listen"),
    ],
)
def test_listen_paths(given: str, url: str) -> None:
    assert listen_url(given) == url


def test_public_api_without_a_key_is_one_line() -> None:
    with pytest.raises(ConfigError) as info:
        aldea(key=None)
    assert str(info.value) == (
        "ALDEA_API_KEY is not set; export ALDEA_API_KEY=... or pass --api_key "
        "(Aldea's public API, https://api.aldea.ai/v1/listen, needs a key)"
    )


def test_run_eval_end_to_end(runs: dict[str, Outcome]) -> None:
    ok = runs["ok"]
    assert_end_to_end(ok, MODEL, "aldea_listen")
    headers = ok.mock.last_request["aldea_listen"]
    assert headers["Authorization"] == f"Bearer {KEY}" and headers["Content-Type"] == "audio/wav"
    assert ok.mock.last_request["aldea_listen query"] == {"language": "en"}


def test_rejected_key_stops_the_run(runs: dict[str, Outcome]) -> None:
    line = assert_key_rejected(runs["bad_key"].run, ENV)
    assert "Invalid or missing API key" in line


def test_missing_key_names_the_variable(runs: dict[str, Outcome]) -> None:
    outcome = runs["no_key"]
    assert outcome.run.code == 2 and outcome.mock.counters["aldea_listen.requests"] == 0
    assert re.fullmatch(
        rf"error: {ENV} is not set; export {ENV}=\.\.\. or pass --api_key \(Aldea's public API, "
        r"http://127\.0\.0\.1:\d+/aldea/v1/listen, needs a key\)\n",
        outcome.run.err,
    ), outcome.run.err


def test_bad_protocol_choice_is_one_line(runs: dict[str, Outcome]) -> None:
    assert_refused_before_any_request(
        runs["bad_option"],
        "aldea_listen",
        "error: --aldea_api must be one of auto, listen, transcribe (got 'lisen')",
    )


async def test_url_mode_sends_json_and_the_service_fetches() -> None:
    clip = wav_clip("Fetched by Aldea.", 0.8)
    async with AudioHost({"a.wav": clip.data}) as host, MockServer() as mock:
        p = aldea(f"{mock.url}/aldea", "listen")
        url_only = AudioPayload(None, "audio/wav", "a.wav", clip.duration, url=host.url("a.wav"))
        assert await transcribe_one(p, url_only) == "Fetched by Aldea."
    assert mock.state.last_request["aldea_listen"]["Content-Type"] == "application/json"


async def test_rate_limit_is_retried(tmp_path: Path) -> None:
    async with MockServer() as mock:
        p = aldea(f"{mock.url}/aldea", "listen", key="mock-rate_limit")
        engine, rows = await run_clips(p, clip_list(3), tmp_path / "r")
    assert_each_retried_once(engine, rows, 3, "rate_limited")


async def test_server_errors_are_retried(tmp_path: Path) -> None:
    async with MockServer(MockConfig(rate_5xx=0.5, seed=3)) as mock:
        p = aldea(f"{mock.url}/aldea", "listen")
        engine, rows = await run_clips(p, clip_list(4), tmp_path / "r", workers=1, max_retries=8)
    assert [r["status"] for r in rows] == ["ok"] * 4
    assert engine.stats.errors_by_kind["server_error"] == mock.state.counters["aldea_listen.503"]
    assert mock.state.counters["aldea_listen.503"] > 0


async def test_bad_audio_and_long_clips_are_permanent(tmp_path: Path) -> None:
    broken = AudioPayload(b"\x00\x01garbage" * 50, "audio/wav", "audio.wav", 1.0)
    long = wav_clip("Too long.", 0.5)
    long.duration = 601.0  # over the documented 600 s: refused before upload
    async with MockServer() as mock:
        p = aldea(f"{mock.url}/aldea", "listen")
        _, rows = await run_clips(p, [("x", broken), ("y", long)], tmp_path / "r")
    got = {r["id"]: (r["status"], r["error_kind"], r["attempts"]) for r in rows}
    assert got == {"c0": ("failed", "bad_request", 1), "c1": ("failed", "too_long", 1)}
    assert mock.state.counters["aldea_listen.requests"] == 1


async def test_the_seed_protocol_is_untouched_on_local_ports() -> None:
    clip = wav_clip("Seed protocol words.", 0.6)
    async with MockServer() as mock:
        p = aldea(f"{mock.url}/asr/transcribe", key=None)
        assert await transcribe_one(p, clip) == "Seed protocol words."
    assert mock.state.last_request["aldea"]["Content-Type"] == "wave"
    assert mock.state.counters["aldea_listen.requests"] == 0
