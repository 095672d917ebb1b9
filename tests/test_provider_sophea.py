"""Sophea ASR: run_eval.py end to end against the mock, the CLI's one-line errors and the
wire (`X-API-Key`, multipart `file`, `model`, `language`; English and German only). The
shared checks (errors, retries) are in test_provider_conformance.py."""

from __future__ import annotations

import pytest

from asyncbench.core.errors import ConfigError
from asyncbench.providers.base import ProviderSettings
from asyncbench.providers.sophea import SopheaProvider

from .eval_runs import Outcome, assert_end_to_end, assert_one_error_line, run_all, standard_specs
from .provider_runs import assert_key_rejected, transcribe_one, wav_clip
from .support import MockServer

ENV = "SOPHEA_API_KEY"
KEY = "so-test-0123456789"
MODEL = "sophea/asr-k1"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    specs = standard_specs(MODEL, ENV, KEY, "sophea", bad_option=(MODEL, ("--base_url", "x:y")))
    del specs["no_key"]  # the conformance suite checks the missing key's line
    return run_all(tmp_path_factory.mktemp("sophea"), specs)


def provider(url: str | None, language: str = "en") -> SopheaProvider:
    return SopheaProvider(
        ProviderSettings(model="asr-k1", api_key=KEY, base_url=url, language=language)
    )


def test_run_eval_end_to_end(runs: dict[str, Outcome]) -> None:
    ok = runs["ok"]
    assert_end_to_end(ok, MODEL, "sophea")
    form = ok.mock.last_request["sophea form"]
    assert sorted(form) == ["file", "language", "model"]
    assert (form["model"], form["language"]) == ("asr-k1", "en")
    assert ok.mock.last_request["sophea"]["X-API-Key"] == KEY


def test_rejected_key_stops_the_run(runs: dict[str, Outcome]) -> None:
    line = assert_key_rejected(runs["bad_key"].run, ENV)
    assert line.endswith("Invalid API key")


def test_bad_base_url_is_one_line(runs: dict[str, Outcome]) -> None:
    assert_one_error_line(runs["bad_option"].run, "--base_url", "'x:y'")


async def test_german_is_sent_and_french_refused_before_any_request() -> None:
    async with MockServer() as mock:
        text = await transcribe_one(provider(mock.url, "de"), wav_clip("Guten Morgen.", 0.8))
    assert text == "Guten Morgen."
    assert mock.state.last_request["sophea form"]["language"] == "de"
    with pytest.raises(ConfigError) as info:
        provider(None, "fr")
    assert str(info.value).startswith("sophea/asr-k1 does not support language")
    assert str(info.value).endswith("it supports: de, en")


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOPHEA_API_URL", raising=False)
    assert provider(None).endpoint_urls() == ["https://api.sophea.ai/v1/transcribe"]
    monkeypatch.setenv("SOPHEA_API_URL", "https://eu.sophea.ai/")
    assert provider(None).url == "https://eu.sophea.ai/v1/transcribe"
    assert SopheaProvider.default_concurrency == 16 and not SopheaProvider.fetches_urls
