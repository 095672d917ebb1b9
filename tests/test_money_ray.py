"""One budget for `batch --ray` too: shard tasks on a real two-node Ray cluster on 127.0.0.1
reserve every attempt from the driver's ledger, so the server's own bill never passes
`--budget_usd`, and the command stops with exit 4 in bounded time. Skipped where Ray is not
installed or cannot start."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from .faultkit import finish, start
from .loopback import LoopbackAldea
from .raycluster import RayCluster
from .support import cli_env, make_dataset, read_results, transcript_of
from .test_money import PER_SPLIT, SPLITS, billed, every_third_fails

pytest.importorskip("ray", reason="ray is not installed: pip install 'asyncbench[ray]'")

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def cluster():  # type: ignore[no-untyped-def]
    try:
        c = RayCluster.start()
    except (RuntimeError, OSError) as exc:
        pytest.skip(f"a local Ray cluster cannot start on this machine: {exc}")
    yield c
    c.stop()


async def test_ray_shards_never_bill_more_than_the_budget(
    cluster: RayCluster, tmp_path: Path
) -> None:
    dataset = make_dataset(
        tmp_path / "esb", dict.fromkeys(SPLITS, PER_SPLIT), fmt="wav", seconds=1.05
    )
    results = tmp_path / "r"
    args = [
        "batch", "--model", "aldea/default", "--dataset_path", str(dataset),
        "--datasets", "ami earnings22", "--max_workers", "2", "--price_per_hour", "3600",
        "--budget_usd", "30", "--no_progress", "--results_dir", str(results),
        "--ray", cluster.address, "--shards", "2",
    ]  # fmt: skip
    async with LoopbackAldea(
        1, plan=every_third_fails, transcript=transcript_of, latency=0.02
    ) as srv:
        began = time.monotonic()
        more = ["--aldea_endpoints", srv.endpoints]
        code, out, err = await finish(await start([*args, *more], cli_env()), timeout=300)
        took = time.monotonic() - began
        spent = billed(srv)
    assert code == 4, err[-3000:]
    assert 0 < spent <= 30, (spent, err[-3000:])
    assert took < 240
    assert err.count("stopped by --budget_usd") == 1, err[-3000:]
    assert sum(line.startswith("spend: ") for line in out.splitlines()) == 1, out
    for path in results.glob("*.jsonl"):
        rows = read_results(path)
        assert max(Counter(r["id"] for r in rows).values()) == 1


async def test_a_lost_node_s_jobs_are_polled_not_submitted_again(
    cluster: RayCluster, tmp_path: Path
) -> None:
    import asyncio

    from .faultkit import wait_until
    from .provider_runs import env_with
    from .support import MockServer
    from .test_money_jobs import dataset_of, journaled

    n = 16
    dataset, results = dataset_of(tmp_path, n), tmp_path / "r"
    release = asyncio.Event()
    async with MockServer() as mock:
        mock.state.wait = release.wait  # type: ignore[method-assign]
        args = [
            "batch", "--model", "assembly/best", "--dataset_path", str(dataset),
            "--datasets", "librispeech:test.clean", "--max_workers", str(n),
            "--base_url", mock.url, "--poll_interval", "0.05", "--no_progress",
            "--results_dir", str(results), "--ray", cluster.address, "--shards", "2",
        ]  # fmt: skip
        proc = await start(args, env_with(ASSEMBLYAI_API_KEY="aai-test"))
        await wait_until(lambda: journaled(results) >= n, proc, timeout=240, what="16 jobs")
        cluster.kill_worker_node()
        release.set()
        code, _out, err = await finish(proc, timeout=300)
    assert code == 0, err[-3000:]
    assert "lost its worker" in err
    assert mock.state.counters["assemblyai.jobs"] == n
    assert sorted(mock.state.submissions.values()) == [1] * n
    rows = read_results(next(results.glob("*.jsonl")))
    assert len(rows) == n and all(r["pred_text"] == r["text"] for r in rows)
