"""Transcripts streamed as server-sent events (`stream=true` on `/v1/audio/transcriptions`):
the event framing, and the figures of one streamed reply.

Two dialects exist and both are read: OpenAI's newer models send `transcript.text.delta`
events (`delta`) and one `transcript.text.done` (`text`, `usage` in tokens); vLLM sends
chat-completion-like chunks (`object: transcription.chunk`, `choices[0].delta.content`, the
last with `finish_reason` and, when asked, `usage` with `prompt_tokens`/`completion_tokens`)
and then `data: [DONE]`. A line's figures: `first_delta_s` (request start → first non-empty
delta: the time to first token of vLLM's benchmark client and GuideLLM), the gaps between
deltas at p50 and p99 (nearest rank), `deltas`, and the usage counts the server reported.

Stdlib only: the provider writes these, the engine copies `fields()` into the results line
and the summary reads them (reporting/streaming.py).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field


class SSEParser:
    """Bytes in, the `data` of each complete event out (several `data:` lines joined by a
    newline; comments and other fields skipped), whatever the chunking of the bytes."""

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> Iterator[str]:
        self._buffer += chunk
        while True:
            cut = self._buffer.find(b"\n")
            if cut < 0:
                return
            raw, self._buffer = self._buffer[:cut], self._buffer[cut + 1 :]
            line = raw.rstrip(b"\r").decode("utf-8", "replace")
            if not line:
                if self._data:
                    yield "\n".join(self._data)
                    self._data = []
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            if name == "data":
                self._data.append(value[1:] if value.startswith(" ") else value)

    def close(self) -> Iterator[str]:
        """An event the stream ended without its blank line (a lenient server)."""
        if self._buffer.strip():
            yield from self.feed(b"\n\n")
        elif self._data:
            yield "\n".join(self._data)
        self._data = []


def nearest_rank(values: list[float], q: float) -> float | None:
    """The q-quantile by nearest rank (an observed value; None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@dataclass(slots=True)
class SSEMetrics:
    """The figures of one streamed transcript."""

    first_delta_s: float | None
    gaps: list[float]
    deltas: int
    usage: dict[str, int] = field(default_factory=dict)

    def fields(self) -> dict[str, float | int | None]:
        def r(value: float | None) -> float | None:
            return None if value is None else round(value, 6)

        out: dict[str, float | int | None] = {
            "first_delta_s": r(self.first_delta_s),
            "delta_gap_p50_s": r(nearest_rank(self.gaps, 0.5)),
            "delta_gap_p99_s": r(nearest_rank(self.gaps, 0.99)),
            "deltas": self.deltas,
        }
        out.update({f"usage_{name}": value for name, value in sorted(self.usage.items())})
        return out


class DeltaClock:
    """When the request started and when each non-empty delta came."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.times: list[float] = []
        self.usage: dict[str, int] = {}

    def delta(self, text: str) -> None:
        if text:
            self.times.append(time.monotonic())

    def metrics(self) -> SSEMetrics:
        gaps = [b - a for a, b in zip(self.times, self.times[1:], strict=False)]
        first = self.times[0] - self.t0 if self.times else None
        return SSEMetrics(first, gaps, len(self.times), dict(self.usage))


class SSEText(str):
    """A transcript that carries its stream's figures (`.stream`), as `StreamedText` does for
    WebSocket providers: the engine writes them into the sample's line."""

    stream: SSEMetrics

    def __new__(cls, text: str, stream: SSEMetrics) -> SSEText:
        obj = super().__new__(cls, text)
        obj.stream = stream
        return obj
