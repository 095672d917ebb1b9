"""Zoom Scribe fast mode: `POST /v2/aiservices/scribe/transcribe` (keys: `zoom`).

Strict where the service is (reference/PROTOCOLS-2026.md §A4): `Authorization: Bearer
<token>`, where the token is the API key itself (what the leaderboard sends) or an HS256 JWT
whose `iss` is the key and whose `exp` has not passed (what Zoom's docs describe; with a
`--key zoom_secret=...` the mock also checks its signature); `Content-Type:
application/json`; a body `{"file", "config"}` whose `file` is a `data:audio/...;base64,`
URI or an http(s) URL (downloaded) and whose `config` holds only documented options with
valid values (`segmentation_mode` `auto`/`none`, booleans where booleans belong). Replies
`{request_id, duration_sec, result: {text_display, text_lexical}}`; errors `{code, message}`.

Key scenario (see `asyncbench.servers.mock.sync`): `mock-rate_limit` (first attempt of each
clip 429 with Retry-After).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
import uuid
from typing import Any

import orjson
from aiohttp import web

from asyncbench.servers.mock import sync
from asyncbench.servers.mock.jobs import FetchFailed, json_object
from asyncbench.servers.mock.state import MockState
from asyncbench.sources.audio import BadAudio

NAME = "zoom"
PATH = "/v2/aiservices/scribe/transcribe"
CONFIG = frozenset(
    {
        "language",
        "segmentation_mode",
        "word_time_offsets",
        "channel_separation",
        "timestamps",
        "experimental_feature",
        "model",
        "output_format",
    }
)
_BOOLS = ("word_time_offsets", "channel_separation", "timestamps")
#: Scribe models a config may name (Zoom's docs, and the board's scribe_v2_pro model)
MODELS = frozenset({"zoom-scribe-en-pro", "zoom-scribe-multilingual", "whisper"})


def error(status: int, code: int, message: str, **headers: str) -> web.Response:
    return web.json_response({"code": code, "message": message}, status=status, headers=headers)


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def token_key(token: str | None, secret: str | None) -> str | None:
    """The API key a bearer token stands for: a JWT's `iss` (if it is signed with `secret`
    when one is known, and not expired), else the token itself."""
    if not token or token.count(".") != 2:
        return token
    header, payload, signature = token.split(".")
    try:
        claims = orjson.loads(_unb64(payload))
    except (ValueError, binascii.Error):
        return None
    if not isinstance(claims, dict) or not isinstance(claims.get("iss"), str):
        return None
    if not isinstance(claims.get("exp"), int) or claims["exp"] < time.time():
        return None
    if secret is not None:
        expected = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256)
        if not hmac.compare_digest(_unb64(signature), expected.digest()):
            return None
    return str(claims["iss"])


def check_config(config: Any) -> str | None:
    """Why a config is refused, or None."""
    if not isinstance(config, dict):
        return "config must be an object"
    unknown = sorted(set(config) - CONFIG)
    if unknown:
        return f"Invalid field: config.{unknown[0]}"
    if not isinstance(config.get("language", "en-US"), str):
        return "config.language must be a language code such as en-US"
    if config.get("segmentation_mode", "auto") not in ("auto", "none"):
        return "config.segmentation_mode must be auto or none"
    for name in _BOOLS:
        if name in config and not isinstance(config[name], bool):
            return f"config.{name} must be a boolean"
    if "model" in config and config["model"] not in MODELS:
        return f"config.model {config['model']!r} is not a Scribe model"
    if not isinstance(config.get("experimental_feature", {}), dict):
        return "config.experimental_feature must be an object"
    return None


def decode_file(file: str) -> tuple[bytes | None, str | None, str | None]:
    """(audio bytes, URL, why the field is refused) of the `file` field."""
    if file.startswith(("http://", "https://")):
        return None, file, None
    head, sep, data = file.partition(",")
    if not sep or not head.startswith("data:audio/") or not head.endswith(";base64"):
        return None, None, "file must be an https URL or a data:audio/...;base64 URI"
    try:
        return base64.b64decode(data, validate=True), None, None
    except binascii.Error:
        return None, None, "file is not valid base64"


def add_routes(app: web.Application, state: MockState) -> None:
    async def transcribe(request: web.Request) -> web.Response:
        state.counters[f"{NAME}.requests"] += 1
        state.last_request[NAME] = dict(request.headers)
        token = state.bearer(request)
        presented = token_key(token, state.config.keys.get("zoom_secret"))
        if state.check_key(NAME, presented) is not None:
            return error(401, 124, "Invalid access token.")
        body, why = await json_object(request)
        if body is None:
            return error(400, 300, why)
        if set(body) - {"file", "config"} or not isinstance(body.get("file"), str):
            return error(400, 300, "body must be {file, config} with file a string")
        if (why := check_config(body.get("config", {}))) is not None:
            return error(400, 300, why)
        audio, url, why = decode_file(body["file"])
        if why is not None:
            return error(400, 300, why)
        state.last_request[f"{NAME} config"] = body.get("config", {})
        if isinstance(body.get("config"), dict):
            state.counters[f"{NAME}.model.{body['config'].get('model', '-')}"] += 1
        clip = url.encode() if url else audio or b""
        if sync.scenario(presented) == "rate_limit" and sync.first_attempt(state, NAME, clip):
            return error(
                429,
                429,
                "You have reached the maximum per-second rate limit for this API.",
                **{"Retry-After": f"{state.config.retry_after:g}"},
            )
        fault = state.fault(NAME)
        if fault is not None:
            return fault
        try:
            text, seconds = await sync.listen(state, audio, url)
        except FetchFailed as exc:
            return error(400, 300, f"Unable to download file: {exc}")
        except BadAudio:
            return error(400, 300, "Unsupported or corrupt audio file.")
        await state.wait()
        lexical = " ".join(w.strip(".,?!").lower() for w in text.split())
        return web.json_response(
            {
                "request_id": f"req_{uuid.uuid4().hex[:12]}",
                "duration_sec": round(seconds, 3),
                "result": {"text_display": text, "text_lexical": lexical},
            }
        )

    app.router.add_post(PATH, transcribe)
