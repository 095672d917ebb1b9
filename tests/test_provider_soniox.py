"""Soniox async: `run_eval.py` end to end against the mock, each error kind through the real
engine, URL mode, and the wire the mock enforces (Bearer key, multipart upload, the
leaderboard's body, every transcription and file deleted afterwards)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from asyncbench.core.errors import ConfigError, PermanentError
from asyncbench.providers.base import AudioPayload
from asyncbench.providers.soniox import SonioxProvider, job_error
from asyncbench.servers.mock.state import MockConfig

from .eval_runs import assert_leaderboard_run, assert_one_error_line, eval_runs, lb_env
from .provider_runs import (
    N_SAMPLES,
    AudioHost,
    CliRuns,
    assert_key_rejected,
    assert_missing_key,
    job_provider,
    key_runs,
    run_clips,
    transcribe_one,
    wav_clip,
)
from .support import MockServer

KEY = "soniox-test-key-42"
ENV = "SONIOX_API_KEY"
MODEL = "soniox/stt-async-v5"
FAST = ("--poll_interval", "0.05")
#: request budgets high enough that pacing never slows the tests
UNPACED = {
    "SONIOX_FILE_REQUESTS_PER_MINUTE": "60000",
    "SONIOX_TRANSCRIPTION_REQUESTS_PER_MINUTE": "60000",
}


@pytest.fixture(autouse=True)
def unpaced(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in UNPACED.items():
        monkeypatch.setenv(name, value)
    for name in ("SONIOX_BASE_URL", "SONIOX_API_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> CliRuns:
    good = lb_env(**{ENV: KEY}, **UNPACED)
    return eval_runs(
        MockConfig(keys={"soniox": KEY}),
        tmp_path_factory.mktemp("soniox"),
        {
            "ok": (MODEL, good, FAST),
            "bad_rpm": (
                MODEL,
                {**good, "SONIOX_TRANSCRIPTION_REQUESTS_PER_MINUTE": "fast"},
                FAST,
            ),
            "rt_model": ("soniox/stt-rt-v3", good, FAST),
            **key_runs(MODEL, ENV, "not-the-key", FAST),
        },
    )


def provider(url: str, key: str = KEY) -> SonioxProvider:
    return job_provider(SonioxProvider, url, "stt-async-v5", key)


# -- end to end ------------------------------------------------------------------------------


def test_split_end_to_end_through_run_eval(cli: CliRuns) -> None:
    run = cli.runs["ok"]
    rows = assert_leaderboard_run(run, MODEL, run.results.parent / "esb")
    assert all(r["attempts"] == 1 for r in rows)
    counters = cli.mock.counters
    # one upload and one transcription per sample, and nothing left stored at Soniox
    assert counters["soniox.files"] == counters["soniox.jobs"] == N_SAMPLES
    assert counters["soniox.deleted_files"] == counters["soniox.deleted_transcriptions"]
    assert counters["soniox.deleted_files"] == N_SAMPLES
    job = next(iter(cli.mock.jobs.values()))
    assert (job["model"], job["language_hints"], job["audio_url"]) == ("stt-async-v5", ["en"], None)


def test_rejected_key_is_one_error_line(cli: CliRuns) -> None:
    assert_key_rejected(cli.runs["bad_key"], ENV)


def test_missing_key_is_one_line(cli: CliRuns) -> None:
    assert_missing_key(cli.runs["no_key"], ENV)  # through run_eval.py


def test_bad_option_values_are_one_line(cli: CliRuns) -> None:
    assert_one_error_line(cli.runs["bad_rpm"], "SONIOX_TRANSCRIPTION_REQUESTS_PER_MINUTE", "'fast'")
    assert_one_error_line(cli.runs["rt_model"], "soniox/stt-rt-v3", "stt-async-")


def test_bad_base_url_names_its_source(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match=r"^--base_url: bad endpoint 'ftp://x'"):
        provider("ftp://x")
    monkeypatch.setenv("SONIOX_API_BASE_URL", "http://lb.example:81/v1")
    made = job_provider(SonioxProvider, "", "stt-async-v5", KEY)
    assert made.base_url == "http://lb.example:81/v1"  # the leaderboard's variable
    monkeypatch.setenv("SONIOX_BASE_URL", "http://ours.example:82")
    made = job_provider(SonioxProvider, "", "stt-async-v5", KEY)
    assert made.base_url == "http://ours.example:82/v1"
    assert SonioxProvider.default_concurrency == 20 and SonioxProvider.fetches_urls


# -- each error kind, through the engine ----------------------------------------------------


async def test_undecodable_audio_fails_once_and_is_cleaned_up(tmp_path: Path) -> None:
    broken = AudioPayload(b"\x00\x01garbage" * 50, "audio/wav", "audio.wav", 1.0)
    items = [("Good words.", wav_clip("Good words.", 1.0)), ("x", broken)]
    async with MockServer() as mock:
        _, rows = await run_clips(provider(mock.url), items, tmp_path / "r")
    good, bad = sorted(rows, key=lambda r: r["id"])
    assert good["status"] == "ok" and good["pred_text"] == "Good words."
    assert (bad["status"], bad["error_kind"], bad["attempts"]) == ("failed", "bad_audio", 1)
    assert "audio_decode_error" in bad["error"]
    assert mock.state.counters["soniox.deleted_transcriptions"] == 2
    assert mock.state.counters["soniox.deleted_files"] == 2


def test_job_error_words() -> None:
    err = job_error("t1", {"error_type": "audio_fetch_error", "error_message": "HTTP 404"})
    assert (err.kind, err.retryable) == ("fetch_failed", False)
    assert str(err) == "transcription t1 failed: audio_fetch_error: HTTP 404"


# -- URL mode --------------------------------------------------------------------------------


async def test_url_mode_sends_audio_url_and_uploads_nothing() -> None:
    clip = wav_clip("Fetched by Soniox.", 0.8)
    async with AudioHost({"a.wav": clip.data}) as host, MockServer() as mock:
        url_only = AudioPayload(None, "audio/wav", "a.wav", clip.duration, url=host.url("a.wav"))
        assert await transcribe_one(provider(mock.url), url_only) == "Fetched by Soniox."
    job = next(iter(mock.state.jobs.values()))
    assert job["audio_url"] == host.url("a.wav") and job["file_id"] is None
    assert mock.state.counters["soniox.files"] == 0
    assert mock.state.counters["soniox.deleted_transcriptions"] == 1


async def test_mock_refuses_what_soniox_refuses() -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    async with MockServer() as mock, aiohttp.ClientSession() as session:
        url = f"{mock.url}/v1/transcriptions"
        body = {"model": "stt-async-v5", "audio_url": "http://x/a.wav", "speaker_labels": True}
        async with session.post(url, json=body, headers=headers) as resp:
            unknown = (resp.status, await resp.json())
        both = {"model": "stt-async-v5", "audio_url": "http://x/a.wav", "file_id": "f"}
        async with session.post(url, json=both, headers=headers) as resp:
            two = resp.status
        async with session.post(url, json=body, headers={"Authorization": KEY}) as resp:
            no_scheme = resp.status
    assert unknown[0] == 400 and unknown[1]["validation_errors"][0]["location"] == (
        "body.speaker_labels"
    )
    assert (two, no_scheme) == (400, 401)


async def test_a_cancelled_attempt_leaves_its_job_in_place() -> None:
    """A timeout or Ctrl-C must not wait for deletes (and keeps the job findable)."""
    async with MockServer(MockConfig(latency=30)) as mock, aiohttp.ClientSession() as session:
        soniox = provider(mock.url)
        task = asyncio.create_task(
            soniox.transcribe(session, soniox.endpoint_urls()[0], wav_clip("Slow.", 0.5))
        )

        async def job_accepted() -> None:
            while not mock.state.counters["soniox.jobs"]:
                await asyncio.sleep(0.01)

        await asyncio.wait_for(job_accepted(), 20)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        counters = mock.state.counters
    assert counters["soniox.files"] == counters["soniox.jobs"] == 1
    assert counters["soniox.deleted_transcriptions"] == counters["soniox.deleted_files"] == 0


def test_request_budgets_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert provider("http://h:1").file_pace.rate == 1000.0  # 60000/min, set for the tests
    for name in UNPACED:
        monkeypatch.delenv(name)
    soniox = provider("http://h:1")
    assert soniox.file_pace.rate == soniox.transcription_pace.rate == 4.0  # 240/min
    monkeypatch.setenv("SONIOX_FILE_REQUESTS_PER_MINUTE", "-5")
    with pytest.raises(ConfigError, match="SONIOX_FILE_REQUESTS_PER_MINUTE must be a positive"):
        provider("http://h:1")


async def test_over_300_minutes_is_refused_before_any_request() -> None:
    long_clip = AudioPayload(b"RIFF" + b"\x00" * 100, "audio/wav", "a.wav", 300 * 60.0 + 1)
    async with MockServer() as mock:
        with pytest.raises(PermanentError, match="over Soniox's 300 min limit") as info:
            await transcribe_one(provider(mock.url), long_clip)
    assert info.value.kind == "too_long" and mock.state.counters["soniox.requests"] == 0
