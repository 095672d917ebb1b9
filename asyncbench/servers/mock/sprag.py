"""Sprag Symphony protocol: OpenAI's, at `POST /sprag/v1/audio/transcriptions` (keys: `sprag`).

The real service answers at `https://api.sprag.ai/v1/audio/transcriptions`, the same path
as OpenAI's, so the mock serves it under `/sprag`: point the client at
`--base_url http://127.0.0.1:9000/sprag/v1`. As OpenAI's mock (Bearer key, multipart, `model`
and `file` required, a known file extension), plus: the model must be `symphony` and there
is no prepaid `insufficient_quota`. The service's own rules are
UNCONFIRMED (open PR #212, no public reference). Key scenarios: `mock-rate_limit`,
`mock-server_error` (first attempt of each clip), as in the OpenAI mock.
"""

from __future__ import annotations

from aiohttp import web

from asyncbench.servers.mock.openai import Dialect, handler
from asyncbench.servers.mock.state import MockState

NAME = "sprag"
PATH = "/sprag/v1/audio/transcriptions"
MODELS = frozenset({"symphony"})

SPRAG = Dialect(NAME, PATH, has_quota=False, models=MODELS)


def add_routes(app: web.Application, state: MockState) -> None:
    app.router.add_post(SPRAG.path, handler(state, SPRAG))
