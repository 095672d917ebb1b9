"""Rev AI: the real CLI against the mock, each error kind, and the wire shape the mock
enforces (multipart `media` + `options`, JSON `source_config` URL jobs, the transcript's
`Accept` header)."""

from __future__ import annotations

import aiohttp
import orjson
import pytest

from asyncbench.core.errors import PermanentError, TransientError
from asyncbench.providers.base import AudioPayload
from asyncbench.providers.revai import TRANSCRIPT_JSON, RevAIProvider, job_error, transcript_text
from asyncbench.servers.mock.state import MockConfig

from .provider_runs import (
    N_SAMPLES,
    AudioHost,
    CliRuns,
    assert_all_correct,
    assert_key_rejected,
    cli_runs,
    env_with,
    job_provider,
    key_runs,
    wav_clip,
)
from .support import MockServer

KEY = "rev-test-token-42"
ENV = "REVAI_API_KEY"


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> CliRuns:
    fast = ("--poll_interval", "0.05")
    return cli_runs(
        MockConfig(keys={"revai": KEY}),
        tmp_path_factory.mktemp("revai"),
        {
            "fusion": ("revai/fusion", env_with(**{ENV: KEY}), fast),
            **key_runs("revai/machine", ENV, "stale-token", fast),
        },
    )


def provider(url: str, model: str = "machine") -> RevAIProvider:
    return job_provider(RevAIProvider, url, model, KEY)


# -- end to end ------------------------------------------------------------------------------


def test_split_end_to_end(cli: CliRuns) -> None:
    assert_all_correct(cli.runs["fusion"])
    assert [job["transcriber"] for job in cli.mock.jobs.values()] == ["fusion"] * N_SAMPLES


def test_rejected_key_is_one_error_line(cli: CliRuns) -> None:
    line = assert_key_rejected(cli.runs["bad_key"], ENV)
    assert "Authorization has been denied for this request" in line


# -- each error kind, through the engine ----------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "cls", "kind"),
    [
        ("internal_processing", TransientError, "job_failed"),
        ("download_failure", PermanentError, "fetch_failed"),
        ("invalid_media", PermanentError, "bad_audio"),
        ("insufficient_balance", PermanentError, "quota"),
        ("something_new", PermanentError, "job_failed"),
    ],
)
def test_failure_codes_have_meaning(failure: str, cls: type, kind: str) -> None:
    err = job_error("j1", {"failure": failure, "failure_detail": "the detail"})
    assert isinstance(err, cls) and err.kind == kind
    assert err.message == f"job j1 failed: {failure}: the detail"


# -- the wire, against the mock's strictness ------------------------------------------------


async def test_local_file_is_multipart_media_and_options() -> None:
    clip = wav_clip("Multipart with options.", 0.6)
    async with MockServer() as mock, aiohttp.ClientSession() as session:
        client = provider(mock.url, "fusion")
        text = await client.transcribe(session, client.base_url, clip)
    assert text == "Multipart with options."
    assert client.base_url == f"{mock.url}/speechtotext/v1"
    submit = mock.state.last_request["revai POST /speechtotext/v1/jobs"]
    assert submit["Authorization"] == f"Bearer {KEY}"
    assert submit["Content-Type"].startswith("multipart/form-data; boundary=")
    (job,) = mock.state.jobs.values()
    assert (job["name"], job["transcriber"], job["language"]) == ("audio.wav", "fusion", "en")
    transcript = mock.state.last_request["revai GET /speechtotext/v1/jobs/{job_id}/transcript"]
    assert transcript["Accept"] == TRANSCRIPT_JSON


async def test_url_mode_is_json_source_config() -> None:
    clip = wav_clip("Fetched by Rev.", 0.6)
    async with (
        AudioHost({"a.wav": clip.data}) as host,
        MockServer() as mock,
        aiohttp.ClientSession() as session,
    ):
        client = provider(mock.url)
        by_url = AudioPayload(None, "audio/wav", "a.wav", 0.6, url=host.url("a.wav"))
        assert await client.transcribe(session, client.base_url, by_url) == "Fetched by Rev."
        submit = mock.state.last_request["revai POST /speechtotext/v1/jobs"]
        assert submit["Content-Type"] == "application/json"
        gone = AudioPayload(None, "audio/wav", "b.wav", 1.0, url=host.url("missing.wav"))
        with pytest.raises(PermanentError) as info:
            await client.transcribe(session, client.base_url, gone)
    assert info.value.kind == "fetch_failed"
    assert "download_failure: Failed to download media file" in info.value.message


async def test_the_mock_refuses_what_rev_refuses() -> None:
    async with MockServer() as mock, aiohttp.ClientSession() as session:
        jobs = f"{mock.url}/speechtotext/v1/jobs"
        auth = {"Authorization": f"Bearer {KEY}"}
        async with session.post(jobs, json={"transcriber": "machine"}, headers=auth) as resp:
            assert resp.status == 400
            assert (await resp.json())["parameters"] == {
                "source_config": ["source_config.url must be a media URL"]
            }
        async with session.post(jobs, data={"options": "{}"}, headers=auth) as resp:
            assert resp.status == 415  # a form without a file is urlencoded: not multipart
        form = aiohttp.FormData(default_to_multipart=True)
        form.add_field("options", "{}")
        async with session.post(jobs, data=form, headers=auth) as resp:
            assert resp.status == 400 and "media" in (await resp.json())["parameters"]
        async with session.post(jobs, json={"source_config": {"url": "x"}}) as resp:
            assert resp.status == 401
        # the transcript needs the right Accept header, and a transcribed job
        clip = wav_clip("Accept matters.", 0.5)
        form = aiohttp.FormData()
        form.add_field("media", clip.data, filename="a.wav", content_type="audio/wav")
        async with session.post(jobs, data=form, headers=auth) as resp:
            job_id = (await resp.json())["id"]
        async with session.get(f"{jobs}/{job_id}/transcript", headers=auth) as resp:
            assert resp.status in (406, 409)
        await provider(mock.url).wait_for(lambda: _transcribed(session, f"{jobs}/{job_id}"))
        async with session.get(f"{jobs}/{job_id}/transcript", headers=auth) as resp:
            assert resp.status == 406
        headers = {**auth, "Accept": TRANSCRIPT_JSON}
        async with session.get(f"{jobs}/{job_id}/transcript", headers=headers) as resp:
            assert resp.headers["Content-Type"].startswith(TRANSCRIPT_JSON)
            doc = orjson.loads(await resp.read())
    assert transcript_text(doc) == "Accept matters."
    kinds = {el["type"] for mono in doc["monologues"] for el in mono["elements"]}
    assert kinds == {"text", "punct"}


async def _transcribed(session: aiohttp.ClientSession, url: str) -> bool | None:
    async with session.get(url, headers={"Authorization": f"Bearer {KEY}"}) as resp:
        return True if (await resp.json())["status"] == "transcribed" else None


def test_transcript_elements_join_without_separators() -> None:
    doc = {
        "monologues": [
            {"elements": [{"type": "text", "value": "Hello"}, {"type": "punct", "value": ","}]},
            {
                "elements": [
                    {"type": "punct", "value": " "},
                    {"type": "text", "value": "world"},
                    {"type": "punct", "value": "."},
                ]
            },
        ]
    }
    assert transcript_text(doc) == "Hello, world."
    with pytest.raises(TransientError, match="transcript has no monologues"):
        transcript_text({"status": "odd"})
