"""What the synchronous-provider tests share (OpenAI, OpenAI-compatible, Groq, ElevenLabs,
Deepgram), on top of `provider_runs`: an environment without the developer's own keys, a
client pointed at the mock, and the real engine run in-process over a few watermarked clips,
so every error kind is exercised with real retries and real result lines in a second, not in
a CLI subprocess each.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from asyncbench.engine.endpoints import EndpointPool
from asyncbench.engine.pipeline import Engine, EngineOptions
from asyncbench.providers import resolve
from asyncbench.providers.base import AudioPayload, Provider, ProviderSettings
from asyncbench.servers.mock.state import MockConfig, MockState
from asyncbench.sources.dataset import Sample

from .provider_runs import (
    N_SAMPLES,
    CliRun,
    P,
    assert_all_correct,
    assert_missing_key,
    engine_run,
    env_with,
    prepare_payloads,
    run_split,
    small_split,
    wav_clip,
)
from .support import MockServer, read_results, sentence

#: variables of these providers a developer may have set (cli_env already drops OPENAI_*)
SYNC_ENV = ("GROQ_", "ELEVENLABS_", "DEEPGRAM_")


def split_fixture(name: str) -> Callable[[pytest.TempPathFactory], Path]:
    """A module's `split` fixture: the small split, written once for the module."""

    @pytest.fixture(scope="module")
    def split(tmp_path_factory: pytest.TempPathFactory) -> Path:
        return small_split(tmp_path_factory.mktemp(name) / "esb")

    return split


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


def client_of(cls: type[P], model_name: str, base_url: str | None, key: str) -> P:
    """`client`, checked to be the provider class the test is about."""
    made = client(model_name, base_url, key)
    assert isinstance(made, cls)
    return made


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


async def run_with_key(
    model_name: str,
    key: str,
    n: int,
    path: Path,
    config: MockConfig | None = None,
    *,
    workers: int = 4,
    max_retries: int = 3,
) -> tuple[Engine, list[dict]]:
    """`n` clips through the real engine against a fresh mock, the client for `model_name`
    holding `key` (a `mock-<scenario>` key makes the mock answer with that scenario)."""
    async with MockServer(config) as mock:
        return await run_engine(
            client(model_name, mock.url, key),
            clips(n),
            path,
            workers=workers,
            max_retries=max_retries,
        )


def assert_each_retried_once(engine: Engine, rows: list[dict], n: int, kind: str) -> None:
    """Every one of `n` clips failed once with `kind`, then succeeded on its second attempt."""
    assert [(r["status"], r["attempts"]) for r in rows] == [("ok", 2)] * n
    assert engine.stats.errors_by_kind == {kind: n}


async def assert_split_end_to_end(
    model_name: str, split: Path, results: Path, env_name: str, key: str, mock_name: str
) -> MockState:
    """The small split through the CLI with a good key in `env_name`: every sample right at
    the first attempt, one request each; the mock's state, for the wire checks."""
    async with MockServer(MockConfig(keys={mock_name: key})) as mock:
        run = await split_run(model_name, split, results, mock.url, sync_env(**{env_name: key}))
    rows = assert_all_correct(run)
    assert all(r["attempts"] == 1 for r in rows)
    assert mock.state.counters[f"{mock_name}.requests"] == N_SAMPLES
    return mock.state


async def assert_missing_key_sends_nothing(
    model_name: str, split: Path, results: Path, env_name: str, mock_name: str
) -> None:
    """No key set: the CLI's one line names `env_name`, and no request reaches the service."""
    async with MockServer() as mock:
        run = await split_run(model_name, split, results, mock.url, sync_env())
    assert_missing_key(run, env_name)
    assert mock.state.counters[f"{mock_name}.requests"] == 0


async def assert_server_errors_retried(
    model_name: str, key: str, path: Path, mock_name: str
) -> None:
    """Half the requests answered 503: one worker, enough retries, every sample ends ok and
    each 503 the mock sent is counted as a server error."""
    async with MockServer(MockConfig(rate_5xx=0.5, seed=3)) as mock:
        engine, rows = await run_engine(
            client(model_name, mock.url, key), clips(4), path, workers=1, max_retries=8
        )
    assert [r["status"] for r in rows] == ["ok"] * 4
    assert (
        engine.stats.errors_by_kind["server_error"] == mock.state.counters[f"{mock_name}.503"] > 0
    )
