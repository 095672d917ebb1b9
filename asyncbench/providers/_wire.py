"""The wire rules every provider request follows: bounded replies, no silent redirects, and
only transcript-shaped 2xx bodies.

Every HTTP client (sync, job and the real-time WebSocket one) sends through `send`, so the
rules hold for all of them and cannot drift apart:

- **Bounded replies.** A body is read in chunks up to `max_reply_bytes` (16 MiB by default,
  `--max_reply_bytes`); a bigger one (announced by Content-Length, or found while streaming,
  e.g. an endless chunked body) fails the attempt as a retryable `bad_response` ("reply larger
  than 16 MiB") and the connection is dropped instead of drained, so it costs at most the cap
  in memory. Error bodies are only read for their message: the first 64 KiB.
- **Redirects.** aiohttp would follow a 302 after a POST as a GET (and score whatever that
  page says), so requests go out with `allow_redirects=False`: a 3xx is a permanent
  `redirect` error naming the Location. With `--follow_redirects`, 307 and 308 (which keep
  the method and body) are followed within the same origin only, so no credential header
  ever reaches another origin.
- **Only transcripts.** A 2xx body that is an HTML page (a proxy's login page), binary, NUL
  bytes or invalid UTF-8 is a retryable `bad_response`, never words to score (`check_text`).
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from asyncbench.core.errors import PermanentError, TransientError
from asyncbench.core.limits import DEFAULT_MAX_REPLY_BYTES

if TYPE_CHECKING:
    import aiohttp

#: an error body is read for its message only
ERROR_BODY_BYTES = 64 * 2**10
#: 307/308 hops followed (with --follow_redirects) before giving up
MAX_REDIRECTS = 5
_CHUNK = 64 * 2**10
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_BINARY_TYPES = frozenset({"application/octet-stream"})
_DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}


def size_label(n: int) -> str:
    """16777216 -> "16 MiB", 1500 -> "1500 bytes": how a cap is named in messages."""
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} bytes"


@dataclass(frozen=True, slots=True)
class WirePolicy:
    """What the user chose about replies and redirects (`--max_reply_bytes`,
    `--follow_redirects`)."""

    max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES
    follow_redirects: bool = False

    def too_large(self) -> TransientError:
        return TransientError(
            "bad_response",
            f"reply larger than {size_label(self.max_reply_bytes)} (--max_reply_bytes)",
        )


@dataclass(frozen=True, slots=True)
class Reply:
    """A whole (bounded) reply: what the clients parse."""

    status: int
    headers: Mapping[str, str]
    content_type: str
    body: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


async def read_capped(resp: aiohttp.ClientResponse, cap: int, *, policy: WirePolicy) -> bytes:
    """The body, streamed and never more than `cap` bytes held, in one buffer of its size.

    Over the cap: `policy.too_large()` is raised and the connection is closed (not drained).
    A short reply whose Content-Length is known and which is not compressed is read in one
    `read()`: it arrives in one piece, which `read()` hands back without a copy, and a loop
    costs more CPU than the rest of reading a short transcript. Anything longer is written a
    piece at a time, as it arrives, into one `BytesIO` (sized up front from Content-Length
    when that is the size of the body), whose `getvalue()` hands its buffer over without a
    copy: `read()` kept every piece until it joined them, two copies of a 10 MB reply at once.
    A compressed reply is always streamed, since its length says nothing of what it inflates
    to.
    """
    length = resp.content_length
    if length is not None and length > cap:
        resp.close()
        raise policy.too_large()
    identity = resp.headers.get("Content-Encoding", "identity") == "identity"
    if length is not None and identity and length <= _CHUNK:
        return await resp.read()
    buf = io.BytesIO()
    if length and identity:  # the whole body, allocated once; filled from the start
        buf.seek(length - 1)
        buf.write(b"\0")
        buf.seek(0)
    async for chunk in resp.content.iter_any():
        if buf.tell() + len(chunk) > cap:
            buf.close()
            resp.close()
            raise policy.too_large()
        buf.write(chunk)
    buf.truncate()  # a no-op unless the body was shorter than its Content-Length said
    return buf.getvalue()


async def read_error_body(resp: aiohttp.ClientResponse) -> bytes:
    """The first ERROR_BODY_BYTES of an error reply (its message); the rest is dropped."""
    buf = bytearray()
    async for chunk in resp.content.iter_chunked(_CHUNK):
        buf += chunk
        if len(buf) >= ERROR_BODY_BYTES:
            resp.close()
            break
    return bytes(buf[:ERROR_BODY_BYTES])


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with default ports filled in: what "same origin" compares."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or _DEFAULT_PORTS.get(scheme)


def redirect_target(url: str, status: int, location: str | None, policy: WirePolicy) -> str:
    """Where a 3xx may be followed to, or the permanent `redirect` error that it is."""
    if not location:
        raise PermanentError("redirect", "redirect without a Location header", status=status)
    target = urljoin(url, location)
    if not policy.follow_redirects:
        raise PermanentError(
            "redirect",
            f"redirected to {target} (not followed; check the base URL or endpoint, or pass "
            "--follow_redirects to follow 307/308 within the same origin)",
            status=status,
        )
    if status not in (307, 308):
        raise PermanentError(
            "redirect",
            f"redirected to {target} (not followed: only 307/308 keep the method and body)",
            status=status,
        )
    if origin(target) != origin(url):
        raise PermanentError(
            "redirect",
            f"redirected to {target} (not followed: another origin, and credentials never "
            "leave their origin)",
            status=status,
        )
    return target


async def send(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    policy: WirePolicy,
    **kwargs: Any,
) -> Reply:
    """One provider request under the wire rules; the reply's body is read whole (capped).

    A 2xx body over the cap raises `policy.too_large()`; a 3xx raises `redirect` unless the
    policy allows following it; any other status comes back for the client to interpret.
    """
    import aiohttp

    data = kwargs.get("data")
    if isinstance(data, aiohttp.FormData):
        kwargs["data"] = data()  # a payload, so a followed 307/308 can send it again
    for _ in range(MAX_REDIRECTS + 1):
        async with session.request(method, url, allow_redirects=False, **kwargs) as resp:
            if 300 <= resp.status < 400:
                url = redirect_target(url, resp.status, resp.headers.get("Location"), policy)
                kwargs.pop("params", None)  # the Location carries its own query
                continue
            if 200 <= resp.status < 300:
                body = await read_capped(resp, policy.max_reply_bytes, policy=policy)
            else:
                body = await read_error_body(resp)
            return Reply(resp.status, resp.headers, resp.content_type, body)
    raise PermanentError("redirect", f"more than {MAX_REDIRECTS} redirects, the last to {url}")


def _excerpt(body: bytes, limit: int = 120) -> str:
    text = " ".join(body[: limit * 4].decode("utf-8", "replace").split())
    return text if len(text) <= limit else text[:limit] + "..."


#: how much of a reply is decoded at a time when only its UTF-8 validity is wanted
_UTF8_SLICE = 1 << 16


def check_reply(body: bytes, content_type: str) -> None:
    """Whether the body can be a transcript reply at all; else a `bad_response`.

    Refused: an HTML page (by type, or a body that starts like one), a binary type, NUL
    bytes, invalid UTF-8. JSON shape and transcript type are each client's to check. Nothing
    the size of the body is made: UTF-8 is checked a slice at a time (a 10 MB reply decoded
    whole, only to be thrown away before the JSON parser read it, was a third copy of it).
    """
    ctype = content_type.split(";")[0].strip().lower()
    head = body[:64].lstrip().lower()
    if ctype in _HTML_TYPES or head.startswith((b"<!doctype", b"<html")):
        raise TransientError(
            "bad_response",
            f"reply is an HTML page ({ctype or 'no content type'}), not a transcript: "
            f"{_excerpt(body)} (a proxy or login page in the way?)",
        )
    if ctype in _BINARY_TYPES or b"\x00" in body:
        raise TransientError(
            "bad_response", f"reply is binary ({ctype or 'NUL bytes'}), not a transcript"
        )
    if body.isascii():
        return
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(body)
    for at in range(0, len(body), _UTF8_SLICE):
        pending = len(decoder.getstate()[0])
        try:
            decoder.decode(view[at : at + _UTF8_SLICE], final=at + _UTF8_SLICE >= len(body))
        except UnicodeDecodeError as exc:
            raise TransientError(
                "bad_response",
                f"reply is not valid UTF-8 (byte {at - pending + exc.start}): {_excerpt(body)}",
            ) from None


def check_text(body: bytes, content_type: str) -> str:
    """The body as text, if it can be a transcript reply at all (`check_reply`); else a
    `bad_response`."""
    check_reply(body, content_type)
    return body.decode("utf-8")


def check_plain_text(body: bytes, content_type: str) -> str:
    """A plain-text transcript: valid UTF-8 (as `check_text`) with a `text/*` content type."""
    text = check_text(body, content_type)
    ctype = content_type.split(";")[0].strip().lower()
    if not ctype.startswith("text/"):
        raise TransientError(
            "bad_response",
            f"reply is neither JSON nor text ({ctype or 'no content type'}): {_excerpt(body)}",
        )
    return text


def transcript_string(value: Any, where: str) -> str:
    """`value` if it is a string: a transcript field of another type is a broken reply."""
    if not isinstance(value, str):
        raise TransientError(
            "bad_response", f"{where} in reply is {type(value).__name__}, not a string"
        )
    return value
