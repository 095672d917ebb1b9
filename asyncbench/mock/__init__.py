"""`asyncbench mock`: one local server that speaks every provider's protocol at its real paths.

Each provider's protocol is one module here with `NAME` and `add_routes(app, state)`; they
share a `MockState` (faults, latency, keys, jobs). The mock is strict where the real services
are strict, so a client that passes against it has its request shapes right.
"""

from __future__ import annotations

import importlib

from aiohttp import web

from asyncbench.mock.state import STATE_KEY, MockConfig, MockState

#: protocol modules, in routing order
PROTOCOLS: tuple[str, ...] = ("aldea",)


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
        importlib.import_module(f"asyncbench.mock.{name}").add_routes(app, state)
    return app


__all__ = ["PROTOCOLS", "STATE_KEY", "MockConfig", "MockState", "build_app"]
