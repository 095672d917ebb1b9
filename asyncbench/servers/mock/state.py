"""What every mocked protocol shares: settings, faults, auth checks and "recognition".

Recognition reads the transcript a clip carries (`asyncbench.sources.watermark`); a clip without one
gets `DEFAULT_TEXT`, so users can dry-run their own data against the mock. Faults are drawn
per request from the configured rates, so a test can make a provider flaky without touching
its protocol module.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from asyncbench.sources import watermark
from asyncbench.sources.audio import BadAudio, parse_wav, to_wav16k

DEFAULT_TEXT = "this is a mock transcript"
_ONE_CLIP_BYTES = 60 * 32000  # past a minute of audio, look for more than one text


@dataclass
class MockConfig:
    latency: float = 0.0  # seconds before a synchronous answer (or a job completes)
    jitter: float = 0.0  # uniform extra latency in [0, jitter]
    rate_429: float = 0.0  # fraction of transcription requests answered 429
    rate_5xx: float = 0.0  # fraction answered 503
    retry_after: float = 1.0  # seconds, sent with every 429
    rate_job_error: float = 0.0  # fraction of async jobs/sessions that fail inside the service
    keys: dict[str, str] = field(default_factory=dict)  # provider -> the only accepted key
    # dataset viewer: hub-layout folders served at <viewer_root>/<dataset id>; audio cells in
    # the older [mp3, wav] shape when asked; seconds a signed asset URL stays valid
    viewer_root: Path | None = None
    viewer_legacy_audio: bool = False
    viewer_url_ttl: float = 3600.0
    seed: int | None = None
    # refuse model names the provider does not document (servers/mock/models.py)
    strict_models: bool = False
    # streaming mocks (servers/mock/streaming.py): seconds from the end of audio to the final,
    # a partial every this many chunks, and a fault injected into a fraction of the sessions:
    # "drop" (socket closed mid-utterance), "error" (an error message mid-stream) or
    # "no_final" (everything but the final) or "foreign" (another session's final first);
    # `stream_fault_first`: only the first N streams fault (None: every one may)
    stream_final_delay: float = 0.05
    stream_partial_every: int = 2
    stream_fault: str | None = None
    rate_stream_fault: float = 1.0
    stream_fault_first: int | None = None
    # `stream=true` transcription replies (servers/mock/openai.py): seconds between deltas
    sse_delta_gap: float = 0.01


@dataclass
class MockState:
    config: MockConfig = field(default_factory=MockConfig)
    counters: Counter[str] = field(default_factory=Counter)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)  # async-job providers
    uploads: dict[str, bytes] = field(default_factory=dict)
    last_request: dict[str, dict[str, str]] = field(default_factory=dict)  # provider -> headers
    #: async jobs accepted per audio, keyed "<provider>:<sha256 of the audio bytes>": a test
    #: sees whether any clip was submitted (and billed) twice
    submissions: Counter[str] = field(default_factory=Counter)
    _rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        if self.config.seed is not None:
            self._rng.seed(self.config.seed)

    # -- auth -------------------------------------------------------------------------------

    def record(self, provider: str, request: web.Request) -> None:
        """Count a transcription request and keep its headers and query, as the tests read
        them (`counters["<provider>.requests"]`, `last_request[provider]`, `"<provider> query"`)."""
        self.counters[f"{provider}.requests"] += 1
        self.last_request[provider] = dict(request.headers)
        self.last_request[f"{provider} query"] = dict(request.query)

    def check_key(self, provider: str, presented: str | None) -> web.Response | None:
        """401 unless a key is presented (and equals the configured one, if any)."""
        expected = self.config.keys.get(provider)
        if not presented or (expected is not None and presented != expected):
            self.counters[f"{provider}.401"] += 1
            return web.json_response({"error": "Invalid or missing API key"}, status=401)
        return None

    @staticmethod
    def bearer(request: web.Request) -> str | None:
        """The key of an `Authorization: Bearer <key>` header, None for any other shape."""
        value = request.headers.get("Authorization", "")
        scheme, _, key = value.partition(" ")
        return key.strip() or None if scheme == "Bearer" else None

    # -- faults and latency -----------------------------------------------------------------

    def fault(self, provider: str) -> web.Response | None:
        """Maybe a 429 or 503, drawn from the configured rates."""
        r = self._rng.random()
        cfg = self.config
        if r < cfg.rate_429:
            self.counters[f"{provider}.429"] += 1
            return web.json_response(
                {"error": {"message": "Rate limit exceeded", "code": "rate_limit_exceeded"}},
                status=429,
                headers={"Retry-After": f"{cfg.retry_after:g}"},
            )
        if r < cfg.rate_429 + cfg.rate_5xx:
            self.counters[f"{provider}.503"] += 1
            return web.json_response({"error": "Service temporarily unavailable"}, status=503)
        return None

    def job_fails(self) -> bool:
        """Whether this async job (or real-time session) fails after it was accepted."""
        return self._rng.random() < self.config.rate_job_error

    def delay(self) -> float:
        cfg = self.config
        return cfg.latency + (self._rng.random() * cfg.jitter if cfg.jitter else 0.0)

    async def wait(self) -> None:
        d = self.delay()
        if d > 0:
            await asyncio.sleep(d)

    # -- recognition ------------------------------------------------------------------------

    async def recognize(self, audio: bytes) -> str:
        """The clip's transcript. Raises BadAudio for bytes that are not audio."""
        info = parse_wav(audio)
        if info is not None and info.rate == 16000 and info.channels == 1 and info.bits == 16:
            if info.data_len == 0:
                raise BadAudio("empty audio")
            pcm = audio[info.data_offset : info.data_offset + info.data_len]
        else:
            loop = asyncio.get_running_loop()
            wav, _ = await loop.run_in_executor(None, to_wav16k, audio)
            pcm = wav[44:]
        # a clip carries one text at its start; a long recording built from clips (or a part
        # cut from one) carries one per clip, and the transcript is all of them in order
        text = watermark.extract(pcm)
        if text is None or len(pcm) > _ONE_CLIP_BYTES:
            texts = watermark.extract_all(pcm)
            text = " ".join(texts) if texts else text
        return DEFAULT_TEXT if text is None else text

    def new_id(self, prefix: str) -> str:
        self.counters["ids"] += 1
        return f"{prefix}{int(time.time() * 1000):x}{self.counters['ids']:06d}"


STATE_KEY: web.AppKey[MockState] = web.AppKey("mock_state", MockState)
