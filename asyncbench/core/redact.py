"""Keep API keys out of everything asyncbench prints or writes.

Keys leak in three ways, so they are removed in three ways:

- the key itself, echoed anywhere (a provider's error body that repeats the request, a
  traceback): every known secret is replaced wherever it appears — the run's key, the values
  of key-shaped query parameters in endpoint URLs, and the values of the environment's
  `*_API_KEY` / `*_TOKEN` / `*_SECRET` variables;
- auth headers echoed by a server, for keys we were never told about: the value after
  `Authorization` (with its `Bearer`/`Token`/`Basic` scheme kept), `xi-api-key`,
  `x-api-key`, `api-key`... in header (`Name: value`) or JSON (`"name": "value"`) form;
- credentials inside URLs: the `user:password@` part, and query parameters whose name
  looks like a secret (`?api_key=`, `&key=`, `?token=`, `code`, `sig`, `subscription-key`,
  any `*-key`, `*_key` or `*token*`): URLs are shown with those masked (`Endpoint.label`,
  so the `endpoint` field of results lines and summaries), and any such text is masked
  when printed.

`guard_output` puts a redacting layer over stdout and stderr for the whole command, so a
message nobody thought about (a library warning, a traceback) is covered too; result files
get redacted error messages and masked endpoint URLs from the engine.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TextIO
from urllib.parse import parse_qsl, quote, urlsplit

MASK = "***"
#: query parameter and JSON field names whose values are credentials
_KEY_NAMES = (
    r"api[_-]?key|apikey|access[_-]?token|auth[_-]?token|id[_-]?token|refresh[_-]?token|token"
    r"|key|secret|client[_-]?secret|password|passwd|signature|sig"
    r"|x-amz-signature|x-amz-credential|x-amz-security-token"
)
#: header names whose values are credentials
_HEADER_NAMES = (
    r"authorization|proxy-authorization|xi-api-key|x-api-key|api-key|x-goog-api-key"
    r"|ocp-apim-subscription-key|x-auth-token"
)
#: query parameter names whose values are credentials: the field names plus URL-only ones
#: (`code` and `*token*` would be too broad for JSON fields: "code": "invalid_api_key")
_QUERY_NAMES = (
    rf"{_KEY_NAMES}|code|subscription[_-]?key|[\w.~-]*[_-]key"
    r"|[\w.~-]*token[\w.~-]*|[\w.~-]*secret[\w.~-]*|[\w.~-]*password[\w.~-]*"
    r"|[\w.~-]*signature[\w.~-]*|[\w.~-]*credential[\w.~-]*"
)
_QUERY = re.compile(rf"(?i)([?&;](?:{_QUERY_NAMES})=)[^&#;\s\"'<>]+")
#: `scheme://user:password@` (or `scheme://token@`): the whole userinfo is a credential
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)(?!\*\*\*@)[^/\s@?#\"'<>]+@")
# A value starting with "<" is a placeholder in help text ("Bearer <key>"), never a key.
_FIELD = re.compile(
    rf"(?i)(?<![\w-])((?:{_HEADER_NAMES}|{_KEY_NAMES})[\"']?\s*[:=]\s*[\"']?)"
    r"((?:bearer|token|basic|key)\s+)?+(?!\*\*\*|<)[^\s\"',;&}\]\)]+"
)
_BEARER = re.compile(r"(?i)\b((?:bearer|token)\s+)(?!\*\*\*)[A-Za-z0-9._~+/=-]{16,}")
_ENV_NAME = re.compile(r"(?:^|_)(?:API_?KEY|KEY|TOKEN|SECRET|PASSWORD|PASSWD)$")
#: shorter values are left alone: masking "1" or "true" everywhere would garble output
MIN_SECRET_LEN = 8


def redact_url(url: str) -> str:
    """The URL with its userinfo and the values of key-shaped query parameters masked (for
    display)."""
    return _QUERY.sub(rf"\1{MASK}", _USERINFO.sub(rf"\1{MASK}@", url))


def url_secrets(urls: Iterable[str]) -> list[str]:
    """Credentials inside `urls` (userinfo, values of key-shaped query parameters), to be
    masked wherever they appear, also where the URL's shape is gone (an error message that
    quotes the password alone)."""
    found: list[str] = []
    names = re.compile(rf"(?i)^(?:{_QUERY_NAMES})$")
    for url in urls:
        parts = urlsplit(url)
        found += [v for v in (parts.username, parts.password) if v]
        for name, value in parse_qsl(parts.query, keep_blank_values=False):
            if names.match(name) and value:
                found.append(value)
    return found


def env_secrets(environ: Mapping[str, str] | None = None) -> list[str]:
    """Values of environment variables named like credentials (`OPENAI_API_KEY`, `HF_TOKEN`,
    `ALDEA_API_KEY`...), whichever provider this run uses: any of them may be echoed."""
    env = os.environ if environ is None else environ
    return [v for k, v in env.items() if _ENV_NAME.search(k.upper()) and v.strip()]


def key_file_secrets(argv: Iterable[str], environ: Mapping[str, str] | None = None) -> list[str]:
    """The keys in the files named by `--api_key_file` and `*_API_KEY_FILE` variables: what
    they hold is as secret as `--api_key` (unreadable files are the run's to report)."""
    env = os.environ if environ is None else environ
    args = list(argv)
    paths = [
        v
        for k, v in env.items()
        if k.upper().endswith("_FILE") and _ENV_NAME.search(k.upper()[: -len("_FILE")])
    ]
    for i, arg in enumerate(args):
        for flag in ("--api_key_file", "--api-key-file"):
            if arg == flag and i + 1 < len(args):
                paths.append(args[i + 1])
            elif arg.startswith(flag + "="):
                paths.append(arg[len(flag) + 1 :])
    found: list[str] = []
    for path in paths:
        try:
            with open(os.path.expanduser(path.strip()), encoding="utf-8") as f:
                found.append(f.read(64 * 1024).strip())
        except (OSError, UnicodeDecodeError, ValueError):
            continue
    return found


def argv_secrets(argv: Iterable[str]) -> list[str]:
    """The value of `--api_key` / `--api-key` on a command line, in either form."""
    args = list(argv)
    found: list[str] = []
    for i, arg in enumerate(args):
        for flag in ("--api_key", "--api-key"):
            if arg == flag and i + 1 < len(args):
                found.append(args[i + 1])
            elif arg.startswith(flag + "="):
                found.append(arg[len(flag) + 1 :])
    return found


class Redactor:
    """`redactor(text)`: known secrets, echoed auth headers and key-shaped query values masked."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        forms: set[str] = set()
        for secret in secrets:
            if not secret or len(secret.strip()) < MIN_SECRET_LEN:
                continue
            secret = secret.strip()
            forms.update({secret, quote(secret, safe=""), quote(secret)})
        # longest first, so a key that contains another is masked whole
        self.secrets = sorted(forms, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        text = self._cut_short(text)
        text = _USERINFO.sub(rf"\1{MASK}@", text)
        text = _QUERY.sub(rf"\1{MASK}", text)
        text = _FIELD.sub(lambda m: f"{m.group(1)}{m.group(2) or ''}{MASK}", text)
        return _BEARER.sub(rf"\1{MASK}", text)

    def _cut_short(self, text: str) -> str:
        """A message cut to a length (`excerpt`, "...") may end in the first characters of a
        key: those are masked too."""
        body = text[:-3] if text.endswith("...") else text
        for secret in self.secrets:
            for n in range(min(len(secret), len(body) + 1) - 1, MIN_SECRET_LEN - 2, -1):
                if body.endswith(secret[:n]):
                    return body[:-n] + MASK + text[len(body) :]
        return text


def make_redactor(secrets: Iterable[str | None]) -> Callable[[str], str]:
    """A redactor for a run's messages and result lines (see `Redactor`)."""
    return Redactor(secrets)


class RedactingStream:
    """A text stream that masks secrets in everything written through it.

    Everything else (isatty, fileno, encoding, flush...) is the wrapped stream's, so progress
    displays and libraries that look at the terminal behave as before.
    """

    def __init__(self, stream: TextIO, redact: Callable[[str], str]) -> None:
        self._stream = stream
        self._redact = redact

    def write(self, text: str) -> int:
        self._stream.write(self._redact(text))
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    @property
    def wrapped(self) -> TextIO:
        return self._stream

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def guard_output(argv: Iterable[str]) -> Callable[[], None]:
    """Mask secrets in all of this process's stdout and stderr; returns the undo function.

    Secrets known at start-up are the environment's credential variables, `--api_key` and
    the contents of key files; auth headers, URL userinfo and key-shaped query values are
    masked by shape whatever they hold.
    """
    args = list(argv)
    redact = Redactor([*env_secrets(), *argv_secrets(args), *key_file_secrets(args)])
    saved = sys.stdout, sys.stderr
    sys.stdout = RedactingStream(sys.stdout, redact)  # type: ignore[assignment]
    sys.stderr = RedactingStream(sys.stderr, redact)  # type: ignore[assignment]

    def restore() -> None:
        sys.stdout, sys.stderr = saved

    return restore
