"""Rev AI async jobs: submit, poll `jobs/{id}`, fetch the JSON transcript.

Wire facts (reference/PROTOCOLS.md §6): base `https://api.rev.ai/speechtotext/v1`, `Bearer` key.
A local file is multipart with a `media` part (the audio, named by its real type) and an
`options` part (the job options as a JSON string); a URL job (`--use_url`) is a JSON body with
`source_config: {url}`. Status is `in_progress`, `transcribed` or `failed` (with `failure`
and `failure_detail`). The transcript is asked for with
`Accept: application/vnd.rev.transcript.v1.0+json`; spaces and punctuation arrive as `punct`
elements, so the text is every element's value joined with nothing in between.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import aiohttp
import orjson

from asyncbench.core.errors import PermanentError, ProviderError, TransientError
from asyncbench.core.limits import MB, Limits
from asyncbench.providers._jobs import (
    JobProvider,
    Statuses,
    job_id_of,
    with_default_path,
)
from asyncbench.providers._wire import transcript_string
from asyncbench.providers.base import AudioPayload, ProviderSettings

if TYPE_CHECKING:
    from collections.abc import Mapping

DEFAULT_URL = "https://api.rev.ai/speechtotext/v1"

#: `language` per transcriber [docs.rev.ai/api/asynchronous/reference (language), the
#: language list of the async API]: machine takes these ISO 639-1 codes (Mandarin is `cmn`
#: there, so `zh` is not offered); fusion and human are English and Spanish / English only
MACHINE_LANGUAGES = frozenset(
    """
    en ar bg ca hr cs da nl fi fr de el hi hu id it ja ko lv lt ms no pl pt ro ru sk sl es
    sv tr uk vi
    """.split()
)
TRANSCRIPT_JSON = "application/vnd.rev.transcript.v1.0+json"

# `failure` codes and what they mean for a benchmark (Rev's job failure enum, as far as the
# public docs and SDK show it; codes not listed are permanent "job_failed").
_FAILURES: dict[str, tuple[type[ProviderError], str]] = {
    "internal_processing": (TransientError, "job_failed"),
    "transcription": (TransientError, "job_failed"),
    "download_failure": (PermanentError, "fetch_failed"),
    "invalid_media": (PermanentError, "bad_audio"),
    "empty_media": (PermanentError, "bad_audio"),
    "duration_too_short": (PermanentError, "too_short"),
    "duration_exceeded": (PermanentError, "too_large"),
    "insufficient_balance": (PermanentError, "quota"),
    "invoicing": (PermanentError, "quota"),
}


STATUSES = Statuses(
    done="transcribed", running=frozenset({"in_progress"}), failed=frozenset({"failed"})
)


def job_error(job_id: str, job: Mapping[str, Any]) -> ProviderError:
    failure = str(job.get("failure") or "unknown")
    detail = str(job.get("failure_detail") or "").strip()
    cls, kind = _FAILURES.get(failure, (PermanentError, "job_failed"))
    return cls(kind, f"job {job_id} failed: {failure}" + (f": {detail}" if detail else ""))


def transcript_text(doc: Any) -> str:
    """Every element value of every monologue, in order, joined with nothing in between."""
    if not isinstance(doc, dict) or not isinstance(doc.get("monologues"), list):
        raise TransientError("bad_response", f"transcript has no monologues: {str(doc)[:200]}")
    pieces = [
        transcript_string(el.get("value") or "", "element value")
        for mono in doc["monologues"]
        if isinstance(mono, dict)
        for el in mono.get("elements") or ()
        if isinstance(el, dict)
    ]
    return " ".join("".join(pieces).split())


class RevAIProvider(JobProvider):
    prefixes = ("revai",)
    service = "Rev AI"
    key_env = "REVAI_API_KEY"
    base_url_env = "REVAI_BASE_URL"
    default_base_url = DEFAULT_URL
    fetches_urls = True
    default_concurrency = 20
    languages = (
        ("fusion", frozenset({"en", "es"})),
        ("human", frozenset({"en"})),
        ("", MACHINE_LANGUAGES),
    )
    # multipart at most 2 GB; at most 17 h per file [PROTOCOLS-2026 C5]
    limits = Limits(max_bytes=2 * 1024 * MB, max_seconds=17 * 3600.0)
    accepts_flac = True
    timeout_per_audio_s = 0.5  # queued, processed and polled within one call

    def __init__(self, settings: ProviderSettings) -> None:
        super().__init__(settings)
        self.base_url = with_default_path(self.base_url, "/speechtotext/v1")
        self.headers = {"Authorization": f"Bearer {self.api_key}"}
        # the model part of `revai/<model>` is Rev's transcriber: machine, fusion, ...
        self.options = {"transcriber": self.model, "language": settings.language}

    def job_url(self, url: str, job_id: str) -> str | None:
        return f"{url}/jobs/{job_id}"

    async def submit(
        self, session: aiohttp.ClientSession, url: str, audio: AudioPayload
    ) -> tuple[str, dict[str, Any]]:
        """Send the media (or its URL, which Rev fetches) with the options: a new job."""
        if audio.data is not None:
            form = aiohttp.FormData(default_to_multipart=True)
            form.add_field("media", audio.data, filename=audio.filename, content_type=audio.mime)
            form.add_field(
                "options", orjson.dumps(self.options).decode(), content_type="application/json"
            )
            job = await self.request(session, "POST", f"{url}/jobs", data=form)
        else:
            body = {"source_config": {"url": audio.url}, **self.options}
            job = await self.request(session, "POST", f"{url}/jobs", json=body)
        return job_id_of(job), {}

    async def finish(
        self, session: aiohttp.ClientSession, url: str, job_id: str, extra: dict[str, Any]
    ) -> str:
        await self.poll_job(session, f"{url}/jobs/{job_id}", job_id, STATUSES, job_error)
        doc = await self.patiently(
            lambda: self.request(
                session,
                "GET",
                f"{url}/jobs/{job_id}/transcript",
                headers={"Accept": TRANSCRIPT_JSON},
            )
        )
        return transcript_text(doc)
