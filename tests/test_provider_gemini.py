"""Gemini transcription: run_eval.py end to end against the mock, the CLI's one-line errors,
the wire (`x-goog-api-key`, inline base64 audio, the board's locale), the transcript read as
the SDK's `output_text`, Google's 429 RetryInfo, and the mock proven with the official
google-genai SDK. The shared checks are in test_provider_conformance.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from asyncbench.core.errors import TransientError
from asyncbench.providers.base import ProviderSettings
from asyncbench.providers.gemini import GeminiProvider, output_text, retry_delay

from .eval_runs import Outcome, assert_end_to_end, run_all, standard_specs
from .provider_runs import (
    assert_each_retried_once,
    assert_key_rejected,
    clip_list,
    run_clips,
    transcribe_one,
    wav_clip,
)
from .support import MockServer

ENV = "GEMINI_API_KEY"
KEY = "gm-test-0123456789"
MODEL = "gemini/gemini-3.5-transcribe"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    specs = standard_specs(MODEL, ENV, KEY, "gemini", bad_option=(MODEL, ()))
    del specs["no_key"], specs["bad_option"]  # the conformance suite checks the missing key
    return run_all(tmp_path_factory.mktemp("gemini"), specs)


def provider(url: str | None, key: str = KEY, language: str = "en") -> GeminiProvider:
    settings = ProviderSettings(
        model="gemini-3.5-transcribe", api_key=key, base_url=url, language=language
    )
    return GeminiProvider(settings)


def test_run_eval_end_to_end(runs: dict[str, Outcome]) -> None:
    ok = runs["ok"]
    assert_end_to_end(ok, MODEL, "gemini")
    assert ok.mock.last_request["gemini body"] == {
        "model": "gemini-3.5-transcribe",
        "generation_config": {"transcription_config": {"language_codes": ["en-US"]}},
    }
    assert ok.mock.counters["gemini.locale.en-US"] == 10
    assert ok.mock.last_request["gemini"]["x-goog-api-key"] == KEY
    assert ok.mock.last_request["gemini path"] == {"path": "/v1/interactions"}


def test_rejected_key_stops_the_run(runs: dict[str, Outcome]) -> None:
    line = assert_key_rejected(runs["bad_key"].run, ENV)
    assert line == (
        f"error: HTTP 400: key rejected; check {ENV}: API key not valid. Please pass a valid "
        "API key."
    )


async def test_the_boards_locales() -> None:
    async with MockServer() as mock:
        for language, locale in (("es", "es-419"), ("pt", "pt-BR"), ("hy", "hy-AM"), ("ja", "ja")):
            clip = wav_clip(f"Words in {language}.", 0.6)
            assert await transcribe_one(provider(mock.url, language=language), clip) == (
                f"Words in {language}."
            )
            assert mock.state.counters[f"gemini.locale.{locale}"] == 1


async def test_googles_retry_delay_is_waited_out(tmp_path: Path) -> None:
    """Google's 429 names its wait in a RetryInfo detail, not a Retry-After header."""
    async with MockServer() as mock:
        engine, rows = await run_clips(
            provider(mock.url, "mock-rate_limit"), clip_list(3), tmp_path / "r"
        )
    assert_each_retried_once(engine, rows, 3, "rate_limited")
    body = b'{"error": {"code": 429, "details": [{"retryDelay": "7s"}, {"x": 1}]}}'
    assert retry_delay(body) == 7.0 and retry_delay(b"not json") is None


def test_output_text_is_the_last_model_output() -> None:
    steps = [
        {"type": "user_input", "content": [{"type": "audio"}]},
        {"type": "model_output", "content": [{"type": "text", "text": "old"}]},
        {"type": "user_input", "content": []},
        {"type": "thought"},
        {"type": "model_output", "content": [{"type": "text", "text": " Hello "}]},
        {"type": "model_output", "content": [{"type": "text", "text": "world. "}]},
    ]
    assert output_text({"steps": steps}, b"") == "Hello world."
    assert output_text({"steps": []}, b"") == ""  # an empty transcript: a deletion
    with pytest.raises(Exception, match="no steps in reply"):
        output_text({"outputs": []}, b'{"outputs": []}')


def test_an_unfinished_interaction_is_retried() -> None:
    with pytest.raises(TransientError) as info:
        provider(None).parse(b'{"status": "failed", "steps": []}', "application/json")
    assert info.value.kind == "job_failed"
    assert str(info.value).startswith("interaction ended 'failed'")


async def test_the_official_sdk_transcribes_through_the_mock() -> None:
    import base64

    from google import genai

    clip = wav_clip("Gemini heard this.", 0.8)
    async with MockServer() as mock:
        client = genai.Client(api_key=KEY, http_options={"base_url": mock.url})
        interaction = await client.aio.interactions.create(
            model="gemini-3.5-transcribe",
            input=[
                {
                    "type": "audio",
                    "data": base64.b64encode(clip.data or b"").decode(),
                    "mime_type": "audio/wav",
                }
            ],
            generation_config={"transcription_config": {"language_codes": ["en-US"]}},
        )
    assert interaction.output_text == "Gemini heard this."
    assert mock.state.last_request["gemini path"] == {"path": "/v1/interactions"}
    assert mock.state.last_request["gemini"]["x-goog-api-key"] == KEY
