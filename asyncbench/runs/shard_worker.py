"""One shard of a run, on a worker (another process, or a Ray node): the engine as usual, but
its result lines go back to the driver instead of into the results file.

The driver (runs/sharded.py) is the single writer of every results file: it holds the lock,
did the pre-scan, and hands each shard the ids already finished. A shard opens its own
provider client, endpoint pool (its share of the provider's budget) and dataset reader, runs
the engine on the slice of the split its stable id hash selects (`--shard i/n`), and passes
every finished line to `emit` in batches ("lines"), and every part of a long recording that
came back ("parts"): the driver keeps both files, the results and its parts side file, so a
worker writes nothing and needs no shared filesystem, and a rerun or a redone shard reuses the
parts already paid for (the driver hands each shard those it has, `ShardTask.done_parts`).
Its budget and job journal are the driver's too (runs/ledger.py), reached over the driver's
ledger server.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from asyncbench.core.errors import ConfigError
from asyncbench.runs.ledger_wire import LedgerAddress
from asyncbench.runs.runner import RunConfig

# what a provider or the dataset reader may read from the environment
_PASSED_ENV = re.compile(r"^(HF_\w+|ALDEA_\w+|\w+_(API_KEY|KEY|TOKEN|BASE_URL|ENDPOINTS?|REGION))$")


def _provider_prefixes() -> tuple[str, ...]:
    """`SPRAG_`, `META_`, `SONIOX_`, ...: each registered provider's own settings (a rate
    limit, a mode, a URL) start with its prefix, whatever their suffix."""
    from asyncbench.providers import REGISTRY

    return tuple(sorted({p.upper().replace("-", "_") + "_" for p in REGISTRY}))


def provider_env() -> dict[str, str]:
    """The driver's environment a shard's provider and dataset reader may read: a Ray worker
    on another node does not inherit it, so a setting left out here (SPRAG_REQUESTS_PER_MINUTE,
    META_FILE_MODE, SOPHEA_API_URL) silently fell back to its default there."""
    prefixes = _provider_prefixes()
    return {k: v for k, v in os.environ.items() if _PASSED_ENV.match(k) or k.startswith(prefixes)}


def clock_offset() -> float:
    """This machine's wall clock minus its monotonic clock: a shard's monotonic times
    (`RunStats.done_at`, `handed_out_at`) are put on the driver's clock with it, since a Ray
    node's monotonic clock starts at its own boot."""
    return time.time() - time.monotonic()


@dataclass
class ShardTask:
    """What a worker needs to run one shard: picklable, no open files or sockets."""

    cfg: RunConfig  # shard=(i, n), max_workers = this shard's share of the budget
    skip: frozenset[str]  # ids the results file already has (or this driver already wrote)
    key: tuple[int, int]  # (run index in the batch, shard index)
    # the driver's provider settings from its environment (keys, base URLs, HF_* switches):
    # a Ray worker does not inherit the driver's environment
    env: dict[str, str] = field(default_factory=dict)
    # the driver's ledger (budget, job journal) and the results file it keeps the journal of
    ledger: LedgerAddress | None = None
    results: str = ""
    # parts of long recordings the driver's side file has (results/parts.py), by sample
    done_parts: dict[str, Any] = field(default_factory=dict)


@dataclass
class ShardEnd:
    """How a shard ended, sent back after its last line."""

    code: int = 0
    error: str | None = None  # a fatal configuration/provider error (the run reports it)
    stats: Any = None  # RunStats
    source: Any = None  # SourceStats
    extra: dict[str, Any] = field(default_factory=dict)


#: what a shard sends its driver: ("lines" | "parts", the bytes of whole lines)
Emit = Callable[[str, bytes], None]


class LineSink:
    """The engine's writer for a shard: `ResultWriter`'s interface, but each batch of finished
    lines goes to `emit` (a pipe to the parent, a queue feeding a Ray generator). The same
    for a long recording's parts (`PartWriter`'s interface): anything with `to_line`."""

    def __init__(self, emit: Callable[[bytes], None]) -> None:
        self.emit = emit
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.written = 0
        self.failure = None
        self.on_fail: Callable[[Any], None] | None = None

    def put(self, result: Any) -> None:
        self.queue.put_nowait(result)

    def close(self) -> None:
        self.queue.put_nowait(None)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            item = await self.queue.get()
            done = item is None
            batch = [] if done else [item]
            while not done and not self.queue.empty():
                nxt = self.queue.get_nowait()
                if nxt is None:
                    done = True
                else:
                    batch.append(nxt)
            if batch:
                data = b"".join(r.to_line() for r in batch)
                await loop.run_in_executor(None, self.emit, data)
                self.written += len(batch)
            if done:
                return


def run_shard(task: ShardTask, emit: Emit) -> ShardEnd:
    """Run one shard to its end in a fresh event loop (uvloop when installed)."""
    from asyncbench.core.malloc import return_freed_blocks

    return_freed_blocks()  # a worker process (--processes, Ray) never went through cli.main
    try:
        import uvloop

        return uvloop.run(_run_shard(task, emit))
    except ImportError:  # pragma: no cover - uvloop is a dependency
        return asyncio.run(_run_shard(task, emit))


async def _run_shard(task: ShardTask, emit: Emit) -> ShardEnd:
    from concurrent.futures import ThreadPoolExecutor

    from asyncbench.engine.endpoints import EndpointPool
    from asyncbench.results.store import ResumeState, results_name
    from asyncbench.runs.ledger_wire import RemoteMoney
    from asyncbench.runs.runner import (
        Shared,
        _drive,
        make_provider,
        open_dataset,
        open_session,
        per_endpoint_limit,
        prep_thread_count,
    )

    cfg = task.cfg
    os.environ.update(task.env)
    seen: dict[str, Any] = {}

    def on_engine(engine: Any, stats: Any) -> None:
        seen["stats"] = stats
        if threading.current_thread() is threading.main_thread():  # a child process
            # the driver's SIGTERM: the first finishes what is in flight, a second stops now
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, engine.stop, "SIGTERM")

    scratch = Path(tempfile.mkdtemp(prefix="asyncbench-shard-"))
    money = None if task.ledger is None else RemoteMoney(task.ledger)
    try:
        provider, urls, rps = make_provider(cfg)
        ds = None if cfg.use_url else open_dataset(cfg)
        path = scratch / results_name(cfg.model_name, cfg.dataset_path, cfg.dataset, cfg.split)
        resume = ResumeState(done_ids=set(task.skip))
        pool = EndpointPool(urls, per_endpoint_limit(cfg, len(urls)), rps=rps, max_rps=cfg.max_rps)
        threads = prep_thread_count(cfg.prep_threads)
        executor = ThreadPoolExecutor(threads, thread_name_prefix="prep")
        sources: list[Any] = []
        try:
            async with open_session(cfg.connect_timeout) as session:
                shared = Shared(
                    session,
                    pool,
                    executor,
                    0,
                    on_engine,
                    writer=lambda _path: LineSink(partial(emit, "lines")),
                    summary=False,
                    source_stats=sources,
                    results=Path(task.results) if task.results else None,
                    parts=(LineSink(partial(emit, "parts")), dict(task.done_parts)),
                )
                code = await _drive(cfg, provider, urls, rps, path, resume, ds, None, shared, money)
        finally:
            executor.shutdown(wait=False, cancel_futures=True)
            if money is not None:
                await money.close()
        return ShardEnd(
            code,
            None,
            seen.get("stats"),
            sources[0] if sources else None,
            {"clock": clock_offset()},
        )
    except ConfigError as exc:
        return ShardEnd(2, str(exc), seen.get("stats"))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
