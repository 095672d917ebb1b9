"""Numbers you can trust under misuse, on the run/results side (issue 18, items 1, 2, 7-10).

Each test drives the real CLI in a subprocess against a loopback Aldea server, on real files:
a second run of the same split while the first holds it, a file-size rlimit
(`RLIMIT_FSIZE`, set in the child) for a full disk, results lines damaged in their middle,
a dataset whose rows share ids, a parquet page that cannot be read, process limits and
NaN flags. Each checks the one line the user sees and what the server really received.
"""

from __future__ import annotations

import asyncio
import os
import re
import resource
import signal
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest

from asyncbench.sources import watermark
from asyncbench.sources.hub_layout import encode_audio, write_hub_folder

from .faultkit import (
    finish,
    ledger,
    numbered_dataset,
    numbered_texts,
    results_file,
    run_args,
    server,
    start,
    wait_until,
    whole_lines,
)
from .inproc import one_error_line
from .loopback import Action
from .support import PYTHON, REPO, cli_env, transcript_of


async def start_limited(
    args: list[str], limit: int, value: int, cwd: Path = REPO
) -> asyncio.subprocess.Process:
    """`start`, with one rlimit set in the child before it runs (soft, hard = value)."""
    env = cli_env()
    env["PYTHONPATH"] = str(REPO)

    def preexec() -> None:
        resource.setrlimit(limit, (value, value))

    return await asyncio.create_subprocess_exec(
        PYTHON,
        "-m",
        "asyncbench",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=cwd,
        preexec_fn=preexec,
    )


def error_lines(err: str) -> list[str]:
    assert "Traceback" not in err, err
    return [line for line in err.splitlines() if line.startswith("error: ")]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return numbered_dataset(tmp_path_factory.mktemp("misuse") / "esb", 40)


# -- item 1: one writer per results file ----------------------------------------------------


async def test_a_second_run_of_the_same_split_is_refused_naming_the_holder(
    dataset: Path, tmp_path: Path
) -> None:
    release = asyncio.Event()

    def plan(port: int, n: int, body: bytes) -> Action:
        return Action() if release.is_set() else Action(hang=True)

    async with server(plan=plan) as srv:
        args = run_args(dataset, srv.endpoints, tmp_path, "--max_workers", "2")
        first = await start(args)
        await wait_until(lambda: len(srv.seen) >= 2, first, what="the first run's requests")
        before = len(srv.seen)
        code, _, err = await finish(await start(args), timeout=120)
        path = results_file(dataset, tmp_path)
        line = one_error_line(err)
        assert code == 2
        assert f"results file {path} is in use by another run (PID {first.pid}" in line
        await asyncio.sleep(0.2)
        assert len(srv.seen) == before == 2  # the second run sent nothing

        # the holder dies without a word: its lock goes with it, and a rerun just resumes
        first.send_signal(signal.SIGKILL)
        await first.wait()
        release.set()
        code, _, err = await finish(await start(args), timeout=120)
        assert code == 0, err
        assert len(ledger(path)) == 40


async def test_shards_of_one_split_run_side_by_side(dataset: Path, tmp_path: Path) -> None:
    async with server() as srv:
        runs = [
            await start(run_args(dataset, srv.endpoints, tmp_path, "--shard", f"{i}/2"))
            for i in range(2)
        ]
        outcomes = await asyncio.gather(*(finish(p) for p in runs))
        assert [code for code, _, _ in outcomes] == [0, 0], outcomes
        assert len(list(tmp_path.glob("*.shard-*.jsonl"))) == 2


# -- item 2: a writer that fails stops the run ----------------------------------------------


async def test_a_full_disk_mid_run_stops_sending_and_says_what_was_lost(
    dataset: Path, tmp_path: Path
) -> None:
    answered = 12  # the server answers 12 requests, then holds the rest until they give up
    full = True

    def plan(port: int, n: int, body: bytes) -> Action:
        return Action(hang=full and n > answered)

    async with server(plan=plan) as srv:
        args = run_args(dataset, srv.endpoints, tmp_path, "--max_workers", "4")
        # every file of the run may grow to 3000 bytes: the results file takes ~9 lines of
        # the 12 answers, so the writer fails whatever the timing, and the requests then in
        # flight (held by the server) must be abandoned, not waited for
        code, _, err = await finish(await start_limited(args, resource.RLIMIT_FSIZE, 3000))
        path = results_file(dataset, tmp_path)
        rows, tail = whole_lines(path)
        [line] = error_lines(err)
        match = re.fullmatch(
            rf"error: cannot write {re.escape(str(path))}: File too large; (\d+) samples? "
            r"answered (were|was) not saved and will be redone on resume",
            line,
        )
        assert match, line
        assert code == 1
        assert 0 < len(rows) < answered and path.stat().st_size <= 3000
        # answers the client had when its writer failed are saved or counted as lost (an
        # answer still on the wire then is abandoned with its request)
        assert int(match.group(1)) >= 1 and len(rows) + int(match.group(1)) <= answered
        assert len(srv.seen) <= answered + 4  # nothing sent once the writer failed

        full = False  # space again: the rerun repairs the torn tail and finishes the split
        code, _, err = await finish(await start(args))
        assert code == 0, err
        done = ledger(path)
        assert sorted(done) == [f"ami-test-{i:05d}" for i in range(40)]
        assert all(r["status"] == "ok" for r in done.values())
        assert tail == b"" or "torn last line repaired" in err


async def test_a_full_disk_at_start_is_one_line_before_any_request(
    dataset: Path, tmp_path: Path
) -> None:
    async with server() as srv:
        args = run_args(dataset, srv.endpoints, tmp_path)
        code, _, err = await finish(await start_limited(args, resource.RLIMIT_FSIZE, 100))
        line = one_error_line(err)
        assert code == 2
        assert line.startswith("error: cannot write ") and ".meta.json: File too large" in line
        assert srv.seen == []


async def test_the_results_file_deleted_mid_run_stops_the_run(
    dataset: Path, tmp_path: Path
) -> None:
    def plan(port: int, n: int, body: bytes) -> Action:
        return Action() if n <= 5 else Action(delay=0.3)

    async with server(plan=plan) as srv:
        args = run_args(dataset, srv.endpoints, tmp_path, "--max_workers", "1")
        proc = await start(args)
        path = results_file(dataset, tmp_path)
        await wait_until(
            lambda: path.exists() and path.read_bytes().count(b"\n") >= 5, proc, what="5 lines"
        )
        path.unlink()
        code, _, err = await finish(proc)
        [line] = error_lines(err)
        assert code == 1
        assert f"error: cannot write {path}: the file was deleted or replaced" in line
        assert len(srv.seen) < 40


# -- item 7: lines the pre-scan cannot read are redone, never counted -----------------------


async def test_lines_damaged_in_their_middle_are_redone_and_scored_once(
    dataset: Path, tmp_path: Path
) -> None:
    async with server() as srv:
        args = run_args(dataset, srv.endpoints, tmp_path, "--max_samples", "10")
        code, _, err = await finish(await start(args))
        assert code == 0, err
        path = results_file(dataset, tmp_path)
        lines = path.read_bytes().splitlines(keepends=True)
        # both ends of each line intact, its middle broken: invalid JSON, invalid UTF-8
        lines[2] = lines[2].replace(b'"pred_text":"', b'"pred_text":', 1)
        lines[5] = lines[5].replace(b'"pred_text":"', b'"pred_text":"\xff\xfe', 1)
        path.write_bytes(b"".join(lines))
        damaged = {orjson.loads(line.replace(b"\xff\xfe", b""))["id"] for line in lines[5:6]}
        seen = len(srv.seen)

        code, _, err = await finish(await start(args))
        assert code == 0, err
        assert "2 unreadable lines removed" in err
        assert len(srv.seen) - seen == 2  # the two samples are sent again
        done = ledger(path)
        assert len(done) == 10 and damaged <= set(done)
        assert "10/10 samples done (100.00 %)" in err


# -- item 8: duplicate sample ids in a dataset -----------------------------------------------


def dataset_with_ids(root: Path, ids: list[str]) -> Path:
    texts = numbered_texts(len(ids))
    rows = []
    for i, (sid, text) in enumerate(zip(ids, texts, strict=True)):
        pcm = watermark.embed(text, 0.2, seed=i)
        rows.append(
            {
                "audio": {"bytes": encode_audio(pcm, 16000, "wav"), "path": f"{i}.wav"},
                "text": text,
                "id": sid,
                "audio_length_s": len(pcm) / 16000,
            }
        )
    return write_hub_folder(root, {"ami": {"test": rows}}, sort_longest_first=False)


async def test_rows_sharing_an_id_are_each_sent_and_scored_once(tmp_path: Path) -> None:
    ids = ["a", "b", "a", "c", "a", "a#2"]
    data = dataset_with_ids(tmp_path / "dup", ids)
    async with server() as srv:
        args = run_args(data, srv.endpoints, tmp_path / "results")
        code, _, err = await finish(await start(args))
        assert code == 0, err
        assert "warning: row 2 has the id 'a' of an earlier row" in err
        done = ledger(results_file(data, tmp_path / "results"))
        assert sorted(done) == ["a", "a#2", "a#2#2", "a#3", "b", "c"]
        assert all(r["pred_text"] == r["text"] for r in done.values())
        assert "6/6 samples done (100.00 %)" in err
        sent = len(srv.seen)
        code, _, err = await finish(await start(args))  # resume: the same keys, all done
        assert code == 0 and len(srv.seen) == sent, err


# -- item 9: bad data mid-stream -------------------------------------------------------------


def corrupt_row_group(parquet: Path, group: int) -> None:
    """Overwrite the middle of one row group's audio pages with garbage (footer intact)."""
    meta = pq.read_metadata(parquet)
    column = meta.row_group(group).column(0)
    start = column.dictionary_page_offset or column.data_page_offset
    size = column.total_compressed_size
    data = bytearray(parquet.read_bytes())
    lo, hi = start + size // 4, start + 3 * size // 4
    data[lo:hi] = os.urandom(hi - lo)
    parquet.write_bytes(bytes(data))


async def test_a_corrupt_parquet_page_costs_only_its_rows(tmp_path: Path) -> None:
    data = numbered_dataset(tmp_path / "esb", 130)  # row groups of 100 rows
    [parquet] = sorted((data / "ami").glob("*.parquet"))
    corrupt_row_group(parquet, 1)
    async with server() as srv:
        args = run_args(data, srv.endpoints, tmp_path / "results", "--max_workers", "8")
        code, _, err = await finish(await start(args))
        [line] = error_lines(err)
        assert code == 1
        assert re.match(rf"error: cannot read rows (\d+)-129 of ami/test \(file {parquet}\)", line)
        path = results_file(data, tmp_path / "results")
        written = ledger(path)
        assert len(written) == len(srv.seen) >= 64  # every row read before the page was done
        assert f"the {len(written)} rows before it were read" in line

        code, _, err2 = await finish(await start(args))  # a rerun gets there at once
        assert code == 1 and error_lines(err2)[0].split(";")[0] == line.split(";")[0]
        assert len(srv.seen) == len(written)


async def test_a_parquet_unreadable_from_its_first_byte_is_one_line(tmp_path: Path) -> None:
    data = numbered_dataset(tmp_path / "esb", 5)
    [parquet] = sorted((data / "ami").glob("*.parquet"))
    parquet.write_bytes(os.urandom(parquet.stat().st_size))
    async with server() as srv:
        code, _, err = await finish(await start(run_args(data, srv.endpoints, tmp_path / "r")))
        line = one_error_line(err)
        assert code == 2
        assert line.startswith(f"error: cannot read {parquet}, the first file of ami/test: ")
        assert srv.seen == []


# -- item 10: resources and flags checked up front -------------------------------------------


async def test_too_many_workers_for_the_open_files_limit_is_refused(
    dataset: Path, tmp_path: Path
) -> None:
    async with server() as srv:
        args = run_args(dataset, srv.endpoints, tmp_path, "--max_workers", "1000")
        proc = await start_limited(args, resource.RLIMIT_NOFILE, 256)
        code, _, err = await finish(proc)
        line = one_error_line(err)
        assert code == 2
        assert "--max_workers 1000 needs about 1129 open files" in line
        assert "may open at most 256 (ulimit -n; hard limit 256)" in line
        assert srv.seen == []


@pytest.mark.parametrize(
    ("flag", "value"), [("--timeout", "nan"), ("--rps", "inf"), ("--max_rps", "nan")]
)
async def test_nan_and_infinite_flags_are_refused(
    dataset: Path, tmp_path: Path, flag: str, value: str
) -> None:
    async with server() as srv:
        code, _, err = await finish(
            await start(run_args(dataset, srv.endpoints, tmp_path, flag, value))
        )
        line = one_error_line(err)
        assert code == 2
        assert line.startswith(f"error: {flag} must be a finite number")
        assert srv.seen == []


async def test_a_nan_aldea_rps_is_refused(dataset: Path, tmp_path: Path) -> None:
    async with server() as srv:
        env = cli_env(ALDEA_RPS="nan", PYTHONPATH=str(REPO))
        code, _, err = await finish(await start(run_args(dataset, srv.endpoints, tmp_path), env))
        assert code == 2
        assert one_error_line(err) == "error: ALDEA_RPS must be a finite number (got 'nan')"
        assert srv.seen == []


async def test_a_folder_that_forbids_the_resume_rename_is_one_line(
    dataset: Path, tmp_path: Path
) -> None:
    async with server() as srv:
        args = run_args(dataset, srv.endpoints, tmp_path, "--max_samples", "3")
        code, _, err = await finish(await start(args))
        assert code == 0, err
        path = results_file(dataset, tmp_path)
        with path.open("ab") as fh:
            fh.write(b'{"id":"ami-test-00001","status":"fai')  # a torn tail to repair
        path.with_name(path.name + ".tmp").mkdir()  # where the rewrite must go
        seen = len(srv.seen)
        code, _, err = await finish(await start(args))
        line = one_error_line(err)
        assert code == 2
        assert line.startswith(f"error: cannot rewrite {path} to resume it")
        assert len(srv.seen) == seen


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to own files as two users")
async def test_a_sticky_folder_with_another_users_file_is_one_line(
    dataset: Path, tmp_path: Path
) -> None:
    async with server() as srv:
        folder = tmp_path / "sticky"
        args = run_args(dataset, srv.endpoints, folder, "--max_samples", "3")
        code, _, err = await finish(await start(args))
        assert code == 0, err
        path = results_file(dataset, folder)
        with path.open("ab") as fh:
            fh.write(b'{"id":"x","status":"fai')  # a torn tail: the resume must rewrite
        for p in folder.iterdir():
            os.chown(p, 65534, 65534)
            p.chmod(0o666)
        folder.chmod(0o1777)
        tmp_path.chmod(0o755)
        env = cli_env()
        env["PYTHONPATH"] = str(REPO)
        try:
            proc = await asyncio.create_subprocess_exec(
                PYTHON,
                "-m",
                "asyncbench",
                *args,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=env | {"HOME": "/tmp", "HF_HOME": str(tmp_path / "hf")},
                cwd="/tmp",
                preexec_fn=lambda: os.setuid(65533),
            )
        except PermissionError:
            pytest.skip("another user cannot run this Python here")
        seen = len(srv.seen)
        code, _, err = await finish(proc)
        if "Permission denied" in err and "dataset" in err:
            pytest.skip("the other user cannot read the dataset here")
        line = one_error_line(err)
        assert code == 2
        assert f"cannot rewrite {path} to resume it" in line
        assert "sticky" in line
        assert len(srv.seen) == seen


def test_a_batch_skips_a_split_another_run_holds_and_runs_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from asyncbench.results.lock import ResultsLock
    from asyncbench.results.store import results_name

    from .inproc import Background, cli
    from .loopback import LoopbackAldea
    from .support import make_dataset

    esb = make_dataset(tmp_path / "esb", {("ami", "test"): 2, ("voxpopuli", "test"): 2}, fmt="wav")
    results = tmp_path / "results"
    results.mkdir()
    held = results / results_name("aldea/default", str(esb), "ami", "test")
    with Background(LoopbackAldea(1, transcript=transcript_of)) as srv, ResultsLock(held):
        code, _, err = cli(
            capsys,
            "batch",
            "--model",
            "aldea/default",
            "--datasets",
            "ami voxpopuli",
            "--dataset_path",
            esb,
            "--aldea_endpoints",
            srv.endpoints,
            "--results_dir",
            results,
            "--no_progress",
        )
        assert code == 1
        assert f"error: results file {held} is in use by another run (PID {os.getpid()}" in err
        assert not held.exists()  # nothing read or written for the held split
        assert {r["id"][:9] for r in orjson.loads(f"[{','.join(lines(results))}]")} == {"voxpopuli"}
        assert len(srv.seen) == 2


def lines(results: Path) -> list[str]:
    return [line for p in sorted(results.glob("*.jsonl")) for line in p.read_text().splitlines()]


async def test_a_batch_over_the_open_files_limit_together_is_refused(
    dataset: Path, tmp_path: Path
) -> None:
    """Each run alone fits in 400 open files; a batch runs both providers at once, so their
    budgets add up, and the batch is refused in one line before any request."""
    async with server() as srv:
        args = [
            "batch",
            "--model",
            "aldea/default",
            "--model",
            "openai-compatible/whisper",
            "--aldea_endpoints",
            srv.endpoints,
            "--base_url",
            f"http://{srv.endpoints.split()[0]}/v1",
            "--dataset_path",
            str(dataset),
            "--datasets",
            "ami:test",
            "--results_dir",
            str(tmp_path),
            "--max_workers",
            "150",
            "--no_progress",
        ]
        code, _, err = await finish(await start_limited(args, resource.RLIMIT_NOFILE, 400))
        assert srv.seen == []
    # the batch's start lines come first; then one error line and nothing after it
    errors = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and err.rstrip().endswith(errors[0]), err
    line = errors[0]
    assert code == 2
    assert "this batch's providers at once (aldea 150 + openai-compatible 150 = 300" in line
    assert "needs about 462 open files" in line and "lower --max_workers or --max_runs" in line
    assert not list(tmp_path.glob("*.jsonl"))
