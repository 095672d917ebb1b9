"""A recording in parts through the real engine and a real loopback server: a failed part
fails the sample and keeps the parts that came back; the retry sends only the rest."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from asyncbench.core.limits import Limits
from asyncbench.engine.endpoints import EndpointPool
from asyncbench.engine.pipeline import Engine, EngineOptions
from asyncbench.providers.aldea import AldeaProvider
from asyncbench.providers.base import ProviderSettings
from asyncbench.results.parts import PartWriter, scan_parts
from asyncbench.runs.longform import LongformPolicy, make_prepare
from asyncbench.sources import watermark
from asyncbench.sources.dataset import Sample
from asyncbench.sources.longform_layout import flac_bytes, recording

from .loopback import Action, LoopbackAldea
from .provider_runs import engine_run
from .support import read_results


def heard(body: bytes) -> str:
    """What a server hears in a WAV part: every sentence it carries."""
    return " ".join(watermark.extract_all(np.frombuffer(body, dtype="<i2", offset=44)))


async def run_once(
    srv: LoopbackAldea, audio: bytes, reference: str, results: Path, parts: Path
) -> Engine:
    provider = AldeaProvider(ProviderSettings(model="default", endpoints=srv.endpoints))
    # a server that takes at most 40 s: the 150 s recording goes in parts
    policy = LongformPolicy(provider="aldea", limits=Limits(max_seconds=40), accepts_flac=False)
    writer = PartWriter(parts)
    executor = ThreadPoolExecutor(2)
    prepare = make_prepare(executor, policy, done_parts=scan_parts(parts), writer=writer)
    sample = Sample(id="call-1", index=0, reference=reference, duration=150.0, audio=audio)
    task = asyncio.create_task(writer.run())
    try:
        return await engine_run(
            provider,
            EndpointPool(provider.endpoint_urls(), 2),
            prepare,
            iter([[sample]]),
            results,
            EngineOptions(max_workers=2, max_retries=1, backoff_base=0.01),
        )
    finally:
        writer.close()
        await task
        executor.shutdown()


async def test_a_failed_part_fails_the_sample_and_the_rerun_sends_only_the_rest(
    tmp_path: Path,
) -> None:
    samples, reference = recording(150, seed=3)
    audio = flac_bytes(samples)
    results, parts = tmp_path / "r.jsonl", tmp_path / "r.parts.ndjson"

    # first run: the second part is refused (a permanent 400), the others would pass
    async with LoopbackAldea(
        plan=lambda port, n, body: Action(400, b'{"error":"bad part"}') if n == 2 else Action(),
        transcript=heard,
    ) as srv:
        engine = await run_once(srv, audio, reference, results, parts)
        first_requests = len(srv.seen)
    assert engine.stats.audio_s == 0.0  # shown while part 1 was back, not counted as done
    [line] = read_results(results)
    assert line["status"] == "failed" and line["error_kind"] == "bad_request"
    assert line["error"].startswith("part 2/") and line["duration"] == 150.0
    n_parts = int(line["error"].split("/")[1].split(":")[0])
    assert n_parts >= 4 and first_requests == 2  # a failed part stops the sample there
    done = scan_parts(parts)
    assert list(done["call-1"]) == [0]

    # the rerun (the runner drops the failed line first, as prescan does) sends parts 2..n
    results.unlink()
    async with LoopbackAldea(transcript=heard) as srv:
        engine = await run_once(srv, audio, reference, results, parts)
        assert len(srv.seen) == n_parts - 1
        assert all(len(s.body) <= 44 + 2 * 40 * 16000 for s in srv.seen)
    assert engine.stats.audio_s == 150.0  # the whole recording, once
    [line] = read_results(results)
    assert line["status"] == "ok" and line["parts"] == n_parts
    assert line["pred_text"] == reference  # stitched in order, part 1 from the first run
    assert line["duration"] == 150.0 and line["attempts"] == n_parts - 1
    assert sorted(scan_parts(parts)["call-1"]) == list(range(n_parts))


async def test_a_stop_between_parts_keeps_the_parts_back_and_sends_no_more(
    tmp_path: Path,
) -> None:
    """Ctrl-C while part 1 is in flight: it gets its grace, is recorded, and part 2 is never
    sent (nothing half-done in the results file; the resumed run sends parts 2..n)."""
    import aiohttp

    from asyncbench.engine.pipeline import Engine
    from asyncbench.results.store import ResultWriter

    samples, reference = recording(150, seed=3)
    results, parts = tmp_path / "r.jsonl", tmp_path / "r.parts.ndjson"
    engines: list[Engine] = []

    def plan(port: int, n: int, body: bytes) -> Action:
        if n == 1:
            engines[0].stop("SIGINT")  # the signal arrives while this part is being answered
        return Action(delay=0.2)

    async with LoopbackAldea(plan=plan, transcript=heard) as srv, aiohttp.ClientSession() as s:
        provider = AldeaProvider(ProviderSettings(model="default", endpoints=srv.endpoints))
        policy = LongformPolicy(provider="aldea", limits=Limits(max_seconds=40), accepts_flac=False)
        writer = PartWriter(parts)
        executor = ThreadPoolExecutor(2)
        engine = Engine(
            pool=EndpointPool(provider.endpoint_urls(), 2),
            transcribe=lambda url, payload: provider.transcribe(s, url, payload),
            prepare=make_prepare(executor, policy, done_parts={}, writer=writer),
            writer=ResultWriter(results),
            options=EngineOptions(max_workers=2, grace_s=30),
        )
        engines.append(engine)
        task = asyncio.create_task(writer.run())
        sample = Sample("call-1", 0, reference, 150.0, audio=flac_bytes(samples))
        await engine.run(iter([[sample]]))
        writer.close()
        await task
        executor.shutdown()
        assert len(srv.seen) == 1
    assert read_results(results) == []
    [part] = scan_parts(parts)["call-1"].values()
    assert part.part == 0 and part.pred_text and reference.startswith(part.pred_text)


async def test_a_long_part_gets_a_longer_timeout_than_the_floor(tmp_path: Path) -> None:
    """`--timeout` is a floor: a part's own limit (its seconds x the per-second allowance)
    is what its request gets, above or below the run's."""
    samples, reference = recording(150, seed=3)
    audio = flac_bytes(samples)

    async def run_with(floor: float, per_s: float, plan) -> dict:  # type: ignore[no-untyped-def]
        async with LoopbackAldea(plan=plan, transcript=heard) as srv:
            provider = AldeaProvider(ProviderSettings(model="default", endpoints=srv.endpoints))
            policy = LongformPolicy(
                provider="aldea",
                limits=Limits(max_seconds=40),
                accepts_flac=False,
                timeout_floor=floor,
                timeout_per_audio_s=per_s,
            )
            executor = ThreadPoolExecutor(2)
            path = tmp_path / f"{floor}-{per_s}.jsonl"
            await engine_run(
                provider,
                EndpointPool(provider.endpoint_urls(), 1),
                make_prepare(executor, policy, done_parts={}, writer=None),
                iter([[Sample("call-1", 0, reference, 150.0, audio=audio)]]),
                path,
                # the run's own timeout would fail every request that takes over 0.05 s
                EngineOptions(max_workers=1, timeout=0.05, max_retries=0),
            )
            executor.shutdown()
        [line] = read_results(path)
        return line

    slow = await run_with(0.05, 1.0, lambda port, n, body: Action(delay=0.3))
    assert slow["status"] == "ok" and slow["pred_text"] == reference
    hung = await run_with(0.3, 0.0, lambda port, n, body: Action(hang=True))
    assert hung["error_kind"] == "timeout" and "no reply within 0.3 s" in hung["error"]
    assert AldeaProvider.timeout_per_audio_s == 0.25


def test_the_run_policy_takes_the_providers_figures_and_the_users_overrides() -> None:
    from asyncbench.core.limits import MB
    from asyncbench.providers import ProviderSettings as Settings
    from asyncbench.providers import resolve
    from asyncbench.runs.runner import RunConfig, longform_policy

    def policy_of(model: str, **kw: object) -> LongformPolicy:
        cls, name = resolve(model)
        cfg = RunConfig(model_name=model, dataset="d", dataset_path="p", **kw)  # type: ignore[arg-type]
        return longform_policy(cfg, cls(Settings(model=name, api_key="k")))

    openai = policy_of("openai/whisper-1")
    assert openai.limits.max_bytes == 25 * MB and openai.accepts_flac
    assert openai.timeout_floor == 120 and openai.timeout(1200) == 300
    told = policy_of("openai/whisper-1", max_upload_mb=100, timeout=30, timeout_per_audio_s=1)
    assert told.limits.max_bytes == 100 * MB and told.limits.max_seconds == 1400
    assert told.timeout(10) == 30 and told.timeout(1200) == 1200
    jobs = policy_of("assembly/best")
    assert jobs.timeout_floor == 600 and jobs.timeout_per_audio_s == 0.5
    assert policy_of("aldea/default", chunking="off", chunk_max_s=300).chunk_max_s == 300
