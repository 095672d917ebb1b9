"""Gladia pre-recorded v2 (`gladia/solaria-3`): upload, create a job, poll it.

Wire facts (reference/PROTOCOLS-2026.md §A2, from the official `gladiaio_sdk` the leaderboard
uses): the key goes in `x-gladia-key`; local audio is `POST /v2/upload` (multipart part
`audio`) → `{audio_url}`; `POST /v2/pre-recorded` (JSON: `audio_url` plus options) →
`{id, result_url}`; `GET /v2/pre-recorded/{id}` until `done` or `error` (`queued` and
`processing` before; `error_code` on error); the transcript is
`result.transcription.full_transcript`. The options are the leaderboard's:
`{"model": <variant>, "language_config": {"languages": [lang]}}`. In `--use_url` mode the
dataset's audio URL goes straight into `audio_url` (Gladia downloads it), where the
leaderboard's SDK client cannot use URLs at all.

Limits: 135 minutes and 1000 MB per file (checked before upload); concurrency 25 on paid
plans (3 free), beyond which jobs queue (up to 300) and then 429. Errors: 401/403 stop the
run, 402 (no credit) stops it, other 4xx are permanent, 429/5xx retried after `Retry-After`.
A job `error` with an `error_code` of 500 or more is retried as a new job; below 500 the
service refused the audio, which a new job cannot change.

UNCONFIRMED: whether `model` is honoured (it is not in the SDK's request type; the leaderboard
sends it as a raw key and so does this client); the exact error body and the status of a
quota refusal (402 is assumed); whether a job `error` carries a reason beyond its code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from asyncbench.core.endpoint_spec import normalize_endpoint
from asyncbench.core.errors import ConfigError, PermanentError, ProviderError, TransientError
from asyncbench.core.limits import Limits
from asyncbench.providers._http import upload_name
from asyncbench.providers._jobs import JobProvider, Statuses, job_id_of
from asyncbench.providers.base import AudioPayload, ProviderSettings

if TYPE_CHECKING:
    import aiohttp

DEFAULT_URL = "https://api.gladia.io"
LIMITS = Limits(1000 * 10**6, 135 * 60.0, "docs.gladia.io supported formats")
STATUSES = Statuses(
    done="done", running=frozenset({"queued", "processing"}), failed=frozenset({"error"})
)


def job_error(job_id: str, job: dict[str, Any]) -> ProviderError:
    """A job that ended in `error`: a server-side code is worth a new job, others are not."""
    code = job.get("error_code")
    message = f"job {job_id} failed (error_code {code})"
    if isinstance(code, int) and code >= 500:
        return TransientError("job_failed", message)
    return PermanentError("job_failed", message)


def transcript_of(job: dict[str, Any]) -> str:
    """`result.transcription.full_transcript` of a done job (empty when it heard nothing)."""
    result = job.get("result")
    transcription = result.get("transcription") if isinstance(result, dict) else None
    text = transcription.get("full_transcript") if isinstance(transcription, dict) else None
    if text is None and isinstance(transcription, dict):
        return ""
    if not isinstance(text, str):
        raise TransientError("bad_response", f"done job {job.get('id')} has no transcription")
    return text.strip()


class GladiaProvider(JobProvider):
    prefixes = ("gladia",)
    service = "Gladia"
    key_env = "GLADIA_API_KEY"
    base_url_env = "GLADIA_BASE_URL"
    default_base_url = DEFAULT_URL
    fetches_urls = True
    default_concurrency = 20
    quota_statuses = frozenset({402})  # no credit left
    limits = LIMITS

    def __init__(self, settings: ProviderSettings) -> None:
        super().__init__(settings)
        try:
            self.base_url = normalize_endpoint(self.base_url, "/").rstrip("/")
        except ConfigError as exc:
            source = "--base_url" if settings.base_url else self.base_url_env
            raise ConfigError(f"{source}: {exc}") from None
        self.headers = {"x-gladia-key": self.api_key or ""}
        self.options: dict[str, Any] = {
            "model": self.model,
            "language_config": {"languages": [settings.language]},
        }

    def job_url(self, url: str, job_id: str) -> str | None:
        return f"{url}/v2/pre-recorded/{job_id}"

    async def submit(
        self, session: aiohttp.ClientSession, url: str, audio: AudioPayload
    ) -> tuple[str, dict[str, Any]]:
        """Upload the bytes (unless Gladia fetches a URL) and create the pre-recorded job."""
        import aiohttp

        if audio.data is not None:
            form = aiohttp.FormData()
            form.add_field(
                "audio", audio.data, filename=upload_name(audio), content_type=audio.mime
            )
            upload = await self.request(session, "POST", f"{url}/v2/upload", data=form)
            audio_url = upload.get("audio_url") if isinstance(upload, dict) else None
            if not isinstance(audio_url, str):
                raise TransientError("bad_response", f"upload reply has no audio_url: {upload}")
        else:
            audio_url = audio.url
        reply = await self.request(
            session, "POST", f"{url}/v2/pre-recorded", json={"audio_url": audio_url, **self.options}
        )
        return job_id_of(reply), {}

    async def finish(
        self, session: aiohttp.ClientSession, url: str, job_id: str, extra: dict[str, Any]
    ) -> str:
        job = await self.poll_job(
            session, f"{url}/v2/pre-recorded/{job_id}", job_id, STATUSES, job_error
        )
        return transcript_of(job)
