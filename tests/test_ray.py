"""`batch --ray` on a real two-node Ray cluster on 127.0.0.1 (a head and one more node, one CPU
each): the same scores as the single-process batch, a node killed mid-run loses nothing and
duplicates nothing, and the provider never sees more than its budget in flight across both
nodes. Skipped, with Ray's own words, where Ray is not installed or cannot start."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from pathlib import Path

import pytest

from .faultkit import finish, heard, start, wait_until
from .raycluster import RayCluster
from .support import cli_env, make_dataset, read_results

pytest.importorskip("ray", reason="ray is not installed: pip install 'asyncbench[ray]'")

pytestmark = pytest.mark.ray  # one xdist worker runs this file (tests/conftest.py SHARED)


@pytest.fixture(scope="module")
def cluster():  # type: ignore[no-untyped-def]
    try:
        c = RayCluster.start()
    except (RuntimeError, OSError) as exc:
        pytest.skip(f"a local Ray cluster cannot start on this machine: {exc}")
    yield c
    c.stop()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dataset(
        tmp_path_factory.mktemp("rayds"), {("ami", "test"): 30, ("voxpopuli", "test"): 24}
    )


@pytest.fixture(scope="module")
def long_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("raylong"), {("ami", "test"): 120})


def imperfect(body: bytes) -> str:
    """The clip's words, but every third clip loses its last word: scores that are not all
    zero, so equal scores mean something."""
    words = (heard(body) or "no watermark").split()
    return " ".join(words[:-1] if len(body) % 3 == 0 else words)


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
        "ami,voxpopuli" if "raylong" not in str(dataset) else "ami",
        "--max_workers",
        "4",
        "--results_dir",
        str(results),
        "--no_progress",
        *extra,
    ]


def wer_lines(stdout: str) -> list[str]:
    """Every WER figure printed (RTFx is a timing, different on every run), sorted: the runs
    of a batch end in whatever order their last samples come back, and print as they end."""
    return sorted(
        re.sub(r", RTFx = [0-9.]+", "", line) for line in stdout.splitlines() if "WER" in line
    )


async def test_same_scores_as_one_process_and_never_over_budget(
    cluster: RayCluster, dataset: Path, tmp_path: Path
) -> None:
    from .loopback import LoopbackAldea

    async with LoopbackAldea(2, transcript=imperfect, latency=0.05) as srv:
        code, out_one, err = await finish(
            await start(batch_args(dataset, srv.endpoints, tmp_path / "one"), cli_env())
        )
        assert code == 0, err
        srv.max_in_flight = 0
        proc = await start(
            batch_args(
                dataset, srv.endpoints, tmp_path / "ray", "--ray", cluster.address, "--shards", "2"
            ),
            cli_env(),
        )
        code, out_ray, err = await finish(proc, timeout=240)
        assert code == 0, err
        # the budget, across both nodes together
        assert 1 <= srv.max_in_flight <= 4, (srv.max_in_flight, err[-2000:])
    assert wer_lines(out_ray) == wer_lines(out_one), err[-2000:]
    assert any("WER = 0.00" not in line for line in wer_lines(out_one))
    for one in sorted((tmp_path / "one").glob("*.jsonl")):
        a = {r["id"]: (r["status"], r["pred_text"]) for r in read_results(one)}
        b_rows = read_results(tmp_path / "ray" / one.name)
        assert Counter(r["id"] for r in b_rows).most_common(1)[0][1] == 1
        assert {r["id"]: (r["status"], r["pred_text"]) for r in b_rows} == a


async def test_killed_worker_node_loses_nothing(
    cluster: RayCluster, long_dataset: Path, tmp_path: Path
) -> None:
    from .loopback import LoopbackAldea

    results = tmp_path / "r"
    async with LoopbackAldea(1, transcript=imperfect, latency=0.1) as srv:
        proc = await start(
            batch_args(
                long_dataset, srv.endpoints, results, "--ray", cluster.address, "--shards", "2"
            ),
            cli_env(),
        )

        def written() -> int:
            files = list(results.glob("*.jsonl"))
            return files[0].read_bytes().count(b"\n") if files else 0

        # both shards sending (more in flight than one shard's share of 2), lines written
        await wait_until(
            lambda: written() >= 10 and srv.in_flight >= 3, proc, timeout=180, what="both shards"
        )
        cluster.kill_worker_node()
        code, _out, err = await finish(proc, timeout=300)
        assert srv.max_in_flight <= 4
    try:
        assert code == 0, err
        assert "lost its worker" in err
        rows = read_results(next(results.glob("*.jsonl")))
        ids = Counter(r["id"] for r in rows)
        assert len(ids) == 120 and max(ids.values()) == 1
        assert all(r["status"] == "ok" for r in rows)
    finally:
        cluster.add_worker_node()  # for any test after this one
        await asyncio.sleep(0)
