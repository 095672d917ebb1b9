"""Azure Speech fast transcription (LLM Speech): `run_eval.py` end to end against the mock,
each error kind through the real engine, URL mode (`definition.audioUrl`), the leaderboard's
lexical-prompt rule, and where the endpoint comes from."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from asyncbench.core.errors import ConfigError, PermanentError
from asyncbench.providers.base import AudioPayload, ProviderSettings
from asyncbench.providers.microsoft import LEXICAL_PROMPT, MicrosoftProvider, definition
from asyncbench.servers.mock.state import MockConfig

from .eval_runs import (
    assert_leaderboard_run,
    assert_one_error_line,
    eval_runs,
    lb_env,
    run_eval,
)
from .provider_runs import (
    N_SAMPLES,
    AudioHost,
    CliRun,
    CliRuns,
    assert_key_rejected,
    assert_missing_key,
    client_of,
    key_runs,
    small_split,
    transcribe_one,
    wav_clip,
)
from .support import MockServer

KEY = "azure-test-key-0123"
ENV = "AZURE_API_KEY"
MODEL = "microsoft/azure-speech-06-2026"


@pytest.fixture(autouse=True)
def no_azure_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MICROSOFT_BASE_URL", "AZURE_SPEECH_ENDPOINT", "AZURE_REGION"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> CliRuns:
    return eval_runs(
        MockConfig(keys={"microsoft": KEY}),
        tmp_path_factory.mktemp("microsoft"),
        {
            "ok": (MODEL, lb_env(**{ENV: KEY}), ()),
            **key_runs(MODEL, ENV, "not-the-key"),
        },
    )


def provider(url: str | None, key: str = KEY) -> MicrosoftProvider:
    return client_of(MicrosoftProvider, MODEL, url, key)


# -- end to end ------------------------------------------------------------------------------


def test_split_end_to_end_through_run_eval(cli: CliRuns) -> None:
    run = cli.runs["ok"]
    rows = assert_leaderboard_run(run, MODEL, run.results.parent / "esb")
    assert all(r["attempts"] == 1 for r in rows)
    # LibriSpeech is one of the leaderboard's lexical datasets
    assert cli.mock.last_request["microsoft definition"] == {
        "locales": ["en-US"],
        "profanityFilterMode": "None",
        "enhancedMode": {"enabled": True, "task": "transcribe", "prompt": [LEXICAL_PROMPT]},
    }
    assert cli.mock.counters["microsoft.requests"] >= N_SAMPLES


def test_rejected_key_is_one_error_line(cli: CliRuns) -> None:
    line = assert_key_rejected(cli.runs["bad_key"], ENV)
    assert "Access denied due to invalid subscription key" in line


def test_missing_key_is_one_line(cli: CliRuns) -> None:
    assert_missing_key(cli.runs["no_key"], ENV)  # through run_eval.py


async def test_bad_region_is_one_line(tmp_path: Path) -> None:
    split = small_split(tmp_path / "esb")
    env = lb_env(**{ENV: KEY, "AZURE_REGION": "north europe"})
    # no --base_url: the endpoint comes from the region, so its bad value is the error
    run = CliRun(*(await run_eval(MODEL, split, tmp_path / "r", "", env)), tmp_path / "r")
    assert_one_error_line(run, "AZURE_REGION", "'north europe'")


def test_lexical_prompt_follows_the_leaderboard_rule() -> None:
    def prompt(dataset: str, language: str = "en") -> object:
        spec = definition(ProviderSettings(model="x", dataset=dataset, language=language))
        return spec["enhancedMode"].get("prompt")

    assert prompt("librispeech") == [LEXICAL_PROMPT]
    assert prompt("gigaspeech") == [LEXICAL_PROMPT]
    # the bash `*" $DATASET "*` test matches whole words only
    assert prompt("gigaspeech_cleaned") is None and prompt("ami_cleaned") is None
    assert prompt("mls_it", "it") == [LEXICAL_PROMPT]
    assert definition(ProviderSettings(model="x", language="pt"))["locales"] == ["pt-PT"]
    with pytest.raises(ConfigError, match="no Azure locale for language 'ja'"):
        definition(ProviderSettings(model="x", language="ja"))


def test_endpoint_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    path = "/speechtotext/transcriptions:transcribe"
    assert provider(None).endpoint_urls() == [
        f"https://northeurope.api.cognitive.microsoft.com{path}"
    ]
    monkeypatch.setenv("AZURE_REGION", "westus2")
    assert provider(None).url == f"https://westus2.api.cognitive.microsoft.com{path}"
    monkeypatch.setenv("AZURE_SPEECH_ENDPOINT", "https://mine.cognitiveservices.azure.com/")
    assert provider(None).url == f"https://mine.cognitiveservices.azure.com{path}"
    monkeypatch.setenv("MICROSOFT_BASE_URL", "http://127.0.0.1:9")
    assert provider(None).url == f"http://127.0.0.1:9{path}"
    assert provider("http://h:1").url == f"http://h:1{path}"
    assert MicrosoftProvider.default_concurrency == 4


# -- each error kind, through the engine ----------------------------------------------------


async def test_over_two_hours_is_refused_before_any_request() -> None:
    long_clip = AudioPayload(b"RIFF" + b"\x00" * 100, "audio/wav", "a.wav", 2 * 3600.0 + 1)
    async with MockServer() as mock:
        with pytest.raises(PermanentError, match="over Azure's 120 min limit"):
            await transcribe_one(provider(mock.url), long_clip)
    assert mock.state.counters["microsoft.requests"] == 0


# -- URL mode and the mock's strictness -------------------------------------------------------


async def test_url_mode_puts_the_url_in_the_definition() -> None:
    clip = wav_clip("Fetched by Azure.", 0.8)
    async with AudioHost({"a.wav": clip.data}) as host, MockServer() as mock:
        url_only = AudioPayload(None, "audio/wav", "a.wav", clip.duration, url=host.url("a.wav"))
        assert await transcribe_one(provider(mock.url), url_only) == "Fetched by Azure."
    assert mock.state.last_request["microsoft definition"]["audioUrl"] == host.url("a.wav")
    assert MicrosoftProvider.fetches_urls


async def test_mock_refuses_what_azure_refuses() -> None:
    clip = wav_clip("x", 0.5)
    url = "http://127.0.0.1:{}/speechtotext/transcriptions:transcribe"

    def form(definition: str) -> aiohttp.FormData:
        data = aiohttp.FormData()
        data.add_field("definition", definition)
        data.add_field("audio", clip.data, filename="a.wav", content_type="audio/wav")
        return data

    async with MockServer() as mock, aiohttp.ClientSession() as session:
        target = url.format(mock.port)
        headers = {"Ocp-Apim-Subscription-Key": KEY}
        params = {"api-version": "2025-10-15"}
        async with session.post(
            target, data=form('{"locale": "en-US"}'), headers=headers, params=params
        ) as resp:
            unknown = (resp.status, await resp.json())
        async with session.post(
            target, data=form("{}"), headers=headers, params={"api-version": "2023-01-01"}
        ) as resp:
            old_version = resp.status
        async with session.post(
            target, data=form("{}"), headers={"Authorization": f"Bearer {KEY}"}, params=params
        ) as resp:
            bearer = resp.status
    assert unknown[0] == 400 and "unknown definition property 'locale'" in str(unknown[1])
    assert (old_version, bearer) == (400, 401)
