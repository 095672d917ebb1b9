"""Chunked sets through `asyncbench run`: each chunk its own request (retried, resumed and
sharded as a sample of its own), references from the parent, and every bad input one line."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from asyncbench.sources.hub_layout import write_chunked_set

from .board_layout import write_chunked_copy
from .inproc import Background, cli, one_error_line
from .loopback import Action, LoopbackAldea
from .support import read_results, transcript_of

CALLS = {"call-a": 3, "call-b": 2}
CONFIG = "earnings22_cleaned_aa_chunked"


@pytest.fixture(scope="module")
def chunked(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("chunked")
    write_chunked_copy(root / "chunks", root / "parent", CALLS)
    return root / "chunks", root / "parent"


def run(
    capsys: pytest.CaptureFixture[str],
    data: Path,
    parent: Path | None,
    endpoints: str,
    results: Path,
    *extra: str,
) -> tuple[int, str, str]:
    args: list[str | Path] = ["run", "--model_name", "aldea/default", "--dataset_path", data]
    args += ["--dataset", CONFIG, "--aldea_endpoints", endpoints, "--results_dir", results]
    if parent is not None:
        args += ["--parent_dataset_path", parent]
    return cli(capsys, *args, "--no_progress", *extra)


def test_each_chunk_is_a_sample_retried_resumed_and_sharded(
    chunked: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, parent = chunked
    failed_once: set[str] = set()

    def plan(port: int, n: int, body: bytes) -> Action:
        text = transcript_of(body)
        if text not in failed_once:  # every chunk's first request: 503, then its words
            failed_once.add(text)
            return Action(status=503)
        return Action()

    results = tmp_path / "results"
    with Background(LoopbackAldea(1, plan=plan, transcript=transcript_of)) as srv:
        code, out, err = run(capsys, data, parent, srv.endpoints, results)
        assert code == 0, err
        (path,) = results.glob("*.jsonl")
        assert path.name == (f"MODEL_aldea-default_DATASET_{data.name}_{CONFIG}_test.jsonl")
        lines = read_results(path)
        assert sorted((ln["parent_id"], ln["chunk_index"]) for ln in lines) == [
            ("call-a", 0),
            ("call-a", 1),
            ("call-a", 2),
            ("call-b", 0),
            ("call-b", 1),
        ]
        assert all(ln["status"] == "ok" and ln["attempts"] == 2 for ln in lines)
        assert "WER: 0.0 %" in out.splitlines()  # the 2 calls, joined from their chunks

        # resume: a lost line is the only chunk sent again
        path.write_bytes(b"".join(path.read_bytes().splitlines(keepends=True)[:-1]))
        before = len(srv.seen)
        code, _, err = run(capsys, data, parent, srv.endpoints, results)
        assert code == 0, err
        assert len(srv.seen) == before + 1
        assert len(read_results(path)) == 5

        # shards: two machines split the chunks; the score merges them into the same calls
        sharded = tmp_path / "sharded"
        for i in (0, 1):
            code, _, err = run(capsys, data, parent, srv.endpoints, sharded, "--shard", f"{i}/2")
            assert code == 0, err
    shard_lines = [ln for f in sharded.glob("*.jsonl") for ln in read_results(f)]
    assert sorted(ln["id"] for ln in shard_lines) == sorted(ln["id"] for ln in read_results(path))
    code, out, err = cli(capsys, "score", sharded, "--json")
    assert code == 0, err
    (only,) = json.loads(out)["datasets"]
    assert only["wer"] == 0.0 and only["samples"] == 2  # 2 calls


def write_bad(root: Path, *, drop_column: str | None = None) -> Path:
    rows = []
    for i in range(2):
        row: dict[str, object] = {"parent_id": "c", "chunk_index": i, "file_name": f"{i}.wav"}
        if drop_column:
            row.pop(drop_column)
        rows.append(row)
    write_chunked_set(root, rows)
    return root


def test_chunk_metadata_without_chunk_index(
    chunked: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_bad(tmp_path / "bad", drop_column="chunk_index")
    code, _, err = run(capsys, data, chunked[1], "127.0.0.1:9", tmp_path / "r")
    assert code == 2
    assert one_error_line(err).startswith(
        f"error: chunk metadata of {data} test has no 'chunk_index' column; a chunked set "
        "needs parent_id, chunk_index, file_name (columns present: parent_id, file_name)"
    )


def test_an_audio_file_missing_from_the_audio_folder(
    chunked: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "copy"
    shutil.copytree(chunked[0], data)
    (data / "audio" / "call-a_0001.wav").unlink()
    code, _, err = run(capsys, data, chunked[1], "127.0.0.1:9", tmp_path / "r")
    assert code == 2
    assert one_error_line(err) == (
        f"error: audio file 'call-a_0001.wav' of {data} missing from {data / 'audio'}"
    )


def test_a_parent_id_without_a_transcript(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_chunked_copy(tmp_path / "c", tmp_path / "p", CALLS, parent_ids=["call-a"])
    code, _, err = run(capsys, tmp_path / "c", tmp_path / "p", "127.0.0.1:9", tmp_path / "r")
    assert code == 2
    assert one_error_line(err) == (
        f"error: parent id 'call-b' of 2 chunk(s) of {tmp_path / 'c'} has no transcript in "
        f"{tmp_path / 'p'}; check --parent_dataset_path"
    )


def test_a_chunked_folder_without_a_known_parent(
    chunked: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, chunked[0], None, "127.0.0.1:9", tmp_path / "r")
    assert code == 2
    assert one_error_line(err).startswith(
        f"error: {chunked[0]} test is a chunked set (columns parent_id, chunk_index) but no "
        "parent dataset is known for its references; pass --parent_dataset_path"
    )


def test_use_url_on_a_chunked_set(
    chunked: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(
        capsys,
        *("run", "--model_name", "aldea/default", "--dataset", CONFIG, "--use_url"),
        *("--dataset_path", "ArtificialAnalysis/Earnings22-Cleaned-AA-chunked"),
        *("--aldea_endpoints", "127.0.0.1:9", "--results_dir", tmp_path / "r", "--no_progress"),
    )
    assert code == 2
    assert one_error_line(err).startswith(
        "error: --use_url cannot work on the chunked set "
        "ArtificialAnalysis/Earnings22-Cleaned-AA-chunked: the dataset viewer serves its chunk "
        "metadata, not the chunk audio"
    )


def test_parent_dataset_path_on_a_plain_split(
    chunked: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the parent table itself is a plain split: no chunk columns
    code, _, err = cli(
        capsys,
        *("run", "--model_name", "aldea/default", "--dataset", "default"),
        *("--dataset_path", chunked[1], "--parent_dataset_path", chunked[1]),
        *("--aldea_endpoints", "127.0.0.1:9", "--results_dir", tmp_path / "r", "--no_progress"),
    )
    assert code == 2
    assert one_error_line(err).startswith(
        f"error: {chunked[1]} default/test should be a chunked set (references from "
        f"{chunked[1]}) but has no parent_id or chunk_index column"
    )


def test_a_chunk_file_gone_after_the_checks_fails_alone(
    chunked: tuple[Path, Path], tmp_path: Path
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from asyncbench.core.limits import Limits
    from asyncbench.runs.longform import LongformPolicy, make_prepare
    from asyncbench.sources.chunked import open_source

    data = tmp_path / "copy"
    shutil.copytree(chunked[0], data)
    split = open_source(
        str(data), str(data), CONFIG, "test", parent_path=str(chunked[1]), parent_given=True
    )
    (data / "audio" / "call-b_0000.wav").unlink()
    samples = [s for batch in split.iter_samples() for s in batch]
    assert len(samples) == 5

    async def prepare_all() -> list:
        policy = LongformPolicy("aldea", Limits(), accepts_flac=False)
        prepare = make_prepare(ThreadPoolExecutor(1), policy, done_parts={}, writer=None)
        return [await prepare(s) for s in samples]

    jobs = asyncio.run(prepare_all())
    errors = {j.sample.id: j.error for j in jobs if j.error is not None}
    assert list(errors) == ["call-b/0"]
    assert errors["call-b/0"].kind == "missing_audio"
    assert "call-b_0000.wav" in str(errors["call-b/0"])
    assert all(j.payload is not None for j in jobs if j.error is None)


def test_a_missing_chunked_folder_is_named(
    chunked: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gone = tmp_path / "nowhere"
    code, _, err = run(capsys, gone, chunked[1], "127.0.0.1:9", tmp_path / "r")
    assert code == 2
    assert one_error_line(err).startswith(f"error: dataset folder {str(gone)!r} does not exist")
