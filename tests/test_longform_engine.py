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
