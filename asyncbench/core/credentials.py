"""Up-front checks of the key and the base URL: one line before the first request.

A key pasted with its line break (`--api_key "$(cat key.txt)"` from a file saved with CRLF,
a key copied with a space in it) cannot go into an HTTP header: every request failed inside
the HTTP library, recorded as `internal` errors, and the run still exited 0. A base URL with
`user:password@` or a `?api_key=` in it puts the credential where logs, proxies and the
results' `endpoint` field see it. Both are refused here, naming the flag or variable and the
way to pass the key instead; the key itself is never printed.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

from asyncbench.core.errors import ConfigError

#: query parameter names that carry credentials (the redactor masks the same shapes)
_SECRET_PARAM = re.compile(
    r"(?i)^(?:api[_-]?key|apikey|key|token|access[_-]?token|auth[_-]?token|secret"
    r"|client[_-]?secret|password|passwd|signature|sig|subscription[_-]?key"
    r"|[\w.~-]*[_-]key|[\w.~-]*token[\w.~-]*|[\w.~-]*secret[\w.~-]*|[\w.~-]*password[\w.~-]*)$"
)
_NAMES = {"\r": "a carriage return (CR)", "\n": "a line feed (LF)", "\t": "a tab", " ": "a space"}


def check_key(key: str, source: str, key_env: str | None) -> str:
    """The key with surrounding whitespace dropped (a file's or a shell's final newline), or
    ConfigError when a character inside it cannot be part of a key (whitespace, control
    characters, anything outside printable ASCII)."""
    stripped = key.strip()
    for i, ch in enumerate(stripped):
        if "\x21" <= ch <= "\x7e":
            continue
        what = _NAMES.get(ch) or (
            f"the control character U+{ord(ch):04X}"
            if ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F
            else f"the non-ASCII character U+{ord(ch):04X}"
        )
        env = key_env or "<PROVIDER>_API_KEY"
        raise ConfigError(
            f"the API key from {source} contains {what} at position {i + 1} of "
            f"{len(stripped)}; a key is one word of printable ASCII: copy it again, or put it "
            f"alone in a file and pass --api_key_file FILE (or {env}_FILE=FILE)"
        )
    return stripped


def check_base_url(url: str, source: str, key_env: str | None) -> None:
    """ConfigError when a base URL carries a credential: userinfo (`user:password@`) or a
    query parameter named like a key, token, secret or password."""
    parts = urlsplit(url.strip())
    env = key_env or "<PROVIDER>_API_KEY"
    how = f"pass the key with --api_key_file FILE or {env} instead"
    if "@" in parts.netloc:
        raise ConfigError(
            f"{source} carries a user name or password (user:password@host); {how}, and "
            "give the URL without it"
        )
    names = sorted({n for n, _ in parse_qsl(parts.query, keep_blank_values=True)})
    secret = [n for n in names if _SECRET_PARAM.match(n)]
    if secret:
        raise ConfigError(
            f"{source} carries a credential in its query (parameter {', '.join(secret)}); {how}, "
            "and give the URL without it"
        )
