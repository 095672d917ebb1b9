"""Limits several layers name: here, below all of them, so the CLI can show a default
without importing the layer that enforces it (`asyncbench --help` stays fast)."""

from __future__ import annotations

#: the largest reply body (or WebSocket message) a provider reads (`--max_reply_bytes`):
#: an hour of speech is ~60 KB of plain text, a few MB of verbose JSON with word timings
DEFAULT_MAX_REPLY_BYTES = 16 * 2**20
