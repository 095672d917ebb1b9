"""Never billed twice, never another clip's words: the job journal is the command's, kept
beside the results file by the driver whatever runs the shards.

The mock AssemblyAI service counts the jobs it accepts per audio (`MockState.submissions`),
so "submitted once" is read off the service's side. Accepted jobs are held running until the
test lets them go, so nothing depends on how fast the machine is.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import orjson
import pytest

from asyncbench.results.jobs import scan_jobs

from .faultkit import finish, numbered_dataset, start, wait_until
from .provider_runs import CONFIG, SPLIT, env_with
from .raycluster import _procs
from .support import MockServer, only_file, read_results

KEY = "aai-test"


def args(dataset: Path, results: Path, url: str, *more: str) -> list[str]:
    return [
        "run",
        "--model_name", "assembly/best",
        "--dataset", CONFIG,
        "--split", SPLIT,
        "--dataset_path", str(dataset),
        "--results_dir", str(results),
        "--base_url", url,
        "--poll_interval", "0.05",
        "--no_progress",
        *more,
    ]  # fmt: skip


def journaled(results: Path) -> int:
    """Jobs recorded in the journal beside the results file (submitted lines)."""
    return sum(
        p.read_bytes().count(b'"submitted"') for p in results.glob("*.jobs.ndjson") if p.exists()
    )


def children(pid: int) -> list[int]:
    return [c for c, (ppid, cmd) in _procs().items() if ppid == pid and "spawn_main" in cmd]


def dataset_of(tmp_path: Path, n: int) -> Path:
    """n WAV clips; clip i says "... number i."."""
    return numbered_dataset(tmp_path / "esb", n, config=CONFIG, split=SPLIT)


async def test_a_killed_shard_is_redone_by_polling_its_jobs(tmp_path: Path) -> None:
    n = 16
    dataset, results = dataset_of(tmp_path, n), tmp_path / "r"
    release = asyncio.Event()
    async with MockServer() as mock:
        mock.state.wait = release.wait  # type: ignore[method-assign]
        env = env_with(ASSEMBLYAI_API_KEY=KEY)
        cmd = args(dataset, results, mock.url, "--processes", "2", "--max_workers", str(n))
        proc = await start(cmd, env=env)
        await wait_until(lambda: journaled(results) >= n, proc, timeout=180, what="16 jobs")
        assert len(children(proc.pid)) == 2
        os.kill(children(proc.pid)[0], signal.SIGKILL)
        release.set()
        code, _out, err = await finish(proc, 240)
    assert code == 0, err[-3000:]
    assert "lost its worker" in err
    assert mock.state.counters["assemblyai.jobs"] == n
    assert sorted(mock.state.submissions.values()) == [1] * n
    rows = read_results(only_file(results))
    assert len(rows) == n and all(r["pred_text"] == r["text"] for r in rows)
    assert not list(results.glob("*.jobs.ndjson"))  # the split went through: compacted away


async def test_a_rerun_after_the_command_was_killed_polls_every_recorded_job(
    tmp_path: Path,
) -> None:
    n = 12
    dataset, results = dataset_of(tmp_path, n), tmp_path / "r"
    release = asyncio.Event()
    async with MockServer() as mock:
        mock.state.wait = release.wait  # type: ignore[method-assign]
        env = env_with(ASSEMBLYAI_API_KEY=KEY)
        cmd = args(dataset, results, mock.url, "--processes", "2", "--max_workers", str(n))
        proc = await start(cmd, env=env)
        await wait_until(lambda: journaled(results) >= n, proc, timeout=180, what="12 jobs")
        for pid in [*children(proc.pid), proc.pid]:  # the whole command dies at once
            os.kill(pid, signal.SIGKILL)
        await proc.wait()
        release.set()
        code, _out, err = await finish(await start(cmd, env=env), 240)
    assert code == 0, err[-3000:]
    assert mock.state.counters["assemblyai.jobs"] == n
    assert sorted(mock.state.submissions.values()) == [1] * n
    rows = read_results(only_file(results))
    assert len(rows) == n and all(r["pred_text"] == r["text"] for r in rows)


async def test_one_job_id_for_two_uploads_scores_neither(tmp_path: Path) -> None:
    n = 4
    dataset, results = dataset_of(tmp_path, n), tmp_path / "r"
    release = asyncio.Event()
    async with MockServer() as mock:
        mock.state.wait = release.wait  # type: ignore[method-assign]
        new_id = mock.state.new_id
        jobs = []

        def paired(prefix: str) -> str:  # the service hands out each job id twice
            if prefix:
                return new_id(prefix)
            jobs.append(1)
            return f"dup\x1b[31m{(len(jobs) - 1) // 2}"

        mock.state.new_id = paired  # type: ignore[method-assign]
        env = env_with(ASSEMBLYAI_API_KEY=KEY)
        proc = await start(args(dataset, results, mock.url, "--max_workers", str(n)), env=env)
        await wait_until(lambda: len(jobs) >= n, proc, timeout=120, what="4 jobs")
        release.set()
        code, _out, err = await finish(proc, 240)
    assert code in (0, 3), err[-3000:]  # 3: failed samples (the exit code for them)
    rows = read_results(only_file(results))
    assert len(rows) == n
    assert [(r["status"], r["error_kind"]) for r in rows] == [("failed", "protocol")] * n
    for k in (0, 1):  # reported once per job id, its control characters made harmless
        line = (
            f"error: assembly returned job id dup\\x1b[31m{k} for two different uploads: neither "
            "transcript is scored (both samples end failed, kind protocol, and are retried by "
            "a rerun)"
        )
        assert err.splitlines().count(line) == 1, err[-3000:]
    assert "\x1b" not in err


@pytest.mark.parametrize("moved", ["one", "all", "sample"])
async def test_a_job_recorded_for_another_endpoint_is_not_polled_here(
    tmp_path: Path, moved: str
) -> None:
    """#25 item 5: clip 0's journal entry names clip 5's job at another base URL; the run must
    not poll it here (clip 0 would get clip 5's words) but say so and submit clip 0 anew. A
    whole journal from elsewhere is said once, with a count. `sample`: the entry is at this
    endpoint, but was made for another sample (clip 5's id)."""
    n = 6
    dataset, results = dataset_of(tmp_path, n), tmp_path / "r"
    release = asyncio.Event()
    async with MockServer() as mock:
        mock.state.wait = release.wait  # type: ignore[method-assign]
        env = env_with(ASSEMBLYAI_API_KEY=KEY)
        cmd = args(dataset, results, mock.url, "--max_workers", str(n))
        proc = await start(cmd, env=env)
        await wait_until(lambda: journaled(results) >= n, proc, timeout=120, what="6 jobs")
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        release.set()
        await wait_until(lambda: all(j["text"] for j in mock.state.jobs.values()), timeout=60)
        journal = next(results.glob("*.jobs.ndjson"))
        entries = scan_jobs(journal)
        text = {e.key: mock.state.jobs[e.job]["text"] for e in entries.values()}
        by_text = {t.rsplit(" ", 1)[-1]: k for k, t in text.items()}  # "... number N." → key
        assert len(by_text) == n
        zero = entries[by_text[next(w for w in by_text if w.startswith("0"))]]
        five = entries[by_text[next(w for w in by_text if w.startswith("5"))]]
        elsewhere = "http://127.0.0.1:9/other"
        line = {"key": zero.key, "job": five.job, "state": "submitted", "url": elsewhere}
        line["extra"] = five.extra | {"_sample": zero.extra["_sample"]}
        if moved == "sample":  # this endpoint, clip 5's sample id
            line |= {"url": five.url, "extra": five.extra}
        others = [e for e in entries.values() if e.key != zero.key] if moved == "all" else []
        with journal.open("ab") as fh:
            fh.write(orjson.dumps(line) + b"\n")
            for e in others:
                moved_line = {"key": e.key, "job": e.job, "state": "submitted", "url": elsewhere}
                fh.write(orjson.dumps(moved_line | {"extra": e.extra}) + b"\n")
        code, _out, err = await finish(await start(cmd, env=env), 240)
    assert code == 0, err[-3000:]
    rows = read_results(only_file(results))
    assert len(rows) == n and all(r["pred_text"] == r["text"] for r in rows)
    said = [s for s in err.splitlines() if "not polled here" in s]
    assert len(said) == 1, err[-3000:]
    assert said[0].startswith(f"warning: {journal.name.removesuffix('.jobs.ndjson')}.jsonl: job ")
    if moved == "sample":
        ids = zero.extra["_sample"], five.extra["_sample"]
        assert ids[0].endswith("-00000") and ids[1].endswith("-00005")
        assert (
            f"recorded for sample {ids[1]} of assembly/best at {five.url}, not for this run's "
            f"sample {ids[0]} of assembly/best" in said[0]
        ), said
    else:
        assert f"recorded for assembly/best at {elsewhere}, not for this run's" in said[0]
    assert said[0].endswith("it is not polled here, and its sample is submitted as a new job")
    again = n if moved == "all" else 1
    assert sorted(mock.state.submissions.values()) == [1] * (n - again) + [2] * again
    counted = [s for s in err.splitlines() if "recorded jobs were made for another" in s]
    assert counted == (
        []
        if moved != "all"
        else [
            f"warning: {journal.name.removesuffix('.jobs.ndjson')}.jsonl: {n} recorded jobs were "
            "made for another model or endpoint; their samples were submitted as new jobs"
        ]
    )
