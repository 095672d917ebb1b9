"""Assemble the mock: one aiohttp app, every protocol module's routes, one shared state."""

from __future__ import annotations

import importlib

from aiohttp import web

from asyncbench.servers.mock import PROTOCOLS
from asyncbench.servers.mock.state import STATE_KEY, MockConfig, MockState


def build_app(
    config: MockConfig | None = None, protocols: tuple[str, ...] = PROTOCOLS
) -> web.Application:
    state = MockState(config or MockConfig())
    app = web.Application(client_max_size=256 * 2**20)
    app[STATE_KEY] = state

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "protocols": list(protocols)})

    app.router.add_get("/health", health)
    for name in protocols:
        importlib.import_module(f"asyncbench.servers.mock.{name}").add_routes(app, state)
    return app
