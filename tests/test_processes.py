"""`run --processes N` (one writer, N event-loop processes by the --shard id hash) and the
bad input of `--processes`, `--shards` and `--ray` (no cluster needed here)."""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter
from pathlib import Path

import pytest

from .faultkit import finish, heard, run_args, start, wait_until
from .loopback import Action, LoopbackAldea, closed_port
from .raycluster import _procs
from .support import cli_env, make_dataset, read_results


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("procds"), {("ami", "test"): 80})


def words(body: bytes) -> str:
    return heard(body) or "no watermark"


def ledger(path: Path) -> dict[str, tuple[str, str]]:
    rows = read_results(path)
    counts = Counter(r["id"] for r in rows)
    assert max(counts.values()) == 1, counts.most_common(3)
    return {r["id"]: (r["status"], r["pred_text"]) for r in rows}


async def test_two_processes_write_what_one_writes_and_share_the_budget(
    dataset: Path, tmp_path: Path
) -> None:
    async with LoopbackAldea(1, transcript=words, latency=0.02) as srv:
        one = tmp_path / "one"
        code, _, err = await finish(await start(run_args(dataset, srv.endpoints, one)))
        assert code == 0, err
        srv.max_in_flight = 0
        two = tmp_path / "two"
        args = run_args(dataset, srv.endpoints, two, "--max_workers", "5", "--processes", "2")
        code, _out, err = await finish(await start(args))
        assert code == 0, err
        assert srv.max_in_flight <= 5  # 3 + 2 over the two processes
    (a,) = one.glob("*.jsonl")
    assert ledger(two / a.name) == ledger(a)
    assert "coverage: 80/80 samples done" in err
    assert (two / a.name).with_suffix(".summary.json").exists()


async def test_resumes_and_redoes_a_killed_process(dataset: Path, tmp_path: Path) -> None:
    results = tmp_path / "r"
    async with LoopbackAldea(1, transcript=words, latency=0.1) as srv:
        code, _, err = await finish(
            await start(run_args(dataset, srv.endpoints, results, "--max_samples", "10"))
        )
        assert code == 0, err
        # replies wait until a child has been killed: both children's requests pile up at the
        # server and stay there, whatever the machine's load (a loaded run once kept 0.5 in
        # flight on average, and the moment with 3 in flight was never seen)
        gate = asyncio.Event()
        srv.plan = lambda port, n, body: Action(until=gate.wait)
        args = run_args(dataset, srv.endpoints, results, "--max_workers", "4", "--processes", "2")
        proc = await start(args)

        def children() -> list[int]:
            return [
                pid
                for pid, (ppid, cmd) in _procs().items()
                if ppid == proc.pid and "spawn_main" in cmd
            ]

        path = next(results.glob("*.jsonl"))
        # both children sending (more in flight than one child's share of 2)
        await wait_until(
            lambda: srv.in_flight >= 3 and len(children()) == 2, proc, what="two children"
        )
        os.kill(children()[0], signal.SIGKILL)
        gate.set()
        code, _, err = await finish(proc)
    assert code == 0, err
    assert "lost its worker" in err
    rows = ledger(path)
    assert len(rows) == 80 and all(status == "ok" for status, _ in rows.values())


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--processes", "0"), "error: --processes must be at least 1 (got 0)"),
        (
            ("--processes", "2", "--shard", "0/2"),
            "error: --processes splits the run by the same id hash as --shard: use one of them",
        ),
    ],
)
async def test_bad_processes_is_one_line_before_any_request(
    dataset: Path, tmp_path: Path, extra: tuple[str, ...], message: str
) -> None:
    async with LoopbackAldea(1, transcript=words) as srv:
        code, _, err = await finish(await start(run_args(dataset, srv.endpoints, tmp_path, *extra)))
        assert not srv.seen
    assert code == 2
    assert err.strip().splitlines() == [message]


def batch_args(dataset: Path, endpoints: str, results: Path, *extra: str) -> list[str]:
    return [
        "batch",
        "--model",
        "aldea/default",
        "--aldea_endpoints",
        endpoints,
        "--dataset_path",
        str(dataset),
        "--datasets",
        "ami",
        "--results_dir",
        str(results),
        "--no_progress",
        *extra,
    ]


async def test_ray_not_installed_is_one_line(dataset: Path, tmp_path: Path) -> None:
    fake = tmp_path / "noray" / "ray"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('No module named ray')\n")
    async with LoopbackAldea(1, transcript=words) as srv:
        proc = await start_with_path(
            batch_args(dataset, srv.endpoints, tmp_path / "r", "--ray"), cli_env(), fake.parent
        )
        code, _, err = await finish(proc)
        assert not srv.seen
    assert code == 2
    assert err.strip().splitlines() == [
        "error: --ray needs Ray, which is not installed: pip install 'asyncbench[ray]'"
    ]


async def start_with_path(args: list[str], env: dict[str, str], first: Path):  # type: ignore[no-untyped-def]
    """`start`, with `first` ahead of the repo on PYTHONPATH."""
    import asyncio

    from .support import PYTHON, REPO

    env = dict(env) | {"PYTHONPATH": f"{first}{os.pathsep}{REPO}"}
    return await asyncio.create_subprocess_exec(
        PYTHON,
        "-m",
        "asyncbench",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=REPO,
    )


async def test_unreachable_ray_address_is_one_line(dataset: Path, tmp_path: Path) -> None:
    pytest.importorskip("ray", reason="ray is not installed: pip install 'asyncbench[ray]'")
    port = closed_port()
    async with LoopbackAldea(1, transcript=words) as srv:
        code, _, err = await finish(
            await start(
                batch_args(dataset, srv.endpoints, tmp_path / "r", "--ray", f"127.0.0.1:{port}")
            )
        )
        assert not srv.seen
    assert code == 2
    assert err.strip().splitlines() == [
        f"error: cannot reach the Ray cluster at 127.0.0.1:{port}: Connection refused"
    ]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--shards", "2"), "error: --shards goes with --ray (use --processes N on one machine)"),
        (
            ("--ray", "local", "--processes", "2"),
            "error: --ray and --processes both split the runs: use one of them",
        ),
    ],
)
async def test_bad_shard_flags_are_one_line(
    dataset: Path, tmp_path: Path, extra: tuple[str, ...], message: str
) -> None:
    async with LoopbackAldea(1, transcript=words) as srv:
        code, _, err = await finish(
            await start(batch_args(dataset, srv.endpoints, tmp_path / "r", *extra))
        )
        assert not srv.seen
    assert code == 2
    assert err.strip().splitlines() == [message]


@pytest.mark.parametrize(
    ("shards", "parallelism", "budgets", "slots"),
    [(4, None, 1, 4), (4, 2, 1, 2), (4, 8, 1, 4), (4, 6, 3, 2), (4, 2, 3, 1), (1, 16, 1, 1)],
)
def test_a_budget_is_cut_for_the_shards_that_run_at_once(
    shards: int, parallelism: int | None, budgets: int, slots: int
) -> None:
    """A Ray cluster of 2 CPUs runs 2 shard tasks at once: a budget of 8 in 4 shares of 2 kept
    only 4 in flight (bench/ray_batch.py showed it), so it is cut in 2 shares of 4."""
    from asyncbench.runs.sharded import shares, slot_count

    n = slot_count(shards, parallelism, budgets)
    assert n == slots
    assert sum(shares(8, n)) == 8
