"""Provider registry: the model name's prefix (`aldea/default`) picks the client module.

Modules are imported only when chosen, so adding a provider costs nothing to the others.
"""

from __future__ import annotations

import importlib

from asyncbench.core.errors import ConfigError
from asyncbench.providers.base import AudioPayload, Provider, ProviderSettings

__all__ = [
    "REGISTRY",
    "VARIANTS",
    "AudioPayload",
    "Provider",
    "ProviderSettings",
    "resolve",
    "split_model",
]

#: prefix -> "module:Class"
REGISTRY: dict[str, str] = {
    "aldea": "asyncbench.providers.aldea:AldeaProvider",
    "assembly": "asyncbench.providers.assemblyai:AssemblyAIProvider",
    "assemblyai": "asyncbench.providers.assemblyai:AssemblyAIProvider",
    "revai": "asyncbench.providers.revai:RevAIProvider",
    "speechmatics": "asyncbench.providers.speechmatics:SpeechmaticsProvider",
    "speechmatics-batch": "asyncbench.providers.speechmatics:SpeechmaticsProvider",
    "speechmatics-rt": "asyncbench.providers.speechmatics_rt:SpeechmaticsRTProvider",
    "openai": "asyncbench.providers.openai:OpenAIProvider",
    "openai-compatible": "asyncbench.providers.openai:OpenAICompatibleProvider",
    "groq": "asyncbench.providers.groq:GroqProvider",
    "elevenlabs": "asyncbench.providers.elevenlabs:ElevenLabsProvider",
    "deepgram": "asyncbench.providers.deepgram:DeepgramProvider",
    "soniox": "asyncbench.providers.soniox:SonioxProvider",
    "gladia": "asyncbench.providers.gladia:GladiaProvider",
    "microsoft": "asyncbench.providers.microsoft:MicrosoftProvider",
    "zoom": "asyncbench.providers.zoom:ZoomProvider",
    "modulate": "asyncbench.providers.modulate:ModulateProvider",
    "reson8": "asyncbench.providers.reson8:Reson8Provider",
    "smallestai": "asyncbench.providers.smallestai:SmallestAIProvider",
    "aquavoice": "asyncbench.providers.aquavoice:AquaVoiceProvider",
    "deepgram-live": "asyncbench.providers.deepgram_live:DeepgramLiveProvider",
    "assemblyai-rt": "asyncbench.providers.assemblyai_rt:AssemblyAIRTProvider",
    "elevenlabs-rt": "asyncbench.providers.elevenlabs_rt:ElevenLabsRTProvider",
    "openai-rt": "asyncbench.providers.openai_rt:OpenAIRTProvider",
    "meta": "asyncbench.providers.meta:MetaProvider",
    "sprag": "asyncbench.providers.sprag:SpragProvider",
    "sophea": "asyncbench.providers.sophea:SopheaProvider",
    "gemini": "asyncbench.providers.gemini:GeminiProvider",
}

#: whole model names served by another client than their prefix's (a provider whose
#: streaming variant is a different protocol): "prefix/model" -> "module:Class"
VARIANTS: dict[str, str] = {
    "meta/muse-voice-transcribe-streaming": "asyncbench.providers.meta_stream:MetaStreamProvider",
}


def split_model(model_name: str) -> tuple[str, str]:
    """`provider/model` → (provider, model); the model part may itself contain slashes."""
    prefix, sep, model = model_name.partition("/")
    if not sep or not prefix or not model:
        raise ConfigError(
            f"--model_name {model_name!r} must be PROVIDER/MODEL, e.g. aldea/default; "
            f"known providers: {', '.join(sorted(REGISTRY))}"
        )
    return prefix, model


def resolve(model_name: str) -> tuple[type[Provider], str]:
    prefix, model = split_model(model_name)
    target = VARIANTS.get(f"{prefix}/{model}") or REGISTRY.get(prefix)
    if target is None:
        raise ConfigError(
            f"unknown provider prefix {prefix!r} in --model_name {model_name!r}; "
            f"known providers: {', '.join(sorted(REGISTRY))}"
        )
    module_name, _, cls_name = target.partition(":")
    cls: type[Provider] = getattr(importlib.import_module(module_name), cls_name)
    return cls, model
