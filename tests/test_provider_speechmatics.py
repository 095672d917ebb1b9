"""Speechmatics batch: the real CLI against the mock (both prefixes), each error kind, the
request pacing, and the wire shape the mock enforces (multipart always, `config` part,
`data_file` or `fetch_data`)."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import orjson
import pytest

from asyncbench.core.errors import PermanentError, TransientError
from asyncbench.providers.base import AudioPayload
from asyncbench.providers.speechmatics import SpeechmaticsProvider, job_error
from asyncbench.servers.mock.state import MockConfig

from .provider_runs import (
    N_SAMPLES,
    AudioHost,
    CliRuns,
    assert_all_correct,
    assert_key_rejected,
    assert_missing_key,
    cli_runs,
    clips,
    env_with,
    job_provider,
    key_runs,
    wav_clip,
)
from .support import MockHandle, MockServer

KEY = "sm-test-key-7"
ENV = "SPEECHMATICS_API_KEY"
FAST = ("--poll_interval", "0.05")


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> CliRuns:
    good = env_with(**{ENV: KEY})
    return cli_runs(
        MockConfig(keys={"speechmatics": KEY}),
        tmp_path_factory.mktemp("speechmatics"),
        {
            "enhanced": ("speechmatics/enhanced", good, FAST),
            "standard": ("speechmatics-batch/standard", good, FAST),
            **key_runs(
                "speechmatics/enhanced",
                ENV,
                "expired",
                FAST,
                no_key_model="speechmatics-batch/enhanced",
            ),
        },
    )


def provider(url: str, model: str = "enhanced") -> SpeechmaticsProvider:
    return job_provider(SpeechmaticsProvider, url, model, KEY)


# -- end to end ------------------------------------------------------------------------------


def test_both_prefixes_end_to_end(cli: CliRuns) -> None:
    assert_all_correct(cli.runs["enhanced"])
    assert_all_correct(cli.runs["standard"])
    points = sorted(
        job["config"]["transcription_config"]["model"] for job in cli.mock.jobs.values()
    )
    assert points == ["enhanced"] * N_SAMPLES + ["standard"] * N_SAMPLES
    # (two runs at once share the account's limits, so the mock may have answered 429 here:
    # they are retried; the pacing of one client is tested below)


def test_rejected_key_is_one_error_line(cli: CliRuns) -> None:
    line = assert_key_rejected(cli.runs["bad_key"], ENV)
    assert "401 Authorization Required" in line  # nginx's HTML page, shown as one line


def test_missing_key_names_the_variable(cli: CliRuns) -> None:
    assert_missing_key(cli.runs["no_key"], ENV)


# -- each error kind, through the engine ----------------------------------------------------


async def test_new_jobs_are_paced_under_the_documented_limit() -> None:
    """15 clips at once: the client spaces its POSTs (10/s allowed), so the mock, which
    answers 429 past 10 new jobs in any second, never has to; an unpaced burst gets 429s."""
    n = 15
    payloads = clips(n)
    async with MockServer() as mock, aiohttp.ClientSession() as session:
        client = provider(mock.url)
        start = time.perf_counter()
        texts = await asyncio.gather(
            *(client.transcribe(session, client.base_url, p) for p in payloads.values())
        )
        elapsed = time.perf_counter() - start
        # what an unpaced burst gets
        auth = {"Authorization": f"Bearer {KEY}"}
        statuses = []
        for _ in range(12):
            form = aiohttp.FormData(default_to_multipart=True)
            form.add_field("config", "{}")
            async with session.post(f"{client.base_url}/jobs", data=form, headers=auth) as r:
                statuses.append(r.status)
    assert len(set(texts)) == n and elapsed >= (n - 1) / 10
    assert mock.state.counters["speechmatics.jobs"] == n
    assert 429 in statuses  # only the burst was refused:
    assert mock.state.counters["speechmatics.rate_limited"] == statuses.count(429)


def test_job_errors_have_meaning() -> None:
    fetch = job_error("j", {"status": "rejected", "errors": [{"message": "failed to fetch file"}]})
    assert isinstance(fetch, PermanentError) and fetch.kind == "fetch_failed"
    invalid = [{"message": "Job rejected due to invalid audio"}]
    bad = job_error("j", {"status": "rejected", "errors": invalid})
    assert bad.kind == "bad_audio"
    internal = job_error("j", {"status": "rejected", "errors": [{"message": "internal error"}]})
    assert isinstance(internal, TransientError)
    expired = job_error("j", {"status": "expired"})
    assert expired.message == "job j expired: no reason given" and not expired.retryable


# -- the wire, against the mock's strictness ------------------------------------------------


async def test_local_audio_is_multipart_config_and_data_file() -> None:
    clip = wav_clip("Config and data file.", 0.6)
    async with MockServer() as mock, aiohttp.ClientSession() as session:
        client = provider(mock.url)
        assert await client.transcribe(session, client.base_url, clip) == "Config and data file."
    assert client.base_url == f"{mock.url}/v2"
    submit = mock.state.last_request["speechmatics POST /v2/jobs"]
    assert submit["Authorization"] == f"Bearer {KEY}"
    assert submit["Content-Type"].startswith("multipart/form-data; boundary=")
    (job,) = _jobs(mock)
    assert job["data_name"] == "audio.wav" and "fetch_data" not in job["config"]
    assert job["config"]["transcription_config"]["language"] == "en"


async def test_url_mode_is_still_multipart_with_fetch_data() -> None:
    clip = wav_clip("Fetched by Speechmatics.", 0.6)
    async with (
        AudioHost({"a.wav": clip.data}) as host,
        MockServer() as mock,
        aiohttp.ClientSession() as session,
    ):
        client = provider(mock.url)
        by_url = AudioPayload(None, "audio/wav", "a.wav", 0.6, url=host.url("a.wav"))
        assert await client.transcribe(session, client.base_url, by_url) == (
            "Fetched by Speechmatics."
        )
        submit = mock.state.last_request["speechmatics POST /v2/jobs"]
        assert submit["Content-Type"].startswith("multipart/form-data; boundary=")
        gone = AudioPayload(None, "audio/wav", "b.wav", 1.0, url=host.url("missing.wav"))
        with pytest.raises(PermanentError) as info:
            await client.transcribe(session, client.base_url, gone)
    first = _jobs(mock)[0]
    assert first["config"]["fetch_data"] == {"url": host.url("a.wav")} and not first["data_name"]
    assert info.value.kind == "fetch_failed" and "failed to fetch file" in info.value.message


async def test_the_mock_refuses_what_speechmatics_refuses() -> None:
    config = orjson.dumps({"type": "transcription", "transcription_config": {"language": "en"}})
    async with MockServer() as mock, aiohttp.ClientSession() as session:
        url = f"{mock.url}/v2/jobs"
        auth = {"Authorization": f"Bearer {KEY}"}
        # aiohttp's pitfall: a form of plain fields goes urlencoded unless forced to multipart
        urlencoded = aiohttp.FormData({"config": config.decode()})
        async with session.post(url, data=urlencoded, headers=auth) as r:
            assert r.status == 400
            assert (await r.json())["error"] == "Malformed request"
        form = aiohttp.FormData(default_to_multipart=True)
        form.add_field("config", config.decode())
        async with session.post(url, data=form, headers=auth) as r:
            assert (r.status, (await r.json())["error"]) == (400, "Missing data_file")
        async with session.post(url, data=form, headers={"Authorization": KEY}) as r:
            assert r.status == 401 and "401 Authorization Required" in await r.text()
        client = provider(mock.url)
        with pytest.raises(PermanentError) as info:
            await client.request(session, "POST", url, data=form)
    assert info.value.kind == "bad_request" and info.value.message == "Missing data_file"


def _jobs(mock: MockHandle) -> list[dict]:
    return list(mock.state.jobs.values())
