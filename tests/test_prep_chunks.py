"""Clips are prepared a chunk per prep-thread job (one hand-off for several clips), and a
chunk is no coarser than a sample: a bad clip fails alone, every sample gets its line, and
a split that ends part way through a chunk loses nothing."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from asyncbench.core.limits import Limits
from asyncbench.engine.endpoints import EndpointPool
from asyncbench.engine.pipeline import EngineOptions
from asyncbench.providers.aldea import AldeaProvider
from asyncbench.providers.base import ProviderSettings
from asyncbench.runs.longform import LongformPolicy, make_prepare
from asyncbench.sources import watermark
from asyncbench.sources.dataset import Sample
from asyncbench.sources.longform_layout import flac_bytes

from .loopback import LoopbackAldea
from .provider_runs import engine_run
from .support import read_results


class CountingExecutor(ThreadPoolExecutor):
    """A prep pool that counts the jobs it is handed."""

    def __init__(self) -> None:
        super().__init__(2, thread_name_prefix="prep")
        self.jobs = 0

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.jobs += 1
        return super().submit(fn, *args, **kwargs)


def flac_saying(text: str, seconds: float) -> bytes:
    return flac_bytes(watermark.embed(text, seconds))


def samples(n: int) -> list[Sample]:
    """n clips that say their own id; clip 5 is not audio, clip 7 is too short to send,
    clip 9's chunk file went away after the checks."""
    out = []
    for i in range(n):
        sid = f"s{i:03d}"
        audio = b"not audio at all" if i == 5 else flac_saying(sid, 0.05 if i == 7 else 0.6)
        meta = {"audio_error": "chunk file gone"} if i == 9 else {}
        out.append(Sample(sid, i, f"ref {sid}", None, audio=audio, meta=meta))
    return out


@pytest.mark.parametrize("n", [64, 61])
async def test_clips_go_to_the_prep_threads_a_chunk_at_a_time_and_each_gets_its_line(
    tmp_path: Path, n: int
) -> None:
    executor = CountingExecutor()
    policy = LongformPolicy(provider="aldea", limits=Limits(), accepts_flac=False)
    prepare = make_prepare(executor, policy, done_parts={}, writer=None)
    transcript = lambda body: " ".join(watermark.extract_all(body[44:]))  # noqa: E731
    async with LoopbackAldea(2, transcript=transcript) as srv:
        provider = AldeaProvider(ProviderSettings(model="default", endpoints=srv.endpoints))
        await engine_run(
            provider,
            EndpointPool(provider.endpoint_urls(), 8),
            prepare,
            iter([samples(n)]),  # one batch of the reader: all of it queued at once
            tmp_path / "r.jsonl",
            EngineOptions(max_workers=8, prep_concurrency=2, prep_chunk=8, max_retries=0),
        )
    executor.shutdown()
    rows = {r["id"]: r for r in read_results(tmp_path / "r.jsonl")}
    assert sorted(rows) == [f"s{i:03d}" for i in range(n)]
    assert rows["s005"]["status"] == "failed" and rows["s005"]["error_kind"] == "bad_audio"
    assert rows["s007"]["status"] == "skipped_short"
    assert rows["s009"]["error_kind"] == "missing_audio"
    sent = {k: r for k, r in rows.items() if k not in ("s005", "s007", "s009")}
    assert all(r["status"] == "ok" and r["pred_text"] == k for k, r in sent.items())
    assert len(srv.seen) == n - 3
    # one job per chunk of up to 8 (the clip that never reaches a thread is not in one)
    assert executor.jobs <= -(-(n - 1) // 8) + 2


def test_decode_threads_are_the_users_count_or_one_per_core(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import os

    from asyncbench.runs.runner import prep_thread_count

    assert prep_thread_count(3) == 3
    for cores, threads in ((1, 2), (2, 2), (8, 8), (64, 16), (None, 2)):
        monkeypatch.setattr(os, "cpu_count", lambda c=cores: c)
        assert prep_thread_count(None) == threads


async def test_a_recording_that_cannot_be_spilled_fails_alone(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A full disk under TMPDIR costs the long recording its sample, not the chunk or the
    run: the short clip beside it is still prepared."""
    import errno

    from asyncbench.sources import longform as source_longform

    def full_disk(data: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(source_longform, "open_recording", full_disk)
    executor = ThreadPoolExecutor(1)
    policy = LongformPolicy(provider="aldea", limits=Limits(), accepts_flac=False)
    prepare = make_prepare(executor, policy, done_parts={}, writer=None)
    long = Sample("call", 0, "ref", 150.0, audio=flac_saying("call", 0.6))  # long by its length
    short = Sample("clip", 1, "ref", None, audio=flac_saying("clip", 0.6))
    jobs = await prepare.many([long, short])
    executor.shutdown()
    assert [j.sample.id for j in jobs] == ["call", "clip"]
    assert jobs[0].error is not None and jobs[0].error.kind == "spill"
    assert "cannot spill the recording to TMPDIR: [Errno 28] No space left" in str(jobs[0].error)
    assert jobs[1].payload is not None and jobs[1].error is None
