"""Durations you can bill on: a dataset's `audio_length_s` that is missing, not a number,
negative, 0 or more than 1 % off is replaced by the clip's real length (its container header
for an estimate, the decoded audio for a run), and the disagreement is warned once with a
count. Real parquet folders whose length column was spoiled after writing."""

from __future__ import annotations

import math
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .loopback import LoopbackAldea
from .support import make_dataset, only_file, read_results, run_cli, run_cli_async, transcript_of


def spoil(root: Path, values: dict[int, float | None], *, drop: bool = False) -> None:
    """Set rows of every split file's audio_length_s (by row in the file), or drop it."""
    for file in root.rglob("*.parquet"):
        table = pq.read_table(file)
        index = table.schema.get_field_index("audio_length_s")
        if drop:
            table = table.remove_column(index)
        else:
            column = table.column(index).to_pylist()
            for row, value in values.items():
                column[row] = value
            table = table.set_column(index, "audio_length_s", pa.array(column, pa.float64()))
        pq.write_table(table, file)


def estimate(root: Path, *more: str) -> tuple[int, str, str]:
    done = run_cli(
        "estimate", "--model", "openai/whisper-1", "--dataset_path", root, "--datasets", "ami",
        *more,
    )  # fmt: skip
    return done.returncode, done.stdout, done.stderr


def test_estimate_measures_clips_whose_length_is_nan_negative_or_zero(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "ds", {("ami", "test"): 5})  # 1.0 .. 1.4 s, FLAC
    spoil(root, {0: math.nan, 1: -1.0, 2: 0.0})
    code, out, err = estimate(root)
    assert code == 0, err
    assert "  ami/test: 5 clips, 0.0017 audio hours" in out.splitlines()  # 6.0 s
    # billed per second, each clip rounded up: 1 + 2 + 2 + 2 + 2 = 9 s at 0.36 USD/h
    assert any(line.startswith("  openai/whisper-1: $ 0.0009 (") for line in out.splitlines())
    assert "nan" not in out
    assert err.splitlines() == [
        "warning: 3 of 5 clips of ami/test have no usable audio_length_s (missing, not a "
        "number, negative or 0): their length was read from the audio headers"
    ]


def test_estimate_without_a_length_column_reads_every_header(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "ds", {("ami", "test"): 5}, fmt="wav")
    spoil(root, {}, drop=True)
    code, out, err = estimate(root, "--data_root", str(tmp_path / "unused"))
    assert code == 0, err
    assert "  ami/test: 5 clips, 0.0017 audio hours" in out.splitlines()
    assert err.splitlines() == [
        "warning: 5 of 5 clips of ami/test have no usable audio_length_s (missing, not a "
        "number, negative or 0): their length was read from the audio headers"
    ]


async def test_a_run_bills_and_counts_the_decoded_length(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "ds", {("ami", "test"): 10}, fmt="wav", seconds=1.05)
    spoil(root, {0: 30.0, 1: 30.0, 2: 0.5, 3: math.nan})  # 3 off by far, 1 not a number
    out = tmp_path / "r"
    async with LoopbackAldea(transcript=transcript_of) as srv:
        code, stdout, err = await run_cli_async(
            "run", "--model_name", "aldea/default", "--dataset_path", root, "--dataset", "ami",
            "--split", "test", "--aldea_endpoints", srv.endpoints, "--max_workers", "2",
            "--results_dir", out, "--price_per_hour", "3600", "--budget_usd", "100",
        )  # fmt: skip
        assert code == 0, err
    assert "nan" not in err
    assert "spend: $ 20.0000 (audio sent, retries included)" in stdout  # 10 clips x 2 s
    said = [line for line in err.splitlines() if "audio_length_s that is" in line]
    assert said == [
        "warning: 4 clips of ami/test had an audio_length_s that is missing, not a number, "
        "negative, 0 or more than 1 % off the decoded audio: cost, RTFx and audio hours use "
        "the decoded length"
    ]
    rows = read_results(only_file(out))
    assert all(1.0 < r["duration"] < 2.0 for r in rows), [r["duration"] for r in rows]


def test_estimate_reads_a_hub_id_from_its_local_copy_offline(tmp_path: Path) -> None:
    # the hub id hf-audio/esb-test-only has a local copy under --data_root; HF_HUB_OFFLINE=1
    make_dataset(tmp_path / "hub" / "hf-audio" / "esb-test-only", {("ami", "test"): 5})
    done = run_cli(
        "estimate", "--model", "openai/whisper-1", "--dataset_path", "hf-audio/esb-test-only",
        "--datasets", "ami", "--data_root", tmp_path / "hub",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "  ami/test: 5 clips, 0.0017 audio hours" in done.stdout.splitlines()
