"""AssemblyAI async transcription: upload the audio, create a transcript job, poll it.

Wire facts (reference/PROTOCOLS.md §4): the key goes in `Authorization` as it is (no
`Bearer`); local audio is `POST /v2/upload` as raw bytes with `application/octet-stream`
(JSON there gives an upload that later fails to transcribe); `POST /v2/transcript` takes the
`audio_url` (the upload, or a public URL the service downloads itself in `--use_url` mode);
`GET /v2/transcript/{id}` until `completed` or `error`. A job `error` is a failed sample with
the service's reason; "Audio duration is too short." (clips under 160 ms) is permanent.

The account-wide HTTP limit (20,000 requests per 5 minutes) is kept by pacing every request at
60/s; beyond their concurrency the service queues jobs instead of refusing them.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from asyncbench.core.errors import PermanentError, ProviderError, TransientError
from asyncbench.core.limits import MB, Limits
from asyncbench.providers._jobs import (
    JobProvider,
    Rule,
    Statuses,
    failure_from_reason,
    job_id_of,
)
from asyncbench.providers._wire import transcript_string
from asyncbench.providers.base import AudioPayload, ProviderSettings

if TYPE_CHECKING:
    import aiohttp

DEFAULT_URL = "https://api.assemblyai.com"
TOO_SHORT = "Audio duration is too short."
_UNIVERSAL = re.compile(r"universal-(\d+)")

#: `language_code` per model [assemblyai.com/docs/pre-recorded-audio/supported-languages]:
#: Universal-3 Pro takes six languages, slam-1 English only; universal-2/best/nano take about
#: a hundred (that list is left to the service)
UNIVERSAL3_LANGUAGES = frozenset("en es de fr pt it".split())


def model_fields(model: str) -> dict[str, Any]:
    """universal-3 and newer are chosen through `speech_models` (a priority list); older ids
    (`best`, `nano`, `slam-1`, `universal-2`) through `speech_model`, as the leaderboard does."""
    m = _UNIVERSAL.match(model)
    if m and int(m.group(1)) >= 3:
        return {"speech_models": [model]}
    return {"speech_model": model}


_RULES: list[Rule] = [
    (("too short",), PermanentError, "too_short"),
    (("download", "access"), PermanentError, "fetch_failed"),
    (("transcod", "contain audio", "unsupported"), PermanentError, "bad_audio"),
    (("internal", "server error", "resubmit"), TransientError, "job_failed"),
]
STATUSES = Statuses(
    done="completed", running=frozenset({"queued", "processing"}), failed=frozenset({"error"})
)


def job_error(job_id: str, job: dict[str, Any]) -> ProviderError:
    """A transcript that ended in `error`, with the service's reason and what it means."""
    reason = job.get("error")
    text = reason.strip() if isinstance(reason, str) and reason.strip() else "no reason given"
    return failure_from_reason(f"transcript {job_id} failed: {text}", text, _RULES)


class AssemblyAIProvider(JobProvider):
    prefixes = ("assembly", "assemblyai")
    service = "AssemblyAI"
    key_env = "ASSEMBLYAI_API_KEY"
    base_url_env = "ASSEMBLYAI_BASE_URL"
    default_base_url = DEFAULT_URL
    fetches_urls = True
    default_concurrency = 200
    # upload 2.2 GB; 10 h per file [PROTOCOLS-2026 C5]
    limits = Limits(max_bytes=2200 * MB, max_seconds=10 * 3600.0)
    accepts_flac = True
    timeout_per_audio_s = 0.5  # queued, processed and polled within one call
    request_rate = 60.0
    languages = (
        ("universal-3", UNIVERSAL3_LANGUAGES),
        ("slam-1", frozenset({"en"})),
        ("", None),
    )

    def __init__(self, settings: ProviderSettings) -> None:
        super().__init__(settings)
        self.headers = {"Authorization": self.api_key or ""}

    def job_url(self, url: str, job_id: str) -> str | None:
        return f"{url}/v2/transcript/{job_id}"

    async def submit(
        self, session: aiohttp.ClientSession, url: str, audio: AudioPayload
    ) -> tuple[str, dict[str, Any]]:
        """Upload the bytes (unless the service fetches a URL) and create the transcript."""
        if audio.data is not None:
            upload = await self.request(
                session,
                "POST",
                f"{url}/v2/upload",
                data=audio.data,
                headers={"Content-Type": "application/octet-stream"},
            )
            audio_url = upload.get("upload_url") if isinstance(upload, dict) else None
            if not isinstance(audio_url, str):
                raise TransientError("bad_response", f"upload reply has no upload_url: {upload}")
        else:
            audio_url = audio.url
        reply = await self.request(
            session,
            "POST",
            f"{url}/v2/transcript",
            json={
                "audio_url": audio_url,
                "language_code": self.settings.language,
                **model_fields(self.model),
            },
        )
        return job_id_of(reply), {}

    async def finish(
        self, session: aiohttp.ClientSession, url: str, job_id: str, extra: dict[str, Any]
    ) -> str:
        job = await self.poll_job(
            session, f"{url}/v2/transcript/{job_id}", job_id, STATUSES, job_error
        )
        text = job.get("text")
        # a silent clip completes with no text; a text of another type is a broken reply
        return "" if text is None else transcript_string(text, f"transcript {job_id} text")
