"""Endpoint lists as users write them: `host:port` entries or URLs, space- or comma-separated.

Parsing lives below both the provider clients (which resolve their URLs) and the endpoint
pool (which shares requests among them), so neither stage has to import the other.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from asyncbench.core.errors import ConfigError

_SPLIT = re.compile(r"[\s,]+")
_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.\-]*[A-Za-z0-9])?$|^\[[0-9A-Fa-f:.]+\]$")


def split_list(spec: str) -> list[str]:
    """Split a space- or comma-separated list, as the seed accepts for `ALDEA_ENDPOINTS`."""
    return [part for part in _SPLIT.split(spec.strip()) if part]


def normalize_endpoint(spec: str, default_path: str) -> str:
    """Turn `host:port` or a URL into a full URL; add `default_path` when the URL has none.

    Raises ConfigError naming the bad entry, so a typo in a list of 21 ports is found before
    any request instead of as 1/21 of the samples failing.
    """
    raw = spec.strip()
    url = raw if "://" in raw else f"http://{raw}"
    parts = urlsplit(url)
    hint = "expected host:port or a URL such as http://127.0.0.1:8800/asr/transcribe"
    if parts.scheme not in ("http", "https", "ws", "wss"):
        raise ConfigError(f"bad endpoint {raw!r}: scheme {parts.scheme!r} is not http(s); {hint}")
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(
            f"bad endpoint {raw!r}: the port is not a number 1-65535; {hint}"
        ) from None
    host = parts.hostname or ""
    if not host or not _HOST.match(host if ":" not in host else f"[{host}]"):
        raise ConfigError(f"bad endpoint {raw!r}: missing or invalid host; {hint}")
    if port == 0:
        raise ConfigError(f"bad endpoint {raw!r}: port 0 is not a valid port; {hint}")
    path = parts.path if parts.path not in ("", "/") else default_path
    netloc = parts.netloc
    query = f"?{parts.query}" if parts.query else ""
    return f"{parts.scheme}://{netloc}{path}{query}"


def parse_endpoints(spec: str, default_path: str) -> list[str]:
    """Parse a whole list; duplicates are kept (listing a port twice gives it twice the share)."""
    items = split_list(spec)
    if not items:
        raise ConfigError("the endpoint list is empty; give host:port entries or URLs")
    return [normalize_endpoint(item, default_path) for item in items]
