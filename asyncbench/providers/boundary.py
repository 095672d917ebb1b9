"""Errors are classified at the boundary: what a server sends that a client cannot read is a
`bad_response`, never `internal`.

Every client parses replies its own way (JSON bodies, job records, WebSocket frames), and a
parser meeting a shape it did not expect raises what Python raises: `JSONDecodeError` for a
non-JSON text frame, `KeyError`/`IndexError`/`TypeError`/`AttributeError` for a JSON value of
the wrong shape, `UnicodeDecodeError` for bytes that are no text. The engine recorded those
as `internal` (an asyncbench bug, not retried) although the server was at fault. Rather
than trusting each of two dozen clients (and every new one) to guard each lookup, each
client's `transcribe` is wrapped once, by `Provider.__init_subclass__`: those exceptions
become a retryable `bad_response` naming the exception and the client line that met it, so
a real bug in a client is still found by its place. Transport errors (aiohttp's) pass
through to the engine, which classifies them as `connection`; `UnicodeEncodeError` (what
*we* send) stays a bug.
"""

from __future__ import annotations

import functools
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from asyncbench.core.errors import ProviderError, TransientError

#: what parsing a reply of the wrong shape raises
UNREADABLE = (ValueError, KeyError, IndexError, TypeError, AttributeError)

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


def _where(exc: BaseException) -> str:
    """`deepgram_live.py:104`: the innermost asyncbench frame the exception passed through."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename != __file__]
    ours = [f for f in frames if "asyncbench" in Path(f.filename).parts] or frames
    return f"{Path(ours[-1].filename).name}:{ours[-1].lineno}" if ours else "?"


def unreadable(exc: BaseException) -> TransientError | None:
    """The `bad_response` for a parse failure, or None for anything else (left alone)."""
    if not isinstance(exc, UNREADABLE) or isinstance(exc, UnicodeEncodeError):
        return None
    if type(exc).__module__.split(".")[0] in ("aiohttp", "yarl", "multidict"):
        return None  # the transport's own (InvalidURL is a ValueError): the engine's to map
    text = " ".join(str(exc).split())[:160]
    return TransientError(
        "bad_response",
        f"reply not understood ({type(exc).__name__}: {text}; in {_where(exc)})",
    )


def at_the_boundary(transcribe: F) -> F:
    """`transcribe`, with a reply it cannot read raised as `bad_response` (see the module)."""
    if getattr(transcribe, "_at_the_boundary", False):
        return transcribe

    @functools.wraps(transcribe)
    async def guarded(*args: Any, **kw: Any) -> Any:
        try:
            return await transcribe(*args, **kw)
        except ProviderError:
            raise
        except UNREADABLE as exc:
            err = unreadable(exc)
            if err is None:
                raise
            raise err from exc

    guarded._at_the_boundary = True  # type: ignore[attr-defined]
    return guarded  # type: ignore[return-value]
