"""Speechmatics batch (jobs API v2): multipart submit, poll the job, fetch the text transcript.

Wire facts (reference/PROTOCOLS.md §7): `Bearer` key; `POST /jobs` is always multipart with a
`config` part (the job config as JSON) plus a `data_file` part for local audio; a URL job
(`--use_url`) puts `fetch_data.url` in the config and sends no `data_file`, yet must still be
multipart (aiohttp sends a form of plain fields urlencoded unless told otherwise). Status from
`GET /jobs/{id}` (`running`, `done`, `rejected`, `deleted`, `expired`), asked with `wait=0` so
the server answers at once; the text from `GET /jobs/{id}/transcript?format=txt`.

The documented request limits (10 new jobs/s, 50 status requests/s) are kept inside the
client, just under each, for all workers together: past them the service answers 429.
The `speechmatics/<model>` part is the operating point (`enhanced`, `standard`).
"""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson

from asyncbench.core.errors import PermanentError, ProviderError, TransientError
from asyncbench.core.limits import MB, Limits
from asyncbench.core.service_languages import SPEECHMATICS_LANGUAGES
from asyncbench.providers._jobs import (
    JobProvider,
    Rule,
    Statuses,
    failure_from_reason,
    job_id_of,
    with_default_path,
)
from asyncbench.providers.base import AudioPayload, ProviderSettings

DEFAULT_URL = "https://asr.api.speechmatics.com/v2"


_RULES: list[Rule] = [
    (("failed to fetch file",), PermanentError, "fetch_failed"),
    (("invalid audio", "format not supported"), PermanentError, "bad_audio"),
    (("internal",), TransientError, "job_failed"),
]
STATUSES = Statuses(
    done="done",
    running=frozenset({"running"}),
    failed=frozenset({"rejected", "deleted", "expired"}),
)


def job_error(job_id: str, job: dict[str, Any]) -> ProviderError:
    """A job that ended without a transcript, with the service's own reason."""
    reasons = [
        e["message"]
        for e in job.get("errors") or ()
        if isinstance(e, dict) and isinstance(e.get("message"), str)
    ]
    reason = "; ".join(reasons) or "no reason given"
    return failure_from_reason(f"job {job_id} {job.get('status')}: {reason}", reason, _RULES)


def transcription_config(settings: ProviderSettings, **extra: object) -> dict[str, object]:
    """`transcription_config` for batch and real-time alike: the model part of the name goes
    in `model` (`enhanced`, `standard`), the current field (`operating_point` is its
    deprecated name, as issue 11 found with the official SDKs); entities as the leaderboard's
    harness asks."""
    return {
        "language": settings.language,
        "model": settings.model,
        "enable_entities": True,
        **extra,
    }


class SpeechmaticsProvider(JobProvider):
    prefixes = ("speechmatics", "speechmatics-batch")
    service = "Speechmatics"
    key_env = "SPEECHMATICS_API_KEY"
    base_url_env = "SPEECHMATICS_BASE_URL"
    default_base_url = DEFAULT_URL
    fetches_urls = True
    default_concurrency = 30
    limits = Limits(max_bytes=1000 * MB)  # a POST body under 1 GB [PROTOCOLS-2026 C5]
    accepts_flac = True
    timeout_per_audio_s = 0.5  # queued, processed and polled within one call
    submit_rate = 9.5
    status_rate = 47.5
    languages = (("", SPEECHMATICS_LANGUAGES),)

    def __init__(self, settings: ProviderSettings) -> None:
        super().__init__(settings)
        self.base_url = with_default_path(self.base_url, "/v2")
        self.headers = {"Authorization": f"Bearer {self.api_key}"}
        self.transcription_config = transcription_config(settings)

    def job_config(self, audio: AudioPayload) -> bytes:
        config: dict[str, Any] = {
            "type": "transcription",
            "transcription_config": self.transcription_config,
        }
        if audio.data is None:
            config["fetch_data"] = {"url": audio.url}
        return orjson.dumps(config)

    def job_url(self, url: str, job_id: str) -> str | None:
        return f"{url}/jobs/{job_id}"

    async def submit(
        self, session: aiohttp.ClientSession, url: str, audio: AudioPayload
    ) -> tuple[str, dict[str, Any]]:
        """POST the job config and the file (or a `fetch_data` URL): a new job."""
        form = aiohttp.FormData(default_to_multipart=True)
        form.add_field("config", self.job_config(audio).decode())
        if audio.data is not None:
            form.add_field(
                "data_file", audio.data, filename=audio.filename, content_type=audio.mime
            )
        job = await self.request(session, "POST", f"{url}/jobs", data=form, pace=self.submit_pace)
        return job_id_of(job), {}

    async def finish(
        self, session: aiohttp.ClientSession, url: str, job_id: str, extra: dict[str, Any]
    ) -> str:
        await self.poll_job(
            session,
            f"{url}/jobs/{job_id}",
            job_id,
            STATUSES,
            job_error,
            key="job",
            params={"wait": "0"},
            pace=self.status_pace,
        )
        text = await self.patiently(
            lambda: self.request(
                session,
                "GET",
                f"{url}/jobs/{job_id}/transcript",
                params={"format": "txt"},
                pace=self.status_pace,
                parse_json=False,
            )
        )
        return " ".join(text.split())
