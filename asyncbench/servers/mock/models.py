"""The model names each provider documents, for `asyncbench mock --strict_models`.

By default the mock answers any model name, so a dry run works whatever a user types. With
`--strict_models` the protocols below refuse a name their service does not list, in the
service's own error shape, so a typo (`openai/whisper-l`) fails against the mock exactly as it
would against the real API, before anyone pays. Groq, Gladia, Aqua Voice and OpenAI's realtime
endpoint already refuse unknown names always (their mocks hold their own lists); the other
protocols take a model the client has no choice over, or one whose list is not public.

Each list is what the provider's API reference names for its transcription endpoint; a model
added since is one line here.
"""

from __future__ import annotations

#: OpenAI `POST /v1/audio/transcriptions`, `model`
#: (platform.openai.com/docs/api-reference/audio/createTranscription)
OPENAI = frozenset(
    {"whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe", "gpt-4o-transcribe-diarize"}
)

_DEEPGRAM_DOMAINS = {
    "nova-3": ("general", "medical"),
    "nova-2": (
        *("general", "meeting", "phonecall", "finance", "conversationalai", "voicemail"),
        *("video", "medical", "drivethru", "automotive", "atc"),
    ),
    "nova": ("general", "phonecall"),
    "enhanced": ("general", "meeting", "phonecall", "finance"),
    "base": (
        "general",
        "meeting",
        "phonecall",
        "voicemail",
        "finance",
        "conversationalai",
        "video",
    ),
}
#: Deepgram `POST /v1/listen?model=`: a model, or model-domain
#: (developers.deepgram.com/docs/models-languages-overview)
DEEPGRAM = frozenset(
    {*_DEEPGRAM_DOMAINS}
    | {f"{m}-{d}" for m, domains in _DEEPGRAM_DOMAINS.items() for d in domains}
    | {"whisper", *(f"whisper-{s}" for s in ("tiny", "base", "small", "medium", "large"))}
)
#: ElevenLabs `POST /v1/speech-to-text`, `model_id`
#: (elevenlabs.io/docs/api-reference/speech-to-text/convert)
ELEVENLABS = frozenset({"scribe_v1", "scribe_v1_experimental", "scribe_v2"})
#: AssemblyAI `POST /v2/transcript`, `speech_model` or `speech_models`
#: (assemblyai.com/docs/api-reference/transcripts/submit)
ASSEMBLYAI = frozenset({"best", "nano", "slam-1", "universal", "universal-2", "universal-3-pro"})

DOCUMENTED: dict[str, frozenset[str]] = {
    "openai": OPENAI,
    "deepgram": DEEPGRAM,
    "elevenlabs": ELEVENLABS,
    "assemblyai": ASSEMBLYAI,
}


def unknown(strict: bool, provider: str, model: str | None) -> bool:
    """Whether a strict mock refuses `model` for `provider` (never when not strict, never for
    a provider without a list here, never for no model at all: that is the protocol's own
    "missing field" error)."""
    names = DOCUMENTED.get(provider)
    return strict and names is not None and model is not None and model not in names
