"""The mock where the official SDKs found it wrong (issue 11 item 3), checked on the wire:
ElevenLabs `source_url`, the Speechmatics batch `json-v2` shape, the Speechmatics real-time
message shapes and a `last_seq_no` one below the chunks sent, AssemblyAI's queued →
processing → completed, and our Speechmatics client sending `model`."""

from __future__ import annotations

import asyncio

import aiohttp
import orjson

from asyncbench.providers.base import ProviderSettings
from asyncbench.providers.speechmatics import SpeechmaticsProvider
from asyncbench.servers.mock.state import MockConfig

from .provider_runs import AudioHost, wav_clip
from .support import MockServer


async def test_elevenlabs_takes_source_url_and_the_deprecated_cloud_storage_url() -> None:
    clip = wav_clip("fetched by the service", 1.0)
    assert clip.data is not None
    async with (
        AudioHost({"a.wav": clip.data}) as host,
        MockServer() as mock,
        aiohttp.ClientSession() as s,
    ):
        for field in ("source_url", "cloud_storage_url"):
            form = aiohttp.FormData(default_to_multipart=True)
            form.add_field("model_id", "scribe_v1")
            form.add_field(field, host.url("a.wav"))
            async with s.post(
                f"{mock.url}/v1/speech-to-text", data=form, headers={"xi-api-key": "k"}
            ) as r:
                assert r.status == 200, await r.text()
                assert (await r.json())["text"] == "fetched by the service"
        form = aiohttp.FormData(default_to_multipart=True)
        form.add_field("model_id", "scribe_v1")
        form.add_field("file", clip.data, filename="a.wav")
        form.add_field("source_url", host.url("a.wav"))
        async with s.post(
            f"{mock.url}/v1/speech-to-text", data=form, headers={"xi-api-key": "k"}
        ) as r:
            assert r.status == 400  # exactly one source


async def test_speechmatics_json_v2_has_the_documented_shape_and_client_sends_model() -> None:
    clip = wav_clip("three words here", 1.5)
    async with MockServer() as mock, aiohttp.ClientSession() as s:
        client = SpeechmaticsProvider(
            ProviderSettings(
                model="enhanced", api_key="k", base_url=mock.url, options={"poll_interval": "0.02"}
            )
        )
        assert await client.transcribe(s, client.base_url, clip) == "three words here"
        (job,) = mock.state.jobs.values()
        config = job["config"]["transcription_config"]
        assert config["model"] == "enhanced" and "operating_point" not in config
        async with s.get(
            f"{mock.url}/v2/jobs/{job['id']}/transcript",
            params={"format": "json-v2"},
            headers={"Authorization": "Bearer k"},
        ) as r:
            doc = await r.json()
    assert doc["metadata"]["type"] == "transcription" and doc["metadata"]["created_at"]
    assert [w["alternatives"][0]["content"] for w in doc["results"]] == ["three", "words", "here"]
    for word in doc["results"]:
        assert 0 <= word["start_time"] < word["end_time"] <= 1.5
        assert word["alternatives"][0]["language"] == "en"


async def test_speechmatics_rt_full_messages_and_last_seq_no_one_below() -> None:
    start = {
        "message": "StartRecognition",
        "audio_format": {"type": "raw", "encoding": "pcm_s16le", "sample_rate": 16000},
        "transcription_config": {"language": "en", "model": "enhanced"},
    }
    clip = wav_clip("one two three four", 1.0)
    assert clip.data is not None
    pcm = clip.data[44:]
    async with MockServer() as mock, aiohttp.ClientSession() as session:
        headers = {"Authorization": "Bearer k"}
        async with session.ws_connect(f"{mock.url}/v2", headers=headers) as ws:
            await ws.send_str(orjson.dumps(start).decode())
            assert orjson.loads((await ws.receive()).data)["message"] == "RecognitionStarted"
            chunks = [pcm[i : i + 8000] for i in range(0, len(pcm), 8000)]
            for chunk in chunks:
                await ws.send_bytes(chunk)
                assert orjson.loads((await ws.receive()).data)["message"] == "AudioAdded"
            # what the current official SDK sends: one less than the chunks it sent
            await ws.send_str(orjson.dumps({"message": "EndOfStream", "last_seq_no": 3}).decode())
            messages = []
            while (msg := await ws.receive()).type == aiohttp.WSMsgType.TEXT:
                messages.append(orjson.loads(msg.data))
    assert len(chunks) == 4
    assert messages[-1] == {"message": "EndOfTranscript"}
    adds = messages[:-1]
    assert " ".join(m["metadata"]["transcript"].strip() for m in adds) == "one two three four"
    for m in adds:
        assert m["message"] == "AddTranscript" and m["format"] == "2.9"
        assert 0 <= m["metadata"]["start_time"] < m["metadata"]["end_time"] <= 1.0
        assert all(r["alternatives"][0]["content"] for r in m["results"])


async def test_assemblyai_transcript_goes_queued_processing_completed() -> None:
    clip = wav_clip("state by state", 1.0)
    release = asyncio.Event()
    async with MockServer(MockConfig()) as mock, aiohttp.ClientSession() as s:
        mock.state.wait = release.wait  # type: ignore[method-assign]
        headers = {"Authorization": "k"}
        async with s.post(f"{mock.url}/v2/upload", data=clip.data, headers=headers) as r:
            upload = (await r.json())["upload_url"]
        async with s.post(
            f"{mock.url}/v2/transcript", json={"audio_url": upload}, headers=headers
        ) as r:
            job = await r.json()
        seen = [job["status"]]

        async def status() -> str:
            async with s.get(f"{mock.url}/v2/transcript/{job['id']}", headers=headers) as r:
                return str((await r.json())["status"])

        while seen[-1] != "processing":
            seen.append(await status())
            await asyncio.sleep(0.01)
        release.set()
        while seen[-1] != "completed":
            seen.append(await status())
            await asyncio.sleep(0.01)
    assert seen[0] == "queued"
    assert list(dict.fromkeys(seen)) == ["queued", "processing", "completed"]
