"""What the synchronous HTTP clients share: one POST per clip, transcript in the reply.

OpenAI, OpenAI-compatible servers, Groq, ElevenLabs and Deepgram differ only in the URL, the
auth header, the body, where the transcript sits in the reply and what an error body means.
`HTTPProvider` runs the request; subclasses describe those differences. The helpers here
(URL joining, forced multipart, tolerant error-body reading) exist once so the clients
cannot drift apart on the pitfalls they share.
"""

from __future__ import annotations

import posixpath
from abc import abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import orjson

from asyncbench.core.endpoint_spec import normalize_endpoint
from asyncbench.core.errors import ConfigError, PermanentError, ProviderError, TransientError
from asyncbench.providers._wire import check_reply, send, transcript_string
from asyncbench.providers.base import AudioPayload, Provider, ProviderSettings, excerpt
from asyncbench.sources.audio import sniff

if TYPE_CHECKING:
    import aiohttp

#: containers every one of these APIs accepts, by upload extension
AUDIO_EXTENSIONS = frozenset(
    {"flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "oga", "ogg", "wav", "webm"}
)
_EXTENSION_OF_MIME = {
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "audio/flac": "flac",
    "audio/x-flac": "flac",
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
    "audio/ogg": "ogg",
    "audio/webm": "webm",
    "audio/mp4": "m4a",
    "audio/x-m4a": "m4a",
}


def api_url(base_url: str, api_prefix: str, resource: str) -> str:
    """The full endpoint URL from what a user may reasonably pass as a base URL.

    `http://host:8000` gets the provider's API prefix (`/v1`, `/openai/v1`), `.../v1` gets
    the resource, and a URL that already ends with the resource is used as it is, so the
    SDK convention (`OPENAI_BASE_URL=http://host/v1`) and a bare host both work.
    """
    url = normalize_endpoint(base_url, api_prefix).rstrip("/")
    if url.endswith(resource):
        return url
    return url + resource


def upload_name(audio: AudioPayload) -> str:
    """A filename whose extension names the container: OpenAI rejects uploads without one
    and others detect the format from it. The payload's name wins when it has a known
    extension; otherwise the extension comes from the MIME type, else from the bytes."""
    stem, ext = posixpath.splitext(audio.filename or "audio")
    if ext[1:].lower() in AUDIO_EXTENSIONS:
        return audio.filename
    guessed = _EXTENSION_OF_MIME.get(audio.mime.split(";")[0].strip().lower())
    if guessed is None and audio.data:
        guessed = sniff(audio.data)[1]
    return f"{stem or 'audio'}.{guessed if guessed in AUDIO_EXTENSIONS else 'wav'}"


def audio_bytes(audio: AudioPayload) -> bytes:
    """The clip's bytes, for clients that upload; a URL-only payload here is a wiring bug."""
    if audio.data is None:
        raise PermanentError(
            "internal", f"no audio bytes to upload (URL-only payload for {audio.url})"
        )
    return audio.data


def multipart(
    fields: Iterable[tuple[str, str]], audio: AudioPayload | None, file_field: str = "file"
) -> aiohttp.FormData:
    """A multipart/form-data body, always multipart (even with text fields only: aiohttp
    would otherwise send those urlencoded), with the file part named by its real type."""
    import aiohttp

    form = aiohttp.FormData(default_to_multipart=True)
    for name, value in fields:
        form.add_field(name, value)
    if audio is not None:
        form.add_field(
            file_field, audio_bytes(audio), filename=upload_name(audio), content_type=audio.mime
        )
    return form


@dataclass(frozen=True, slots=True)
class ErrorBody:
    """What an error body says: its machine codes (any of `code`, `type`, `status`,
    `err_code`, `category`) and a human message."""

    codes: frozenset[str]
    message: str


def _validation_message(items: list[Any]) -> str:
    """FastAPI-style `detail` lists (ElevenLabs 422) as `body.model_id: Field required`."""
    parts = []
    for item in items:
        if isinstance(item, dict):
            loc = ".".join(str(x) for x in item.get("loc", []) if x is not None)
            msg = str(item.get("msg", "invalid"))
            parts.append(f"{loc}: {msg}" if loc else msg)
        else:
            parts.append(str(item))
    return "; ".join(parts)


def read_error(body: bytes | str) -> ErrorBody:
    """Read any of the error shapes these APIs use; fall back to an excerpt of the body.

    OpenAI/Groq: `{"error": {"message", "type", "code"}}` (or `{"error": "text"}`);
    ElevenLabs: `{"detail": {"status", "message"}}` or a `detail` validation list;
    Deepgram: `{"err_code", "err_msg"}` or `{"category", "message", "details"}`.
    """
    raw = body.encode() if isinstance(body, str) else body
    try:
        obj = orjson.loads(raw) if raw.strip() else None
    except orjson.JSONDecodeError:
        obj = None
    if not isinstance(obj, dict):
        return ErrorBody(frozenset(), excerpt(raw) or "(empty body)")
    inner: Any = obj.get("error", obj.get("detail", obj))
    if isinstance(inner, str):
        return ErrorBody(frozenset(), inner)
    if isinstance(inner, list):
        return ErrorBody(frozenset(), _validation_message(inner))
    if not isinstance(inner, dict):
        return ErrorBody(frozenset(), excerpt(raw))
    codes = frozenset(
        str(inner[k])
        for k in ("code", "type", "status", "err_code", "category")
        if isinstance(inner.get(k), (str, int))
    )
    message = next(
        (str(inner[k]) for k in ("message", "err_msg", "msg") if inner.get(k)), excerpt(raw)
    )
    if isinstance(inner.get("details"), str) and inner["details"]:
        message = f"{message} ({inner['details']})"
    return ErrorBody(codes, message)


def quota_error(key_env: str | None, message: str, status: int) -> PermanentError:
    """An empty balance or exhausted quota: every request would fail alike, so the engine
    stops the run (kind "quota") instead of burning through the split."""
    return PermanentError(
        "quota",
        f"quota or credit exhausted for {key_env}: {message} (add credit or use another key)",
        status=status,
    )


def reply_json(body: bytes, content_type: str = "application/json") -> Any:
    """The reply as JSON; a torn or non-JSON 200 (an HTML login page, binary, invalid UTF-8)
    is retried rather than scored as words."""
    check_reply(body, content_type)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise TransientError("bad_response", f"reply is not JSON: {excerpt(body)}") from None


def text_at(obj: Any, path: tuple[str | int, ...], body: bytes) -> str:
    """The string at `path` (keys and list indexes) in a decoded reply, or a retryable
    `bad_response` naming the path that was missing."""
    node = obj
    where = "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in path).lstrip(".")
    for step in path:
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            raise TransientError("bad_response", f"no {where} in reply: {excerpt(body)}") from None
    return transcript_string(node, where)


class HTTPProvider(Provider):
    """A provider answered by one POST: subclasses say what to send and what replies mean."""

    #: path added when the base URL is a bare host, e.g. "/v1"
    api_prefix: ClassVar[str] = ""
    #: the transcription resource under the API prefix, e.g. "/audio/transcriptions"
    resource: ClassVar[str] = ""

    def __init__(self, settings: ProviderSettings) -> None:
        super().__init__(settings)
        try:
            self.url = api_url(self.base_url, self.api_prefix, self.resource)
        except ConfigError as exc:
            source = "--base_url" if settings.base_url else self.base_url_env
            raise ConfigError(f"{source}: {exc}") from None

    def endpoint_urls(self) -> list[str]:
        return [self.url]

    @abstractmethod
    def request(self, audio: AudioPayload) -> dict[str, Any]:
        """Keyword arguments for `session.post` (headers, data or json, params)."""

    @abstractmethod
    def error(self, status: int, body: bytes, headers: Mapping[str, str]) -> ProviderError:
        """What a non-2xx reply means."""

    @abstractmethod
    def parse(self, body: bytes, content_type: str) -> str:
        """The transcript in a 2xx reply."""

    async def transcribe(
        self, session: aiohttp.ClientSession, url: str, audio: AudioPayload
    ) -> str:
        reply = await send(session, "POST", url, self.wire, **self.request(audio))
        if not reply.ok:
            raise self.error(reply.status, reply.body, reply.headers)
        return self.parse(reply.body, reply.content_type)
