"""The provider conformance table: one row per client in the registry, read by
`test_provider_conformance.py`, which runs the checks every provider must pass (auth header,
missing and rejected key, 429 with Retry-After, 5xx retried, URL mode, failed jobs, stream
faults) against the strict mock.

A new provider adds one `Case` here and keeps only its specifics (request shape, replies,
options) in its own test file, as an lm-evaluation-harness task brings only its config.
"""

from __future__ import annotations

from dataclasses import dataclass

from asyncbench.providers import REGISTRY, VARIANTS, resolve

KEY = "conf-key-0123456789"


@dataclass(frozen=True)
class Case:
    """What the shared checks need to know about one provider."""

    #: a model name the client accepts, e.g. `zoom/scribe_v1`
    model: str
    #: the mock's name for the protocol (its counters and recorded requests)
    mock: str
    #: how the key travels: (header, value with `{key}`), read from the request the mock
    #: recorded under `auth_record` (default: the mock's name); None = not a header (a token
    #: bought with it, or a WebSocket message), checked by the provider's own tests
    auth: tuple[str, str] | None
    #: "sync" (one request per clip), "job" (submit and poll) or "stream" (WebSocket)
    wire: str = "sync"
    #: the key that makes the mock answer each clip's first attempt 429 with Retry-After;
    #: None: the generic 429s of `MockConfig.rate_429` (with Retry-After) are used instead
    rate_limit_key: str | None = "mock-rate_limit"
    auth_record: str | None = None
    #: job providers: (error kind, the service's reason) when every job fails inside the
    #: service, and the mock's counter of jobs created (a 429 must never create a second)
    job_failure: tuple[str, str] | None = None
    jobs: str | None = None
    #: the mock answers `MockConfig.rate_5xx` with 503s (every HTTP protocol does)
    server_errors: bool = True
    #: clips must survive resampling (24 kHz-only APIs)
    robust: bool = False
    #: streams: the protocol has an error message the mock can send mid-stream
    error_message: bool = False
    #: streams: the mock can send another session's final first (`stream_fault="foreign"`),
    #: which the client must refuse as `protocol` (finals bound to their own stream)
    foreign: bool = False
    #: bytes that are not audio: (the failed line's kind, what its error says), recorded at
    #: the first attempt; None: not checked here (streams refuse them before connecting)
    undecodable: tuple[str, str] | None = None
    #: the exact line a rejected key stops the run with (None: only its kind and variable)
    rejected: str | None = None
    #: a spent balance: (the key of the mock's scenario, the status, words of the message);
    #: the run stops with kind "quota" naming the key's variable
    quota: tuple[str, int, str] | None = None
    #: the HTTP status of a rejected key (Google says 400 API_KEY_INVALID)
    rejected_status: int = 401
    #: appended to the mock's URL to make the client's base URL (a service whose real path
    #: another one's mock already serves is mocked under a prefix)
    base_suffix: str = ""

    @property
    def prefix(self) -> str:
        return self.model.split("/", 1)[0]

    @property
    def key_env(self) -> str:
        cls, _ = resolve(self.model)
        assert cls.key_env is not None
        return cls.key_env

    def __str__(self) -> str:  # the pytest id
        return self.model if self.model in VARIANTS else self.prefix


CASES: tuple[Case, ...] = (
    Case("aldea/default", "aldea", ("Authorization", "Bearer {key}"), rate_limit_key=None),
    Case("openai/whisper-1", "openai", ("Authorization", "Bearer {key}"), rate_limit_key=None),
    Case("openai-compatible/whisper", "openai", ("Authorization", "Bearer {key}"),
         rate_limit_key=None),
    Case("groq/whisper-large-v3", "groq", ("Authorization", "Bearer {key}")),
    Case("elevenlabs/scribe_v1", "elevenlabs", ("xi-api-key", "{key}"), rate_limit_key=None),
    Case("deepgram/nova-3", "deepgram", ("Authorization", "Token {key}"),
         rejected="HTTP 401: key rejected; check DEEPGRAM_API_KEY: Invalid credentials.",
         quota=("mock-insufficient_credits", 402, ""),
         undecodable=("bad_request", "HTTP 400: Bad Request: failed to process audio: corrupt or "
                      "unsupported data")),
    Case("microsoft/azure-speech-07-2026", "microsoft", ("Ocp-Apim-Subscription-Key", "{key}"),
         rejected="HTTP 401: key rejected; check AZURE_API_KEY: Access denied due to invalid "
                  "subscription key or wrong API endpoint. Make sure to provide a valid key for "
                  "an active subscription and use a correct regional API endpoint for your "
                  "resource.",
         quota=("mock-quota", 403, ""),
         undecodable=("bad_request", "HTTP 422: The audio could not be decoded.")),
    Case("zoom/scribe_v2_pro", "zoom", ("Authorization", "Bearer {key}"),
         rejected="HTTP 401: key rejected; check ZOOM_API_KEY: Invalid access token.",
         undecodable=("bad_request", "HTTP 400: Unsupported or corrupt audio file.")),
    Case("modulate/vfast", "modulate", ("X-API-Key", "{key}"),
         rate_limit_key="mock-concurrency_limit", quota=("mock-quota", 403, "not enabled"),
         undecodable=("bad_request", "HTTP 400: could not decode audio")),
    Case("reson8/resonant-1", "reson8", ("Authorization", "ApiKey {key}"),
         auth_record="reson8 token", quota=("mock-no_credit", 402, ""),
         undecodable=("bad_request", "HTTP 400: could not decode audio")),
    Case("smallestai/pulse", "smallestai", ("Authorization", "Bearer {key}"),
         quota=("mock-no_credit", 402, ""),
         undecodable=("bad_request", "HTTP 400: could not decode audio")),
    Case("aquavoice/avalon-v1-en", "aquavoice", ("Authorization", "Bearer {key}")),
    Case("meta/muse-voice-transcribe", "meta", ("Authorization", "Bearer {key}"),
         undecodable=("bad_request", "HTTP 400: Could not decode audio")),
    Case("sprag/symphony", "sprag", ("Authorization", "Bearer {key}"), base_suffix="/sprag/v1",
         undecodable=("bad_request", "HTTP 400: Audio file might be corrupted or unsupported")),
    Case("sophea/asr-k1", "sophea", ("X-API-Key", "{key}"),
         undecodable=("bad_request", "HTTP 400: could not decode audio")),
    Case("gemini/gemini-3.5-transcribe", "gemini", ("x-goog-api-key", "{key}"),
         rejected_status=400,
         undecodable=("bad_request", "HTTP 400: Unable to process input audio")),
    Case("assemblyai/best", "assemblyai", ("Authorization", "{key}"), "job", None,
         job_failure=("job_failed", "Internal server error while transcribing. Please resubmit"),
         jobs="assemblyai.jobs"),
    Case("revai/machine", "revai", ("Authorization", "Bearer {key}"), "job", None,
         job_failure=("job_failed", "failed: internal_processing: Internal processing error"),
         jobs="revai.jobs"),
    Case("speechmatics/enhanced", "speechmatics", ("Authorization", "Bearer {key}"), "job",
         None, job_failure=("job_failed", "rejected: Job rejected: internal error, please "
                            "resubmit"), jobs="speechmatics.jobs"),
    Case("soniox/stt-async-v5", "soniox", ("Authorization", "Bearer {key}"), "job", None,
         job_failure=("job_failed", "internal_error: Internal error while transcribing"),
         jobs="soniox.jobs", undecodable=("bad_audio", "audio_decode_error"),
         rejected="HTTP 401: key rejected; check SONIOX_API_KEY: Invalid API key.",
         quota=("mock-no_balance", 402, "no balance left")),
    Case("gladia/solaria-1", "gladia", ("x-gladia-key", "{key}"), "job", None,
         job_failure=("job_failed", "(error_code 500)"), jobs="gladia.jobs",
         undecodable=("job_failed", "error_code 400"),
         rejected="HTTP 401: key rejected; check GLADIA_API_KEY: Invalid or missing x-gladia-key",
         quota=("mock-no_credit", 402, "")),
    Case("deepgram-live/nova-3", "deepgram-live", None, "stream", None, server_errors=False,
         foreign=True),
    Case("assemblyai-rt/universal-streaming", "assemblyai-rt", None, "stream", None,
         server_errors=False, foreign=True),
    Case("elevenlabs-rt/scribe_v2_realtime", "elevenlabs-rt", None, "stream", None,
         server_errors=False, error_message=True, foreign=True),
    Case("openai-rt/gpt-4o-transcribe", "openai-rt", None, "stream", None, server_errors=False,
         robust=True, error_message=True, foreign=True),
    Case("meta/muse-voice-transcribe-streaming", "meta-stream", None, "stream", None,
         server_errors=False, error_message=True, foreign=True),
    Case("speechmatics-rt/enhanced", "speechmatics-rt", None, "stream", None,
         server_errors=False, foreign=True),
)  # fmt: skip

BY_PREFIX: dict[str, Case] = {case.prefix: case for case in CASES if case.model not in VARIANTS}


#: (fault the mock injects, the kind the attempt must fail with) for every stream
STREAM_FAULTS: tuple[tuple[Case, str, str], ...] = tuple(
    (case, fault, kind)
    for case in CASES
    if case.wire == "stream"
    for fault, kind in (
        ("drop", "connection"),
        ("no_final", "final_timeout"),
        *((("error", "server_error"),) if case.error_message else ()),
        *((("foreign", "protocol"),) if case.foreign else ()),
    )
)


def case_for(prefix: str) -> Case | None:
    """The row that covers a registry prefix (or a whole model name of `VARIANTS`): its own,
    or one of an alias of the same class (`assembly` is `assemblyai`, `speechmatics-batch` is
    `speechmatics`)."""
    if prefix in VARIANTS:
        return next((c for c in CASES if c.model == prefix), None)
    if prefix in BY_PREFIX:
        return BY_PREFIX[prefix]
    target = REGISTRY[prefix]
    return next((c for c in CASES if REGISTRY.get(c.prefix) == target), None)
