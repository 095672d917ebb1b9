"""OpenAI: the real CLI against the mock (reached through `OPENAI_BASE_URL`, as a new user
would), each error kind through the real engine, and the request shape the mock enforces."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from asyncbench.core.errors import ConfigError, PermanentError, TransientError
from asyncbench.providers._http import api_url, read_error, upload_name
from asyncbench.providers.base import AudioPayload
from asyncbench.providers.openai import OpenAIProvider, openai_error, wait_hint
from asyncbench.servers.mock.state import MockConfig

from .provider_runs import (
    CONFIG,
    N_SAMPLES,
    SPLIT,
    CliRun,
    assert_all_correct,
    assert_each_retried_once,
    assert_key_rejected,
    assert_missing_key_sends_nothing,
    by_id,
    client,
    clip_list,
    run_clips,
    run_with_key,
    split_fixture,
    split_run,
    sync_env,
    transcribe_one,
    wav_clip,
)
from .support import MockServer, run_cli_async

ENV = "OPENAI_API_KEY"
KEY = "sk-test-0123456789"


split = split_fixture("openai")


# -- end to end ------------------------------------------------------------------------------


async def test_split_end_to_end_through_openai_base_url(split: Path, tmp_path: Path) -> None:
    async with MockServer(MockConfig(keys={"openai": KEY})) as mock:
        env = sync_env(**{ENV: KEY, "OPENAI_BASE_URL": f"{mock.url}/v1"})
        run = CliRun(
            *await run_cli_async(
                "run", "--model_name", "openai/whisper-1", "--dataset", CONFIG, "--split", SPLIT,
                "--dataset_path", split, "--results_dir", tmp_path, "--max_workers", "8",
                "--no_progress", env=env,
            ),
            tmp_path,
        )  # fmt: skip
    rows = assert_all_correct(run)
    assert "Results saved at path:" in run.out and "RTFx:" in run.out
    assert all(r["attempts"] == 1 for r in rows)
    assert mock.state.counters["openai.requests"] == N_SAMPLES
    form = mock.state.last_request["openai form"]
    assert (form["model"], form["language"], form["response_format"]) == ("whisper-1", "en", "json")
    assert form["file"].startswith("audio.wav;audio/wav;")
    assert mock.state.last_request["openai"]["Authorization"] == f"Bearer {KEY}"


async def test_rejected_key_is_one_error_line(split: Path, tmp_path: Path) -> None:
    async with MockServer(MockConfig(keys={"openai": KEY})) as mock:
        env = sync_env(**{ENV: "sk-wrong-key-99999"})
        run = await split_run("openai/whisper-1", split, tmp_path, mock.url, env)
    line = assert_key_rejected(run, ENV)
    assert "Incorrect API key provided" in line and "sk-wrong-key-99999" not in run.err


async def test_insufficient_quota_stops_the_run(split: Path, tmp_path: Path) -> None:
    async with MockServer() as mock:
        env = sync_env(**{ENV: "mock-insufficient_quota"})
        run = await split_run(
            "openai/gpt-4o-transcribe", split, tmp_path, mock.url, env, "--max_workers", "2"
        )
    assert run.code == 2, run.err
    errors = [line for line in run.err.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: HTTP 429: quota or credit exhausted for OPENAI_API_KEY: You exceeded your "
        "current quota, please check your plan and billing details. (add credit or use "
        "another key)"
    ]
    # stopped at the first answer instead of burning through the split; nothing recorded,
    # not even an empty results file (it is created with its first line)
    assert mock.state.counters["openai.requests"] <= 2 < N_SAMPLES
    assert list(tmp_path.glob("*.jsonl")) == []


async def test_missing_key_names_the_variable(split: Path, tmp_path: Path) -> None:
    await assert_missing_key_sends_nothing("openai/whisper-1", split, tmp_path, ENV, "openai")


# -- each error kind through the real engine ---------------------------------------------------


async def test_rate_limit_waits_for_the_reset_header_then_succeeds(tmp_path: Path) -> None:
    items = clip_list(4)
    async with MockServer(MockConfig(retry_after=0.3)) as mock:
        t0 = time.monotonic()
        engine, rows = await run_clips(
            client("openai/whisper-1", mock.url, "mock-rate_limit"), items, tmp_path / "r.jsonl"
        )
    assert time.monotonic() - t0 >= 0.3  # x-ratelimit-reset-requests: 300ms, no Retry-After
    assert_each_retried_once(engine, rows, 4, "rate_limited")
    assert sorted(r["pred_text"] for r in rows) == sorted(text for text, _ in items)


async def test_server_errors_are_retried(tmp_path: Path) -> None:
    engine, rows = await run_with_key("openai/whisper-1", "mock-server_error", 2, tmp_path / "r")
    assert_each_retried_once(engine, rows, 2, "server_error")


async def test_too_short_audio_is_a_permanent_failed_line(tmp_path: Path) -> None:
    items = [("Long enough.", wav_clip("Long enough.", 1.0)), ("Short.", wav_clip("Short.", 0.05))]
    async with MockServer() as mock:
        engine, rows = await run_clips(client("openai/whisper-1", mock.url), items, tmp_path / "r")
    row = by_id(rows)
    assert row["c0"]["status"] == "ok" and row["c0"]["pred_text"] == "Long enough."
    short = row["c1"]
    assert (short["status"], short["error_kind"], short["attempts"]) == (
        "failed",
        "audio_too_short",
        1,
    )
    assert short["error"] == (
        "HTTP 400: Audio file is too short. Minimum audio length is 0.1 seconds."
    )
    assert mock.state.counters["openai.requests"] == 2
    assert engine.fatal is None


async def test_quota_and_auth_are_fatal_in_the_engine(tmp_path: Path) -> None:
    quota, rows_q = await run_with_key(
        "openai/whisper-1", "mock-insufficient_quota", 6, tmp_path / "q"
    )
    keys = MockConfig(keys={"openai": KEY})
    auth, rows_a = await run_with_key(
        "openai/whisper-1", "sk-nope-00000000", 6, tmp_path / "a", keys
    )
    assert rows_q == rows_a == []
    assert quota.fatal is not None and quota.fatal.kind == "quota"
    assert auth.fatal is not None and auth.fatal.kind == "auth"
    assert str(auth.fatal).startswith("HTTP 401: key rejected; check OPENAI_API_KEY: Incorrect")


# -- error meaning ---------------------------------------------------------------------------


def test_error_meaning() -> None:
    quota = b'{"error": {"message": "You exceeded your current quota", "type": "insufficient_quota", "param": null, "code": "insufficient_quota"}}'  # noqa: E501
    err = openai_error(429, quota, {}, ENV)
    assert isinstance(err, PermanentError) and err.kind == "quota"
    limited = b'{"error": {"message": "Rate limit reached. Please try again in 1.5s.", "type": "requests", "code": "rate_limit_exceeded"}}'  # noqa: E501
    err = openai_error(429, limited, {"x-ratelimit-reset-requests": "6m0s"}, ENV)
    assert isinstance(err, TransientError) and (err.kind, err.retry_after) == ("rate_limited", 360)
    assert openai_error(429, limited, {"Retry-After": "2"}, ENV).retry_after == 2.0
    assert openai_error(429, limited, {}, ENV).retry_after == 1.5  # from the message
    err = openai_error(403, b'{"error": {"message": "Country not supported"}}', {}, ENV)
    assert (err.kind, err.message) == ("auth", f"key rejected; check {ENV}: Country not supported")
    assert openai_error(502, b"<html>bad gateway</html>", {}, ENV).kind == "server_error"
    assert openai_error(400, b'{"error": "plain words"}', {}, ENV).message == "plain words"
    assert wait_hint("Please try again in 20ms.") == 0.02 and wait_hint("no hint") is None
    assert read_error(b"").message == "(empty body)"


# -- the wire --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "url"),
    [
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000/v1/audio/transcriptions"),
        ("http://127.0.0.1:8000/", "http://127.0.0.1:8000/v1/audio/transcriptions"),
        ("http://127.0.0.1:8000/v1", "http://127.0.0.1:8000/v1/audio/transcriptions"),
        ("127.0.0.1:8000/v1/", "http://127.0.0.1:8000/v1/audio/transcriptions"),
        ("https://gw.example/openai/v1", "https://gw.example/openai/v1/audio/transcriptions"),
        ("http://h:1/v1/audio/transcriptions", "http://h:1/v1/audio/transcriptions"),
    ],
)
def test_base_url_forms(base: str, url: str) -> None:
    assert api_url(base, "/v1", "/audio/transcriptions") == url


def test_base_url_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    assert client("openai/whisper-1", None).endpoint_urls() == [
        "https://api.openai.com/v1/audio/transcriptions"
    ]
    monkeypatch.setenv("OPENAI_BASE_URL", "http://env:1/v1")
    assert client("openai/whisper-1", None).endpoint_urls() == [
        "http://env:1/v1/audio/transcriptions"
    ]
    assert client("openai/whisper-1", "http://flag:2").endpoint_urls() == [
        "http://flag:2/v1/audio/transcriptions"
    ]
    monkeypatch.setenv("OPENAI_BASE_URL", "ftp://nope")
    with pytest.raises(ConfigError, match=r"^OPENAI_BASE_URL: bad endpoint 'ftp://nope'"):
        client("openai/whisper-1", None)


def test_upload_names_carry_the_container_extension() -> None:
    def named(filename: str, mime: str) -> str:
        return upload_name(AudioPayload(b"", mime, filename, 1.0))

    assert named("audio.wav", "audio/wav") == "audio.wav"
    assert named("clip.FLAC", "audio/flac") == "clip.FLAC"
    assert named("clip", "audio/flac") == "clip.flac"
    assert named("row-17.bin", "audio/mpeg") == "row-17.mp3"
    assert named("", "audio/ogg; codecs=opus") == "audio.ogg"
    flac = AudioPayload(b"fLaC\x00\x00\x00\x22", "application/octet-stream", "row-3", 1.0)
    assert upload_name(flac) == "row-3.flac"


async def test_an_upload_without_extension_is_named_by_its_type() -> None:
    """The mock refuses files without a usable extension, as OpenAI does; the client names
    them from the MIME type, so a payload called `clip` still goes through."""
    clip = wav_clip("Named by type.", 0.5)
    bare = AudioPayload(clip.data, "audio/wav", "clip", clip.duration)
    async with MockServer() as mock:
        assert await transcribe_one(client("openai/gpt-4o-mini-transcribe", mock.url), bare) == (
            "Named by type."
        )
    assert mock.state.last_request["openai form"]["file"].startswith("clip.wav;audio/wav;")


async def test_a_url_only_payload_is_refused_before_sending() -> None:
    async with MockServer() as mock:
        payload = AudioPayload(None, "audio/wav", "a.wav", 1.0, url="http://x/a.wav")
        with pytest.raises(PermanentError, match="no audio bytes to upload"):
            await transcribe_one(client("openai/whisper-1", mock.url), payload)
    assert mock.state.counters["openai.requests"] == 0
    assert not OpenAIProvider.fetches_urls and OpenAIProvider.default_concurrency == 20
