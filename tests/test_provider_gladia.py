"""Gladia pre-recorded v2: `run_eval.py` end to end against the mock, each error kind through
the real engine, URL mode, the size/duration caps, and the wire the mock enforces
(`x-gladia-key`, multipart `audio` upload, the leaderboard's options)."""

from __future__ import annotations

import aiohttp
import pytest

from asyncbench.core.errors import ConfigError, PermanentError
from asyncbench.providers.base import AudioPayload
from asyncbench.providers.gladia import GladiaProvider, job_error, transcript_of
from asyncbench.servers.mock.state import MockConfig

from .eval_runs import assert_leaderboard_run, eval_runs, lb_env
from .provider_runs import (
    N_SAMPLES,
    AudioHost,
    CliRuns,
    assert_key_rejected,
    assert_missing_key,
    job_provider,
    key_runs,
    transcribe_one,
    wav_clip,
)
from .support import MockServer

KEY = "gladia-test-key-7"
ENV = "GLADIA_API_KEY"
MODEL = "gladia/solaria-3"
FAST = ("--poll_interval", "0.05")


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> CliRuns:
    return eval_runs(
        MockConfig(keys={"gladia": KEY}),
        tmp_path_factory.mktemp("gladia"),
        {
            "ok": (MODEL, lb_env(**{ENV: KEY}), FAST),
            "bad_url": (MODEL, lb_env(**{ENV: KEY}), (*FAST, "--base_url", "ftp://gladia")),
            **key_runs(MODEL, ENV, "not-the-key", FAST),
        },
    )


def provider(url: str, key: str = KEY) -> GladiaProvider:
    return job_provider(GladiaProvider, url, "solaria-3", key)


# -- end to end ------------------------------------------------------------------------------


def test_split_end_to_end_through_run_eval(cli: CliRuns) -> None:
    run = cli.runs["ok"]
    rows = assert_leaderboard_run(run, MODEL, run.results.parent / "esb")
    assert all(r["attempts"] == 1 for r in rows)
    assert cli.mock.counters["gladia.jobs"] == N_SAMPLES
    params = [j["request_params"] for j in cli.mock.jobs.values() if j["provider"] == "gladia"]
    assert len(params) == N_SAMPLES
    assert {k: v for k, v in params[0].items() if k != "audio_url"} == {
        "model": "solaria-3",
        "language_config": {"languages": ["en"]},
    }
    assert all("/file/" in p["audio_url"] for p in params)  # uploaded first


def test_rejected_key_is_one_error_line(cli: CliRuns) -> None:
    assert_key_rejected(cli.runs["bad_key"], ENV)


def test_missing_key_is_one_line(cli: CliRuns) -> None:
    assert_missing_key(cli.runs["no_key"], ENV)  # through run_eval.py


def test_bad_base_url_is_one_line(cli: CliRuns) -> None:
    run = cli.runs["bad_url"]
    assert run.code == 2 and run.err.strip().splitlines() == [
        "error: --base_url: bad endpoint 'ftp://gladia': scheme 'ftp' is not http(s); "
        "expected host:port or a URL such as http://127.0.0.1:8800/asr/transcribe"
    ], run.err


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GLADIA_BASE_URL", raising=False)
    assert job_provider(GladiaProvider, "", "solaria-3", KEY).base_url == "https://api.gladia.io"
    with pytest.raises(ConfigError, match="GLADIA_BASE_URL: bad endpoint"):
        monkeypatch.setenv("GLADIA_BASE_URL", "ftp://gladia")
        job_provider(GladiaProvider, "", "solaria-3", KEY)
    assert GladiaProvider.default_concurrency == 20 and GladiaProvider.fetches_urls


# -- each error kind, through the engine ----------------------------------------------------


async def test_over_the_caps_is_refused_before_any_request() -> None:
    long_clip = AudioPayload(b"RIFF" + b"\x00" * 100, "audio/wav", "a.wav", 136 * 60.0)
    async with MockServer() as mock:
        with pytest.raises(PermanentError, match="135 min limit") as info:
            await transcribe_one(provider(mock.url), long_clip)
    assert info.value.kind == "too_long"
    assert mock.state.counters["gladia.requests"] == 0


def test_job_error_and_transcript_shapes() -> None:
    assert job_error("j", {"error_code": 503}).retryable
    assert not job_error("j", {"error_code": 422}).retryable
    done = {"id": "j", "result": {"transcription": {"full_transcript": " Hi. "}}}
    assert transcript_of(done) == "Hi."
    assert transcript_of({"result": {"transcription": {"full_transcript": None}}}) == ""


# -- URL mode and the mock's strictness -------------------------------------------------------


async def test_url_mode_sends_the_url_and_uploads_nothing() -> None:
    clip = wav_clip("Fetched by Gladia.", 0.8)
    async with AudioHost({"a.wav": clip.data}) as host, MockServer() as mock:
        url_only = AudioPayload(None, "audio/wav", "a.wav", clip.duration, url=host.url("a.wav"))
        assert await transcribe_one(provider(mock.url), url_only) == "Fetched by Gladia."
    assert mock.state.last_request["gladia options"]["audio_url"] == host.url("a.wav")
    assert not mock.state.uploads


async def test_mock_refuses_what_gladia_refuses() -> None:
    async with MockServer() as mock, aiohttp.ClientSession() as session:
        url = f"{mock.url}/v2/pre-recorded"
        body = {"audio_url": "http://x/a.wav", "language": "en"}
        async with session.post(url, json=body, headers={"x-gladia-key": KEY}) as resp:
            unknown = (resp.status, await resp.json())
        ok_body = {"audio_url": "http://x/a.wav"}
        async with session.post(url, json=ok_body, headers={"Authorization": KEY}) as resp:
            wrong_header = resp.status
        form = aiohttp.FormData()
        form.add_field("file", b"RIFF", filename="a.wav", content_type="audio/wav")
        async with session.post(
            f"{mock.url}/v2/upload", data=form, headers={"x-gladia-key": KEY}
        ) as resp:
            wrong_part = resp.status
        # the same path is AssemblyAI's upload: without Gladia's header it is still answered so
        async with session.post(
            f"{mock.url}/v2/upload", data=b"RIFF", headers={"Authorization": "aai-key"}
        ) as resp:
            assemblyai = (resp.status, await resp.json())
    assert unknown[0] == 400 and unknown[1]["validation_errors"] == [
        "property language should not exist"
    ]
    assert (wrong_header, wrong_part) == (401, 400)
    assert assemblyai[0] == 200 and "/cdn/upload/" in assemblyai[1]["upload_url"]
