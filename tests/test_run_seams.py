"""Where a run meets the command around it: what the user is told at the end (the spend, the
sweep's figures, the escaped names) must not depend on which path the command took (one
process, `--processes N`, a sweep) or on how the run ended (a rejected key mid-run).

Each test drives the real CLI in a subprocess against a loopback Aldea server."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from .faultkit import dataset_fixture, finish, number_of, run_args, server, start
from .loopback import Action

N = 8
dataset = dataset_fixture("seams", N)

PRICE = ("--price_per_hour", "3600")  # 1 USD an audio second, billed per started second


def key_rejected_after(ok: int):  # type: ignore[no-untyped-def]
    """A server that answers `ok` requests, then rejects the key (a fatal error mid-run)."""

    def plan(port: int, n: int, body: bytes) -> Action:
        if n > ok:
            return Action(status=401, body=b'{"error": "invalid api key"}')
        return Action()

    return plan


def spend_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("spend: ")]


@pytest.mark.parametrize("processes", ["1", "2"])
async def test_a_key_rejected_mid_run_still_prints_what_was_spent(
    processes: str, dataset: Path, tmp_path: Path
) -> None:
    async with server(plan=key_rejected_after(3)) as srv:
        args = run_args(dataset, srv.endpoints, tmp_path / "r", "--max_workers", "1", *PRICE)
        proc = await start([*args, "--processes", processes])
        code, out, err = await finish(proc)
        sent = len([s for s in srv.seen if number_of(s.body) is not None])
    assert code == 2, err[-2000:]
    assert "key rejected" in err.splitlines()[-1], err[-2000:]
    (line,) = spend_lines(out)  # the money went out before the key was refused
    assert float(line.split("$ ")[1].split()[0]) >= sent > 3, (line, sent)


async def test_a_sweep_stopped_by_a_rejected_key_keeps_its_figures_and_spend(
    dataset: Path, tmp_path: Path
) -> None:
    async with server(plan=key_rejected_after(N + 2)) as srv:
        args = run_args(dataset, srv.endpoints, tmp_path / "unused", *PRICE)
        at = args.index("--results_dir")
        del args[at : at + 2]
        sweeps = tmp_path / "sweeps"
        proc = await start(["sweep", *args[1:], "--levels", "1,2", "--sweep_dir", str(sweeps)])
        code, out, err = await finish(proc)
    assert code == 2, err[-2000:]
    assert "key rejected" in err.splitlines()[-1], err[-2000:]
    assert len(spend_lines(out)) == 1, out
    (figures,) = sweeps.glob("*/sweep.json")
    levels = json.loads(figures.read_text())["levels"]
    assert [(row["level"], row["status"]) for row in levels] == [(1, "done"), (2, "error")]
    assert levels[0]["ok"] == N


def every_first_attempt_fails(port: int, n: int, body: bytes) -> Action:
    """Each sample's first attempt is a 503 (retried at once): a level costs twice its audio."""
    return Action(status=503, headers={"Retry-After": "0"}) if n % 2 == 1 else Action()


async def test_a_sweep_level_stopped_by_the_budget_is_not_recorded_as_done(
    dataset: Path, tmp_path: Path
) -> None:
    async with server(plan=every_first_attempt_fails) as srv:
        args = run_args(dataset, srv.endpoints, tmp_path / "unused", *PRICE, "--max_workers", "1")
        at = args.index("--results_dir")
        del args[at : at + 2]
        sweeps = tmp_path / "sweeps"
        # the estimate (N clips, each billed 1 s) fits; the retries take the level past it
        budget = ("--budget_usd", str(N + 2))
        proc = await start(
            ["sweep", *args[1:], *budget, "--levels", "1,2", "--sweep_dir", str(sweeps)]
        )
        code, _, err = await finish(proc)
    assert code == 4, err[-2000:]
    (figures,) = sweeps.glob("*/sweep.json")
    levels = json.loads(figures.read_text())["levels"]
    assert [(row["level"], row["status"]) for row in levels] == [(1, "budget")]


async def test_a_full_disk_under_processes_is_the_one_line_a_single_run_says(
    tmp_path: Path,
) -> None:
    """The driver of `--processes N` writes the results file: its write failing was a
    traceback (no summary, the lock file left), where a run of its own says one line."""
    import re
    import resource

    from .faultkit import numbered_dataset, results_file, whole_lines
    from .test_misuse_runs import start_limited

    data = numbered_dataset(tmp_path / "esb", 40)
    answered = 12
    full = True

    def plan(port: int, n: int, body: bytes) -> Action:
        return Action(hang=full and n > answered)

    async with server(plan=plan) as srv:
        results = tmp_path / "r"
        args = run_args(data, srv.endpoints, results, "--max_workers", "4", "--processes", "2")
        # ~9 of the 12 answers fit in 3000 bytes: the driver's write fails whatever the timing
        code, _, err = await finish(await start_limited(args, resource.RLIMIT_FSIZE, 3000))
        path = results_file(data, results)
        assert "Traceback" not in err, err[-3000:]
        errors = [line for line in err.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1, err[-3000:]
        assert re.fullmatch(
            rf"error: cannot write {re.escape(str(path))}: File too large; \d+ samples? "
            r"answered (were|was) not saved and will be redone on resume",
            errors[0],
        ), errors[0]
        assert code == 1
        assert not path.with_name(path.name + ".lock").exists()
        rows, _ = whole_lines(path)
        assert 0 < len(rows) < answered

        full = False  # space again: the rerun finishes the split, each sample once
        code, _, err = await finish(await start(args))
    assert code == 0, err[-3000:]
    rows, tail = whole_lines(path)
    assert tail == b"" and sorted(r["id"] for r in rows) == [f"ami-test-{i:05d}" for i in range(40)]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
async def test_a_signal_under_processes_finishes_what_is_in_flight_as_one_process_does(
    sig: signal.Signals, tmp_path: Path
) -> None:
    """test_crash's first-signal contract for `run`, with `--processes 2`: the answers to
    requests already sent (and paid for) are waited for and written, no new shard starts,
    and the run says how many samples it wrote (the children were killed at once, and the
    answers they had paid for were lost: 0 written)."""
    from .faultkit import numbered_dataset, results_file, wait_until, whole_lines

    data = numbered_dataset(tmp_path / "esb", 40)
    async with server(latency=2.0) as srv:
        results = tmp_path / "r"
        args = run_args(data, srv.endpoints, results, "--max_workers", "12", "--processes", "2")
        proc = await start(args)
        await wait_until(lambda: srv.in_flight == 12, proc, what="12 in flight")
        proc.send_signal(sig)
        code, _, err = await finish(proc)
        sent = len(srv.seen)
    # every request sent was answered, and its answer is in the file (the driver's reaction
    # to the signal takes a moment, so on a busy machine a few more may have gone out first)
    assert 12 <= sent < 40, err[-2000:]
    rows, tail = whole_lines(results_file(data, results))
    assert tail == b"" and len(rows) == sent and all(r["status"] == "ok" for r in rows)
    name = "SIGINT" if sig == signal.SIGINT else "SIGTERM"
    said = f"interrupted by {name}: {sent} samples written; rerun the same command to resume"
    assert said in err, err[-2000:]
    assert "Traceback" not in err, err[-3000:]
    assert code == (130 if sig == signal.SIGINT else 143)


@pytest.mark.parametrize("mode", [[], ["--sequential"]])
async def test_a_batch_split_refused_before_its_start_shows_no_figures_of_the_file_there(
    mode: list[str], dataset: Path, tmp_path: Path
) -> None:
    """The results file there is another run's (another --revision): the split is "not
    started" in every batch mode, and that run's figures are neither in the batch table nor
    scored as this batch's (`batch --sequential` showed them as its own, status "error")."""
    results = tmp_path / "r"
    async with server() as srv:
        first = [*run_args(dataset, srv.endpoints, results), "--revision", "v1"]
        code, _, err = await finish(await start(first))
        assert code == 0, err[-2000:]
        batch = [
            "batch",
            "--model",
            "aldea/default",
            "--datasets",
            "ami",
            "--dataset_path",
            str(dataset),
            "--aldea_endpoints",
            srv.endpoints,
            "--results_dir",
            str(results),
            "--revision",
            "v2",
            "--no_progress",
            *mode,
        ]
        code, out, err = await finish(await start(batch))
    assert code == 1, err[-3000:]
    (row,) = [line for line in err.splitlines() if line.startswith("aldea/default ")]
    assert row.split()[2:] == ["not", "started", "-", "-", "-", "-", "-"], row
    assert "WER" not in out, out  # no score table: this batch scored nothing


async def test_a_batch_split_that_fails_before_its_summary_shows_no_older_figures(
    tmp_path: Path,
) -> None:
    """A `--use_url` split whose viewer is down once the batch runs: it ends "error" before
    any summary, so the batch table shows no figures for it; the summary beside its file is
    an earlier run's (5 samples), not this batch's."""
    from .loopback import closed_port
    from .support import MockServer, cli_env, make_dataset
    from .test_use_url import DATASET, TOKEN, use_url

    hub = tmp_path / "hub"
    make_dataset(hub / DATASET, {("librispeech", "test.clean"): 8}, fmt="wav", seconds=0.3)
    from asyncbench.servers.mock import MockConfig

    results = tmp_path / "r"
    async with (
        MockServer(MockConfig(viewer_root=hub), protocols=("viewer",)) as viewer,
        server() as aldea,
    ):
        code, _, err = await use_url(viewer, aldea.endpoints, results, "--max_samples", "5")
        assert code == 0, err[-2000:]
        env = cli_env(HF_DATASETS_SERVER_URL=f"http://127.0.0.1:{closed_port()}", HF_TOKEN=TOKEN)
        batch = [
            "batch",
            "--use_url",
            "--model",
            "aldea/default",
            "--datasets",
            "librispeech:test.clean",
            "--dataset_path",
            DATASET,
            "--aldea_endpoints",
            aldea.endpoints,
            "--results_dir",
            str(results),
            "--no_progress",
        ]
        code, _, err = await finish(await start(batch, env))
    assert code == 1, err[-3000:]
    (row,) = [line for line in err.splitlines() if line.startswith("aldea/default ")]
    assert row.split()[2:] == ["error", "-", "-", "-", "-", "-"], row


async def test_a_lost_worker_s_samples_count_in_this_run_s_figures(tmp_path: Path) -> None:
    """`--processes 2` with one child killed mid-run: the samples it had sent back are in the
    file and are this run's, so "this run: N samples written" counts them (the shards'
    counters, all the summary added up, never arrive from a killed child)."""
    import os

    from .faultkit import numbered_dataset, results_file, wait_until, whole_lines
    from .raycluster import _procs

    data = numbered_dataset(tmp_path / "esb", 60)
    async with server(latency=0.05) as srv:
        results = tmp_path / "r"
        args = run_args(data, srv.endpoints, results, "--max_workers", "4", "--processes", "2")
        proc = await start(args)
        path = results_file(data, results)

        def children() -> list[int]:
            return [
                pid
                for pid, (ppid, cmd) in _procs().items()
                if ppid == proc.pid and "spawn_main" in cmd
            ]

        def written() -> int:
            return len(whole_lines(path)[0]) if path.exists() else 0

        # both children have sent lines back (each holds half the in-flight budget)
        await wait_until(lambda: written() >= 20 and len(children()) == 2, proc, what="lines")
        os.kill(children()[0], signal.SIGKILL)
        code, _, err = await finish(proc)
    assert code == 0, err[-3000:]
    assert "lost its worker" in err
    rows, _ = whole_lines(path)
    assert len(rows) == 60
    assert "this run: 60 samples written (60 ok, 0 too short to send, 0 failed)" in err, err
    assert "came back from a worker that was lost or stopped" in err, err


@pytest.mark.parametrize("executor", [[], ["--processes", "2"]])
async def test_a_batch_stopped_by_ctrl_c_lists_the_splits_it_never_started_as_not_started(
    executor: list[str], tmp_path: Path
) -> None:
    """In one loop and on shards alike: the split the batch never began is "not started",
    and no summary is written for it (a file of 0 samples would replace an earlier run's)."""
    from .faultkit import wait_until
    from .support import make_dataset

    # 8 ami clips: both of its shards hold some (4 would leave shard 0 empty, which ends at
    # once and lets an earnings22 shard begin), and the server holds every request
    data = make_dataset(
        tmp_path / "esb", {("ami", "test"): 8, ("earnings22", "test"): 4}, fmt="wav"
    )
    async with server(plan=lambda port, n, body: Action(hang=True)) as srv:
        batch = [
            "batch",
            "--model",
            "aldea/default",
            "--datasets",
            "ami earnings22",
            "--dataset_path",
            str(data),
            "--aldea_endpoints",
            srv.endpoints,
            "--results_dir",
            str(tmp_path / "r"),
            "--max_runs",
            "1",
            "--grace",
            "0.5",
            "--no_progress",
            *executor,
        ]
        if executor:
            batch.remove("--max_runs")
            batch.remove("1")
        proc = await start(batch)
        await wait_until(lambda: srv.in_flight > 0, proc, what="the first split's requests")
        proc.send_signal(signal.SIGINT)
        code, _, err = await finish(proc)
    assert code == 130, err[-3000:]
    rows = {
        line.split()[1]: line.split()[2:4]
        for line in err.splitlines()
        if line.startswith("aldea/default ")
    }
    assert rows["ami/test"] == ["interrupted", "-"], err[-3000:]
    assert rows["earnings22/test"] == ["not", "started"], err[-3000:]
    assert [p.name for p in (tmp_path / "r").glob("*earnings22*summary.json")] == []


async def test_a_shard_is_estimated_and_budgeted_on_its_own_slice(
    dataset: Path, tmp_path: Path
) -> None:
    """`--shard i/n` sends only its slice: the estimate says that slice's clips and cost, and a
    budget that covers the slice (not the whole split) lets it run."""
    from asyncbench.sources.dataset import in_shard

    from .faultkit import sample_id

    mine = [i for i in range(N) if in_shard(sample_id(i), 0, 2)]
    assert 0 < len(mine) < N
    # every clip (0.2 .. 0.9 s) is billed 1 s at 1 USD a second: the slice costs len(mine)
    budget = ("--budget_usd", str(len(mine) + 0.5))
    async with server() as srv:
        args = run_args(dataset, srv.endpoints, tmp_path / "r", *PRICE, *budget, "--shard", "0/2")
        code, _, err = await finish(await start(args))
    assert code == 0, err[-2000:]
    assert f"audio to send: {len(mine)} clips," in err, err[-2000:]
    assert f"estimated cost $ {len(mine):.4f}" in err, err[-2000:]
    assert len(srv.seen) == len(mine)
