"""Finals and jobs are bound to their own request (#28 item 3): a final for another item,
or a job status that names another job, is a `protocol` error, never scored."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import aiohttp
import orjson
import pytest
from aiohttp import web

from asyncbench.core.errors import ProviderError
from asyncbench.core.streaming import StreamOptions
from asyncbench.providers import resolve
from asyncbench.providers.base import AudioPayload, ProviderSettings
from asyncbench.sources import watermark
from asyncbench.sources.audio import wav_header

from .loopback import free_port, serve

Send = Callable[[dict[str, object]], Awaitable[None]]


def clip() -> AudioPayload:
    pcm = watermark.embed("mine", 0.4, seed=3)
    return AudioPayload(wav_header(len(pcm) * 2) + pcm.tobytes(), "audio/wav", "a.wav", 0.4)


def completed(item: str, text: str) -> dict[str, object]:
    return {
        "type": "conversation.item.input_audio_transcription.completed",
        "item_id": item,
        "transcript": text,
    }


async def realtime(after_commit: Callable[[Send], Awaitable[None]]) -> str:
    """One openai-rt session against a server that answers the commit with `after_commit`."""
    port = free_port()

    async def handle(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)

        async def send(event: dict[str, object]) -> None:
            await ws.send_str(orjson.dumps(event).decode())

        await send({"type": "session.created", "session": {"id": "s"}})
        async for msg in ws:
            kind = orjson.loads(msg.data).get("type")
            if kind == "session.update":
                await send({"type": "session.updated", "session": {"id": "s"}})
            elif kind == "input_audio_buffer.commit":
                await after_commit(send)
        return ws

    app = web.Application()
    app.router.add_get("/v1/realtime", handle)
    runner = await serve(app, [port])
    try:
        cls, model = resolve("openai-rt/gpt-4o-transcribe")
        client = cls(
            ProviderSettings(
                model=model,
                api_key="sk-test-binding-0123",
                base_url=f"http://127.0.0.1:{port}",
                streaming=StreamOptions(False, None, 1.0, 5.0),
            )
        )
        async with aiohttp.ClientSession() as session:
            got = await asyncio.wait_for(
                client.transcribe(session, client.endpoint_urls()[0], clip()), 30
            )
        return str(got)
    finally:
        await runner.cleanup()


async def test_openai_rt_takes_its_own_items_final() -> None:
    async def answer(send: Send) -> None:
        await send({"type": "input_audio_buffer.committed", "item_id": "item_mine"})
        await send(completed("item_mine", "my own words"))

    assert await realtime(answer) == "my own words"


@pytest.mark.parametrize("committed_first", [False, True])
async def test_openai_rt_never_scores_another_items_final(committed_first: bool) -> None:
    """Before: with the commit not yet acknowledged, the first `completed` (another
    session's words) was taken as this clip's transcript."""

    async def answer(send: Send) -> None:
        if committed_first:
            await send({"type": "input_audio_buffer.committed", "item_id": "item_mine"})
        await send(completed("item_other", "words from another session"))
        await send({"type": "input_audio_buffer.committed", "item_id": "item_mine"})
        await send(completed("item_mine", "my own words"))

    with pytest.raises(ProviderError) as info:
        await realtime(answer)
    assert info.value.kind == "protocol" and info.value.retryable
    mine = "item_mine" if committed_first else "(no commit acknowledged yet)"
    assert str(info.value) == f"a final for item 'item_other', not this session's {mine}"


async def test_a_job_status_for_another_job_is_never_taken() -> None:
    """A status reply naming another job (a proxy's cache, a confused gateway) would lead
    to fetching and scoring that job's words: it is a `protocol` error instead."""
    port = free_port()
    transcript = {"monologues": [{"elements": [{"type": "text", "value": "not mine"}]}]}

    async def submit(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"id": "job-1", "status": "in_progress"})

    async def status(request: web.Request) -> web.Response:
        return web.json_response({"id": "job-9", "status": "transcribed"})

    async def text(request: web.Request) -> web.Response:
        return web.json_response(transcript)

    app = web.Application()
    app.router.add_post("/speechtotext/v1/jobs", submit)
    app.router.add_get("/speechtotext/v1/jobs/{job}", status)
    app.router.add_get("/speechtotext/v1/jobs/{job}/transcript", text)
    runner = await serve(app, [port])
    try:
        cls, model = resolve("revai/machine")
        client = cls(
            ProviderSettings(
                model=model,
                api_key="rev-test-binding-0123",
                base_url=f"http://127.0.0.1:{port}",
                language="en",
                options={"poll_interval": "0.01"},
            )
        )
        async with aiohttp.ClientSession() as session:
            with pytest.raises(ProviderError) as info:
                await asyncio.wait_for(
                    client.transcribe(session, client.endpoint_urls()[0], clip()), 30
                )
    finally:
        await runner.cleanup()
    assert info.value.kind == "protocol"
    assert str(info.value) == "the status of job job-1 came back for job job-9"
