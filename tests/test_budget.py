"""`--budget_usd` against a real loopback Aldea server: refused before the run, stopped
before the request that would cross it (retries counted), resumable."""

from __future__ import annotations

from pathlib import Path

import pytest

from .loopback import Action, LoopbackAldea
from .support import make_dataset, only_file, read_results, run_cli, run_cli_async


@pytest.fixture
def clips(tmp_path: Path) -> Path:
    # 10 clips of 1.05 .. 1.95 s: billed per second, each rounded up to 2 s, 20 s in all
    return make_dataset(tmp_path / "ds", {("ami", "test"): 10}, seconds=1.05)


def args(clips: Path, out: Path, endpoints: str, *more: str) -> list[str | Path]:
    return [
        "run",
        "--model_name", "aldea/default",
        "--dataset_path", clips,
        "--dataset", "ami",
        "--split", "test",
        "--aldea_endpoints", endpoints,
        "--max_workers", "1",
        "--results_dir", out,
        "--price_per_hour", "3600",  # 1 USD per second of audio
        *more,
    ]  # fmt: skip


async def test_stops_before_the_spend_would_cross_the_budget(clips: Path, tmp_path: Path) -> None:
    def plan(port: int, n: int, body: bytes) -> Action:  # the first 3 attempts fail
        return Action(status=503, headers={"Retry-After": "0"}) if n <= 3 else Action()

    out = tmp_path / "results"
    async with LoopbackAldea(plan=plan) as srv:
        code, stdout, err = await run_cli_async(
            *args(clips, out, srv.endpoints, "--budget_usd", "20")
        )
        # 2 USD an attempt: 3 failed attempts + 7 answers = 20 USD; the 11th is not sent
        assert code == 4, err
        assert len(srv.seen) == 10
    assert "audio to send: 10 clips, 0.0042 audio hours; estimated cost $ 20.0000" in err
    assert "spend: $ 20.0000 (audio sent, retries included)" in stdout
    assert "stopped by --budget_usd 20: $ 20.0000 spent" in err
    rows = read_results(only_file(out))
    assert len(rows) == 7 and all(r["status"] == "ok" for r in rows)
    assert sorted(r["attempts"] for r in rows) == [1, 1, 1, 1, 1, 1, 4]
    # resumable: a rerun with room for the rest sends only the 3 samples left
    async with LoopbackAldea() as srv:
        code, stdout, err = await run_cli_async(
            *args(clips, out, srv.endpoints, "--budget_usd", "100")
        )
        assert code == 0, err
        assert len(srv.seen) == 3
    assert len(read_results(only_file(out))) == 10
    assert "spend: $ 6.0000" in stdout  # 3 x 2


def test_an_estimate_above_the_budget_is_refused_before_any_request(
    clips: Path, tmp_path: Path
) -> None:
    done = run_cli(*args(clips, tmp_path / "r", "127.0.0.1:9", "--budget_usd", "19.5"))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        "error: the estimated cost $ 20.0000 of aldea/default on ami/test is above "
        "--budget_usd 19.5: raise the budget or pass --max_samples"
    )
    assert not list((tmp_path / "r").glob("*.jsonl"))


@pytest.mark.parametrize("bad", ["0", "-1"])
def test_a_budget_of_zero_or_less_is_exit_2(clips: Path, tmp_path: Path, bad: str) -> None:
    done = run_cli(*args(clips, tmp_path / "r", "127.0.0.1:9", "--budget_usd", bad))
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == f"error: --budget_usd must be more than 0 USD, got {bad}\n"


def test_a_budget_without_a_known_price_is_refused(clips: Path, tmp_path: Path) -> None:
    cmd = [a for a in args(clips, tmp_path / "r", "127.0.0.1:9", "--budget_usd", "5")]
    i = cmd.index("--price_per_hour")
    del cmd[i : i + 2]
    done = run_cli(*cmd)
    assert done.returncode == 2
    assert "error: --budget_usd needs a price for aldea/default: no public price known" in (
        done.stderr
    )
