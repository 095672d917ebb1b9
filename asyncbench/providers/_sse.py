"""One transcription POST answered as server-sent events (`--stream`): read the events as
they come, time each delta, and return the final text with the stream's figures.

The reply is read incrementally under the same cap as any reply (`--max_reply_bytes`); a
2xx that is plain JSON (a server that ignores `stream`) is refused as `bad_response`, since
no delta can be timed. The transcript is the `done` event's text (OpenAI) or, for vLLM's
chunks, the deltas joined; a stream that ends without either is a retryable `bad_response`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import orjson

from asyncbench.core.errors import PermanentError, ProviderError, TransientError
from asyncbench.core.sse import DeltaClock, SSEParser, SSEText
from asyncbench.providers._wire import (
    MAX_REDIRECTS,
    WirePolicy,
    read_error_body,
    redirect_target,
)
from asyncbench.providers.base import excerpt

if TYPE_CHECKING:
    import aiohttp

#: OpenAI's usage fields and vLLM's (chat-completion) names for the same counts
_USAGE_NAMES = {
    "input_tokens": "input_tokens",
    "output_tokens": "output_tokens",
    "total_tokens": "total_tokens",
    "prompt_tokens": "input_tokens",
    "completion_tokens": "output_tokens",
}


#: the largest count taken as one (JSON readers keep integers exact up to 2**53)
MAX_COUNT = 2**53


def _count(value: Any) -> int | None:
    """A token count as the server reported it, or None: a negative, fractional, textual or
    astronomically large one is no count, and summed over a run it would make the summary's
    usage line nonsense (-266 input tokens, 7e20 in all)."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_COUNT:
        return value
    return None


def _usage(usage: Any, clock: DeltaClock) -> None:
    if not isinstance(usage, dict):
        return
    for name, ours in _USAGE_NAMES.items():
        value = _count(usage.get(name))
        if value is not None:
            clock.usage[ours] = value
    details = usage.get("input_token_details")
    audio = _count(details.get("audio_tokens")) if isinstance(details, dict) else None
    if audio is not None:
        clock.usage["input_audio_tokens"] = audio


class Transcript:
    """What the events said so far."""

    def __init__(self, clock: DeltaClock) -> None:
        self.clock = clock
        self.pieces: list[str] = []
        self.done: str | None = None
        self.finished = False

    def event(self, data: str) -> None:
        if data.strip() == "[DONE]":
            self.finished = True
            return
        try:
            event = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise TransientError("bad_response", f"event is not JSON: {excerpt(data)}") from None
        if not isinstance(event, dict):
            raise TransientError("bad_response", f"event is not an object: {excerpt(data)}")
        kind = event.get("type")
        if kind == "transcript.text.delta":
            self._delta(event.get("delta"))
        elif kind == "transcript.text.done":
            text = event.get("text")
            if not isinstance(text, str):
                raise TransientError("bad_response", f"done event without text: {excerpt(data)}")
            self.done = text
            _usage(event.get("usage"), self.clock)
            self.finished = True
        elif isinstance(event.get("choices"), list):  # vLLM's transcription.chunk
            for choice in event["choices"]:
                delta = choice.get("delta") if isinstance(choice, dict) else None
                if isinstance(delta, dict):
                    self._delta(delta.get("content"))
            _usage(event.get("usage"), self.clock)
        elif kind == "error" or "error" in event:
            err = event.get("error", event)
            message = err.get("message") if isinstance(err, dict) else err
            raise TransientError("server_error", f"error event: {excerpt(str(message))}")

    def _delta(self, piece: Any) -> None:
        if piece is None:
            return
        if not isinstance(piece, str):
            raise TransientError("bad_response", f"a delta is not text: {excerpt(repr(piece))}")
        self.pieces.append(piece)
        self.clock.delta(piece)

    def text(self) -> str:
        if self.done is not None:
            return self.done.strip()
        if not self.finished:
            raise TransientError(
                "bad_response",
                f"the event stream ended without its final event ({len(self.pieces)} deltas)",
            )
        return "".join(self.pieces).strip()


async def post_sse(
    session: aiohttp.ClientSession,
    url: str,
    policy: WirePolicy,
    error: Callable[[int, bytes, Mapping[str, str]], ProviderError],
    **kwargs: Any,
) -> SSEText:
    """POST, then read `text/event-stream` as it arrives; the text and its figures."""
    import aiohttp

    clock = DeltaClock()
    data = kwargs.get("data")
    if isinstance(data, aiohttp.FormData):
        kwargs["data"] = data()
    for _ in range(MAX_REDIRECTS + 1):
        async with session.post(url, allow_redirects=False, **kwargs) as resp:
            if 300 <= resp.status < 400:
                url = redirect_target(url, resp.status, resp.headers.get("Location"), policy)
                continue
            if not 200 <= resp.status < 300:
                raise error(resp.status, await read_error_body(resp), resp.headers)
            if resp.content_type != "text/event-stream":
                raise TransientError(
                    "bad_response",
                    f"--stream asked for server-sent events but the reply is "
                    f"{resp.content_type} (does this server or model stream transcripts?)",
                )
            parser = SSEParser()
            transcript = Transcript(clock)
            read = 0
            async for chunk in resp.content.iter_any():
                read += len(chunk)
                if read > policy.max_reply_bytes:
                    raise policy.too_large()
                for event in parser.feed(chunk):
                    transcript.event(event)
            for event in parser.close():
                transcript.event(event)
            return SSEText(transcript.text(), clock.metrics())
    raise PermanentError("redirect", f"more than {MAX_REDIRECTS} redirects, the last to {url}")
