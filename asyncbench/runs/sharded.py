"""Runs cut into shards that execute elsewhere (other processes: `--processes N`; Ray nodes:
`batch --ray`), with this process as the single writer of every results file.

Each run is prepared here exactly as a run of its own (`runner.prepare`: lock, sidecar,
pre-scan), then cut into `n` shards by the stable id hash of `--shard i/n`. A provider
budget (runs of one provider on the same endpoints, as in runs/scheduler.py) gets `n` slots
(fewer on a Ray cluster with fewer CPUs than budgets × n: only the shards that can run at
once hold a share), each with its share of the budget (`max_workers` split so the shares add
up to it exactly), and its runs' shards are handed to free slots in batch order, so the
provider never has more than its budget in flight however many workers serve it, and the next
split starts on a slot as soon as a shard of the previous one ends. The budgets run side by side.

Workers send their finished lines back (`shard_worker.LineSink`); this process appends each
line whose id the file does not have yet and drops the rest, so every sample ends up exactly
once even when a shard is run twice. The parts of long recordings come back the same way, to
the parts side file beside the results (results/parts.py), and every shard started is handed
the parts that file has, so no part that came back is paid for again by a redo or a rerun.
A shard whose worker dies (killed, its node lost) is started again with every id written so
far left out: nothing it finished is lost and nothing is done twice. At each run's end its
summary is written here from the shards' counters.

The command's money stays here too (runs/ledger.py): every shard reserves each attempt from
the one budget and records its jobs in the journal beside the results file through this
process's ledger server, so a killed shard's jobs are polled by its redo, and once the budget
is spent no shard sends more and no new shard is started.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import orjson

from asyncbench.core import exit_codes
from asyncbench.core.errors import ConfigError
from asyncbench.results.parts import DoneParts, parts_path, read_parts, scan_parts
from asyncbench.results.store import OK, SKIPPED_SHORT, WriteFailed
from asyncbench.runs.budget import BUDGET_EXIT
from asyncbench.runs.ledger import Ledger
from asyncbench.runs.ledger_wire import LedgerAddress, LedgerServer
from asyncbench.runs.runner import NotStarted, Prepared, expected_samples, record_end, run_info
from asyncbench.runs.scheduler import budget_key
from asyncbench.runs.shard_worker import ShardEnd, ShardTask, provider_env

# a shard whose worker dies is started again this many times before its run is given up
MAX_REDOS = 3

# what an executor reports: ("lines" | "parts", key, bytes) | ("end", key, ShardEnd) |
# ("lost", key, why)
Event = tuple[str, tuple[int, int], Any]


class Executor(Protocol):
    """Where shards run (processes here, Ray tasks on a cluster)."""

    #: how many shards it runs at once (None: all that are submitted, e.g. one process each)
    parallelism: int | None

    def submit(self, task: ShardTask, post: Callable[[Event], None]) -> None: ...

    def interrupt(self) -> None:
        """Ask every running shard to finish what it has in flight and end (a first signal)."""

    def stop(self) -> None:
        """End every shard now."""


def slot_count(shards: int, parallelism: int | None, n_budgets: int) -> int:
    """How many shards of one budget run at once: its shares are cut for these, so a shard
    queued behind the cluster's CPUs must not hold a share (the budget would sit half idle:
    4 shares of 2 on a 2-CPU cluster kept 4 of 8 in flight). None: every shard runs at once."""
    if parallelism is None:
        return shards
    return max(1, min(shards, parallelism // max(1, n_budgets)))


def shares(limit: int, n: int) -> list[int]:
    """`limit` requests in flight over `n` slots (fewer if the limit is smaller), adding up to
    the limit exactly: the provider's budget holds over every worker together."""
    n = max(1, min(n, limit))
    return [limit // n + (1 if k < limit % n else 0) for k in range(n)]


@dataclass
class _Run:
    prepared: Prepared
    shards: int
    fd: int | None = None  # the results file, opened (created) with its first line
    parts_fd: int | None = None  # its parts side file, likewise
    done_parts: DoneParts = field(default_factory=dict)  # what that side file holds
    written: set[str] = field(default_factory=set)
    tally: _Tally = field(default_factory=lambda: _Tally())
    left: set[int] = field(default_factory=set)
    ends: list[ShardEnd] = field(default_factory=list)
    error: str | None = None
    write_failure: WriteFailed | None = None  # the driver could not append to its files
    interrupted: str | None = None  # the signal that stopped the command (SIGINT, SIGTERM)
    redos: int = 0
    launched: int = 0  # shards handed to the executor (a redo counts again)
    started: float = field(default_factory=time.monotonic)
    slots: int = 1  # how many of its shards run at once (the last wave's size)


@dataclass
class _Budget:
    name: str
    slots: list[int]  # each free slot's share
    todo: deque[tuple[int, int]]  # (run index, shard index) in batch order
    busy: dict[tuple[int, int], int] = field(default_factory=dict)  # key -> share


def run_sharded(
    runs: Sequence[Prepared], shards: int, executor: Executor, ledger: Ledger
) -> list[int | BaseException]:
    """Drive every run's shards on `executor`, all on the command's `ledger`; per run its
    exit code or the exception that ended it (as `scheduler.run_budgets` returns them)."""
    paths = {str(p.path) for p in runs}
    for path in paths:
        ledger.open_journal(path)
    server = LedgerServer(ledger, paths, getattr(executor, "ledger_host", "127.0.0.1"))
    try:
        with _Signals() as signals:
            return _drive_shards(runs, shards, executor, ledger, server.address, signals)
    finally:
        server.close()


class _Signals:
    """SIGINT and SIGTERM as a run of its own takes them: the first asks the shards to finish
    what they have in flight (answers already paid for are written), the second ends them
    now. The handlers only note the signal; the driver's loop acts on it (within its 0.1 s
    poll), so no exception lands in the middle of a write. Off the main thread nothing is
    installed (Ctrl-C is then a KeyboardInterrupt, which ends the shards at once)."""

    def __init__(self) -> None:
        self.got: list[str] = []
        self._old: dict[int, Any] = {}

    def _note(self, signum: int, frame: object) -> None:
        self.got.append(signal.Signals(signum).name)

    def __enter__(self) -> _Signals:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._note)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def _drive_shards(
    runs: Sequence[Prepared],
    shards: int,
    executor: Executor,
    ledger: Ledger,
    address: LedgerAddress,
    signals: _Signals | None = None,
) -> list[int | BaseException]:
    got = signals.got if signals is not None else []
    states = [_Run(p, shards, left=set(range(shards)), done_parts=_scan_parts(p)) for p in runs]
    budgets: dict[Any, _Budget] = {}
    n_budgets = len({budget_key(p) for p in runs})
    slots = slot_count(shards, executor.parallelism, n_budgets)
    for state in states:
        state.slots = slots
    for i, p in enumerate(runs):
        key = budget_key(p)
        if key not in budgets:
            budgets[key] = _Budget(
                p.cfg.model_name.split("/", 1)[0], shares(p.cfg.max_workers, slots), deque()
            )
        budgets[key].todo.extend((i, k) for k in range(shards))
    events: queue.Queue[Event] = queue.Queue()
    outcomes: list[int | BaseException] = [0] * len(runs)
    open_runs = set(range(len(runs)))

    def launch(budget: _Budget) -> None:
        while budget.slots and budget.todo:
            i, k = budget.todo.popleft()
            state = states[i]
            if state.error is not None:
                state.left.discard(k)
                continue
            if got:  # the command is stopping on a signal: nothing new starts
                state.left.discard(k)
                continue
            if ledger.stopped:  # the budget is spent: nothing new starts
                state.ends.append(ShardEnd(BUDGET_EXIT))
                state.left.discard(k)
                continue
            share = budget.slots.pop(0)
            budget.busy[(i, k)] = share
            state.launched += 1
            executor.submit(_task(state, i, k, share, address), events.put)

    def finish(i: int) -> None:
        state = states[i]
        for fd in (state.fd, state.parts_fd):
            if fd is not None:
                os.close(fd)
        through = state.error is None and not any(end.code for end in state.ends)
        ledger.close_journal(str(state.prepared.path), compact=through)
        if state.launched or state.error is not None:
            outcomes[i] = _summarise(state)
        else:  # stopped (a signal, the budget) before any shard of it began, as in one loop
            outcomes[i] = BUDGET_EXIT if ledger.stopped and not got else _NOT_STARTED
        state.prepared.lock.release()
        open_runs.discard(i)

    def stop_now(end: ShardEnd) -> list[int | BaseException]:
        executor.stop()
        for i in list(open_runs):
            states[i].ends.append(end)
            finish(i)
        return outcomes

    for budget in budgets.values():
        launch(budget)
    asked = 0  # signals acted on
    try:
        while open_runs:
            if len(got) > asked:
                asked = len(got)
                for state in states:
                    state.interrupted = got[0]
                if asked > 1:  # a second signal: stop now
                    return stop_now(ShardEnd(exit_codes.INTERRUPTED))
                executor.interrupt()
                for budget in budgets.values():
                    launch(budget)  # drops the shards not started
            try:
                kind, (i, k), value = events.get(timeout=0.1)
            except queue.Empty:
                for i in [i for i in open_runs if not states[i].left]:
                    finish(i)
                continue
            state = states[i]
            if kind in ("lines", "parts"):
                try:
                    (_append_new if kind == "lines" else _append_parts)(state, value)
                except WriteFailed as failed:
                    # the disk is full (or the file went): as a run of its own, stop sending
                    # now and say what was lost; the other runs' files share that disk
                    executor.stop()
                    state.write_failure = _with_queued(failed, events, i)
                    why = f"stopped with the command: cannot write {failed.path}: {failed.reason}"
                    for j in list(open_runs):
                        if states[j].error is None and j != i:
                            states[j].error = why
                        states[j].ends.append(ShardEnd(exit_codes.ERROR))
                        finish(j)
                    return outcomes
                continue
            budget = budgets[budget_key(state.prepared)]
            share = budget.busy.pop((i, k))
            budget.slots.append(share)
            if kind == "lost" and state.error is None and ledger.stopped:
                state.ends.append(ShardEnd(BUDGET_EXIT))  # not redone: the budget is spent
                state.left.discard(k)
            elif kind == "lost" and got:  # stopped by the signal before its engine ran
                state.ends.append(ShardEnd(exit_codes.INTERRUPTED))
                state.left.discard(k)
            elif kind == "lost" and state.error is None:
                state.redos += 1
                what = f"{state.prepared.cfg.model_name} {_label(state)} shard {k}/{shards}"
                if state.redos > MAX_REDOS * shards:
                    state.error = f"{what}: its worker was lost {state.redos} times ({value})"
                    state.left.discard(k)
                else:
                    print(
                        f"warning: {what} lost its worker ({value}); its unfinished samples "
                        "are sent again",
                        file=sys.stderr,
                    )
                    budget.todo.appendleft((i, k))
            else:
                if kind == "end":
                    state.ends.append(value)
                    if value.error is not None and state.error is None:
                        state.error = value.error
                state.left.discard(k)
            launch(budget)
            if not state.left and i in open_runs:
                finish(i)
    except KeyboardInterrupt:  # off the main thread: no handlers, Ctrl-C ends the shards now
        for state in states:
            state.interrupted = "SIGINT"
        return stop_now(ShardEnd(exit_codes.INTERRUPTED))
    finally:
        executor.stop()
    return outcomes


#: a run whose shards never began, the command stopping first (scheduler.run_budgets' own)
_NOT_STARTED = NotStarted("not started: the batch was stopped first")


def _label(state: _Run) -> str:
    cfg = state.prepared.cfg
    return f"{cfg.dataset}/{cfg.split}"


def _task(state: _Run, i: int, k: int, share: int, ledger: LedgerAddress) -> ShardTask:
    """Shard k of run i with `share` of its budget: what a worker needs, nothing open."""
    cfg = state.prepared.cfg
    fraction = share / cfg.max_workers
    per_endpoint = cfg.per_endpoint_concurrency
    shard_cfg = replace(
        cfg,
        shard=(k, state.shards),
        max_workers=share,
        per_endpoint_concurrency=None
        if per_endpoint is None
        else max(1, round(per_endpoint * fraction)),
        rps=None if state.prepared.rps is None else state.prepared.rps * fraction,
        max_rps=None if cfg.max_rps is None else cfg.max_rps * fraction,
        rate_share=cfg.rate_share * fraction,
        arrival_part=k,  # an open loop's share of --rate, its own draw (arrivals.share)
        preflight=False,
        progress=False,
        processes=1,
        options=dict(cfg.options),
    )
    skip = frozenset(state.prepared.resume.done_ids | state.written)
    parts = {sid: by_part for sid, by_part in state.done_parts.items() if sid not in skip}
    return ShardTask(
        shard_cfg, skip, (i, k), provider_env(), ledger, str(state.prepared.path), parts
    )


def _scan_parts(prepared: Prepared) -> DoneParts:
    """The parts the run's side file already has (a rerun's), read once by the driver."""
    return scan_parts(parts_path(prepared.path), skip_ids=prepared.resume.done_ids)


def _append_parts(state: _Run, data: bytes) -> None:
    """Append a shard's parts to the side file, and remember them for a shard started later
    (a lost shard's redo reuses what its worker sent before it was lost)."""
    path = parts_path(state.prepared.path)
    try:
        if state.parts_fd is None:  # as the run's own PartWriter: no part, no side file
            state.parts_fd = _open_append(path)
        _write_all(state.parts_fd, data)
    except (_Partial, OSError) as exc:
        reason = exc.reason if isinstance(exc, _Partial) else exc.strerror or type(exc).__name__
        raise WriteFailed(path, reason, []) from None  # the parts are sent again on resume
    for record in read_parts(data):
        state.done_parts.setdefault(record.id, {})[record.part] = record


def _open_append(path: Any) -> int:
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)


def _append_new(state: _Run, data: bytes) -> None:
    """Append the lines whose id the file does not have yet (a redone shard may send a line
    again that its lost worker had already sent). `WriteFailed` names the lines not saved."""
    done = state.prepared.resume.done_ids
    keep = []
    ends: list[tuple[str, str | None]] = []  # each kept line's (status, error kind)
    for line in data.splitlines(keepends=True):
        obj = orjson.loads(line)
        sample_id = obj["id"]
        if sample_id in done or sample_id in state.written:
            continue
        state.written.add(sample_id)
        keep.append(line)
        ends.append((obj.get("status"), obj.get("error_kind")))
    if keep:
        path = state.prepared.path
        try:
            if state.fd is None:  # as runs/scheduler.py's runs: no line, no results file
                state.fd = _open_append(path)
            _write_all(state.fd, b"".join(keep))
        except _Partial as cut:
            saved = b"".join(keep)[: cut.written].count(b"\n")
            state.tally.add(ends[:saved])
            raise WriteFailed(path, cut.reason, keep[saved:]) from None
        except OSError as exc:
            raise WriteFailed(path, exc.strerror or type(exc).__name__, keep) from None
        state.tally.add(ends)


@dataclass
class _Tally:
    """What the driver wrote to a run's results file this command, by how each sample ended:
    the run's true "samples written" (a killed or lost shard's own counters never arrive)."""

    ok: int = 0
    skipped_short: int = 0
    failed_by_kind: Counter[str] = field(default_factory=Counter)

    def add(self, ends: list[tuple[str, str | None]]) -> None:
        for status, kind in ends:
            if status == OK:
                self.ok += 1
            elif status == SKIPPED_SHORT:
                self.skipped_short += 1
            else:
                self.failed_by_kind[kind or "unknown"] += 1

    @property
    def done(self) -> int:
        return self.ok + self.skipped_short + self.failed_by_kind.total()

    def onto(self, stats: Any) -> int:
        """Put these counts in the merged shard counters; how many samples were written
        that those counters lacked (a lost worker's), whose timings they lack too."""
        missing = self.done - stats.done
        stats.done, stats.ok, stats.skipped_short = self.done, self.ok, self.skipped_short
        stats.failed = self.failed_by_kind.total()
        stats.failed_by_kind = Counter(self.failed_by_kind)
        return max(0, missing)


class _Partial(Exception):
    """A write that failed after `written` bytes went out."""

    def __init__(self, written: int, reason: str) -> None:
        self.written = written
        self.reason = reason


def _write_all(fd: int, data: bytes) -> None:
    """All of `data` to `fd` (os.write may take a part of it); `_Partial` when it fails."""
    view = memoryview(data)
    written = 0
    while written < len(data):
        try:
            written += os.write(fd, view[written:])
        except OSError as exc:
            raise _Partial(written, exc.strerror or type(exc).__name__) from None


def _with_queued(failed: WriteFailed, events: queue.Queue[Event], i: int) -> WriteFailed:
    """`failed` counting also the lines of run `i` that had come back but were still queued
    when its file failed (its shards are stopped: those answers are redone on resume)."""
    unsaved = list(failed.unsaved)
    with contextlib.suppress(queue.Empty):
        while True:
            kind, (j, _), value = events.get_nowait()
            if kind == "lines" and j == i:
                unsaved += value.splitlines()
    return WriteFailed(failed.path, failed.reason, unsaved)


def _summarise(state: _Run) -> int | BaseException:
    """The run's summary from its shards' counters; its exit code (or its error)."""
    from asyncbench.core.gates import parse_slos
    from asyncbench.engine.endpoints import EndpointPool
    from asyncbench.engine.stats import RunStats
    from asyncbench.reporting.load import load_section
    from asyncbench.reporting.saturation import parse_warmup
    from asyncbench.reporting.summary import print_summary
    from asyncbench.sources.dataset import SourceStats

    p = state.prepared
    stats = RunStats(total=None, started=state.started, loops=0)  # each shard adds its own
    source = SourceStats()
    from asyncbench.reporting.saturation import loop_health

    for end in state.ends:
        on_driver_clock(end)
        _merge(stats, end.stats)
        _merge(source, end.source)
        if end.stats is not None:  # each loop judged on its own ticks, not the merged ones
            stats.per_loop.append(loop_health(end.stats))
    # every shard reads every row of the split and keeps its slice: what it counts of the
    # rows themselves (read, dropped for an empty reference) is the split's, not a share
    ends = [end.source for end in state.ends if end.source is not None]
    if ends:
        source.rows = max(e.rows for e in ends)
        source.dropped_empty_reference = max(e.dropped_empty_reference for e in ends)
    stats.ended = time.monotonic()
    stats.handed_out_at = drain_start(stats.handed_out_at, state.slots)
    untimed = state.tally.onto(stats)
    from asyncbench.runs.runner import say_lengths

    say_lengths(p.cfg, stats.length_off)
    codes = [end.code for end in state.ends]
    if state.interrupted is not None:
        stats.interrupted = state.interrupted
    pool = EndpointPool(p.urls, 1)
    finished = state.error is None and not any(codes)
    record_end(p.cfg, p.path, p.total, source, ds=p.ds)  # the driver, the file's one writer
    summary = print_summary(
        p.path,
        stats,
        pool,
        source,
        p.resume,
        info=run_info(p.cfg) | {"shards": state.shards},
        limit=p.cfg.max_workers,
        finished=finished,
        load=load_section(stats, p.cfg.arrival_spec(), parse_slos(p.cfg.slos)),
        expected_samples=expected_samples(p.cfg, p.total, source, p.ds),
        warmup=parse_warmup(p.cfg.warmup),
        processes=state.shards,  # batch --processes N keeps its runs' own processes at 1
    )
    if untimed:
        print(
            f"note: {untimed} of the samples written came back from a worker that was lost or "
            "stopped: counted above, but their timings are not in the latency and throughput "
            "figures",
            file=sys.stderr,
        )
    if state.write_failure is not None:
        print(f"error: {state.write_failure.message()}", file=sys.stderr)
        return exit_codes.ERROR
    if state.error is not None:
        return ConfigError(state.error)
    if state.interrupted is not None:  # as runner._outcome says it for a run of its own
        print(
            f"interrupted by {state.interrupted}: {len(state.written)} samples written; "
            "rerun the same command to resume",
            file=sys.stderr,
        )
        return exit_codes.TERMINATED if state.interrupted == "SIGTERM" else exit_codes.INTERRUPTED
    from asyncbench.core.exit_codes import most_serious
    from asyncbench.runs.verdict import verdict

    code = most_serious(codes)
    return code or verdict(summary, p.cfg.max_failed_pct)


def drain_start(handed_out: list[float], slots: int) -> list[float]:
    """When the run's drain began, of its shards' last hand-outs: the earliest of the last
    wave (the `slots` shards that ran at once at the end). From the moment the first of them
    ran out of samples, fewer requests were in flight than the run kept up, so the steady
    window ends there; ending it at the latest mixed a stretch at part load into 'steady'
    (the id hash splits a split unevenly: 10 and 20 samples said 3.05/s for a 4/s run)."""
    if not handed_out:
        return []
    ordered = sorted(handed_out)
    return [ordered[-min(max(1, slots), len(ordered))]]


def on_driver_clock(end: ShardEnd) -> None:
    """Move a shard's monotonic times onto this process's monotonic clock (by the two
    machines' wall clocks): on one machine a no-op to the microsecond, on a Ray node the
    difference between the boots, without which the steady window and the whole-run
    throughput interval saw its samples come back hours before the run started."""
    from asyncbench.runs.shard_worker import clock_offset

    theirs = end.extra.get("clock")
    if end.stats is None or not isinstance(theirs, float):
        return
    shift = theirs - clock_offset()
    end.stats.done_at = [t + shift for t in end.stats.done_at]
    end.stats.handed_out_at = [t + shift for t in end.stats.handed_out_at]


def _merge(into: Any, part: Any) -> None:
    """Add a shard's counters (numbers, Counters, lists) into the run's."""
    if part is None:
        return
    import dataclasses

    for f in dataclasses.fields(part):
        name, value = f.name, getattr(part, f.name)
        if name in ("total", "started", "ended", "interrupted"):
            continue
        mine = getattr(into, name)
        if isinstance(value, list):
            mine.extend(value)
        elif isinstance(value, dict):
            mine.update(value)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            setattr(into, name, mine + value)


def run_processes(cfg: Any) -> int:
    """`run --processes N`: the run's N id-hash slices in N event-loop processes, this one
    the single writer (a run's own code path, `runner.run`, when N is 1)."""
    from asyncbench.runs.ledger import close_command
    from asyncbench.runs.procs import ProcessExecutor
    from asyncbench.runs.runner import prepare, run

    if cfg.processes <= 1:
        return run(cfg)
    ledger = Ledger.for_config(cfg)
    (outcome,) = run_sharded([prepare(cfg)], cfg.processes, ProcessExecutor(), ledger)
    if isinstance(outcome, BaseException):
        close_command(ledger, 2)
        raise outcome
    return close_command(ledger, outcome)


def run_all_sharded(
    cfgs: Sequence[Any],
    shards: int,
    executor: Executor,
    ledger: Ledger,
    *,
    announce: Callable[[Any], None] = lambda cfg: None,
) -> list[int | BaseException]:
    """A batch's runs, each cut into `shards` on `executor`: prepare every run here (a run
    that cannot start is its `NotStarted`), then drive the rest (scheduler.run_all's shape)."""
    from asyncbench.runs.runner import prepare

    results: list[int | BaseException] = []
    ready: list[tuple[int, Prepared]] = []
    for cfg in cfgs:
        announce(cfg)
        try:
            ready.append((len(results), prepare(cfg)))
            results.append(0)
        except ConfigError as exc:
            results.append(NotStarted(str(exc)))
    if ready:
        ended = run_sharded([p for _, p in ready], shards, executor, ledger)
        for (index, _), result in zip(ready, ended, strict=True):
            results[index] = result
    return results
