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
