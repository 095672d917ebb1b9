"""What the provider tests share: a small split, the real CLI against the in-process mock,
the engine in-process, and the checks every run makes.

A CLI run costs seconds of start-up (the dataset stack), so the CLI is used for what only it
shows (a whole split end to end, exit codes, one-line errors) and the engine in-process, with
the real client, mock and results writer, for each error kind. Clips carry their own
transcript, so "every pred_text equals its text" proves each sample got its own answer.
Job providers use `run_engine` over {id: payload}; synchronous providers (OpenAI, Groq,
ElevenLabs, Deepgram, and the leaderboard's newer ones) use `run_clips` over (text, payload)
pairs with the checks below it (`assert_each_retried_once`, `run_with_key`, ...).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import aiohttp
import pytest
from aiohttp import web

from asyncbench.engine.endpoints import EndpointPool
from asyncbench.engine.pipeline import Engine, EngineOptions, Job
from asyncbench.providers import resolve
from asyncbench.providers.base import AudioPayload, Provider, ProviderSettings
from asyncbench.results.store import ResultWriter
from asyncbench.runs.longform import LocalPrepare
from asyncbench.servers.mock.state import MockConfig, MockState
from asyncbench.sources import watermark
from asyncbench.sources.audio import wav_header
from asyncbench.sources.dataset import Sample

from .loopback import free_port, serve
from .support import (
    MockServer,
    cli_env,
    make_dataset,
    only_file,
    read_results,
    run_cli_async,
    sentence,
)

CONFIG = "librispeech"
SPLIT = "test.clean"
N_SAMPLES = 10
#: provider variables a developer may have set; tests choose them explicitly
PROVIDER_ENV = ("ASSEMBLYAI_", "REVAI_", "SPEECHMATICS_")


def small_split(root: Path, *, robust: bool = False) -> Path:
    return make_dataset(root, {(CONFIG, SPLIT): N_SAMPLES}, fmt="wav", robust=robust)


def env_with(**values: str) -> dict[str, str]:
    env = {k: v for k, v in cli_env().items() if not k.startswith(PROVIDER_ENV)}
    env.update(values)
    return env


async def run_split(
    model_name: str,
    dataset: Path,
    results: Path,
    mock_url: str,
    env: dict[str, str],
    *extra: str,
) -> tuple[int, str, str]:
    """`asyncbench run` on the small split against the mock."""
    return await run_cli_async(
        "run",
        "--model_name",
        model_name,
        "--dataset",
        CONFIG,
        "--split",
        SPLIT,
        "--dataset_path",
        dataset,
        "--results_dir",
        results,
        "--base_url",
        mock_url,
        "--max_workers",
        "8",
        "--no_progress",
        *extra,
        env=env,
    )


@dataclass
class CliRun:
    code: int
    out: str
    err: str
    results: Path


@dataclass
class CliRuns:
    runs: dict[str, CliRun]
    mock: MockState


#: name -> (model name, environment, extra flags)
RunSpec = Mapping[str, tuple[str, dict[str, str], tuple[str, ...]]]

P = TypeVar("P", bound=Provider)


def key_runs(
    model_name: str,
    env_name: str,
    wrong_key: str,
    flags: tuple[str, ...] = (),
    *,
    no_key_model: str | None = None,
) -> RunSpec:
    """The two runs of a keyed provider's CLI fixture for `assert_key_rejected` and
    `assert_missing_key`: `bad_key`, with a key the mock refuses, and `no_key`, with none."""
    return {
        "bad_key": (model_name, env_with(**{env_name: wrong_key}), flags),
        "no_key": (no_key_model or model_name, env_with(), flags),
    }


def job_provider(cls: type[P], url: str, model: str, key: str) -> P:
    """An async-job provider at the mock, polling every 20 ms."""
    settings = ProviderSettings(
        model=model, api_key=key, base_url=url, options={"poll_interval": "0.02"}
    )
    return cls(settings)


def cli_runs(config: MockConfig, root: Path, specs: RunSpec) -> CliRuns:
    """Serve the mock and run every spec on the small split at once, as separate processes.

    The runs are independent (own results folder; a rejected key only fails its own run),
    and most of a CLI run is interpreter start-up, so running them together on two cores
    takes about half the time of one after the other.
    """
    dataset = small_split(root / "esb")

    async def main() -> CliRuns:
        async with MockServer(config) as mock:
            outputs = await asyncio.gather(
                *(
                    run_split(model, dataset, root / name, mock.url, env, *extra)
                    for name, (model, env, extra) in specs.items()
                )
            )
        runs = {name: CliRun(*o, root / name) for name, o in zip(specs, outputs, strict=True)}
        return CliRuns(runs, mock.state)

    return asyncio.run(main())


def assert_all_correct(run: CliRun) -> list[dict]:
    """Exit 0, every sample ok with its own transcript, and the seed's WER line."""
    assert run.code == 0, run.err
    rows = read_results(only_file(run.results))
    assert len(rows) == N_SAMPLES
    assert all(r["status"] == "ok" for r in rows), rows
    assert [r["pred_text"] for r in rows] == [r["text"] for r in rows]
    assert "WER: 0.0 %" in run.out, run.out
    return rows


def assert_key_rejected(run: CliRun, env_name: str) -> str:
    """Exit 2, one `error:` line naming the key variable, nothing recorded; the line."""
    assert run.code == 2, run.err
    errors = [line for line in run.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, run.err
    assert "key rejected" in errors[0] and env_name in errors[0], errors
    assert "Traceback" not in run.err
    assert not any(read_results(p) for p in run.results.glob("*.jsonl"))
    return errors[0]


def assert_missing_key(run: CliRun, env_name: str) -> None:
    assert run.code == 2, run.err
    assert run.err.strip().splitlines() == [
        f"error: {env_name} is not set; export {env_name}=... or pass --api_key"
    ], run.err


def wav_clip(text: str, seconds: float, *, robust: bool = False) -> AudioPayload:
    """A 16 kHz PCM16 WAV payload that says `text` (to the mock; with `robust`, also after
    resampling)."""
    pcm = watermark.embed(text, seconds, robust=robust).tobytes()
    return AudioPayload(wav_header(len(pcm)) + pcm, "audio/wav", "audio.wav", len(pcm) / 32000)


class AudioHost:
    """`async with AudioHost({"a.wav": bytes}) as host:` serves files at `host.url(name)`, as
    the dataset viewer serves assets to providers that fetch URLs themselves."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self._runner: web.AppRunner | None = None
        self.base = ""

    def url(self, name: str) -> str:
        return f"{self.base}/{name}"

    async def __aenter__(self) -> AudioHost:
        async def answer(request: web.Request) -> web.Response:
            body = self.files.get(request.match_info["name"])
            if body is None:
                return web.Response(status=404)
            return web.Response(body=body, content_type="audio/wav")

        app = web.Application()
        app.router.add_get("/{name}", answer)
        port = free_port()
        self._runner = await serve(app, [port])
        self.base = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


def clips(n: int = N_SAMPLES, *, robust: bool = False) -> dict[str, AudioPayload]:
    """{sample id: a WAV payload saying sentence i}."""
    return {f"s{i}": wav_clip(sentence(i), 0.5 + i / 10, robust=robust) for i in range(n)}


async def engine_run(
    provider: Provider,
    pool: EndpointPool,
    prepare: Callable[[Sample], Awaitable[Job]],
    source: Iterator[list[Sample]],
    path: Path,
    options: EngineOptions,
    *,
    stop_after: float | None = None,
) -> Engine:
    """The real engine wired as the runner wires it (one session, `provider.transcribe`, the
    results writer at `path`) over `source`; with `stop_after`, stopped as by a SIGINT that
    many seconds in. The one engine runner the tests share."""
    async with aiohttp.ClientSession() as session:

        async def transcribe(endpoint: str, payload: AudioPayload) -> str:
            return await provider.transcribe(session, endpoint, payload)

        engine = Engine(
            pool=pool,
            transcribe=transcribe,
            prepare=prepare,
            prepare_many=prepare.many if isinstance(prepare, LocalPrepare) else None,
            writer=ResultWriter(path),
            options=options,
            transport_errors=(aiohttp.ClientError, OSError),
        )
        task = asyncio.create_task(engine.run(source))
        if stop_after is not None:
            await asyncio.sleep(stop_after)
            engine.stop("SIGINT")
        await task
    return engine


def prepare_payloads(payloads: Mapping[str, AudioPayload]) -> Callable[[Sample], Awaitable[Job]]:
    """A prepare step that hands each sample the ready payload of its id."""

    async def prepare(sample: Sample) -> Job:
        payload = payloads[sample.id]
        return Job(sample, payload.duration, payload=payload)

    return prepare


async def run_engine(
    provider: Provider, payloads: Mapping[str, AudioPayload], tmp: Path, **options: float
) -> dict[str, dict]:
    """The engine in-process over `payloads` through `provider`; {id: result line}.

    Unlike the runner it sends every clip whatever its length, so a provider's own short-clip
    answer can be seen.
    """
    texts = {key: watermark.extract((p.data or b"")[44:]) or "" for key, p in payloads.items()}
    batch = [
        Sample(id=key, index=i, reference=texts[key], duration=None)
        for i, key in enumerate(payloads)
    ]
    path = tmp / "engine.jsonl"
    await engine_run(
        provider,
        EndpointPool(provider.endpoint_urls(), 8),
        prepare_payloads(payloads),
        iter([batch]),
        path,
        EngineOptions(max_workers=8, backoff_base=0.01, **options),  # type: ignore[arg-type]
    )
    return {row["id"]: row for row in read_results(path)}


async def assert_failures_recorded(
    make: Callable[[str], Provider],
    tmp: Path,
    *,
    kind: str,
    reason: str,
    max_retries: int,
    per_attempt: str,
) -> None:
    """Every job fails inside the service: each sample is recorded as failed with the
    provider's reason and kind, after `max_retries` retries when the kind is retryable, and
    the mock's `per_attempt` counter (jobs created, or session errors) went up once for each
    attempt of each sample."""
    async with MockServer(MockConfig(rate_job_error=1.0)) as mock:
        rows = await run_engine(make(mock.url), clips(), tmp, max_retries=max_retries)
    assert len(rows) == N_SAMPLES
    for row in rows.values():
        assert (row["status"], row["error_kind"]) == ("failed", kind), row
        assert row["attempts"] == max_retries + 1 and reason in row["error"], row
    assert mock.state.counters[per_attempt] == (max_retries + 1) * N_SAMPLES


async def assert_rate_limits_retried(
    make: Callable[[str], Provider], tmp: Path, mock_name: str
) -> MockState:
    """A quarter of the requests answered 429: every sample still ends with its own text.

    Seed 4 makes the mock's first draw 0.24, and the first draw of a run is always the first
    request's fault roll, so at least one 429 is sent whatever the order of later requests
    (unseeded, ten samples see no 429 at all one run in eighteen).
    """
    async with MockServer(MockConfig(rate_429=0.25, retry_after=0.01, seed=4)) as mock:
        rows = await run_engine(make(mock.url), clips(), tmp, max_retries=20)
    assert len(rows) == N_SAMPLES
    assert all(r["status"] == "ok" and r["pred_text"] == r["text"] for r in rows.values()), rows
    assert mock.state.counters[f"{mock_name}.429"] > 0
    return mock.state


async def assert_job_server_errors_retried(
    make: Callable[[str], Provider], tmp: Path, mock_name: str
) -> None:
    """Three requests in ten answered 503 (an async-job provider asks a failed poll again
    itself, so the engine need not see each one): four clips still all end ok. Seed 4: the
    run's first draw (the first request's fault roll) is 0.24, so a 503 is sent."""
    async with MockServer(MockConfig(rate_5xx=0.3, seed=4)) as mock:
        _, rows = await run_clips(make(mock.url), clip_list(4), tmp / "r", max_retries=6)
    assert [r["status"] for r in rows] == ["ok"] * 4
    assert mock.state.counters[f"{mock_name}.503"] > 0


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


def clip_list(n: int, seconds: float = 1.0) -> list[tuple[str, AudioPayload]]:
    """(reference, WAV payload that says it) for `n` distinct sentences."""
    return [(text, wav_clip(text, seconds)) for text in (sentence(i) for i in range(n))]


async def run_clips(
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
        return await run_clips(
            client(model_name, mock.url, key),
            clip_list(n),
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
    make: Callable[[str], Provider], path: Path, mock_name: str
) -> None:
    """Half the requests answered 503: one worker, enough retries, every sample ends ok and
    each 503 the mock sent is counted as a server error."""
    async with MockServer(MockConfig(rate_5xx=0.5, seed=3)) as mock:
        engine, rows = await run_clips(make(mock.url), clip_list(4), path, workers=1, max_retries=8)
    assert [r["status"] for r in rows] == ["ok"] * 4
    assert (
        engine.stats.errors_by_kind["server_error"] == mock.state.counters[f"{mock_name}.503"] > 0
    )
