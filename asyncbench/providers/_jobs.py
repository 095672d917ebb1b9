"""What the async-job clients share: JSON requests with error meaning, and the poll loop.

AssemblyAI, Rev AI and Speechmatics batch all work alike: submit a job, ask for its status
until it is finished, fetch the transcript. The engine times the whole `transcribe` call, so
every second between "the job is done" and "we noticed" is added to the measured latency:
that is why polling starts at a short interval (0.5 s, `--poll_interval`) and only grows
gently (x1.25 per poll, to at most 2 s or the chosen interval), instead of the vendor SDKs'
3-15 s.

Only the submit step may fail the attempt with a retryable error (the engine then submits
again). Once a job exists, a 429, a 5xx or a dropped connection on a status or transcript
request is waited out and asked again in place: retrying the whole attempt would submit, and
pay for, a second job.

Beyond one attempt, `journaled` keeps that promise: the job id goes into the run's job journal
(`asyncbench.results.jobs`, attached by the runner) before the first poll, and the next
attempt for the same audio (after a poll timeout, a crash, Ctrl-C) polls that job again
instead of submitting. Only a job the provider reports failed, or no longer knows (404), is
submitted again. With `--delete_jobs` a finished job is deleted at the provider (`job_url`),
where the API allows.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import re
from abc import abstractmethod
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, TypeVar
from urllib.parse import urlsplit

import aiohttp
import orjson

from asyncbench.core.errors import ConfigError, PermanentError, ProviderError, TransientError
from asyncbench.core.pacing import AccountPace
from asyncbench.core.retry import backoff_delay
from asyncbench.providers._http import quota_error
from asyncbench.providers._wire import check_text, send
from asyncbench.providers.base import AudioPayload, Provider, ProviderSettings, excerpt, http_error

T = TypeVar("T")
#: what a submit step returns: the job id, and what else finishing it needs (e.g. a file id)
Accepted = tuple[str, dict[str, Any]]

log = logging.getLogger("asyncbench.providers")
_HTML_TITLE = re.compile(rb"<title>\s*(.*?)\s*</title>", re.IGNORECASE | re.DOTALL)

DEFAULT_POLL_INTERVAL = 0.5
POLL_GROWTH = 1.25
POLL_CAP = 2.0
#: transient failures in a row on status/transcript requests before the attempt gives up
MAX_POLL_ERRORS = 8


#: audio above this many bytes is hashed off the event loop (hashlib drops the GIL)
_HASH_OFF_LOOP = 1 << 20


def _digest(data: bytes, language: str) -> str:
    h = hashlib.sha256(data)
    h.update(b"\0" + language.encode())
    return h.hexdigest()[:32]


async def audio_key(data: bytes | None, url: str | None, language: str) -> str:
    """The journal key of one request: a digest of what is sent (the bytes, or the URL the
    provider fetches) and its language, so the journal needs no sample id from the engine."""
    if data is None:
        return _digest(b"url:" + (url or "").encode(), language)
    if len(data) > _HASH_OFF_LOOP:
        return await asyncio.to_thread(_digest, data, language)
    return _digest(data, language)


class PendingJob(Protocol):
    job: str
    url: str
    extra: dict[str, Any]


class Journal(Protocol):
    """What a job provider needs of the run's job journal (the command's ledger,
    `asyncbench.runs.ledger`, which the runner attaches: providers sit below runs in the stage
    order). `submitted` and `finished` answer `DUPLICATE_JOB` when the job id was also given
    to another upload: its transcript is then nobody's, and the attempt fails."""

    resumed: int

    async def lookup(self, key: str) -> PendingJob | None: ...

    async def submitted(
        self, key: str, job: str, url: str, extra: dict[str, Any] | None = None
    ) -> str | None: ...

    async def finished(self, entry_key: str, job: str, *, failed: bool = False) -> str | None: ...


#: a journal's answer for a job id the service also returned for another upload
DUPLICATE_JOB = "duplicate_job"


def duplicate_job(job_id: str) -> PermanentError:
    """The attempt's error when its job id is shared with another upload (not retried in this
    run: the same service may do it again; a rerun retries it)."""
    return PermanentError(
        "protocol",
        f"the service returned job id {job_id[:80]!r} for another upload too: its transcript "
        "cannot be trusted to be this clip's",
    )


def poll_interval(settings: ProviderSettings) -> float:
    """The first wait between status requests, from `options["poll_interval"]` (seconds)."""
    raw = settings.options.get("poll_interval")
    if raw is None:
        return DEFAULT_POLL_INTERVAL
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (value > 0 and math.isfinite(value)):
        raise ConfigError(f"--poll_interval must be a positive number of seconds (got {raw!r})")
    return value


def poll_delays(first: float) -> Iterator[float]:
    """first, first*1.25, ... capped at max(2 s, first): quick for short jobs, gentle on long."""
    cap = max(POLL_CAP, first)
    delay = first
    while True:
        yield delay
        delay = min(cap, delay * POLL_GROWTH)


def error_text(body: bytes) -> str:
    """The provider's own words from an error body.

    Covers the shapes these APIs use: `{"error": "..."}` (AssemblyAI), RFC 7807 problem details
    `{"title", "detail"}` (Rev AI), `{"code", "error", "detail"}` (Speechmatics), OpenAI-style
    `{"error": {"message"}}`; an HTML error page (nginx's 401) by its title; anything else as
    an excerpt.
    """
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        obj = None
    if isinstance(obj, dict):
        parts: list[str] = []
        for key in ("error", "title", "message", "detail"):
            value = obj.get(key)
            if isinstance(value, dict):
                value = value.get("message")
            if isinstance(value, str) and value.strip() and value not in parts:
                parts.append(value.strip())
        if parts:
            return excerpt(": ".join(parts))
    title = _HTML_TITLE.search(body)
    if title is not None:
        return excerpt(title.group(1))
    return excerpt(body) or "(empty body)"


def with_default_path(base_url: str, path: str) -> str:
    """`http://host:port` → `http://host:port{path}`; a URL that has a path is kept as given.

    So `--base_url http://127.0.0.1:9000` (a local mock) reaches the API at its real path.
    """
    if urlsplit(base_url).path in ("", "/"):
        return base_url.rstrip("/") + path
    return base_url


def as_provider_error(exc: BaseException) -> ProviderError:
    """A dropped connection or read timeout as a retryable error (what the engine would say)."""
    name = type(exc).__name__
    return TransientError("connection", f"{name}: {exc}"[:300] if str(exc) else name)


#: (words any of which the reason contains, error class, kind), tried in order
Rule = tuple[tuple[str, ...], type[ProviderError], str]


def failure_from_reason(message: str, reason: str, rules: Sequence[Rule]) -> ProviderError:
    """A failed job as an error: the first rule whose words appear in the service's reason
    decides the kind; a reason no rule knows is a permanent "job_failed"."""
    low = reason.lower()
    for words, cls, kind in rules:
        if any(word in low for word in words):
            return cls(kind, message)
    return PermanentError("job_failed", message)


def job_id_of(reply: Any) -> str:
    """The `id` of a submit reply; a reply without one is a broken answer (retryable)."""
    job_id = reply.get("id") if isinstance(reply, dict) else None
    if not isinstance(job_id, str) or not job_id:
        raise TransientError("bad_response", f"submit reply has no job id: {str(reply)[:200]}")
    return job_id


@dataclass(frozen=True, slots=True)
class Statuses:
    """A provider's job status words."""

    done: str
    running: frozenset[str]
    failed: frozenset[str]


class JobProvider(Provider):
    """Base of the submit → poll → transcript clients.

    Subclasses build their auth header in `self.headers` and call `request`, `patiently` and
    `wait_for`. A provider's documented request-rate limits live here, shared by all workers
    and by every run of the same account in the process (requests per second, None =
    unpaced): `request_rate` for every request, `submit_rate` and `status_rate` for the
    requests a subclass passes as `pace=self.submit_pace` or `pace=self.status_pace`.
    """

    #: the service's name in the errors a user reads ("over Gladia's 1000 MB limit")
    service: ClassVar[str]
    default_timeout: ClassVar[float] = 600.0
    request_rate: ClassVar[float | None] = None
    submit_rate: ClassVar[float | None] = None
    status_rate: ClassVar[float | None] = None
    #: statuses that mean the account has no credit left (402 at Soniox and Gladia): a quota
    #: error that stops the run, not one failed sample after another
    quota_statuses: ClassVar[frozenset[int]] = frozenset()

    def __init__(self, settings: ProviderSettings) -> None:
        super().__init__(settings)
        self.poll_interval = poll_interval(settings)
        self.headers: dict[str, str] = {}
        self.request_pace = self._limit("request", self.request_rate)
        self.submit_pace = self._limit("submit", self.submit_rate)
        self.status_pace = self._limit("status", self.status_rate)
        #: the run's job journal (`attach_journal`); None: jobs are not recorded (unit use)
        self.journal: Journal | None = None
        self.delete_jobs = settings.options.get("delete_jobs", "") in ("1", "true", "yes")

    def _limit(self, name: str, rate: float | None) -> AccountPace | None:
        # Capacity 1: requests are spaced evenly, so no one-second window ever holds a burst.
        return self.account_pace(name, rate) if rate else None

    def attach_journal(self, journal: Journal) -> None:
        """Record every accepted job in `journal` and resume the ones it holds."""
        self.journal = journal

    def job_url(self, url: str, job_id: str) -> str | None:
        """Where `DELETE` removes a finished job (`--delete_jobs`); None: the API has none."""
        return None

    async def transcribe(
        self, session: aiohttp.ClientSession, url: str, audio: AudioPayload
    ) -> str:
        """Every job API alike: refuse an upload over the service's limits before sending,
        then submit (or resume the journaled job) and finish it."""
        require_audio(audio)
        self.limits.check(audio, self.service)
        return await self.journaled(session, url, audio)

    @abstractmethod
    async def submit(
        self, session: aiohttp.ClientSession, url: str, audio: AudioPayload
    ) -> Accepted:
        """Send the audio (or its URL) and create the job: (job id, what `finish` needs
        besides it, which the journal keeps with the job)."""

    @abstractmethod
    async def finish(
        self, session: aiohttp.ClientSession, url: str, job_id: str, extra: dict[str, Any]
    ) -> str:
        """Poll the accepted job to its end and return its transcript."""

    async def journaled(self, session: aiohttp.ClientSession, url: str, audio: AudioPayload) -> str:
        """Submit (or resume) the job for `audio` and finish it. The job is journaled before
        `finish` starts polling."""
        journal = self.journal
        if journal is None:
            job_id, extra = await self.submit(session, url, audio)
            return await self._finished(session, url, job_id, extra)
        key = await audio_key(audio.data, audio.url, self.settings.language)
        entry = await journal.lookup(key)
        if entry is not None:  # recorded for this model and one of these endpoints
            journal.resumed += 1
            try:
                text = await self._finished(session, entry.url, entry.job, entry.extra)
            except ProviderError as exc:
                if getattr(exc, "job_failed", False):
                    await journal.finished(key, entry.job, failed=True)
                    raise
                if exc.status != 404:
                    raise  # still pending: the next attempt polls it again
                # the provider no longer knows the job (expired, deleted): submit anew
                await journal.finished(key, entry.job, failed=True)
            else:
                if await journal.finished(key, entry.job) == DUPLICATE_JOB:
                    raise duplicate_job(entry.job)
                return text
        job_id, extra = await self.submit(session, url, audio)
        if await journal.submitted(key, job_id, url, extra) == DUPLICATE_JOB:
            raise duplicate_job(job_id)
        try:
            text = await self._finished(session, url, job_id, extra)
        except ProviderError as exc:
            if getattr(exc, "job_failed", False):
                await journal.finished(key, job_id, failed=True)
            raise
        if await journal.finished(key, job_id) == DUPLICATE_JOB:
            raise duplicate_job(job_id)
        return text

    async def _finished(
        self,
        session: aiohttp.ClientSession,
        url: str,
        job_id: str,
        extra: dict[str, Any],
    ) -> str:
        """`finish`, then (with `--delete_jobs`) the finished or failed job deleted."""
        try:
            text = await self.finish(session, url, job_id, extra)
        except ProviderError as exc:
            if getattr(exc, "job_failed", False):
                await self.delete_job(session, url, job_id)
            raise
        await self.delete_job(session, url, job_id)
        return text

    async def delete_job(self, session: aiohttp.ClientSession, url: str, job_id: str) -> None:
        """`DELETE` the job at the provider when `--delete_jobs` asks and the API allows; a
        delete that fails is a warning, not a failed sample (the transcript is in)."""
        where = self.job_url(url, job_id) if self.delete_jobs else None
        if where is None:
            return
        try:
            await self.patiently(lambda: self.request(session, "DELETE", where, parse_json=False))
        except ProviderError as exc:
            if exc.status != 404:
                log.warning("could not delete job %s: %s", job_id, exc)

    async def request(
        self,
        session: aiohttp.ClientSession,
        method: str,
        url: str,
        *,
        pace: AccountPace | None = None,
        parse_json: bool = True,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> Any:
        """One HTTP request under the wire rules (capped, no silent redirect): a non-2xx
        status raises its meaning, the body comes back as JSON (or as text with
        `parse_json=False`); a body that is not text (HTML, binary) is a `bad_response`."""
        for bucket in (pace, self.request_pace):
            if bucket is not None:
                await bucket.take()
        sent = {**self.headers, **headers} if headers else self.headers
        reply = await send(session, method, url, self.wire, headers=sent, **kwargs)
        if not reply.ok:
            err = http_error(
                reply.status, error_text(reply.body), reply.headers, key_env=self.key_env
            )
            if reply.status in self.quota_statuses and isinstance(err, PermanentError):
                raise quota_error(self.key_env, err.message, reply.status)
            raise err
        body = reply.body
        text = check_text(body, reply.content_type)
        if not parse_json:
            return text
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            raise TransientError(
                "bad_response", f"{method} {url}: not JSON: {excerpt(body) or '(empty body)'}"
            ) from None

    async def patiently(self, call: Callable[[], Awaitable[T]]) -> T:
        """`call()`, with transient failures waited out (Retry-After honoured) and asked again,
        up to MAX_POLL_ERRORS in a row. Permanent errors go straight up."""
        failures = 0
        while True:
            try:
                return await call()
            except ProviderError as exc:
                if not exc.retryable:
                    raise
                err = exc
            except (aiohttp.ClientError, OSError) as exc:
                err = as_provider_error(exc)
            failures += 1
            if failures >= MAX_POLL_ERRORS:
                raise err
            await asyncio.sleep(backoff_delay(failures, retry_after=err.retry_after, cap=10.0))

    async def wait_for(self, check: Callable[[], Awaitable[T | ProviderError | None]]) -> T:
        """Poll `check` on the growing schedule until the job is finished.

        `check` returns None while the job runs, the result when it is done, and a
        ProviderError (returned, not raised, so `patiently` does not ask again) when the job
        failed: that error is raised here, to the engine, which may submit a new job.
        There is no deadline here: the engine's `--timeout` bounds the whole attempt.
        """
        for delay in poll_delays(self.poll_interval):
            await asyncio.sleep(delay)
            result = await self.patiently(check)
            if isinstance(result, ProviderError):
                result.job_failed = True  # type: ignore[attr-defined]  # see `journaled`
                raise result
            if result is not None:
                return result
        raise AssertionError("unreachable")  # pragma: no cover - poll_delays never ends

    async def poll_job(
        self,
        session: aiohttp.ClientSession,
        url: str,
        job_id: str,
        statuses: Statuses,
        failure: Callable[[str, dict[str, Any]], ProviderError],
        *,
        key: str | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """GET `url` until the job (the reply, or its `key` member) has a final status: the
        job object when done, its `failure(job_id, job)` raised when failed. A reply that
        names another job (its `id`) is a `protocol` error: its transcript is never taken."""

        async def check() -> dict[str, Any] | ProviderError | None:
            reply = await self.request(session, "GET", url, **kwargs)
            job = reply.get(key) if key and isinstance(reply, dict) else reply
            other = job.get("id") if isinstance(job, dict) else None
            if isinstance(other, str | int) and str(other) != job_id:
                return TransientError(  # at once, not asked again: this job is not trusted
                    "protocol", f"the status of job {job_id} came back for job {other}"[:300]
                )
            status = job.get("status") if isinstance(job, dict) else None
            if status == statuses.done:
                return job  # type: ignore[no-any-return]
            if status in statuses.failed:
                return failure(job_id, job)  # type: ignore[arg-type]
            if status in statuses.running:
                return None
            raise TransientError("bad_response", f"job {job_id}: unknown status {status!r}")

        return await self.wait_for(check)


def require_audio(audio: AudioPayload) -> None:
    """A payload with neither bytes nor a URL is a bug upstream, not a provider failure."""
    if audio.data is None and not audio.url:
        raise PermanentError("internal", "no audio bytes and no URL to send")
