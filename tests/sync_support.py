"""What the synchronous-provider tests share (OpenAI, OpenAI-compatible, Groq, ElevenLabs,
Deepgram), on top of `provider_runs`: an environment without the developer's own keys, a
client pointed at the mock, and the real engine run in-process over a few watermarked clips,
so every error kind is exercised with real retries and real result lines in a second, not in
a CLI subprocess each.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp

from asyncbench.dataset import Sample
from asyncbench.endpoints import EndpointPool
from asyncbench.engine import Engine, EngineOptions
from asyncbench.providers import resolve
from asyncbench.providers.base import AudioPayload, Provider, ProviderSettings

from .provider_runs import CliRun, engine_run, env_with, prepare_payloads, run_split, wav_clip
from .support import read_results, sentence

#: variables of these providers a developer may have set (cli_env already drops OPENAI_*)
SYNC_ENV = ("GROQ_", "ELEVENLABS_", "DEEPGRAM_")


def sync_env(**values: str) -> dict[str, str]:
    """The CLI's environment with no provider key or URL but the ones given."""
    env = {k: v for k, v in env_with().items() if not k.startswith(SYNC_ENV)}
    env.update(values)
    return env


async def split_run(
    model_name: str, split: Path, results: Path, mock_url: str, env: dict[str, str], *extra: str
) -> CliRun:
    """`asyncbench run` on the small split against the mock, for the shared checks."""
    return CliRun(*(await run_split(model_name, split, results, mock_url, env, *extra)), results)


def client(model_name: str, base_url: str | None, key: str | None = "test-key-1234") -> Provider:
    """The provider for `model_name` (e.g. `groq/whisper-large-v3`) pointed at `base_url`."""
    cls, model = resolve(model_name)
    return cls(ProviderSettings(model=model, api_key=key, base_url=base_url))


async def transcribe_one(provider: Provider, audio: AudioPayload) -> str:
    async with aiohttp.ClientSession() as session:
        return await provider.transcribe(session, provider.endpoint_urls()[0], audio)


def clips(n: int, seconds: float = 1.0) -> list[tuple[str, AudioPayload]]:
    """(reference, WAV payload that says it) for `n` distinct sentences."""
    return [(text, wav_clip(text, seconds)) for text in (sentence(i) for i in range(n))]


async def run_engine(
    provider: Provider,
    items: list[tuple[str, AudioPayload]],
    path: Path,
    *,
    workers: int = 4,
    max_retries: int = 3,
) -> tuple[Engine, list[dict]]:
    """The real engine over `items`, one result line each (or none after a fatal error)."""
    samples = [
        Sample(id=f"c{i}", index=i, reference=text, duration=audio.duration)
        for i, (text, audio) in enumerate(items)
    ]
    engine = await engine_run(
        provider,
        EndpointPool(provider.endpoint_urls(), workers),
        prepare_payloads({f"c{i}": audio for i, (_, audio) in enumerate(items)}),
        iter([samples]),
        path,
        EngineOptions(max_workers=workers, backoff_base=0.01, max_retries=max_retries, timeout=20),
    )
    return engine, read_results(path)


def by_id(rows: list[dict]) -> dict[str, dict]:
    return {row["id"]: row for row in rows}
