"""One budget for the whole command, whatever executes it: a local server that bills every
request it receives (per second, rounded up, at 1 USD a second) counts what it would charge,
and that count never passes `--budget_usd` for one process, `--processes 2`, a batch in one
loop, in turn and with processes; the command stops in bounded time with exit 4, one spend
line and one stop line, and every results file whole."""

from __future__ import annotations

import math
import time
from collections import Counter
from pathlib import Path

import pytest

from asyncbench.sources.audio import parse_wav

from .faultkit import finish, start
from .loopback import Action, LoopbackAldea
from .support import cli_env, make_dataset, read_results, transcript_of

SPLITS = (("ami", "test"), ("earnings22", "test"))
PER_SPLIT = 10  # clips of 1.05 .. 1.95 s: each billed 2 s, 20 USD a split


@pytest.fixture(scope="module")
def two_splits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("money") / "esb"
    return make_dataset(root, dict.fromkeys(SPLITS, PER_SPLIT), fmt="wav", seconds=1.05)


def billed(srv: LoopbackAldea) -> int:
    """USD the server charges for what it received: every request, per second rounded up."""
    total = 0
    for seen in srv.seen:
        info = parse_wav(seen.body)
        assert info is not None
        total += math.ceil(info.data_len / (info.rate * info.channels * info.bits // 8) - 1e-9)
    return total


def every_third_fails(port: int, n: int, body: bytes) -> Action:
    """Retries cost money too: every third request is a 503 (retried at once)."""
    return Action(status=503, headers={"Retry-After": "0"}) if n % 3 == 0 else Action()


COMMON = ("--price_per_hour", "3600", "--no_progress", "--results_dir")

EXECUTORS = {
    # executor: (arguments before --results_dir, budget)
    "run": (["run", "--dataset", "ami", "--split", "test", "--max_workers", "2"], 20),
    "run --processes 2": (
        ["run", "--dataset", "ami", "--split", "test", "--max_workers", "2", "--processes", "2"],
        20,
    ),
    "batch": (["batch", "--datasets", "ami earnings22", "--max_workers", "2"], 30),
    "batch --sequential": (
        ["batch", "--datasets", "ami earnings22", "--max_workers", "2", "--sequential"],
        30,
    ),
    "batch --processes 2": (
        ["batch", "--datasets", "ami earnings22", "--max_workers", "2", "--processes", "2"],
        30,
    ),
}


def command(executor: str, dataset: Path, endpoints: str, results: Path, budget: int) -> list[str]:
    head, _ = EXECUTORS[executor]
    model = "--model_name" if head[0] == "run" else "--model"
    return [
        *head,
        model,
        "aldea/default",
        "--dataset_path",
        str(dataset),
        "--aldea_endpoints",
        endpoints,
        "--budget_usd",
        str(budget),
        *COMMON,
        str(results),
    ]


@pytest.mark.parametrize("executor", list(EXECUTORS))
async def test_the_server_never_bills_more_than_the_budget(
    executor: str, two_splits: Path, tmp_path: Path
) -> None:
    _, budget = EXECUTORS[executor]
    results = tmp_path / "r"
    async with LoopbackAldea(
        1, plan=every_third_fails, transcript=transcript_of, latency=0.02
    ) as srv:
        began = time.monotonic()
        proc = await start(command(executor, two_splits, srv.endpoints, results, budget), cli_env())
        code, out, err = await finish(proc, timeout=150)
        took = time.monotonic() - began
        spent = billed(srv)
    assert code == 4, err[-3000:]
    assert 0 < spent <= budget, (spent, err[-3000:])
    assert took < 120  # no hang: the whole command ends once the budget is spent
    assert err.count("stopped by --budget_usd") == 1, err[-3000:]
    spend = [line for line in out.splitlines() if line.startswith("spend: ")]
    assert len(spend) == 1, out
    said = float(spend[0].split("$ ")[1].split()[0])
    assert said <= budget and said >= spent  # the client's count covers what was billed
    for path in results.glob("*.jsonl"):  # whole files, each sample once
        rows = read_results(path)
        assert max(Counter(r["id"] for r in rows).values()) == 1


async def test_a_rerun_with_room_finishes_what_the_budget_left(
    two_splits: Path, tmp_path: Path
) -> None:
    results = tmp_path / "r"
    async with LoopbackAldea(1, transcript=transcript_of, latency=0.02) as srv:
        args = command("batch --processes 2", two_splits, srv.endpoints, results, 30)
        code, _, err = await finish(await start(args, cli_env()), timeout=150)
        assert code == 4, err[-3000:]
        first = len(srv.seen)
        assert billed(srv) <= 30
        args = command("batch --processes 2", two_splits, srv.endpoints, results, 100)
        code, _out, err = await finish(await start(args, cli_env()), timeout=150)
        assert code == 0, err[-3000:]
    assert len(srv.seen) == 2 * PER_SPLIT  # no clip sent twice across the two commands
    assert first < 2 * PER_SPLIT
    for path in results.glob("*.jsonl"):
        rows = read_results(path)
        assert len(rows) == PER_SPLIT and all(r["pred_text"] == r["text"] for r in rows)


def test_the_ledger_never_reserves_past_its_limit_from_many_threads() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from asyncbench.runs.ledger import Ledger

    ledger = Ledger(limit_usd=50, price_per_hour=3600)  # 1 USD a second
    with ThreadPoolExecutor(16) as pool:
        granted = sum(pool.map(lambda _: ledger.reserve("acme/x", 1.5), range(400)))
    assert granted == 25 and ledger.stopped  # 2 USD each (rounded up): 25 fit in 50
    assert not ledger.reserve("acme/x", 0.5)  # stopped: nothing more, however small
    for _ in range(granted):
        ledger.settle("acme/x", 1.5)
    assert ledger.spend_lines() == ["spend: $ 50.0000 (audio sent, retries included)"]


def test_a_clip_of_unknown_length_is_never_sent_under_a_budget() -> None:
    from asyncbench.runs.ledger import Ledger

    ledger = Ledger(limit_usd=50, price_per_hour=3600)
    assert not ledger.reserve("acme/x", float("nan")) and ledger.stopped
    assert ledger.stop_line() == (
        "stopped by --budget_usd 50: $ 0.0000 spent, a clip of unknown length (its "
        "audio_length_s is not a number) cannot be priced; rerun (with a larger budget) to "
        "resume"
    )
    free = Ledger(price_per_hour=3600)  # no budget: sent, counted as nothing, never NaN
    assert free.reserve("acme/x", float("nan"))
    free.settle("acme/x", float("nan"))
    assert free.spend_lines() == ["spend: $ 0.0000 (audio sent, retries included)"]


def test_one_spend_line_per_model_and_one_in_total() -> None:
    from asyncbench.runs.ledger import Ledger

    ledger = Ledger(price_per_hour=3600)
    for model, seconds in (("acme/a", 1.5), ("acme/a", 0.5), ("other/b", 3.2)):
        assert ledger.reserve(model, seconds)
        ledger.settle(model, seconds)
    assert ledger.spend_lines() == [
        "spend acme/a: $ 3.0000 (2 attempts)",
        "spend other/b: $ 4.0000 (1 attempt)",
        "spend: $ 7.0000 (audio sent, retries included)",
    ]


async def test_run_api_sh_has_one_budget_for_the_whole_script(
    two_splits: Path, tmp_path: Path
) -> None:
    import asyncio

    from .support import PYTHON, REPO

    async with LoopbackAldea(1, transcript=transcript_of, latency=0.02) as srv:
        env = cli_env(
            PYTHON=PYTHON, MODEL="aldea/default", DATASET_PATH=str(two_splits),
            DATASETS="ami earnings22", ALDEA_ENDPOINTS=srv.endpoints,
            RESULTS_DIR=str(tmp_path / "r"), BUDGET_USD="30", PRICE_PER_HOUR="3600",
            MAX_WORKERS="2",
        )  # fmt: skip
        proc = await asyncio.create_subprocess_exec(
            "bash", str(REPO / "run_api.sh"), env=env, cwd=tmp_path,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        code, out, err = await finish(proc, timeout=150)
        spent = billed(srv)
    assert code == 4, err[-3000:]
    assert 0 < spent <= 30
    assert out.count("spend: $ ") == 1, out
    assert err.count("stopped by --budget_usd 30") == 1, err[-3000:]
