"""Which sample the current attempt is for, without threading it through every provider.

The engine sets `SAMPLE_ID` (a context variable: each worker task sees its own) just before
it calls the provider, so code below the provider call that needs the sample's identity, the
job journal binding an accepted job to its sample, reads it here. None outside an attempt.
"""

from __future__ import annotations

from contextvars import ContextVar

SAMPLE_ID: ContextVar[str | None] = ContextVar("asyncbench_sample_id", default=None)
