"""A whole batch in one event loop: every run at once, each provider at its own budget.

Run one after another, a batch takes the *sum* of its runs' times while every provider but
one sits idle. Here the runs of a batch are grouped by *budget* (a provider and its endpoints:
its concurrency, rate limits and endpoint pool), and every budget works through its runs in
the batch's order at the same time as the others, so the batch takes about as long as its
slowest provider.

Within a budget the runs share one `EndpointPool` whose capacity is the budget, so however many
runs use it the provider never sees more than its limit. The split boundary is where in flight
used to fall: had the next run started only when the one before it had no samples left to hand
out (`Engine.source_done`), its dataset reader, first decodes and workers would be set up
while the last requests drained, and the slots they freed sat idle (14-31 % of the budget in
flight across a boundary, `bench/batch_parallel.py`). So the next run starts as soon as the
one before it has *read* its whole split (`Engine.source_read`: every sample left is in that
run's bounded queues): its reader and preppers get ahead, and its workers, each holding a
prepared sample, wait on the shared pool at a lower priority (the run's place in the batch;
the pool serves waiters by priority). The earlier run keeps the budget while it has work, so
its order is kept and it is never starved; every slot its drain frees goes at once to a
sample of the next split that is already prepared. At most two runs of a budget are active
at once (the current one and the next: the run after next starts only once the current one
has ended), so memory stays O(requests in flight), not O(splits).

A run started early writes nothing until its first answer: its results file is created with
its first line (`results.store.ResultWriter`), so a batch stopped while the next split's
requests wait behind the current one's leaves exactly the files of the splits that wrote
something. Its lock and its sidecar (`.meta.json`) were taken and written, as for every run
of the batch, by `runner.prepare` before the first request of the batch, which is where a
split in use by another run or belonging to another run is refused.

`--max_runs N` counts every active run, an early-started one too (it holds its file's lock,
its dataset reader and its prepared audio): with N = 1 the runs go strictly one after
another, each starting when the one before it has ended.

Each run keeps its own results file, resume state and summary, exactly as a run of its own;
the money is the batch's (runs/ledger.py): every run reserves its attempts from the one
`--budget_usd`, and once it is spent every run stops at its next attempt and no run starts.
A run that fails (a rejected key, an unreadable dataset) is reported and the others go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from asyncbench.core.errors import ConfigError
from asyncbench.engine.endpoints import EndpointPool
from asyncbench.reporting.batch_progress import BatchProgress, Lane
from asyncbench.runs.limits import check_batch_open_files
from asyncbench.runs.runner import (
    NotStarted,
    Prepared,
    RunConfig,
    Shared,
    _run_async,
    open_session,
    per_endpoint_limit,
    prep_thread_count,
    prepare,
    samples_left,
)

if TYPE_CHECKING:
    from asyncbench.engine.pipeline import Engine
    from asyncbench.engine.stats import RunStats
    from asyncbench.runs.ledger import Ledger


@dataclass
class Active:
    """One run while the batch goes: what the live view reads."""

    label: str  # "config/split"
    engine: Engine | None = None
    stats: RunStats | None = None
    started: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class Budget:
    """The runs that share one provider's limits, in batch order."""

    name: str  # the provider prefix, plus the endpoint when a prefix has several budgets
    limit: int
    pool: EndpointPool
    runs: list[tuple[int, Prepared]]  # (index in the batch, run)
    active: list[Active] = field(default_factory=list)
    finished: int = 0

    @property
    def current(self) -> str:
        """The split the budget is mostly on: the earliest run not yet done."""
        for run in self.active:
            if run.stats is None or run.stats.ended is None:
                return run.label
        return "-"


def lanes(budgets: Sequence[Budget]) -> list[Lane]:
    """What the live view shows of each budget now."""
    rows = []
    for b in budgets:
        started = {id(run) for run in b.active}
        stats = [run.stats for run in b.active if run.stats is not None]
        left: int | None = 0
        for run in b.active:
            if run.stats is None or run.stats.total is None:
                left = None
                break
            left += max(0, run.stats.total - run.stats.done)
        if left is not None:
            for _, prepared in b.runs[len(started) :]:
                more = samples_left(prepared.cfg, prepared.total, prepared.resume)
                if more is None:
                    left = None
                    break
                left += more
        rows.append(
            Lane(
                name=b.name,
                in_flight=b.pool.in_flight,
                limit=b.limit,
                attempts=sum(s.attempts for s in stats),
                done=sum(s.done for s in stats),
                left=left,
                errors=sum(sum(s.errors_by_kind.values()) for s in stats),
                split=b.current,
                runs_done=b.finished,
                runs=len(b.runs),
            )
        )
    return rows


def budget_key(prepared: Prepared) -> tuple[str, tuple[str, ...]]:
    """Runs of one provider on the same endpoints share a budget (two models of one API share
    its account's concurrency; a self-hosted server on other ports is another budget)."""
    return type(prepared.provider).__name__, tuple(sorted(set(prepared.urls)))


BudgetKey = tuple[str, tuple[str, ...]]


def _grouped(runs: Sequence[Prepared]) -> dict[BudgetKey, list[tuple[int, Prepared]]]:
    """The runs by budget (`budget_key`), in the batch's order inside each group."""
    groups: dict[BudgetKey, list[tuple[int, Prepared]]] = {}
    for i, prepared in enumerate(runs):
        groups.setdefault(budget_key(prepared), []).append((i, prepared))
    return groups


def budget_demand(runs: Sequence[Prepared]) -> list[tuple[str, int, int]]:
    """(provider, requests in flight, endpoints) of each budget the runs would share."""
    firsts = (items[0][1] for items in _grouped(runs).values())
    return [(p.cfg.model_name.split("/", 1)[0], p.cfg.max_workers, len(p.urls)) for p in firsts]


def plan_budgets(runs: Sequence[Prepared]) -> list[Budget]:
    """Group runs by budget, keeping the batch's order inside each group."""
    groups = _grouped(runs)
    names: dict[str, int] = {}
    for items in groups.values():
        prefix = items[0][1].cfg.model_name.split("/", 1)[0]
        names[prefix] = names.get(prefix, 0) + 1
    budgets = []
    for (_, urls), items in groups.items():
        first = items[0][1]
        prefix = first.cfg.model_name.split("/", 1)[0]
        name = prefix if names[prefix] == 1 else f"{prefix} {urls[0].split('://')[-1]}"
        cfg = first.cfg
        pool = EndpointPool(
            first.urls,
            per_endpoint_limit(cfg, len(first.urls)),
            rps=first.rps,
            max_rps=cfg.max_rps,
        )
        budgets.append(Budget(name, cfg.max_workers, pool, items))
    return budgets


async def run_budgets(
    runs: Sequence[Prepared],
    ledger: Ledger,
    *,
    max_runs: int | None = None,
    progress: bool = True,
) -> list[int | BaseException]:
    """Drive every run on the command's `ledger`; per run (in the given order) its exit code,
    or the exception that ended it (a `ConfigError` for a fatal provider error, reported like
    a run's own)."""
    from asyncbench.runs.budget import BUDGET_EXIT
    from asyncbench.runs.ledger_wire import LocalMoney

    money = LocalMoney(ledger)
    budgets = plan_budgets(runs)
    # a run the batch stopped before it began sent and wrote nothing: "not started" (its
    # results file, if any, is an earlier run's), not an error of its own
    outcomes: list[int | BaseException] = [
        NotStarted("not started: the batch was stopped first")
    ] * len(runs)
    gate = asyncio.Semaphore(max_runs) if max_runs else None
    stopping: list[str] = []
    # one pool for the batch's runs, which all take the batch's options
    asked = max((r.cfg.prep_threads or 0 for r in runs), default=0) or None
    executor = ThreadPoolExecutor(prep_thread_count(asked), thread_name_prefix="prep")
    loop = asyncio.get_running_loop()

    def stop(name: str) -> None:
        stopping.append(name)
        for budget in budgets:
            for run in budget.active:
                if run.engine is not None:
                    run.engine.stop(name)

    async def one(budget: Budget, shared: Shared, index: int, prepared: Prepared) -> None:
        try:
            outcomes[index] = await _run_async(*prepared, shared=shared, money=money)
        except Exception as exc:  # reported per run; the batch goes on
            outcomes[index] = exc
        finally:
            budget.finished += 1
            if gate is not None:
                gate.release()

    async def chain(budget: Budget, session: object) -> None:
        tasks: list[asyncio.Task[None]] = []
        for rank, (index, prepared) in enumerate(budget.runs):
            if gate is not None:
                await gate.acquire()
            if stopping or ledger.stopped:  # nothing new starts once the budget is spent
                if gate is not None:
                    gate.release()
                for later, held in budget.runs[rank:]:
                    held.lock.release()
                    if ledger.stopped:
                        outcomes[later] = BUDGET_EXIT
                break
            run = Active(f"{prepared.cfg.dataset}/{prepared.cfg.split}")
            budget.active.append(run)

            def on_engine(engine: Engine, stats: RunStats, run: Active = run) -> None:
                run.engine, run.stats = engine, stats
                if stopping:
                    engine.stop(stopping[-1])
                run.started.set()

            shared = Shared(session, budget.pool, executor, rank, on_engine)
            task = asyncio.create_task(one(budget, shared, index, prepared))
            tasks.append(task)
            # the next run starts once this one has read its whole split (or has ended) ...
            await _first(task, run.started.wait())
            if run.engine is not None and not task.done():
                await _first(task, run.engine.source_read.wait())
            # ... and the one before it is over: at most two runs of a budget are active
            if len(tasks) > 1:
                await asyncio.wait({tasks[-2]})
        await asyncio.gather(*tasks)

    for sig, name in ((signal.SIGINT, "SIGINT"), (signal.SIGTERM, "SIGTERM")):
        loop.add_signal_handler(sig, stop, name)
    try:
        async with contextlib.AsyncExitStack() as stack:
            sessions = [
                await stack.enter_async_context(open_session(b.runs[0][1].cfg.connect_timeout))
                for b in budgets
            ]
            await stack.enter_async_context(BatchProgress(lambda: lanes(budgets), enabled=progress))
            await asyncio.gather(*(chain(b, s) for b, s in zip(budgets, sessions, strict=True)))
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        executor.shutdown(wait=False, cancel_futures=True)
    return outcomes


async def _first(task: asyncio.Task[None], event_wait: Coroutine[object, object, object]) -> None:
    """Wait until `task` ends or the event is set, whichever comes first."""
    waiter = asyncio.ensure_future(event_wait)
    try:
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()


def run_all(
    cfgs: Sequence[RunConfig],
    ledger: Ledger,
    *,
    max_runs: int | None = None,
    announce: Callable[[RunConfig], None] = lambda cfg: None,
) -> list[int | BaseException]:
    """Prepare every run (a run that cannot start is its `ConfigError`), then drive the rest
    in one event loop. The garbage collector is handled as `runner.run` does (off while the
    heavy imports and datasets are set up, then everything so far frozen out of its reach)."""
    import gc

    results: list[int | BaseException] = []
    ready: list[tuple[int, Prepared]] = []
    gc.disable()
    try:
        for cfg in cfgs:
            announce(cfg)
            try:
                ready.append((len(results), prepare(cfg)))
                results.append(0)
            except ConfigError as exc:
                results.append(NotStarted(str(exc)))
        if not ready:
            return results
        try:
            check_batch_open_files(budget_demand([p for _, p in ready]), max_runs)
        except ConfigError:
            for _, p in ready:
                p.lock.release()
            raise
        if gc.get_freeze_count() == 0:
            gc.freeze()
    finally:
        gc.enable()
    try:
        import uvloop

        loop_run: Callable[..., list[int | BaseException]] = uvloop.run
    except ImportError:  # pragma: no cover - uvloop is a dependency
        loop_run = asyncio.run
    progress = any(p.cfg.progress for _, p in ready)
    ended = loop_run(
        run_budgets([p for _, p in ready], ledger, max_runs=max_runs, progress=progress)
    )
    for (index, _), result in zip(ready, ended, strict=True):
        results[index] = result
    return results
