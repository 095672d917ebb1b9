"""Aqua Voice Avalon protocol: OpenAI's, at `POST /api/v1/audio/transcriptions` (keys:
`aquavoice`).

As OpenAI's mock (Bearer key, multipart, `model` and `file` required, a known file
extension), plus: the model must be an Avalon one (else 404 `model_not_found`), and there is
no prepaid `insufficient_quota`. Aqua publishes no API reference, so these rules are the
OpenAI-compatible ones its clients assume (UNCONFIRMED). Key scenarios: `mock-rate_limit`,
`mock-server_error` (first attempt of each clip), as in the OpenAI mock.
"""

from __future__ import annotations

from aiohttp import web

from asyncbench.servers.mock.openai import Dialect, handler
from asyncbench.servers.mock.state import MockState

NAME = "aquavoice"
PATH = "/api/v1/audio/transcriptions"
MODELS = frozenset({"avalon-v1-en", "avalon-v1.5", "avalon-1"})

AQUAVOICE = Dialect(NAME, PATH, has_quota=False, models=MODELS)


def add_routes(app: web.Application, state: MockState) -> None:
    app.router.add_post(AQUAVOICE.path, handler(state, AQUAVOICE))
