"""Meta Muse Voice file transcription: run_eval.py end to end against the mock, the CLI's
one-line errors, the wire (Bearer key; a JSON `request` part and an `audio` part), the mode
and language bias, the 600 s cap and the transcript's two places. The shared checks (errors,
retries) are in test_provider_conformance.py."""

from __future__ import annotations

import pytest

from asyncbench.core.errors import ConfigError, PermanentError
from asyncbench.providers.base import AudioPayload, ProviderSettings
from asyncbench.providers.meta import MetaProvider, transcript_of

from .eval_runs import (
    Outcome,
    assert_end_to_end,
    assert_refused_before_any_request,
    run_all,
    standard_specs,
)
from .provider_runs import assert_key_rejected, transcribe_one, wav_clip
from .support import MockServer

ENV = "META_API_KEY"
KEY = "meta-test-0123456789"
MODEL = "meta/muse-voice-transcribe"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    specs = standard_specs(MODEL, ENV, KEY, "meta", bad_option=("meta/muse-2", ()))
    del specs["no_key"]  # the conformance suite checks the missing key's line
    return run_all(tmp_path_factory.mktemp("meta"), specs)


def provider(url: str | None, language: str = "en") -> MetaProvider:
    return MetaProvider(
        ProviderSettings(
            model="muse-voice-transcribe", api_key=KEY, base_url=url, language=language
        )
    )


def test_run_eval_end_to_end(runs: dict[str, Outcome]) -> None:
    ok = runs["ok"]
    assert_end_to_end(ok, MODEL, "meta")
    assert ok.mock.last_request["meta request"] == {
        "mode": "ENDPOINTING",
        "model": "muse-voice-transcribe-1.0",
        "audioEncoding": "WAV",
        "languageBias": ["English"],
    }
    form = ok.mock.last_request["meta form"]
    assert list(form) == ["request", "audio"] and form["audio"].startswith("audio.wav;audio/wav;")
    assert ok.mock.counters["meta.mode.ENDPOINTING"] == 10
    assert ok.mock.last_request["meta"]["Authorization"] == f"Bearer {KEY}"


def test_rejected_key_stops_the_run(runs: dict[str, Outcome]) -> None:
    line = assert_key_rejected(runs["bad_key"].run, ENV)
    assert line.endswith("Invalid OAuth access token")


def test_unknown_variant_is_one_line(runs: dict[str, Outcome]) -> None:
    assert_refused_before_any_request(
        runs["bad_option"],
        "meta",
        "error: unknown Meta model 'muse-2' in meta/muse-2; use meta/muse-voice-transcribe or "
        "meta/muse-voice-transcribe-streaming",
    )


async def test_mode_and_language_bias(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("META_FILE_MODE", "push_to_talk")
    async with MockServer() as mock:
        text = await transcribe_one(provider(mock.url, "nl"), wav_clip("Goedemorgen.", 0.8))
        assert text == "Goedemorgen."
        sent = mock.state.last_request["meta request"]
        assert (sent["mode"], sent["languageBias"]) == ("PUSH_TO_TALK", ["Dutch"])
        monkeypatch.setenv("META_FILE_MODE", " ")  # the board's scripts pass empty values
        await transcribe_one(provider(mock.url, "ja"), wav_clip("Konnichiwa.", 0.8))
        sent = mock.state.last_request["meta request"]
        assert sent["mode"] == "ENDPOINTING" and "languageBias" not in sent


async def test_over_600_s_is_refused_before_any_request() -> None:
    long_clip = AudioPayload(b"RIFF" + b"\x00" * 100, "audio/wav", "a.wav", 600.5)
    async with MockServer() as mock:
        with pytest.raises(PermanentError) as info:
            await transcribe_one(provider(mock.url), long_clip)
    assert info.value.kind == "too_long"
    assert str(info.value) == (
        "10.0 min of audio is over Meta's 10 min limit (Meta's file transcription cap)"
    )
    assert mock.state.counters["meta.requests"] == 0


def test_transcript_or_its_turns() -> None:
    assert transcript_of({"transcript": " All of it. "}, b"") == "All of it."
    turns = {"transcript": "", "turns": [{"transcript": "One."}, {"x": 1}, {"transcript": "Two."}]}
    assert transcript_of(turns, b"") == "One. Two."
    assert transcript_of({"transcript": None, "turns": []}, b"") == ""
    with pytest.raises(Exception, match="no transcript in reply"):
        transcript_of({"text": "elsewhere"}, b'{"text": "elsewhere"}')


def test_endpoints_and_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("META_BASE_URL", "META_ENDPOINT"):
        monkeypatch.delenv(var, raising=False)
    assert provider(None).endpoint_urls() == ["https://api.meta.ai/v1/asr/transcribe"]
    monkeypatch.setenv("META_ENDPOINT", "https://staging.meta.ai/v1/asr/transcribe")
    assert provider(None).url == "https://staging.meta.ai/v1/asr/transcribe"
    assert provider("http://127.0.0.1:9").url == "http://127.0.0.1:9/v1/asr/transcribe"
    assert (MetaProvider.default_concurrency, MetaProvider.default_timeout) == (8, 600.0)
    with pytest.raises(ConfigError, match="is served by the other Meta client"):
        MetaProvider(ProviderSettings(model="muse-voice-transcribe-streaming", api_key=KEY))
