"""Soniox async transcription (`soniox/stt-async-v5`): upload, create, poll, fetch, delete.

Wire facts (reference/PROTOCOLS-2026.md §A1, from the leaderboard's client and the official
`soniox-python` SDK): `Authorization: Bearer <SONIOX_API_KEY>`, base `https://api.soniox.com/v1`
(`SONIOX_BASE_URL`; the leaderboard's `SONIOX_API_BASE_URL` is honoured too). Local audio is
`POST /files` (multipart part `file`) → `{id}`; `POST /transcriptions` (JSON, exactly one of
`file_id` / `audio_url`: in `--use_url` mode Soniox fetches the URL itself) → `{id, status}`;
`GET /transcriptions/{id}` until `completed` or `error` (`error_type`, `error_message`);
`GET /transcriptions/{id}/transcript` → `{text, tokens}`; then `DELETE` the transcription
and the file (always: `--delete_jobs` changes nothing here). The body is the leaderboard's:
`model`, `language_hints: [lang]` with `language_hints_strict`, no diarization, no language
identification, no context.

Deleting is not optional here: an account keeps at most 2,000 transcriptions, 1,000 files and
10 GB, and files are not deleted automatically, so a full split that did not clean up would
start failing part-way. A sample whose attempt is cancelled (timeout, Ctrl-C) is not cleaned
up, so its job can still be found. At most 100 transcriptions may be pending at once: keep
`--max_workers` at or below 100 (the leaderboard runs 20). Files are capped at 300 minutes
(checked before upload).

Errors: 401/403 stop the run (key rejected), 402 stops it (no balance); other 4xx are
permanent; 429 and 5xx are retried after `Retry-After`. The leaderboard's client paces itself
to 240 requests/min for `/files` and 240/min for transcription calls
(`SONIOX_FILE_REQUESTS_PER_MINUTE`, `SONIOX_TRANSCRIPTION_REQUESTS_PER_MINUTE`); the same
budgets, with the same variables, are kept here for all workers together. They bind: each clip
costs 2 file calls and 4-6 transcription calls (create, polls, transcript, delete), so at the
defaults a run does about one clip a second whatever `--max_workers` (100 clips against the
mock: 107 s at 20 workers, 8 s with the budgets raised). Raise them if your project allows.

UNCONFIRMED: the per-project request caps (the 240/min budgets are the leaderboard's, not a
documented number); the exact `error_type` words of a failed job (matched loosely below);
the status a failed job reports (`error` in the API reference, `failed` on the errors page;
both are accepted); the status code of the 100-pending refusal (a 429 is retried, a 4xx is
a failed sample).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, ClassVar

from asyncbench.core.endpoint_spec import normalize_endpoint
from asyncbench.core.errors import ConfigError, PermanentError, ProviderError, TransientError
from asyncbench.core.limits import Limits
from asyncbench.providers._http import upload_name
from asyncbench.providers._jobs import (
    JobProvider,
    Rule,
    Statuses,
    failure_from_reason,
    job_id_of,
)
from asyncbench.providers.base import AudioPayload, ProviderSettings

if TYPE_CHECKING:
    import aiohttp

log = logging.getLogger("asyncbench")

DEFAULT_URL = "https://api.soniox.com/v1"
LB_BASE_URL_ENV = "SONIOX_API_BASE_URL"
FILE_RPM_ENV = "SONIOX_FILE_REQUESTS_PER_MINUTE"
TRANSCRIPTION_RPM_ENV = "SONIOX_TRANSCRIPTION_REQUESTS_PER_MINUTE"
DEFAULT_RPM = 240.0

STATUSES = Statuses(
    done="completed",
    running=frozenset({"queued", "processing"}),
    # the API reference says `error`, the errors page `failed`: both end the job
    failed=frozenset({"error", "failed"}),
)
#: "File duration: 300 minutes, cannot be increased" (older pages: 60 minutes)
LIMITS = Limits(None, 300 * 60.0, "soniox.com/docs/stt/async/limits-and-quotas")
_RULES: list[Rule] = [
    (("decode", "unsupported", "invalid audio", "no audio"), PermanentError, "bad_audio"),
    (("fetch", "download", "url"), PermanentError, "fetch_failed"),
    (("too long", "duration"), PermanentError, "too_large"),
    (("internal", "unavailable", "timeout"), TransientError, "job_failed"),
]


def job_error(job_id: str, job: dict[str, Any]) -> ProviderError:
    """A transcription that ended in `error`, in the service's words."""
    kind = str(job.get("error_type") or "").strip()
    message = str(job.get("error_message") or "").strip() or "no reason given"
    reason = f"{kind}: {message}" if kind else message
    return failure_from_reason(f"transcription {job_id} failed: {reason}", reason, _RULES)


def requests_per_minute(env: str) -> float:
    """A request budget from the environment (requests per minute), else the default."""
    raw = os.environ.get(env, "").strip()
    if not raw:
        return DEFAULT_RPM
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (value > 0 and math.isfinite(value)):
        raise ConfigError(f"{env} must be a positive number of requests per minute (got {raw!r})")
    return value


class SonioxProvider(JobProvider):
    prefixes = ("soniox",)
    service = "Soniox"
    key_env = "SONIOX_API_KEY"
    base_url_env = "SONIOX_BASE_URL"
    default_base_url = DEFAULT_URL
    fetches_urls = True
    default_concurrency = 20
    quota_statuses = frozenset({402})  # no balance left
    limits = LIMITS
    #: the leaderboard's poll deadline (SONIOX_POLL_TIMEOUT_SECONDS)
    default_timeout: ClassVar[float] = 900.0

    def __init__(self, settings: ProviderSettings) -> None:
        super().__init__(settings)
        source = "--base_url" if settings.base_url else self.base_url_env
        if not settings.base_url and not os.environ.get("SONIOX_BASE_URL"):
            lb_url = os.environ.get(LB_BASE_URL_ENV, "").strip()
            if lb_url:
                self.base_url, source = lb_url.rstrip("/"), LB_BASE_URL_ENV
        try:
            self.base_url = normalize_endpoint(self.base_url, "/v1").rstrip("/")
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}") from None
        if not self.model.startswith("stt-async"):
            raise ConfigError(
                f"soniox/{self.model}: soniox/ uses the async API, whose models are "
                "stt-async-* (e.g. soniox/stt-async-v5)"
            )
        self.headers = {"Authorization": f"Bearer {self.api_key}"}
        self.file_pace = self.account_pace("files", requests_per_minute(FILE_RPM_ENV) / 60.0)
        self.transcription_pace = self.account_pace(
            "transcriptions", requests_per_minute(TRANSCRIPTION_RPM_ENV) / 60.0
        )

    def body(self, audio: AudioPayload, file_id: str | None) -> dict[str, Any]:
        """The create-transcription body the leaderboard sends (its `prompt` is ignored)."""
        source = {"file_id": file_id} if file_id is not None else {"audio_url": audio.url}
        return {
            "model": self.model,
            **source,
            "language_hints": [self.settings.language],
            "language_hints_strict": True,
            "enable_speaker_diarization": False,
            "enable_language_identification": False,
        }

    async def submit(
        self, session: aiohttp.ClientSession, url: str, audio: AudioPayload
    ) -> tuple[str, dict[str, Any]]:
        """Upload the file (unless Soniox fetches a URL) and create the transcription; the
        file id travels with the job (in the journal too) so it is deleted when it ends."""
        import aiohttp

        file_id: str | None = None
        if audio.data is not None:
            form = aiohttp.FormData()
            form.add_field("file", audio.data, filename=upload_name(audio), content_type=audio.mime)
            upload = await self.request(
                session, "POST", f"{url}/files", data=form, pace=self.file_pace
            )
            file_id = job_id_of(upload)
        try:
            reply = await self.request(
                session,
                "POST",
                f"{url}/transcriptions",
                json=self.body(audio, file_id),
                pace=self.transcription_pace,
            )
            job_id = job_id_of(reply)
        except asyncio.CancelledError:
            raise
        except BaseException:
            if file_id is not None:
                await self._delete(session, f"{url}/files/{file_id}", files=True)
            raise
        return job_id, ({"file_id": file_id} if file_id is not None else {})

    async def finish(
        self, session: aiohttp.ClientSession, url: str, job_id: str, extra: dict[str, Any]
    ) -> str:
        file_id = extra.get("file_id")
        files = (
            self._deleting(session, f"{url}/files/{file_id}", files=True)
            if isinstance(file_id, str)
            else contextlib.nullcontext()
        )
        async with files, self._deleting(session, f"{url}/transcriptions/{job_id}"):
            return await self._result(session, url, job_id)

    @contextlib.asynccontextmanager
    async def _deleting(
        self, session: aiohttp.ClientSession, url: str, *, files: bool = False
    ) -> AsyncIterator[None]:
        """Delete the resource at `url` when the block ends: done, failed at the service, or
        refused for good. Not when it was cancelled (a timeout or Ctrl-C must not wait for
        deletes) nor after a transient polling failure: the job journal then lets the next
        attempt poll the same transcription instead of paying for a new one."""
        try:
            yield
        except asyncio.CancelledError:
            raise
        except ProviderError as exc:
            if exc.retryable and not getattr(exc, "job_failed", False):
                raise
            await self._delete(session, url, files=files)
            raise
        except BaseException:
            await self._delete(session, url, files=files)
            raise
        await self._delete(session, url, files=files)

    async def _result(self, session: aiohttp.ClientSession, url: str, job_id: str) -> str:
        """Poll the transcription until it is done, then fetch its text."""
        await self.poll_job(
            session,
            f"{url}/transcriptions/{job_id}",
            job_id,
            STATUSES,
            job_error,
            pace=self.transcription_pace,
        )
        doc = await self.patiently(
            lambda: self.request(
                session,
                "GET",
                f"{url}/transcriptions/{job_id}/transcript",
                pace=self.transcription_pace,
            )
        )
        text = doc.get("text") if isinstance(doc, dict) else None
        if not isinstance(text, str):
            raise TransientError("bad_response", f"transcript of {job_id} has no text")
        return text.strip()

    async def _delete(
        self, session: aiohttp.ClientSession, url: str, *, files: bool = False
    ) -> None:
        """Delete a finished transcription or file; 404 is fine (already gone), and a delete
        that keeps failing is a warning, not a failed sample: the transcript is already in."""
        pace = self.file_pace if files else self.transcription_pace
        try:
            await self.patiently(
                lambda: self.request(session, "DELETE", url, pace=pace, parse_json=False)
            )
        except ProviderError as exc:
            if exc.status != 404:
                log.warning("soniox: could not delete %s: %s", url.rsplit("/v1", 1)[-1], exc)
