"""Azure Speech fast transcription: `POST /speechtotext/transcriptions:transcribe`.

Keys: `microsoft`. Strict where the service is (reference/PROTOCOLS-2026.md §A3): the key
only in `Ocp-Apim-Subscription-Key` (401 otherwise, in Azure's words); `api-version` must be a
version that has fast transcription; the body must be multipart with a `definition` part
(JSON: known fields only, `locales` as BCP-47 codes, `profanityFilterMode` one of its four
values, `enhancedMode.task` `transcribe` or `translate`, `prompt` a list of strings) and
exactly one of an `audio` file part and `definition.audioUrl`, which the mock downloads.
Replies `{durationMilliseconds, combinedPhrases: [{text}], phrases: [...]}`; errors
`{"error": {"code", "message", "innerError"?}}` (the shape is UNCONFIRMED, see the client).

Key scenarios (see `asyncbench.servers.mock.sync`): `mock-quota` (every request 403 "Out of
call volume quota"), `mock-rate_limit` (first attempt of each clip 429 with Retry-After).
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from aiohttp import web

from asyncbench.servers.mock import sync
from asyncbench.servers.mock.jobs import FetchFailed
from asyncbench.servers.mock.state import MockState
from asyncbench.sources.audio import BadAudio

NAME = "microsoft"
PATH = "/speechtotext/transcriptions:transcribe"
API_VERSIONS = frozenset({"2024-11-15", "2025-10-15"})
FIELDS = frozenset(
    {
        "locales",
        "profanityFilterMode",
        "enhancedMode",
        "audioUrl",
        "channels",
        "diarization",
        "phraseList",
    }
)
ENHANCED = frozenset({"enabled", "task", "prompt", "targetLanguage"})
PROFANITY = frozenset({"None", "Masked", "Removed", "Tags"})
_LOCALE = re.compile(r"^[a-z]{2,3}-[A-Z]{2}$")
AUTH_MESSAGE = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide "
    "a valid key for an active subscription and use a correct regional API endpoint for your "
    "resource."
)


def error(status: int, code: str, message: str, inner: str | None = None) -> web.Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if inner is not None:
        body["innerError"] = {"code": inner, "message": message}
    return web.json_response({"error": body}, status=status)


def check_definition(raw: bytes) -> tuple[dict[str, Any] | None, str]:
    """(the definition, "") or (None, why it is refused)."""
    try:
        spec = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None, "definition is not valid JSON"
    if not isinstance(spec, dict):
        return None, "definition must be a JSON object"
    unknown = sorted(set(spec) - FIELDS)
    if unknown:
        return None, f"unknown definition property {unknown[0]!r}"
    locales = spec.get("locales", [])
    if not isinstance(locales, list) or not all(
        isinstance(x, str) and _LOCALE.match(x) for x in locales
    ):
        return None, f"locales must be a list of locales such as en-US (got {locales!r})"
    if spec.get("profanityFilterMode", "Masked") not in PROFANITY:
        return None, f"profanityFilterMode must be one of {', '.join(sorted(PROFANITY))}"
    enhanced = spec.get("enhancedMode", {})
    if not isinstance(enhanced, dict) or set(enhanced) - ENHANCED:
        return None, f"enhancedMode takes only {', '.join(sorted(ENHANCED))}"
    if not isinstance(enhanced.get("enabled", False), bool):
        return None, "enhancedMode.enabled must be a boolean"
    if enhanced.get("task", "transcribe") not in ("transcribe", "translate"):
        return None, "enhancedMode.task must be transcribe or translate"
    prompt = enhanced.get("prompt", [])
    if not isinstance(prompt, list) or not all(isinstance(p, str) for p in prompt):
        return None, "enhancedMode.prompt must be a list of strings"
    return spec, ""


def _reply(text: str, seconds: float, locale: str) -> web.Response:
    ms = round(seconds * 1000)
    words = [{"text": w, "offsetMilliseconds": 0, "durationMilliseconds": 0} for w in text.split()]
    phrase = {
        "offsetMilliseconds": 0,
        "durationMilliseconds": ms,
        "text": text,
        "words": words,
        "locale": locale,
        "confidence": 0.95,
    }
    body = {
        "durationMilliseconds": ms,
        "combinedPhrases": [{"text": text}] if text else [],
        "phrases": [phrase] if text else [],
    }
    return web.json_response(body)


def add_routes(app: web.Application, state: MockState) -> None:
    async def transcribe(request: web.Request) -> web.Response:
        state.counters[f"{NAME}.requests"] += 1
        state.last_request[NAME] = dict(request.headers)
        key = request.headers.get("Ocp-Apim-Subscription-Key", "").strip() or None
        if state.check_key(NAME, key) is not None:
            return error(401, "401", AUTH_MESSAGE)
        if request.query.get("api-version") not in API_VERSIONS:
            return error(
                400,
                "InvalidArgument",
                f"api-version {request.query.get('api-version')!r} is not supported",
            )
        try:
            parts = await sync.read_form(request)
        except ValueError as exc:
            return error(400, "InvalidRequest", f"malformed multipart body: {exc}")
        if parts is None:
            return error(415, "InvalidRequest", "Content-Type must be multipart/form-data")
        raw = parts.get("definition")
        spec, why = check_definition(raw.data) if raw is not None else ({}, "")
        if spec is None:
            return error(400, "InvalidArgument", why, "InvalidDefinition")
        state.last_request[f"{NAME} definition"] = spec
        audio = parts.get("audio")
        url = spec.get("audioUrl")
        if (audio is None) == (url is None):
            return error(400, "InvalidArgument", "give exactly one of audio and audioUrl")
        if audio is not None and (audio.filename is None or not audio.data):
            return error(400, "InvalidArgument", "audio must be a non-empty file part")
        clip = url.encode() if url else audio.data  # type: ignore[union-attr]
        wanted = sync.scenario(key)
        if wanted == "quota":
            return error(
                403,
                "403",
                "Out of call volume quota for this resource. Quota will be replenished in 2 days.",
            )
        if wanted == "rate_limit" and sync.first_attempt(state, NAME, clip):
            return web.json_response(
                {"error": {"code": "429", "message": "Too many requests; retry later."}},
                status=429,
                headers={"Retry-After": f"{state.config.retry_after:g}"},
            )
        fault = state.fault(NAME)
        if fault is not None:
            return fault
        try:
            text, seconds = await sync.listen(state, None if url else clip, url)
        except FetchFailed as exc:
            return error(
                400,
                "InvalidArgument",
                f"could not download audioUrl: {exc}",
                "FailedToDownloadAudio",
            )
        except BadAudio:
            return error(
                422, "InvalidArgument", "The audio could not be decoded.", "InvalidAudioFormat"
            )
        await state.wait()
        locales = spec.get("locales") or ["en-US"]
        return _reply(text, seconds, locales[0])

    app.router.add_post(PATH, transcribe)
