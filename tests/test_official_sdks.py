"""The official SDKs against `asyncbench mock` (issue 11 item 3): the mock every provider test
trusts must answer the way the real service does, so the vendors' own clients (pinned in the
`dev` extra, same venv) transcribe one small clip through it, from a file and, where the SDK
and the API take one, from a URL. The OpenAI SDK's test is in `test_mock_sync.py`.

Not here, with the reason:
- Azure Speech: `azure-cognitiveservices-speech` is a native SDK whose endpoint comes from a
  region or a host string and speaks its own WebSocket protocol, not the REST short-audio API
  the mock and our client use: it cannot be pointed at the mock.
- Smallest AI: `smallestai` 5.14.0 transcribes through `POST /waves/v1/stt/?model=pulse`
  (its `waves/speech_to_text/client.py`), not the `POST /waves/v1/pulse/get_text` that the
  leaderboard's client and ours send, so it would prove a protocol we never speak; it also
  upgrades `websocket-client` to 1.9.2, which `rev-ai` 2.21.0 pins below 1, so it cannot
  share the dev venv.
- Zoom, Modulate, Reson8, Aqua Voice: no official Python SDK on PyPI for their
  speech-to-text APIs (as of 2026-12).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from .provider_runs import AudioHost, wav_clip
from .support import MockServer

TEXT = "the official client heard this"


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    payload = wav_clip(TEXT, 1.2)
    assert payload.data is not None
    path = tmp_path / "clip.wav"
    path.write_bytes(payload.data)
    return path


def words(text: str) -> str:
    return " ".join(text.split())


async def test_groq_sdk(clip: Path) -> None:
    groq = pytest.importorskip("groq")
    async with MockServer() as mock:
        sdk = groq.AsyncGroq(api_key="gsk-test", base_url=mock.url)
        with clip.open("rb") as fh:
            reply = await sdk.audio.transcriptions.create(file=fh, model="whisper-large-v3")
        await sdk.close()
    assert words(reply.text) == TEXT


async def test_assemblyai_sdk_file_and_url(clip: Path) -> None:
    aai = pytest.importorskip("assemblyai")
    async with MockServer() as mock, AudioHost({"c.wav": clip.read_bytes()}) as host:
        aai.settings.base_url = mock.url
        aai.settings.api_key = "aai-test"
        aai.settings.polling_interval = 0.05
        transcriber = aai.Transcriber()
        # the SDK is synchronous: off the loop that serves the mock
        done = await asyncio.to_thread(transcriber.transcribe, str(clip))
        by_url = await asyncio.to_thread(transcriber.transcribe, host.url("c.wav"))
    assert done.status == aai.TranscriptStatus.completed, done.error
    assert words(done.text or "") == TEXT
    assert words(by_url.text or "") == TEXT


async def test_elevenlabs_sdk_file_and_url(clip: Path) -> None:
    el = pytest.importorskip("elevenlabs.client")
    async with MockServer() as mock, AudioHost({"c.wav": clip.read_bytes()}) as host:
        sdk = el.AsyncElevenLabs(api_key="xi-test", base_url=mock.url)
        reply = await sdk.speech_to_text.convert(model_id="scribe_v1", file=clip.read_bytes())
        by_url = await sdk.speech_to_text.convert(
            model_id="scribe_v1", source_url=host.url("c.wav")
        )
    assert words(reply.text) == TEXT
    assert words(by_url.text) == TEXT


async def test_speechmatics_batch_sdk_file_url_and_wait(clip: Path) -> None:
    sm = pytest.importorskip("speechmatics.batch")
    async with (
        MockServer() as mock,
        AudioHost({"c.wav": clip.read_bytes()}) as host,
        sm.AsyncClient(api_key="sm-test", url=f"{mock.url}/v2") as sdk,
    ):
        config = sm.TranscriptionConfig(language="en")
        polled = await sdk.transcribe(
            str(clip), transcription_config=config, polling_interval=0.1, min_polling_interval=0.05
        )
        before = mock.state.counters["speechmatics.requests"]
        held = await sdk.transcribe(str(clip), transcription_config=config, wait=10)
        # `wait` holds the submit until the job is done: one round trip, no polling
        assert mock.state.counters["speechmatics.requests"] - before == 1
        job = await sdk.submit_job(
            None,
            config=sm.JobConfig(
                type=sm.JobType.TRANSCRIPTION,
                transcription_config=config,
                fetch_data=sm.FetchData(url=host.url("c.wav")),
            ),
        )
        by_url = await sdk.wait_for_completion(
            job.id, polling_interval=0.1, min_polling_interval=0.05
        )
    for transcript in (polled, held, by_url):
        assert words(transcript.transcript_text) == TEXT
    assert mock.state.counters["speechmatics.jobs"] == 3


async def test_revai_sdk_file_and_url(clip: Path) -> None:
    apiclient = pytest.importorskip("rev_ai.apiclient")
    from rev_ai.models import JobStatus

    async with MockServer() as mock, AudioHost({"c.wav": clip.read_bytes()}) as host:
        sdk = apiclient.RevAiAPIClient("rev-test", url=mock.url)

        def run(submit) -> str:  # type: ignore[no-untyped-def]
            job = submit()
            while (details := sdk.get_job_details(job.id)).status == JobStatus.IN_PROGRESS:
                time.sleep(0.05)  # the SDK's own thread, not the event loop
            assert details.status == JobStatus.TRANSCRIBED, details.failure_detail
            return str(sdk.get_transcript_text(job.id))

        from_file = await asyncio.to_thread(run, lambda: sdk.submit_job_local_file(str(clip)))
        from_url = await asyncio.to_thread(
            run, lambda: sdk.submit_job_url(source_config=_rev_source(host.url("c.wav")))
        )
    assert TEXT in words(from_file)
    assert TEXT in words(from_url)


def _rev_source(url: str):  # type: ignore[no-untyped-def]
    from rev_ai.models.customer_url_data import CustomerUrlData

    return CustomerUrlData(url)


async def test_deepgram_sdk_file_and_url(clip: Path) -> None:
    dg = pytest.importorskip("deepgram")
    from deepgram.environment import DeepgramClientEnvironment

    async with MockServer() as mock, AudioHost({"c.wav": clip.read_bytes()}) as host:
        ws = mock.url.replace("http", "ws", 1)
        env = DeepgramClientEnvironment(base=mock.url, production=ws, agent=ws, agent_rest=ws)
        sdk = dg.AsyncDeepgramClient(api_key="dg-test", environment=env)
        media = sdk.listen.v1.media
        from_file = await media.transcribe_file(request=clip.read_bytes(), model="nova-3")
        from_url = await media.transcribe_url(url=host.url("c.wav"), model="nova-3")
    for reply in (from_file, from_url):
        assert words(reply.results.channels[0].alternatives[0].transcript) == TEXT


async def test_soniox_sdk_file_and_url(clip: Path) -> None:
    soniox = pytest.importorskip("soniox")
    async with MockServer() as mock, AudioHost({"c.wav": clip.read_bytes()}) as host:
        sdk = soniox.AsyncSonioxClient(api_key="sx-test", api_base_url=f"{mock.url}/v1")
        texts = []
        for source in ({"file": clip}, {"audio_url": host.url("c.wav")}):
            job = await sdk.stt.transcribe(model="stt-async-v5", **source)
            await sdk.stt.wait(job.id, interval_sec=0.05, timeout_sec=30)
            texts.append((await sdk.stt.get_transcript(job.id)).text)
            await sdk.stt.destroy(job.id)
    assert [words(t) for t in texts] == [TEXT, TEXT]
    assert mock.state.counters["soniox.deleted_transcriptions"] == 2
    assert mock.state.counters["soniox.deleted_files"] == 1


async def test_gladia_sdk_file_and_url(clip: Path) -> None:
    gladia = pytest.importorskip("gladiaio_sdk")
    async with MockServer() as mock, AudioHost({"c.wav": clip.read_bytes()}) as host:
        sdk = gladia.GladiaClient(api_key="gl-test", api_url=mock.url).pre_recorded_v2_async()
        options = {"language_config": {"languages": ["en"]}}
        replies = [
            await sdk.transcribe(source, options, interval=0.05, timeout=30)
            for source in (clip, host.url("c.wav"))
        ]
    for reply in replies:
        assert words(reply.result.transcription.full_transcript) == TEXT


async def test_speechmatics_rt_sdk_streams_a_file(clip: Path) -> None:
    rt = pytest.importorskip("speechmatics.rt")
    import io

    pcm = clip.read_bytes()[44:]
    heard: list[dict] = []
    async with MockServer() as mock:
        url = mock.url.replace("http", "ws", 1) + "/v2"
        async with rt.AsyncClient(api_key="smrt-test", url=url) as sdk:
            sdk.on(rt.ServerMessageType.ADD_TRANSCRIPT)(heard.append)
            await sdk.transcribe(
                io.BytesIO(pcm),
                transcription_config=rt.TranscriptionConfig(language="en"),
                audio_format=rt.AudioFormat(
                    encoding=rt.AudioEncoding.PCM_S16LE, sample_rate=16000, chunk_size=8192
                ),
                timeout=30,
            )
    assert words(" ".join(m["metadata"]["transcript"] for m in heard)) == TEXT
    assert mock.state.counters["speechmatics-rt.errors"] == 0
