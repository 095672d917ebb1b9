"""Aldea protocol: raw audio POSTed to `/asr/transcribe` or `/transcribe` → `{"text": ...}`.

An optional `language` query parameter (alias `lang`), as Aldea's public API documents it:
a BCP-47 tag whose language is not an ISO 639-1 code is 400 `{"error", "request_id"}`. Each
request's language is counted in `state.counters["aldea.language.<code>"]` ("-": none).
"""

from __future__ import annotations

from aiohttp import web

from asyncbench.core.languages import ISO639_1, primary_subtag
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
        language = request.query.get("language") or request.query.get("lang")
        if language is not None and primary_subtag(language) not in ISO639_1:
            return web.json_response(
                {"error": f"unsupported language: {language}", "request_id": state.new_id("req")},
                status=400,
            )
        state.counters[f"{NAME}.language.{language or '-'}"] += 1
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
