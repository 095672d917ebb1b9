"""AssemblyAI: the real CLI against the mock, each error kind, and the wire shape the mock
enforces (raw key, raw-byte upload, URL jobs, too-short clips). Also the shared job plumbing
(`--poll_interval`, the poll schedule), tested once here."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import aiohttp
import pytest

from asyncbench.core.errors import ConfigError, PermanentError, TransientError
from asyncbench.providers import resolve
from asyncbench.providers._jobs import error_text, poll_delays, poll_interval
from asyncbench.providers.assemblyai import AssemblyAIProvider, job_error, model_fields
from asyncbench.providers.base import ProviderSettings
from asyncbench.servers.mock.state import MockConfig

from .provider_runs import (
    N_SAMPLES,
    AudioHost,
    CliRuns,
    assert_all_correct,
    assert_key_rejected,
    assert_missing_key,
    cli_runs,
    env_with,
    job_provider,
    key_runs,
    run_engine,
    wav_clip,
)
from .support import MockServer

KEY = "aai-test-key-123"
ENV = "ASSEMBLYAI_API_KEY"
FAST = ("--poll_interval", "0.05")


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> CliRuns:
    good = env_with(**{ENV: KEY})
    return cli_runs(
        MockConfig(keys={"assemblyai": KEY}),
        tmp_path_factory.mktemp("assemblyai"),
        {
            "universal": ("assembly/universal-3-pro", good, FAST),
            "best": ("assemblyai/best", good, FAST),
            "bad_poll": ("assembly/best", good, ("--poll_interval", "0")),
            **key_runs("assembly/best", ENV, "not-the-key", FAST),
        },
    )


def provider(url: str, model: str = "universal-3-pro") -> AssemblyAIProvider:
    return job_provider(AssemblyAIProvider, url, model, KEY)


# -- end to end ------------------------------------------------------------------------------


def test_both_prefixes_end_to_end(cli: CliRuns) -> None:
    assert_all_correct(cli.runs["universal"])
    assert_all_correct(cli.runs["best"])
    assert cli.mock.counters["assemblyai.jobs"] == 2 * N_SAMPLES
    assert len(cli.mock.uploads) == 2 * N_SAMPLES
    models = Counter(job["model"] for job in cli.mock.jobs.values())
    assert models == {"universal-3-pro": N_SAMPLES, "best": N_SAMPLES}


def test_rejected_key_is_one_error_line(cli: CliRuns) -> None:
    assert_key_rejected(cli.runs["bad_key"], ENV)


def test_missing_key_names_the_variable(cli: CliRuns) -> None:
    assert_missing_key(cli.runs["no_key"], ENV)


# -- each error kind, through the engine ----------------------------------------------------


async def test_too_short_clip_is_recorded_and_not_retried(tmp_path: Path) -> None:
    """The runner already skips clips under 160 ms; when one reaches the service anyway (its
    duration unknown up front), the job error is a permanent failure in the service's words."""
    payloads = {"short": wav_clip("Too short.", 0.1), "long": wav_clip("Long enough.", 1.0)}
    async with MockServer() as mock:
        rows = await run_engine(provider(mock.url, "best"), payloads, tmp_path)
    assert rows["long"]["status"] == "ok" and rows["long"]["pred_text"] == "Long enough."
    short = rows["short"]
    assert (short["status"], short["error_kind"], short["attempts"]) == ("failed", "too_short", 1)
    assert "Audio duration is too short." in short["error"]
    assert mock.state.counters["assemblyai.jobs"] == 2


# -- the wire, against the mock's strictness ------------------------------------------------


async def test_upload_is_raw_bytes_with_the_raw_key() -> None:
    clip = wav_clip("Raw bytes please.", 0.5)
    async with (
        MockServer(MockConfig(keys={"assemblyai": KEY})) as mock,
        aiohttp.ClientSession() as session,
    ):
        client = provider(mock.url)
        assert await client.transcribe(session, client.base_url, clip) == "Raw bytes please."
        upload = mock.state.last_request["assemblyai POST /v2/upload"]
        assert upload["Authorization"] == KEY
        assert upload["Content-Type"] == "application/octet-stream"
        assert list(mock.state.uploads.values()) == [clip.data]
        create = mock.state.last_request["assemblyai POST /v2/transcript"]
        assert create["Content-Type"].startswith("application/json")
        # the same key as a Bearer token is refused, as the service does
        async with session.post(
            f"{mock.url}/v2/upload", data=b"x", headers={"Authorization": f"Bearer {KEY}"}
        ) as resp:
            assert resp.status == 401


async def test_a_json_upload_fails_later_as_a_transcoding_error() -> None:
    """What a client that sends JSON to /v2/upload gets: an upload_url, then a failed job."""
    async with MockServer() as mock, aiohttp.ClientSession() as session:
        headers = {"Authorization": KEY}
        async with session.post(
            f"{mock.url}/v2/upload", json={"audio": "base64..."}, headers=headers
        ) as resp:
            upload_url = (await resp.json())["upload_url"]
        async with session.post(
            f"{mock.url}/v2/transcript", json={"audio_url": upload_url}, headers=headers
        ) as resp:
            job_id = (await resp.json())["id"]
        client = provider(mock.url)

        async def status() -> dict | None:
            async with session.get(f"{mock.url}/v2/transcript/{job_id}", headers=headers) as r:
                body = await r.json()
            return body if body["status"] in ("completed", "error") else None

        job = await client.wait_for(status)
    assert job["status"] == "error" and job["error"].startswith("Transcoding failed.")
    assert "does not appear to contain audio" in job["error"]
    assert job_error(job_id, job).kind == "bad_audio"


async def test_url_mode_sends_the_url_and_uploads_nothing() -> None:
    clip = wav_clip("Fetched by the service.", 0.7)
    async with AudioHost({"a.wav": clip.data}) as host, MockServer() as mock:
        url_only = type(clip)(None, "audio/wav", "a.wav", clip.duration, url=host.url("a.wav"))
        async with aiohttp.ClientSession() as session:
            client = provider(mock.url)
            assert await client.transcribe(session, client.base_url, url_only) == (
                "Fetched by the service."
            )
            gone = type(clip)(None, "audio/wav", "b.wav", 1.0, url=host.url("gone.wav"))
            with pytest.raises(PermanentError) as info:
                await client.transcribe(session, client.base_url, gone)
    assert not mock.state.uploads
    assert [job["audio_url"] for job in mock.state.jobs.values()] == [
        host.url("a.wav"),
        host.url("gone.wav"),
    ]
    assert info.value.kind == "fetch_failed" and "Download error" in info.value.message


def test_model_selection_and_job_error_meaning() -> None:
    assert model_fields("universal-3-pro") == {"speech_models": ["universal-3-pro"]}
    assert model_fields("universal-3-5-pro") == {"speech_models": ["universal-3-5-pro"]}
    assert model_fields("universal-2") == {"speech_model": "universal-2"}
    assert model_fields("slam-1") == {"speech_model": "slam-1"}
    short = job_error("t1", {"status": "error", "error": "Audio duration is too short."})
    assert isinstance(short, PermanentError) and short.kind == "too_short"
    internal = job_error("t1", {"error": "Internal server error, please resubmit"})
    assert isinstance(internal, TransientError) and internal.kind == "job_failed"
    unknown = job_error("t1", {"error": None})
    assert (unknown.kind, unknown.message) == (
        "job_failed",
        "transcript t1 failed: no reason given",
    )
    assert resolve("assemblyai/best")[0] is resolve("assembly/best")[0] is AssemblyAIProvider


# -- the shared job plumbing -------------------------------------------------------------------


def test_poll_schedule_starts_short_and_grows_gently() -> None:
    delays = poll_delays(0.5)
    first = [next(delays) for _ in range(9)]
    assert first == pytest.approx([0.5, 0.625, 0.78125, 0.9766, 1.2207, 1.5259, 1.9073, 2, 2], 1e-3)
    assert next(poll_delays(5.0)) == 5.0 and next(poll_delays(0.1)) == 0.1
    assert poll_interval(ProviderSettings(model="m")) == 0.5


@pytest.mark.parametrize(
    ("body", "text"),
    [
        (b'{"error": "API token missing/invalid"}', "API token missing/invalid"),
        (b'{"title": "Authorization denied", "status": 401}', "Authorization denied"),
        (b'{"code": 403, "error": "Forbidden", "detail": "Entitlement"}', "Forbidden: Entitlement"),
        (b'{"error": {"message": "Rate limit exceeded", "code": "x"}}', "Rate limit exceeded"),
        (b"<html><head><title>401 Auth Required</title></head>", "401 Auth Required"),
        (b"plain\n  words", "plain words"),
        (b"", "(empty body)"),
    ],
)
def test_error_bodies_in_the_providers_words(body: bytes, text: str) -> None:
    assert error_text(body) == text


@pytest.mark.parametrize("value", ["0", "-1", "soon", "nan", "inf"])
def test_bad_poll_interval_option(value: str) -> None:
    with pytest.raises(ConfigError, match="--poll_interval must be a positive number of seconds"):
        poll_interval(ProviderSettings(model="m", options={"poll_interval": value}))


def test_bad_poll_interval_flag_is_one_line(cli: CliRuns) -> None:
    run = cli.runs["bad_poll"]
    assert run.code == 2
    assert run.err.strip().splitlines() == ["error: --poll_interval must be positive"]
