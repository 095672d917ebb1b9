"""The mock's synchronous protocols are strict where the services are: requests a naive client
would send are refused with each service's status and error shape. And the official `openai`
SDK, pointed at the mock, transcribes a file (so the mock speaks OpenAI, not our idea of it)."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import openai
import pytest

from asyncbench.servers.mock.state import MockConfig

from .provider_runs import wav_clip
from .support import MockServer

CLIP = wav_clip("The mock heard this.", 0.6)
assert CLIP.data is not None
WAV: bytes = CLIP.data
BEARER = {"Authorization": "Bearer sk-test-1234"}


def form(*fields: tuple[str, str], file: tuple[str, bytes] | None = ("a.wav", WAV)):  # type: ignore[no-untyped-def]
    data = aiohttp.FormData(default_to_multipart=True)
    for name, value in fields:
        data.add_field(name, value)
    if file is not None:
        data.add_field("file", file[1], filename=file[0], content_type="audio/wav")
    return data


async def post(url: str, **kw: Any) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.post(url, **kw) as resp:
        if resp.content_type == "application/json":
            return resp.status, await resp.json()
        return resp.status, await resp.text()


# -- the official SDK ------------------------------------------------------------------------


async def test_the_openai_sdk_transcribes_through_the_mock() -> None:
    async with MockServer(MockConfig(keys={"openai": "sk-sdk-0123456789"})) as mock:
        sdk = openai.AsyncOpenAI(
            api_key="sk-sdk-0123456789", base_url=f"{mock.url}/v1", max_retries=0
        )
        result = await sdk.audio.transcriptions.create(
            model="whisper-1", file=("clip.wav", WAV, "audio/wav"), language="en"
        )
        assert result.text == "The mock heard this."
        text = await sdk.audio.transcriptions.create(
            model="gpt-4o-transcribe", file=("clip.wav", WAV, "audio/wav"), response_format="text"
        )
        assert str(text).strip() == "The mock heard this."
        verbose = await sdk.audio.transcriptions.create(
            model="whisper-1", file=("clip.wav", WAV, "audio/wav"), response_format="verbose_json"
        )
        assert verbose.text == "The mock heard this." and verbose.duration == pytest.approx(0.6)
        with pytest.raises(openai.AuthenticationError) as denied:
            await openai.AsyncOpenAI(
                api_key="sk-wrong-000000", base_url=f"{mock.url}/v1", max_retries=0
            ).audio.transcriptions.create(model="whisper-1", file=("clip.wav", WAV))
        with pytest.raises(openai.BadRequestError) as bad:
            await sdk.audio.transcriptions.create(model="whisper-1", file=("clip", WAV))
        await sdk.close()
    assert denied.value.code == "invalid_api_key"
    assert "Invalid file format" in bad.value.message
    assert mock.state.last_request["openai form"]["file"].startswith("clip;")


async def test_the_sdk_sees_the_quota_error_as_openai_sends_it() -> None:
    async with MockServer() as mock:
        sdk = openai.AsyncOpenAI(
            api_key="mock-insufficient_quota", base_url=f"{mock.url}/v1", max_retries=0
        )
        with pytest.raises(openai.RateLimitError) as info:
            await sdk.audio.transcriptions.create(model="whisper-1", file=("a.wav", WAV))
        await sdk.close()
    assert info.value.code == "insufficient_quota" and info.value.type == "insufficient_quota"


# -- OpenAI and Groq ---------------------------------------------------------------------------

OPENAI = "/v1/audio/transcriptions"
GROQ = "/openai/v1/audio/transcriptions"


async def test_openai_refuses_what_openai_refuses() -> None:
    async with MockServer() as mock:
        url = mock.url + OPENAI
        cases = {
            "json body": await post(url, json={"model": "whisper-1"}, headers=BEARER),
            # aiohttp's default for text-only forms: urlencoded, the pitfall of PROTOCOLS §0
            "urlencoded": await post(url, data=aiohttp.FormData({"model": "m"}), headers=BEARER),
            "token auth": await post(
                url, data=form(("model", "whisper-1")), headers={"Authorization": "Token k"}
            ),
            "no model": await post(url, data=form(), headers=BEARER),
            "no file": await post(
                url, data=form(("model", "whisper-1"), file=None), headers=BEARER
            ),
            "no extension": await post(
                url, data=form(("model", "whisper-1"), file=("upload", WAV)), headers=BEARER
            ),
            "gpt-4o verbose": await post(
                url,
                data=form(("model", "gpt-4o-transcribe"), ("response_format", "verbose_json")),
                headers=BEARER,
            ),
            "language name": await post(
                url, data=form(("model", "whisper-1"), ("language", "english")), headers=BEARER
            ),
        }
    statuses = {case: status for case, (status, _) in cases.items()}
    messages = {case: body["error"]["message"] for case, (_, body) in cases.items()}
    assert statuses == {case: 401 if case == "token auth" else 400 for case in cases}
    assert messages["json body"].startswith(
        "Invalid Content-Type header (application/json), expected multipart/form-data."
    )
    assert messages["urlencoded"].startswith(
        "Invalid Content-Type header (application/x-www-form-urlencoded)"
    )
    assert messages["token auth"].startswith("You didn't provide an API key.")
    assert messages["no model"] == "you must provide a model parameter"
    assert messages["no file"] == "exactly one of file must be provided"
    assert messages["no extension"] == (
        "Invalid file format. Supported formats: "
        "['flac', 'm4a', 'mp3', 'mp4', 'mpeg', 'mpga', 'oga', 'ogg', 'wav', 'webm']"
    )
    assert "not compatible with model 'gpt-4o-transcribe'" in messages["gpt-4o verbose"]
    assert messages["language name"].startswith("Invalid language 'english'.")
    assert all(
        set(body["error"]) == {"message", "type", "param", "code"} for _, body in cases.values()
    )


async def test_openai_reply_formats() -> None:
    async with MockServer() as mock:
        url = mock.url + OPENAI
        _, srt = await post(
            url, data=form(("model", "whisper-1"), ("response_format", "srt")), headers=BEARER
        )
        _, vtt = await post(
            url, data=form(("model", "whisper-1"), ("response_format", "vtt")), headers=BEARER
        )
    assert srt == "1\n00:00:00,000 --> 00:00:00,600\nThe mock heard this.\n\n"
    assert vtt.startswith("WEBVTT\n\n00:00:00.000 --> 00:00:00.600\n")


async def test_groq_takes_a_url_only_as_multipart() -> None:
    async with MockServer() as mock:
        url = mock.url + GROQ
        fields = {"model": "whisper-large-v3", "url": "http://127.0.0.1:9/a.wav"}
        urlencoded = await post(url, data=aiohttp.FormData(fields), headers=BEARER)
        both = await post(url, data=form(*fields.items()), headers=BEARER)
        fetch_failed = await post(url, data=form(*fields.items(), file=None), headers=BEARER)
        ok = await post(url, data=form(("model", "whisper-large-v3")), headers=BEARER)
    assert (
        urlencoded[0] == 400 and "expected multipart/form-data" in urlencoded[1]["error"]["message"]
    )
    assert both[0] == 400
    assert both[1]["error"]["message"] == "exactly one of file or url must be provided"
    assert fetch_failed[0] == 400
    assert fetch_failed[1]["error"]["message"].startswith("failed to retrieve media:")
    assert ok[0] == 200 and ok[1]["text"] == "The mock heard this."
    assert ok[1]["x_groq"]["id"].startswith("req_")


# -- ElevenLabs and Deepgram -------------------------------------------------------------------


async def test_elevenlabs_refuses_what_elevenlabs_refuses() -> None:
    async with MockServer() as mock:
        url = f"{mock.url}/v1/speech-to-text"
        key = {"xi-api-key": "xi-test-1234"}
        bearer = await post(url, data=form(("model_id", "scribe_v1")), headers=BEARER)
        as_json = await post(url, json={"model_id": "scribe_v1"}, headers=key)
        not_bool = await post(
            url,
            data=form(("model_id", "scribe_v1"), ("tag_audio_events", "yes please")),
            headers=key,
        )
        no_file = await post(url, data=form(("model_id", "scribe_v1"), file=None), headers=key)
        ok = await post(url, data=form(("model_id", "scribe_v1")), headers=key)
    assert bearer[0] == 401 and bearer[1]["detail"] == {
        "status": "needs_authorization",
        "message": "Neither authorization header nor xi-api-key received, please provide one.",
    }
    assert as_json[0] == 400 and as_json[1]["detail"]["status"] == "invalid_content_type"
    assert not_bool[0] == 422
    assert not_bool[1]["detail"][0]["loc"] == ["body", "tag_audio_events"]
    assert no_file[0] == 400 and no_file[1]["detail"]["status"] == "invalid_parameters"
    assert ok[0] == 200 and ok[1]["text"] == "The mock heard this."
    assert [
        w["text"] for w in ok[1]["words"] if w["type"] == "word"
    ] == "The mock heard this.".split()


async def test_deepgram_refuses_what_deepgram_refuses() -> None:
    async with MockServer() as mock:
        url = f"{mock.url}/v1/listen"
        token = {"Authorization": "Token dg-1234", "Content-Type": "audio/wav"}
        bearer = await post(url, data=WAV, headers={**BEARER, "Content-Type": "audio/wav"})
        bad_flag = await post(url, params={"smart_format": "yes"}, data=WAV, headers=token)
        bad_json = await post(
            url, data=b"{not json", headers={**token, "Content-Type": "application/json"}
        )
        ok = await post(url, params={"model": "nova-3"}, data=WAV, headers=token)
    assert bearer[0] == 401 and bearer[1]["err_code"] == "INVALID_AUTH"
    assert bad_flag[0] == 400 and "smart_format=yes" in bad_flag[1]["err_msg"]
    assert bad_json[0] == 400 and "could not process the JSON payload" in bad_json[1]["err_msg"]
    assert ok[0] == 200 and ok[1]["metadata"]["duration"] == pytest.approx(0.6)
    alternative = ok[1]["results"]["channels"][0]["alternatives"][0]
    assert alternative["transcript"] == "The mock heard this."


# -- faults and latency apply to every synchronous route ------------------------------------


@pytest.mark.parametrize(
    ("path", "kw"),
    [
        (OPENAI, {"data": lambda: form(("model", "whisper-1")), "headers": BEARER}),
        (GROQ, {"data": lambda: form(("model", "whisper-large-v3")), "headers": BEARER}),
        (
            "/v1/speech-to-text",
            {"data": lambda: form(("model_id", "scribe_v1")), "headers": {"xi-api-key": "k"}},
        ),
        ("/v1/listen", {"data": lambda: WAV, "headers": {"Authorization": "Token k"}}),
    ],
)
async def test_configured_faults_and_latency(path: str, kw: dict[str, Any]) -> None:
    async with MockServer(MockConfig(rate_429=1.0, retry_after=7)) as mock:
        status, _ = await post(mock.url + path, data=kw["data"](), headers=kw["headers"])
    assert status == 429
    async with MockServer(MockConfig(latency=0.2)) as mock:
        t0 = time.monotonic()
        status, _ = await post(mock.url + path, data=kw["data"](), headers=kw["headers"])
    assert status == 200 and time.monotonic() - t0 >= 0.2
