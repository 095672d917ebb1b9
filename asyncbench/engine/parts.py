"""What the engine sees of a recording sent in parts: a count, and each part on demand.

The engine stays ignorant of providers, limits and audio: the prep step (the runner's
`asyncbench.runs.longform`) decides how a recording is cut and gives the engine a `PartSource`.
The engine sends the parts one after another in the worker slot the sample holds (one request
in flight per sample, as for any sample), with retries per part; each part that comes back is
recorded at once, so a stop, a crash or a failed part costs only the parts not yet back.
"""

from __future__ import annotations

from typing import Protocol

from asyncbench.providers.base import AudioPayload
from asyncbench.results.parts import PartRecord


class PartSource(Protocol):
    """A recording cut into `n` parts (n == 1: sent whole, prepared only when its turn comes)."""

    n: int

    def seconds(self, k: int) -> float:
        """Audio seconds in part k."""
        ...

    def timeout(self, k: int) -> float:
        """Seconds part k's request may take."""
        ...

    def earlier(self, k: int) -> PartRecord | None:
        """Part k as an earlier run got it back, if it did (and was cut the same way)."""
        ...

    async def payload(self, k: int) -> AudioPayload:
        """Part k's upload, encoded off the event loop. Raises ProviderError (bad audio)."""
        ...

    def finished(self, k: int, text: str, time: float, attempts: int, endpoint: str | None) -> None:
        """Record that part k came back."""
        ...

    def close(self) -> None:
        """Free what the recording holds (its spill file)."""
        ...
