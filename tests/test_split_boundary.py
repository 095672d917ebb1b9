"""The boundary between two splits of one provider in a batch (issue 14).

The next split of a budget must be ready before the previous one drains: its run starts once
the previous run has read its whole split, its audio is prepared and its requests wait on the
shared pool (behind the previous run's, by priority), so the slots the last replies free are
filled at once. And a run that never wrote a line (queued behind another run when the batch
was stopped, a key refused on its first request) leaves no results file behind.

The servers hold requests on conditions, not on sleeps: the previous split's last requests are
answered only once the client shows what the test is about (the next split queued, or a
request of the next split arrived), so a failing scheduler shows up as a condition that never
came true, whatever the machine's load.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest

from asyncbench.results.store import Result, ResultWriter
from asyncbench.runs import scheduler

from .inproc import Background, cli, run_args
from .loopback import Action, LoopbackAldea
from .support import make_dataset, read_results, run_cli, sentence, transcript_of

BUDGET = 2
PER_SPLIT = 6
WAIT_S = 60.0  # how long a condition may take before the test calls it failed (never on time)
PREFIX = {"ami": "Ami", "voxpopuli": "Vox"}  # each split's clips say which split they are


@pytest.fixture(scope="module")
def two_splits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    texts = {
        (config, "test"): [f"{word} {sentence(i)}" for i in range(PER_SPLIT)]
        for config, word in PREFIX.items()
    }
    return make_dataset(tmp_path_factory.mktemp("boundary") / "esb", texts, fmt="wav")


class Boundary:
    """The server's side of the test: counts each split's arrivals and holds the previous
    split's last `BUDGET` requests (the whole budget: it has nothing more to send) on
    conditions about the client's batch, which it reads from the budgets the scheduler
    planned (captured in `budgets`)."""

    def __init__(self) -> None:
        self.budgets: list[scheduler.Budget] = []
        self.seen = {"Ami": 0, "Vox": 0}
        self.first_vox: float | None = None
        self.failed: list[str] = []  # conditions that did not come true within WAIT_S
        self.queued_at: float | None = None  # when the next split was seen queued
        self.on_queued = lambda: None  # what to do then (the kill test stops the batch)
        self.stopping = False  # on_queued stops the batch (the kill test)
        self.released = False  # the last reply goes without waiting (the batch is stopping)

    def next_split_queued(self) -> bool:
        """Every request of the first split has arrived (its last ones hold the budget), and
        the second run of the budget is active with requests waiting for a slot."""
        if self.seen["Ami"] < PER_SPLIT or not self.budgets or len(self.budgets[0].active) < 2:
            return False
        pool = self.budgets[0].pool
        # the pool's waiters are (priority, arrival, future); the next split has priority 1
        return any(p == 1 and not fut.done() for p, _, fut in list(pool._waiters))

    def batch_stopped(self) -> bool:
        """Both runs of the budget have stopped taking work (the signal was handled)."""
        runs = self.budgets[0].active
        return all(run.engine is not None and not run.engine.accepting for run in runs)

    async def wait_for(self, what: str, condition) -> None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + WAIT_S
        while not condition():
            if time.monotonic() > deadline:
                self.failed.append(what)
                return
            await asyncio.sleep(0.005)

    async def hold_until_queued(self) -> None:
        await self.wait_for("the next split queued on the pool", self.next_split_queued)
        if "the next split queued on the pool" not in self.failed:
            self.queued_at = time.monotonic()
            self.on_queued()
            if self.stopping:  # answer only once the client has taken the signal in
                await self.wait_for("the batch stopping", self.batch_stopped)
                self.released = True

    async def hold_until_next_arrives(self) -> None:
        await self.wait_for(
            "a request of the next split", lambda: self.first_vox is not None or self.released
        )

    def plan(self, port: int, n: int, body: bytes) -> Action:
        split = transcript_of(body).split(" ", 1)[0]
        self.seen[split] += 1
        if split == "Vox":
            if self.first_vox is None:
                self.first_vox = time.monotonic()
            return Action()
        k = self.seen["Ami"]
        if k == PER_SPLIT - 1:  # the budget is full of the first split's last requests
            return Action(until=self.hold_until_queued)
        if k == PER_SPLIT:  # its very last reply
            return Action(until=self.hold_until_next_arrives)
        return Action()


def batch(esb: Path, results: Path, endpoints: str) -> list[str | Path]:
    return [
        "batch",
        *("--model", "aldea/default", "--datasets", "ami voxpopuli"),
        *("--dataset_path", esb, "--aldea_endpoints", endpoints),
        *("--max_workers", str(BUDGET), "--results_dir", results, "--no_progress"),
    ]


def capture_budgets(monkeypatch: pytest.MonkeyPatch, into: list[scheduler.Budget]) -> None:
    real = scheduler.plan_budgets

    def plan_budgets(runs):  # type: ignore[no-untyped-def]
        planned = real(runs)
        into.extend(planned)
        return planned

    monkeypatch.setattr(scheduler, "plan_budgets", plan_budgets)


def test_the_next_split_is_queued_before_the_previous_one_drains(
    two_splits: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Before the fix the next split started only when a worker of the previous one was free
    (`Engine.source_done`): with the previous split's last requests holding the whole budget
    it had not started at all, so the first slot freed sat idle while it set up."""
    results = tmp_path / "results"
    side = Boundary()
    capture_budgets(monkeypatch, side.budgets)
    with Background(LoopbackAldea(1, plan=side.plan, transcript=transcript_of)) as srv:
        code, out, err = cli(capsys, *batch(two_splits, results, srv.endpoints))
        assert code == 0, err
        assert srv.max_in_flight <= BUDGET  # two runs on one budget, never over it
    assert side.failed == [], err
    # the next split's first request came while the previous split's last one was held
    assert side.first_vox is not None and side.queued_at is not None
    assert side.seen == {"Ami": PER_SPLIT, "Vox": PER_SPLIT}
    files = sorted(results.glob("*.jsonl"))
    assert len(files) == 2
    for f in files:
        rows = read_results(f)
        assert len({r["id"] for r in rows}) == len(rows) == PER_SPLIT
        assert all(r["status"] == "ok" and r["pred_text"] == r["text"] for r in rows)
    assert out.count("WER = 0.00 %") == 3  # two splits and the composite


def test_a_batch_stopped_with_the_next_split_queued_leaves_no_file_for_it(
    two_splits: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SIGTERM while the next split's requests wait behind the previous split's last ones:
    the previous split writes what was in flight, the next one sent nothing and wrote nothing,
    so it has no results file (before the fix its writer had already created an empty one),
    and the rerun finishes both exactly once."""
    results = tmp_path / "results"
    side = Boundary()

    side.stopping = True
    side.on_queued = lambda: os.kill(os.getpid(), signal.SIGTERM)
    capture_budgets(monkeypatch, side.budgets)
    with Background(LoopbackAldea(1, plan=side.plan, transcript=transcript_of)) as srv:
        code, _, err = cli(capsys, *batch(two_splits, results, srv.endpoints))
        assert side.queued_at is not None, side.failed
        assert code == 143, err
        assert "batch interrupted: rerun the same command to resume" in err
        assert side.seen["Vox"] == 0  # nothing of the next split was sent
        (written,) = results.glob("*.jsonl")
        assert "_ami_" in written.name and len(read_results(written)) == PER_SPLIT

        monkeypatch.undo()
        again = LoopbackAldea(1, transcript=transcript_of)
    with Background(again) as srv:
        code, _, err = cli(capsys, *batch(two_splits, results, srv.endpoints))
    assert code == 0, err
    files = sorted(results.glob("*.jsonl"))
    assert len(files) == 2
    for f in files:
        ids = [r["id"] for r in read_results(f)]
        assert len(ids) == len(set(ids)) == PER_SPLIT


def test_a_run_whose_key_is_refused_on_the_first_request_leaves_no_results_file(
    two_splits: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before the fix the writer opened (created) the results file before the first answer,
    so a run stopped by a 401 left an empty file that looked like a started split."""
    refuse = Action(status=401, body=b'{"error": "invalid api key", "request_id": "r1"}')
    with Background(LoopbackAldea(1, plan=lambda port, n, body: refuse)) as srv:
        args = run_args("aldea/default", two_splits, "ami", "test", srv.endpoints, tmp_path)
        code, _, err = cli(capsys, "run", *args)
        assert srv.seen  # the run got as far as its first request
    assert code == 2, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("error: HTTP 401: key rejected"), err
    assert list(tmp_path.glob("*.jsonl")) == []


def test_a_run_on_processes_whose_key_is_refused_leaves_no_results_file(
    two_splits: Path, tmp_path: Path
) -> None:
    """The same through `--processes 2` (runs/sharded.py: this process writes the lines its
    shard workers send back): before the fix it created every run's file before any shard."""
    refuse = Action(status=401, body=b'{"error": "invalid api key", "request_id": "r1"}')
    with Background(LoopbackAldea(1, plan=lambda port, n, body: refuse)) as srv:
        args = run_args("aldea/default", two_splits, "ami", "test", srv.endpoints, tmp_path)
        done = run_cli("run", *args, "--processes", "2")
        assert srv.seen
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "key rejected" in done.stderr
    assert list(tmp_path.glob("*.jsonl")) == []


async def test_the_writer_creates_the_file_with_its_first_line(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    idle = ResultWriter(path)
    task = asyncio.create_task(idle.run())
    await asyncio.sleep(0)
    idle.close()
    await task
    assert not path.exists() and idle.failure is None

    busy = ResultWriter(path)
    task = asyncio.create_task(busy.run())
    await asyncio.sleep(0)
    assert not path.exists()
    busy.put(Result("s1", "ok", 1.0, 0.1, "a", "a"))
    busy.close()
    await task
    assert [r["id"] for r in read_results(path)] == ["s1"] and busy.written == 1


async def test_a_file_that_cannot_be_created_fails_the_first_append(tmp_path: Path) -> None:
    path = tmp_path / "gone" / "r.jsonl"  # its folder does not exist: the open fails
    writer = ResultWriter(path)
    task = asyncio.create_task(writer.run())
    writer.put(Result("s1", "ok", 1.0, 0.1, "a", "a"))
    writer.close()
    await task
    assert writer.failure is not None and writer.failure.reason == "No such file or directory"
    assert [r.id for r in writer.failure.unsaved] == ["s1"]


def test_the_live_view_shows_the_split_the_provider_is_on_not_the_one_queued() -> None:
    """With the next split started early, a budget has two active runs: the live view names
    the earlier one until it has ended, and counts both runs' samples left."""
    from asyncbench.engine.endpoints import EndpointPool
    from asyncbench.engine.stats import RunStats

    pool = EndpointPool(["http://127.0.0.1:9"], BUDGET)
    budget = scheduler.Budget("aldea", BUDGET, pool, runs=[(0, None), (1, None)])  # type: ignore[list-item]
    current = scheduler.Active("ami/test", stats=RunStats(total=PER_SPLIT, done=4))
    queued = scheduler.Active("voxpopuli/test", stats=RunStats(total=PER_SPLIT))
    budget.active = [current, queued]
    (lane,) = scheduler.lanes([budget])
    assert (lane.split, lane.done, lane.left) == ("ami/test", 4, 2 + PER_SPLIT)
    assert current.stats is not None
    current.stats.done, current.stats.ended = PER_SPLIT, time.monotonic()
    budget.finished = 1
    (lane,) = scheduler.lanes([budget])
    assert (lane.split, lane.runs_done, lane.left) == ("voxpopuli/test", 1, PER_SPLIT)
