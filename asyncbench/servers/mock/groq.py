"""Groq protocol: OpenAI's, at `POST /openai/v1/audio/transcriptions` (keys: `groq`).

As OpenAI's mock, plus: the form may carry `url` instead of `file` (the mock downloads it),
the model must be one Groq serves (else 404 `model_not_found`), formats are json, text and
verbose_json, replies carry `x_groq.id`, and a 429 comes with `retry-after` (seconds, the
mock's `retry_after`) as well as `x-ratelimit-*` headers. Key scenarios: `mock-rate_limit`,
`mock-server_error` (first attempt of each clip), as in the OpenAI mock.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from asyncbench.servers.mock import sync
from asyncbench.servers.mock.openai import Dialect, error, handler
from asyncbench.servers.mock.state import MockConfig, MockState

NAME = "groq"
PATH = "/openai/v1/audio/transcriptions"
MODELS = frozenset({"whisper-large-v3", "whisper-large-v3-turbo", "distil-whisper-large-v3-en"})


def _rate_limit(cfg: MockConfig, model: str) -> web.Response:
    wait = f"{cfg.retry_after:g}"
    return error(
        429,
        f"Rate limit reached for model `{model}` in organization `org_mock` service tier "
        f"`on_demand` on requests per minute (RPM): Limit 20, Used 20, Requested 1. "
        f"Please try again in {sync.as_duration(cfg.retry_after)}.",
        "requests",
        code="rate_limit_exceeded",
        headers={
            "retry-after": wait,
            "x-ratelimit-limit-requests": "20",
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": sync.as_duration(cfg.retry_after),
        },
    )


def _extra(state: MockState) -> dict[str, Any]:
    return {"x_groq": {"id": state.new_id("req_")}}


GROQ = Dialect(
    NAME,
    PATH,
    accepts_url=True,
    checks_extension=False,
    min_seconds=0.01,
    has_quota=False,
    models=MODELS,
    formats=frozenset({"json", "text", "verbose_json"}),
    rate_limit=_rate_limit,
    reply_extra=_extra,
)


def add_routes(app: web.Application, state: MockState) -> None:
    app.router.add_post(GROQ.path, handler(state, GROQ))
