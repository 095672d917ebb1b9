"""Aqua Voice Avalon: run_eval.py end to end against the mock, the CLI's one-line errors,
each error kind through the real engine, and the wire (Bearer key, multipart with `file` and
`model` only, as the leaderboard sends it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from asyncbench.providers.aquavoice import AquaVoiceProvider
from asyncbench.providers.base import AudioPayload, ProviderSettings

from .eval_runs import (
    Outcome,
    assert_end_to_end,
    assert_refused_before_any_request,
    run_all,
    standard_specs,
)
from .provider_runs import (
    assert_key_rejected,
    run_clips,
    wav_clip,
)
from .support import MockServer

ENV = "AQUAVOICE_API_KEY"
KEY = "aq-test-0123456789"
MODEL = "aquavoice/avalon-v1-en"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    specs = standard_specs(
        MODEL, ENV, KEY, "aquavoice", bad_option=(MODEL, ("--base_url", "http://127.0.0.1:x"))
    )
    return run_all(tmp_path_factory.mktemp("aquavoice"), specs)


def provider(url: str | None, model: str = "avalon-v1-en") -> AquaVoiceProvider:
    return AquaVoiceProvider(ProviderSettings(model=model, api_key=KEY, base_url=url))


def test_run_eval_end_to_end(runs: dict[str, Outcome]) -> None:
    ok = runs["ok"]
    assert_end_to_end(ok, MODEL, "aquavoice")
    form = ok.mock.last_request["aquavoice form"]
    assert sorted(form) == ["file", "model"] and form["model"] == "avalon-v1-en"
    assert form["file"].startswith("audio.wav;audio/wav;")
    assert ok.mock.last_request["aquavoice"]["Authorization"] == f"Bearer {KEY}"


def test_rejected_key_stops_the_run(runs: dict[str, Outcome]) -> None:
    line = assert_key_rejected(runs["bad_key"].run, ENV)
    assert "wrong-key-0000" not in line


def test_bad_base_url_is_one_line(runs: dict[str, Outcome]) -> None:
    assert_refused_before_any_request(
        runs["bad_option"],
        "aquavoice",
        "error: --base_url: bad endpoint 'http://127.0.0.1:x': the port is not a number "
        "1-65535; expected host:port or a URL such as http://127.0.0.1:8800/asr/transcribe",
    )


async def test_unknown_model_and_bad_audio_are_permanent(tmp_path: Path) -> None:
    broken = AudioPayload(b"\x00\x01garbage" * 50, "audio/wav", "audio.wav", 1.0)
    async with MockServer() as mock:
        _, rows = await run_clips(
            provider(mock.url), [("x", broken), ("y", wav_clip("y", 1))], tmp_path / "a"
        )
        _, unknown = await run_clips(
            provider(mock.url, "avalon-9"), [("z", wav_clip("z", 1))], tmp_path / "b"
        )
    bad = next(r for r in rows if r["id"] == "c0")
    assert (bad["status"], bad["error_kind"], bad["attempts"]) == ("failed", "bad_request", 1)
    assert (unknown[0]["error_kind"], unknown[0]["attempts"]) == ("bad_request", 1)
    assert "avalon-9" in unknown[0]["error"]


def test_an_empty_balance_stops_the_run() -> None:
    err = provider(None).error(402, b'{"error": {"message": "Payment required"}}', {})
    assert (err.kind, err.retryable) == ("quota", False) and ENV in str(err)


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AQUAVOICE_BASE_URL", raising=False)
    assert provider(None).endpoint_urls() == [
        "https://api.aquavoice.com/api/v1/audio/transcriptions"
    ]
    assert AquaVoiceProvider.default_concurrency == 5 and not AquaVoiceProvider.fetches_urls
