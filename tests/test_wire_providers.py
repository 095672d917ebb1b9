"""The wire rules hold for every kind of client, not only Aldea's POST (issue 18, items 3-5):
the async-job requests (submit, poll, transcript) and the real-time WebSocket session get the
same cap, the same refusal of non-transcript replies and the same redirect rule, because they
go through the same layer (`providers/_wire.py`). Real clients against loopback servers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import aiohttp
import orjson
import pytest
from aiohttp import web

from asyncbench.core.errors import PermanentError, ProviderError, TransientError
from asyncbench.providers import resolve
from asyncbench.providers._wire import WirePolicy, check_text, redirect_target, size_label
from asyncbench.providers.base import Provider, ProviderSettings

from .loopback import served
from .provider_runs import (
    wav_clip,
)

MIB = 2**20


def make(model_name: str, base_url: str, **kw: object) -> Provider:
    cls, model = resolve(model_name)
    return cls(ProviderSettings(model=model, api_key="k-1234567890", base_url=base_url, **kw))  # type: ignore[arg-type]


async def endless(request: web.Request) -> web.StreamResponse:
    """200, chunked, 40 MB of JSON-ish filler and then no end."""
    resp = web.StreamResponse(headers={"Content-Type": "application/json"})
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    for _ in range(160):
        await resp.write(b" " * (256 * 1024))
    await asyncio.sleep(3600)
    return resp


async def failure_of(call: Callable[[], object]) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        await asyncio.wait_for(call(), 30)  # type: ignore[arg-type]
    return info.value


# -- async jobs -----------------------------------------------------------------------------


async def test_a_job_poll_reply_is_capped() -> None:
    app = web.Application()
    app.router.add_get("/v2/transcript/{id}", endless)
    async with served(app) as base, aiohttp.ClientSession() as session:
        provider = make("assemblyai/best", base, max_reply_bytes=MIB)
        err = await failure_of(
            lambda: provider.request(session, "GET", f"{base}/v2/transcript/j1")  # type: ignore[attr-defined]
        )
    assert isinstance(err, TransientError) and err.kind == "bad_response"
    assert str(err) == "reply larger than 1 MiB (--max_reply_bytes)"


@pytest.mark.parametrize(
    ("body", "ctype", "words"),
    [
        (b"<!doctype html><title>Login</title>", "text/html", "reply is an HTML page"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "image/png", "reply is binary"),
        (b'{"status": "completed", "text": ["a"]}', "application/json", "is list, not a string"),
    ],
)
async def test_a_job_reply_that_is_not_a_transcript(body: bytes, ctype: str, words: str) -> None:
    async def submit(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"id": "j1", "status": "queued"})

    async def status(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type=ctype)

    app = web.Application()
    app.router.add_post("/v2/transcript", submit)
    app.router.add_get("/v2/transcript/{id}", status)
    async with served(app) as base, aiohttp.ClientSession() as session:
        provider = make("assemblyai/best", base, options={"poll_interval": "0.01"})
        provider.fetches_urls = True
        audio = wav_clip("hello", 0.5)
        audio.data, audio.url = None, "http://example.invalid/a.wav"
        if "not a string" in words:
            err = await failure_of(lambda: provider.transcribe(session, base, audio))
        else:
            err = await failure_of(
                lambda: provider.request(session, "GET", f"{base}/v2/transcript/j1")  # type: ignore[attr-defined]
            )
    assert err.kind == "bad_response" and words in str(err), err


async def test_a_job_submit_redirect_is_not_followed() -> None:
    async def moved(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=301, headers={"Location": "/v2/elsewhere"})

    app = web.Application()
    app.router.add_post("/v2/transcript", moved)
    async with served(app) as base, aiohttp.ClientSession() as session:
        provider = make("assemblyai/best", base)
        err = await failure_of(
            lambda: provider.request(session, "POST", f"{base}/v2/transcript", json={})  # type: ignore[attr-defined]
        )
    assert isinstance(err, PermanentError) and err.kind == "redirect"
    assert f"redirected to {base}/v2/elsewhere" in str(err)


# -- the real-time WebSocket ----------------------------------------------------------------


def rt_app(after_start: list[object]) -> web.Application:
    """A Speechmatics RT endpoint that answers StartRecognition, then sends `after_start`
    (bytes are sent as one text frame as they are, dicts as JSON)."""

    async def session(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=64 * MIB)
        await ws.prepare(request)
        await ws.receive()  # StartRecognition
        await ws.send_str(orjson.dumps({"message": "RecognitionStarted", "id": "s1"}).decode())
        for item in after_start:
            data = item.decode() if isinstance(item, bytes) else orjson.dumps(item).decode()
            await ws.send_str(data)
        async for _ in ws:
            pass
        return ws

    app = web.Application()
    app.router.add_get("/v2", session)
    return app


async def test_a_websocket_message_is_capped() -> None:
    huge = b'{"message": "Info", "reason": "' + b"x" * (2 * MIB) + b'"}'
    async with served(rt_app([huge])) as base, aiohttp.ClientSession() as session:
        provider = make("speechmatics-rt/enhanced", base.replace("http", "ws"), max_reply_bytes=MIB)
        err = await failure_of(
            lambda: provider.transcribe(session, provider.base_url, wav_clip("hello", 0.5))
        )
    assert err.kind == "bad_response" and str(err) == "reply larger than 1 MiB (--max_reply_bytes)"


async def test_a_websocket_transcript_that_is_not_a_string() -> None:
    bad = {"message": "AddTranscript", "metadata": {"transcript": 7}, "results": []}
    async with served(rt_app([bad])) as base, aiohttp.ClientSession() as session:
        provider = make("speechmatics-rt/enhanced", base.replace("http", "ws"))
        err = await failure_of(
            lambda: provider.transcribe(session, provider.base_url, wav_clip("hello", 0.5))
        )
    assert err.kind == "bad_response" and "is int, not a string" in str(err)


@pytest.mark.parametrize("target", ["/v2", "/login"])
async def test_a_websocket_upgrade_redirect_is_refused(target: str) -> None:
    """aiohttp follows redirects on the upgrade and cannot be told not to: a session reached
    through a 302 (or a login page it lands on) is refused by the same rule (kind redirect)."""

    async def moved(request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": target})

    async def login(request: web.Request) -> web.Response:
        return web.Response(text="<html>sign in</html>", content_type="text/html")

    app = rt_app([])
    app.router.add_get("/old", moved)
    app.router.add_get("/login", login)
    async with served(app) as base, aiohttp.ClientSession() as session:
        provider = make("speechmatics-rt/enhanced", base.replace("http", "ws") + "/old")
        err = await failure_of(
            lambda: provider.transcribe(session, provider.base_url, wav_clip("hello", 0.5))
        )
    assert isinstance(err, PermanentError) and err.kind == "redirect", err


# -- the rules themselves -------------------------------------------------------------------


def test_redirect_rule() -> None:
    follow = WirePolicy(follow_redirects=True)
    assert redirect_target("http://h:1/a", 307, "/b", follow) == "http://h:1/b"
    assert redirect_target("https://h/a", 308, "https://h:443/b", follow) == "https://h:443/b"
    for status, location, words in (
        (302, "/b", "only 307/308"),
        (307, "http://other:1/b", "another origin"),
        (307, "https://h:1/b", "another origin"),  # another scheme is another origin
        (307, "", "without a Location"),
    ):
        with pytest.raises(PermanentError, match=words):
            redirect_target("http://h:1/a", status, location, follow)
    with pytest.raises(PermanentError, match="pass --follow_redirects"):
        redirect_target("http://h:1/a", 307, "/b", WirePolicy())


def test_text_checks_and_labels() -> None:
    assert check_text("héllo".encode(), "text/plain; charset=utf-8") == "héllo"
    assert check_text(b'{"text": "x"}', "") == '{"text": "x"}'
    for body, ctype in ((b"  <HTML><body>", ""), (b"a\x00b", "text/plain"), (b"\xff", "")):
        with pytest.raises(TransientError):
            check_text(body, ctype)
    assert size_label(16 * MIB) == "16 MiB" and size_label(1500) == "1500 bytes"


async def test_a_followed_307_sends_the_multipart_body_again() -> None:
    """--follow_redirects with a multipart upload (OpenAI's protocol): the form is turned into
    one payload before the first hop, so the 307's target gets the same file and fields."""
    got: list[tuple[str, bytes]] = []

    async def moved(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=307, headers={"Location": "/v2/audio/transcriptions"})

    async def answer(request: web.Request) -> web.Response:
        form = await request.post()
        upload = form["file"]
        assert isinstance(upload, web.FileField)
        got.append((str(form["model"]), upload.file.read()))
        return web.json_response({"text": "moved and answered"})

    app = web.Application(client_max_size=64 * MIB)
    app.router.add_post("/v1/audio/transcriptions", moved)
    app.router.add_post("/v2/audio/transcriptions", answer)
    clip = wav_clip("hello", 0.5)
    async with served(app) as base, aiohttp.ClientSession() as session:
        provider = make("openai-compatible/whisper", base + "/v1", follow_redirects=True)
        text = await provider.transcribe(session, provider.endpoint_urls()[0], clip)
    assert text == "moved and answered"
    assert got == [("whisper", clip.data)]
