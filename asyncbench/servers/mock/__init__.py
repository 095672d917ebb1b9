"""`asyncbench mock`: one local server that speaks every provider's protocol at its real paths.

Each provider's protocol is one module here with `NAME` and `add_routes(app, state)`; they
share a `MockState` (faults, latency, keys, jobs). The mock is strict where the real services
are strict, so a client that passes against it has its request shapes right.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

#: protocol modules, in routing order
PROTOCOLS: tuple[str, ...] = (
    "aldea",
    "openai",
    "groq",
    "elevenlabs",
    "deepgram",
    "assemblyai",
    "revai",
    "speechmatics",
    "speechmatics_rt",
    "soniox",
    "gladia",
    "microsoft",
    "zoom",
    "viewer",
    "modulate",
    "reson8",
    "smallestai",
    "aquavoice",
    "aldea_listen",
    "deepgram_live",
    "assemblyai_rt",
    "elevenlabs_rt",
    "openai_rt",
    "meta",
    "meta_stream",
    "sprag",
    "sophea",
    "gemini",
)


# Light on purpose: the CLI imports `asyncbench.servers.mock.cli` for `--help`, which imports this
# package; aiohttp and numpy load only when the mock is really built.
_LAZY = {
    "build_app": "asyncbench.servers.mock.app",
    "MockConfig": "asyncbench.servers.mock.state",
    "MockState": "asyncbench.servers.mock.state",
    "STATE_KEY": "asyncbench.servers.mock.state",
}

__all__ = ["PROTOCOLS", "STATE_KEY", "MockConfig", "MockState", "build_app"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(module), name)
