"""Errors are values with a kind.

A `ConfigError` is found before any request is sent and ends the program with one line and
exit code 2. A `ProviderError` belongs to one sample: the engine retries it when it is
transient and records it in the results file either way, so one bad clip never stops a run.
"""

from __future__ import annotations


class AsyncBenchError(Exception):
    """Base of every error asyncbench raises on purpose."""


class ConfigError(AsyncBenchError):
    """A bad flag, environment variable, file or dataset: the user must fix it before a run.

    The message is the whole story (what is wrong and how to fix it); the CLI prints it as
    one line prefixed by "error:" and exits with `exit_code`.
    """

    exit_code = 2


#: characters of a provider error's message kept (results lines, summaries, the terminal)
MAX_MESSAGE = 1000


class ProviderError(AsyncBenchError):
    """One request failed. `kind` is a short stable label used in the ledger and summaries
    (for example "rate_limited", "server_error", "timeout", "auth", "bad_audio")."""

    retryable: bool = False

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        # one line, whatever the server wrote: a reply's message with a newline in it
        # (Gemini's `message`, read whole) printed a fake `error:` line of its own under ours
        message = " ".join(message.split())
        if len(message) > MAX_MESSAGE:
            message = message[:MAX_MESSAGE] + "..."
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        self.retry_after = retry_after

    def __str__(self) -> str:
        prefix = f"HTTP {self.status}: " if self.status is not None else ""
        return f"{prefix}{self.message}"


class TransientError(ProviderError):
    """Worth retrying: 429, 5xx, timeouts, connection resets, empty or torn bodies."""

    retryable = True


class PermanentError(ProviderError):
    """Retrying cannot help: rejected key, bad request, undecodable audio, exhausted quota."""

    retryable = False
