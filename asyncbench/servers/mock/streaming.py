"""What the streaming mocks share: partial transcripts that grow as audio arrives, the final
a configured delay after the end of audio, and the injected mid-stream faults.

The `foreign` fault is a final that belongs to another session (its id, or a message only
another session could have sent): each mock sends it in its own protocol's words, just before
the clip's own final, so a client that binds finals by connection alone scores
`FOREIGN_TEXT`. `MockConfig.stream_fault_first` limits any fault to the first N streams, so a
retry on a clean stream can be seen to succeed.

The clip's text is read from its watermark (the first samples carry it), so each partial is one
word longer than the last (a hypothesis growing as audio is heard) and the final is the whole
text.
"""

from __future__ import annotations

import asyncio

from asyncbench.servers.mock.state import MockState
from asyncbench.sources import watermark

FAULTS = ("drop", "error", "no_final", "foreign")
#: what another session said: the words a foreign final carries
FOREIGN_TEXT = "words from another session"


class Utterance:
    """One session's audio as it arrives, and what the mock may say about it."""

    def __init__(self, state: MockState) -> None:
        self.state = state
        self.cfg = state.config
        self.pcm = bytearray()
        self.chunks = 0
        self._text: str | None = None
        roll = state._rng.random()
        fault = self.cfg.stream_fault
        self.fault = fault if fault in FAULTS and roll < self.cfg.rate_stream_fault else None
        state.counters["stream.sessions"] += 1
        first = self.cfg.stream_fault_first
        if first is not None and state.counters["stream.sessions"] > first:
            self.fault = None  # past the first N streams: clean ones
        self.ended_at: float | None = None

    def add(self, chunk: bytes) -> str | None:
        """Take a chunk; the partial to send now (every `stream_partial_every` chunks), if any."""
        self.pcm += chunk
        self.chunks += 1
        every = max(1, self.cfg.stream_partial_every)
        if self.chunks % every:
            return None
        words = self.text().split()
        # one more word per partial: the hypothesis grows as audio is heard
        return " ".join(words[: max(1, self.chunks // every)])

    def text(self) -> str:
        if self._text is None:
            found = watermark.extract(bytes(self.pcm))
            if found is None:
                return "this"  # not enough audio yet to read the watermark
            self._text = found
        return self._text

    def fault_now(self) -> str | None:
        """ "drop" or "error" once the stream is mid-utterance (a few chunks in), else None."""
        if self.fault in ("drop", "error") and self.chunks == 3:
            self.state.counters["stream.faults"] += 1
            return self.fault
        return None

    def foreign(self) -> bool:
        """Whether to send another session's final before this one's (the "foreign" fault)."""
        if self.fault == "foreign":
            self.state.counters["stream.faults"] += 1
            return True
        return False

    def end(self) -> None:
        self.ended_at = asyncio.get_running_loop().time()

    async def final_due(self) -> bool:
        """Wait until the final is due (`stream_final_delay` after the end of audio); False
        when the fault is "no_final" (the final never comes)."""
        if self.fault == "no_final":
            self.state.counters["stream.faults"] += 1
            return False
        loop = asyncio.get_running_loop()
        due = (self.ended_at or loop.time()) + self.cfg.stream_final_delay + self.state.delay()
        while (left := due - loop.time()) > 0:
            await asyncio.sleep(left)
        return True
