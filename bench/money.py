"""One budget and one job ledger per command, executor by executor, counted by the servers.

    .venv/bin/python bench/money.py [--n 20] [--budget 50] [--ray]

Budget: an Aldea-protocol loopback server bills every request it receives (per second,
rounded up, at 1 USD a second; every third request is a 503 that is retried and billed too)
while `asyncbench` runs 2 splits × `--n` clips (each 2 USD) under `--budget_usd`. Printed per
executor: the budget, what the server billed, the exit code, and the seconds from start to
exit (the command must stop by itself, no hang).

Jobs: the mock AssemblyAI service holds every accepted job until all `--n` clips are in the
journal, then the command is killed (`run`: the whole command; with processes: one shard's
process, which the driver redoes), the jobs are let go, and the same command is run again.
Printed: the clips the service accepted more than once (must be 0).

`--ray` adds `batch --ray` on a local two-node cluster (tests/raycluster.py). Figures depend
on the machine's load; the counts must not.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` and `tests` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.faultkit import finish, start, wait_until
from tests.loopback import LoopbackAldea
from tests.provider_runs import CONFIG, SPLIT, env_with
from tests.raycluster import _procs
from tests.support import MockServer, cli_env, make_dataset, transcript_of
from tests.test_money import billed, every_third_fails
from tests.test_money_jobs import journaled

BUDGET_EXECUTORS = {
    "run": ["run", "--dataset", "ami", "--split", "test"],
    "run --processes 2": ["run", "--dataset", "ami", "--split", "test", "--processes", "2"],
    "batch": ["batch", "--datasets", "ami earnings22"],
    "batch --sequential": ["batch", "--datasets", "ami earnings22", "--sequential"],
    "batch --processes 2": ["batch", "--datasets", "ami earnings22", "--processes", "2"],
}


async def budget_row(name: str, head: list[str], dataset: Path, budget: float) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        async with LoopbackAldea(
            1, plan=every_third_fails, transcript=transcript_of, latency=0.02
        ) as srv:
            model = "--model_name" if head[0] == "run" else "--model"
            args = [
                *head, model, "aldea/default", "--dataset_path", str(dataset),
                "--aldea_endpoints", srv.endpoints, "--max_workers", "4",
                "--price_per_hour", "3600", "--budget_usd", f"{budget:g}",
                "--results_dir", tmp, "--no_progress",
            ]  # fmt: skip
            began = time.monotonic()
            code, _, err = await finish(await start(args, cli_env()), timeout=300)
            took = time.monotonic() - began
            spent = billed(srv)
    row = f"{name:<24} {budget:>8.2f} {spent:>8.2f} {code:>5} {took:>9.1f}"
    if code not in (0, 4):
        row += "  " + (err.strip().splitlines() or [""])[-1][:100]
    return row


def children(pid: int) -> list[int]:
    return [c for c, (ppid, cmd) in _procs().items() if ppid == pid and "spawn_main" in cmd]


async def jobs_row(name: str, more: list[str], n: int) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        dataset = make_dataset(root / "esb", {(CONFIG, SPLIT): n}, fmt="wav")
        results = root / "r"
        release = asyncio.Event()
        async with MockServer() as mock:
            mock.state.wait = release.wait  # type: ignore[method-assign]
            args = [
                "run", "--model_name", "assembly/best", "--dataset", CONFIG, "--split", SPLIT,
                "--dataset_path", str(dataset), "--results_dir", str(results),
                "--base_url", mock.url, "--poll_interval", "0.05", "--no_progress",
                "--max_workers", str(n), *more,
            ]  # fmt: skip
            env = env_with(ASSEMBLYAI_API_KEY="aai-bench")
            proc = await start(args, env=env)
            try:
                await wait_until(lambda: journaled(results) >= n, proc, timeout=240, what="jobs")
            except AssertionError:  # never journaled beside the results file: stop it, say so
                for pid in [*children(proc.pid), proc.pid]:
                    os.kill(pid, signal.SIGKILL)
                await proc.wait()
                return f"{name:<34} {n:>6} {'no journal':>12} {'-':>5}"
            shards = children(proc.pid)
            if shards:  # one shard's process dies; the driver redoes the shard
                os.kill(shards[0], signal.SIGKILL)
                release.set()
                code, _, _ = await finish(proc, 300)
            else:  # the whole command dies; the same command is run again
                proc.send_signal(signal.SIGKILL)
                await proc.wait()
                release.set()
                code, _, _ = await finish(await start(args, env=env), 300)
            twice = sum(1 for v in mock.state.submissions.values() if v > 1)
    return f"{name:<34} {n:>6} {twice:>12} {code:>5}"


async def main(n: int, budget: float, ray: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        dataset = make_dataset(
            Path(tmp) / "esb",
            {("ami", "test"): n, ("earnings22", "test"): n},
            fmt="wav",
            seconds=1.05,
        )
        print(f"budget: 2 splits x {n} clips at 2 USD each, every third request a billed 503")
        print(f"{'executor':<24} {'budget':>8} {'billed':>8} {'exit':>5} {'seconds':>9}")
        executors = dict(BUDGET_EXECUTORS)
        cluster = None
        if ray:
            from tests.raycluster import RayCluster

            cluster = RayCluster.start()
            executors["batch --ray (2 nodes)"] = [
                "batch", "--datasets", "ami earnings22", "--ray", cluster.address,
                "--shards", "2",
            ]  # fmt: skip
        try:
            for name, head in executors.items():
                print(await budget_row(name, head, dataset, budget), flush=True)
        finally:
            if cluster is not None:
                cluster.stop()
    print()
    print("jobs: every clip journaled, then killed, then finished; clips accepted twice")
    print(f"{'executor (what is killed)':<34} {'clips':>6} {'twice':>12} {'exit':>5}")
    print(await jobs_row("run (the command, rerun)", [], n), flush=True)
    print(await jobs_row("run --processes 2 (one shard)", ["--processes", "2"], n), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20, help="clips per split")
    parser.add_argument("--budget", type=float, default=50.0, help="--budget_usd")
    parser.add_argument("--ray", action="store_true", help="add batch --ray (local cluster)")
    ns = parser.parse_args()
    asyncio.run(main(ns.n, ns.budget, ns.ray))
