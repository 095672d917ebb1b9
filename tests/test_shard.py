"""`--shard i/n`: deterministic slices by sample id, one results file per shard, and scoring
that merges the shard files of a split by id."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from asyncbench.sources.dataset import in_shard

from .inproc import Background, cli, one_error_line, run_args
from .loopback import LoopbackAldea
from .support import make_dataset, read_results, transcript_of

N = 30


@pytest.fixture(scope="module")
def esb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dataset(
        tmp_path_factory.mktemp("shard") / "esb", {("voxpopuli", "test"): N}, fmt="wav"
    )


def test_shards_split_a_dataset_and_score_as_one(
    esb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "results"
    with Background(LoopbackAldea(2, transcript=transcript_of)) as srv:
        args = run_args("aldea/default", esb, "voxpopuli", "test", srv.endpoints, results)
        for i in range(3):  # as three machines would, each with its own index
            code, _, err = cli(capsys, "run", *args, "--max_workers", "4", "--shard", f"{i}/3")
            assert code == 0, err
        files = sorted(results.glob("*.jsonl"))
        assert [f.name.rsplit(".", 2)[-2] for f in files] == [
            "shard-0-of-3",
            "shard-1-of-3",
            "shard-2-of-3",
        ]
        ids = [{row["id"] for row in read_results(f)} for f in files]
        everything = set().union(*ids)
        assert len(everything) == N and sum(map(len, ids)) == N  # disjoint, nothing missing
        for i, shard_ids in enumerate(ids):
            assert shard_ids and all(in_shard(sid, i, 3) for sid in shard_ids)
        summary = json.loads(files[1].with_name(files[1].stem + ".summary.json").read_text())
        assert summary["shard"] == "1/3" and summary["complete"] is True

        # a shard resumes on its own: nothing left to do
        code, _, err = cli(capsys, "run", *args, "--max_workers", "4", "--shard", "1/3")
        assert code == 0 and "this run: 0 samples written" in err
        assert {row["id"] for row in read_results(files[1])} == ids[1]

        # scoring merges the shards by id: one dataset, every sample once
        code, out, err = cli(capsys, "score", results, "--json")
        assert code == 0, err
        report = json.loads(out)
        assert len(report["datasets"]) == 1
        merged = report["datasets"][0]
        assert merged["samples"] == N and merged["wer"] == 0.0
        assert merged["dataset"].endswith("_voxpopuli_test")

        # shards of another splitting in the same folder: samples still count once
        code, _, err = cli(capsys, "run", *args, "--max_workers", "4", "--shard", "0/2")
        assert code == 0, err
    code, out, _ = cli(capsys, "score", results, "--json")
    merged = json.loads(out)["datasets"][0]
    assert merged["samples"] == N and merged["superseded_lines"] > 0
    code, out, _ = cli(capsys, "score", results)
    assert out.count("_voxpopuli_test: WER = 0.00 %") == 1


def test_seed_and_unsharded_files_are_untouched_by_grouping(tmp_path: Path) -> None:
    from asyncbench.scoring.resultfiles import group_shards

    a = tmp_path / "MODEL_x-y_DATASET_d_ami_test.jsonl"
    b = tmp_path / "MODEL_x-y_DATASET_d_ami_test.shard-0-of-2.jsonl"
    c = tmp_path / "MODEL_x-y_DATASET_d_ami_test.shard-1-of-2.jsonl"
    sub = tmp_path / "other"
    sub.mkdir()
    d = sub / c.name
    for p in (a, b, c):
        p.touch()
    shutil.copy(c, d)
    assert group_shards([a, b, c, d]) == [(a,), (b, c), (d,)]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("3/3", "error: --shard '3/3': I must be between 0 and 2"),
        ("x", "error: --shard 'x' must be I/N"),
        ("1/0", "error: --shard '1/0': N must be at least 1"),
        ("-1/3", "error: --shard '-1/3' must be I/N"),
        ("1", "error: --shard '1' must be I/N"),
    ],
)
def test_bad_shard(
    spec: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(
        capsys,
        "run",
        *("--model_name", "aldea/default", "--dataset", "ami", "--dataset_path", tmp_path),
        *("--shard", spec),
    )
    assert code == 2
    assert one_error_line(err).startswith(message)
