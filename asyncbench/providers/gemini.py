"""Gemini transcription, `gemini/gemini-3.5-transcribe`: one Interactions API request per clip.

As the board runs it (huggingface/open_asr_leaderboard@8159d955 api/providers/gemini_provider.py,
in its index, branch unknown; docs ai.google.dev/gemini-api/docs/transcribe and
/interactions): the google-genai SDK's `client.interactions.create(model=<variant>,
input=[{"type": "audio", "data": <base64>, "mime_type": "audio/wav"}],
generation_config={"transcription_config": {"language_codes": [<locale>]}})`, audio inline (no
Files API upload), key `GEMINI_API_KEY`. On the wire, as google-genai 3.3.0 sends it (seen
against the mock; the API is GA since June 2026): `POST
https://generativelanguage.googleapis.com/v1/interactions` with the key in `x-goog-api-key`
and that JSON body, the input list wrapped in one step: `"input": [{"type": "user_input",
"content": [<the audio item>]}]` (the docs' curl examples still show `/v1beta` and a bare
content list). The locale comes from the board's table (en-US, de-DE,
fr-FR, it-IT, es-419, pt-BR, nl-NL, hi-IN, hy-AM; another code is sent as it is). The
transcript is the SDK's `output_text`: the text items of the reply's last `model_output`
steps (after the last `user_input`; `thought` steps skipped), joined.

Errors are Google's `{"error": {"code", "message", "status"}}`: a 400 "API key not valid"
and 401/403 stop the run as a rejected key; 429 `RESOURCE_EXHAUSTED` waits out its
`Retry-After`, or the `retryDelay` of its RetryInfo detail; other 4xx are permanent, 5xx
retried. An interaction whose `status` is not `completed` is retried.

UNCONFIRMED (in-index, branch unknown): the inline size limit for this endpoint (20 MB for
generateContent's inline data; not enforced here), the account's rate limits, and that the
service stores each interaction unless `store: false` (the board sends no `store`, so neither
does this client). A forum thread (discuss.ai.google.dev, 2026-08-28) reports empty
transcripts (HTTP 200, no output tokens) from this model; they are scored as deletions, as
on the board.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import Any

import orjson

from asyncbench.core.errors import PermanentError, ProviderError, TransientError
from asyncbench.providers._http import HTTPProvider, audio_bytes, read_error, reply_json
from asyncbench.providers.base import AudioPayload, excerpt, http_error

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"
#: the board's language code → locale table (es-419: the docs list no es-ES)
LOCALES = {
    "en": "en-US",
    "de": "de-DE",
    "fr": "fr-FR",
    "it": "it-IT",
    "es": "es-419",
    "pt": "pt-BR",
    "nl": "nl-NL",
    "hi": "hi-IN",
    "hy": "hy-AM",
}
_DELAY = re.compile(r"^(\d+(?:\.\d+)?)s$")


def output_text(reply: Any, body: bytes) -> str:
    """The SDK's `output_text`: the text of the last model output of this request."""
    steps = reply.get("steps") if isinstance(reply, dict) else None
    if not isinstance(steps, list):
        raise TransientError("bad_response", f"no steps in reply: {excerpt(body)}")
    pieces: list[str] = []
    collecting = False
    for step in reversed(steps):
        kind = step.get("type") if isinstance(step, dict) else None
        if kind == "user_input":
            break
        if kind == "thought":
            continue
        if kind != "model_output":
            if collecting:
                break
            continue
        content = step.get("content")
        for item in reversed(content if isinstance(content, list) else []):
            if not isinstance(item, dict) or item.get("type") != "text":
                if collecting:
                    return "".join(reversed(pieces)).strip()
                continue
            collecting = True
            text = item.get("text")
            pieces.append(text if isinstance(text, str) else "")
    return "".join(reversed(pieces)).strip()


def retry_delay(body: bytes) -> float | None:
    """Seconds from a RetryInfo detail (`"retryDelay": "7s"`), the wait Google's 429s name."""
    try:
        details = orjson.loads(body).get("error", {}).get("details", [])
    except (orjson.JSONDecodeError, AttributeError):
        return None
    for detail in details if isinstance(details, list) else []:
        match = (
            _DELAY.match(str(detail.get("retryDelay", ""))) if isinstance(detail, dict) else None
        )
        if match:
            return float(match.group(1))
    return None


class GeminiProvider(HTTPProvider):
    prefixes = ("gemini",)
    key_env = "GEMINI_API_KEY"
    base_url_env = "GEMINI_BASE_URL"
    default_base_url = DEFAULT_BASE_URL
    default_concurrency = 8
    default_timeout = 300.0
    api_prefix = "/v1"
    resource = "/interactions"

    def request(self, audio: AudioPayload) -> dict[str, Any]:
        language = self.settings.language
        body = {
            "model": self.model,
            "input": [
                {
                    "type": "user_input",
                    "content": [
                        {
                            "type": "audio",
                            "data": base64.b64encode(audio_bytes(audio)).decode("ascii"),
                            "mime_type": audio.mime,
                        }
                    ],
                }
            ],
            "generation_config": {
                "transcription_config": {"language_codes": [LOCALES.get(language, language)]}
            },
        }
        return {
            "data": orjson.dumps(body),
            "headers": {"x-goog-api-key": self.api_key or "", "Content-Type": "application/json"},
        }

    def error(self, status: int, body: bytes, headers: Mapping[str, str]) -> ProviderError:
        info = read_error(body)
        if status == 400 and ("API_KEY_INVALID" in body.decode("utf-8", "replace")):
            return PermanentError(
                "auth", f"key rejected; check {self.key_env}: {info.message}", status=status
            )
        err = http_error(status, info.message, headers, key_env=self.key_env)
        if status == 429 and err.retry_after is None:
            err.retry_after = retry_delay(body)
        return err

    def parse(self, body: bytes, content_type: str) -> str:
        reply = reply_json(body, content_type)
        state = reply.get("status") if isinstance(reply, dict) else None
        if state not in (None, "completed"):
            raise TransientError("job_failed", f"interaction ended {state!r}: {excerpt(body)}")
        return output_text(reply, body)
