"""Aldea protocol: raw audio POSTed to `/asr/transcribe` or `/transcribe` → `{"text": ...}`."""

from __future__ import annotations

from aiohttp import web

from asyncbench.servers.mock.state import MockState
from asyncbench.sources.audio import BadAudio

NAME = "aldea"


def add_routes(app: web.Application, state: MockState) -> None:
    async def transcribe(request: web.Request) -> web.Response:
        state.counters[f"{NAME}.requests"] += 1
        state.last_request[NAME] = dict(request.headers)
        if NAME in state.config.keys:
            denied = state.check_key(NAME, state.bearer(request))
            if denied is not None:
                return denied
        body = await request.read()
        fault = state.fault(NAME)
        if fault is not None:
            return fault
        try:
            text = await state.recognize(body)
        except BadAudio as exc:
            return web.json_response({"error": str(exc)}, status=400)
        await state.wait()
        return web.json_response({"text": text})

    app.router.add_post("/asr/transcribe", transcribe)
    app.router.add_post("/transcribe", transcribe)
