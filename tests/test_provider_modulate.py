"""Modulate Velma-2 batch: run_eval.py end to end against the mock, the one-line errors of
the CLI, each error kind through the real engine, and the wire (`X-API-Key`, the part
`upload_file`, `language` for the multilingual endpoint only)."""

from __future__ import annotations

from pathlib import Path

import pytest

from asyncbench.core.errors import ConfigError, PermanentError
from asyncbench.core.limits import Limits
from asyncbench.providers import modulate
from asyncbench.providers.base import AudioPayload, ProviderSettings
from asyncbench.providers.modulate import ModulateProvider

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
    run_clips,
    transcribe_one,
    wav_clip,
)
from .support import MockServer

ENV = "MODULATE_API_KEY"
KEY = "mod-test-0123456789"
MODEL = "modulate/vfast"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    specs = standard_specs(MODEL, ENV, KEY, "modulate", bad_option=("modulate/vfast-2", ()))
    return run_all(tmp_path_factory.mktemp("modulate"), specs)


def provider(url: str | None, model: str = "vfast", language: str = "en") -> ModulateProvider:
    return ModulateProvider(
        ProviderSettings(model=model, api_key=KEY, base_url=url, language=language)
    )


def test_run_eval_end_to_end(runs: dict[str, Outcome]) -> None:
    ok = runs["ok"]
    assert_end_to_end(ok, MODEL, "modulate")
    assert ok.mock.last_request["modulate path"] == {"path": "/api/velma-2-stt-batch-english-vfast"}
    assert ok.mock.last_request["modulate"]["X-API-Key"] == KEY
    form = ok.mock.last_request["modulate form"]
    assert list(form) == ["upload_file"] and form["upload_file"].startswith("audio.wav;audio/wav;")


def test_rejected_key_stops_the_run(runs: dict[str, Outcome]) -> None:
    line = assert_key_rejected(runs["bad_key"].run, ENV)
    assert "Invalid or missing API key" in line and "wrong-key" not in line


def test_unknown_variant_is_one_line(runs: dict[str, Outcome]) -> None:
    assert_refused_before_any_request(
        runs["bad_option"],
        "modulate",
        "error: unknown Modulate model 'vfast-2' in modulate/vfast-2; use one of: "
        "modulate/vfast, modulate/multilingual",
    )


async def test_multilingual_sends_the_short_language_code() -> None:
    clip = wav_clip("Guten Morgen alle.", 0.8)
    async with MockServer() as mock:
        text = await transcribe_one(provider(mock.url, "multilingual", "de-DE"), clip)
    assert text == "Guten Morgen alle."
    assert mock.state.last_request["modulate path"] == {
        "path": "/api/velma-2-stt-batch-multilingual-vfast"
    }
    assert mock.state.last_request["modulate form"]["language"] == "de"
    with pytest.raises(ConfigError, match="language 'x1' is not an ISO 639 code"):
        provider(None, "multilingual", "x1")


async def test_over_the_size_limit_is_refused_before_upload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(modulate.ModulateProvider, "limits", Limits(max_bytes=10_000))
    items = clip_list(2, seconds=1.0)  # 32 kB each
    async with MockServer() as mock:
        _, rows = await run_clips(provider(mock.url), items, tmp_path / "r")
    assert {(r["status"], r["error_kind"], r["attempts"]) for r in rows} == {
        ("failed", "too_large", 1)
    }
    assert mock.state.counters["modulate.requests"] == 0


async def test_the_mock_refuses_what_the_service_refuses() -> None:
    import aiohttp

    async with MockServer() as mock, aiohttp.ClientSession() as session:
        url = f"{mock.url}/api/velma-2-stt-batch-english-vfast"
        form = aiohttp.FormData()
        form.add_field("file", b"RIFF", filename="a.wav")
        async with session.post(url, data=form, headers={"X-API-Key": KEY}) as resp:
            wrong_part = (resp.status, await resp.json())
        form = aiohttp.FormData()
        form.add_field("upload_file", b"RIFF", filename="a.wav")
        async with session.post(url, data=form, headers={"Authorization": f"Bearer {KEY}"}) as r:
            bearer = r.status
        form = aiohttp.FormData()
        form.add_field("upload_file", b"RIFF", filename="a.wav")
        form.add_field("language", "en")
        async with session.post(url, data=form, headers={"X-API-Key": KEY}) as resp:
            option = (resp.status, await resp.json())
    assert wrong_part == (400, {"detail": "unexpected form field(s): file"})
    assert bearer == 401
    assert option == (400, {"detail": "unexpected form field(s): language"})


def test_endpoints_and_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("MODULATE_BASE_URL", "MODULATE_ENDPOINT"):
        monkeypatch.delenv(var, raising=False)
    assert provider(None).endpoint_urls() == [
        "https://platform.modulate.ai/api/velma-2-stt-batch-english-vfast"
    ]
    monkeypatch.setenv("MODULATE_ENDPOINT", "https://modulate-developer-apis.com/api")
    assert provider(None, "multilingual").endpoint_urls() == [
        "https://modulate-developer-apis.com/api/velma-2-stt-batch-multilingual-vfast"
    ]
    monkeypatch.setenv("MODULATE_BASE_URL", "http://127.0.0.1:9000")
    assert provider(None).endpoint_urls() == [
        "http://127.0.0.1:9000/api/velma-2-stt-batch-english-vfast"
    ]
    assert (ModulateProvider.default_concurrency, ModulateProvider.default_timeout) == (25, 600.0)
    assert not ModulateProvider.fetches_urls
    with pytest.raises(PermanentError, match="empty upload"):
        provider(None).request(AudioPayload(b"", "audio/wav", "a.wav", 0.0))
