"""Armenian FLEURS with the board's reviewed references laid over it (OAL #215, open PR;
OAL@db339acbf2efff833c380e56224a888b7f8b2d29 normalizer/data_utils.py), end to end over a
local copy: a corrected clip is scored against its correction, a mismatched revision stops
the run with one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from asyncbench.core.errors import ConfigError
from asyncbench.sources import watermark
from asyncbench.sources.corrections import CORRECTIONS_PATH, build_table
from asyncbench.sources.hub_layout import audio_cell, encode_wav, write_hub_folder
from asyncbench.sources.suites import ARMENIAN_PATH

from .inproc import Background, cli
from .loopback import LoopbackAldea
from .support import read_results, transcript_of

SAID = ["Բարև աշխարհ", "Երևանը մեծ քաղաք է", "Արարատը բարձր լեռ է"]


def write_copy(root: Path, references: list[str], corrections: list[dict]) -> Path:
    """fleurs_hy of the Armenian set (clips say SAID, references as given) and the
    corrections table, under `root` as --data_root reads them."""
    rows = []
    for i, (said, ref) in enumerate(zip(SAID, references, strict=True)):
        pcm = watermark.embed(said, 1.0 + i / 10, seed=i)
        name = f"{1000 + i}.wav"
        rows.append(
            {"file_name": name, "audio": audio_cell(encode_wav(pcm, 16000), name), "text": ref}
        )
    write_hub_folder(root / ARMENIAN_PATH, {"fleurs_hy": {"test": rows}})
    write_hub_folder(root / CORRECTIONS_PATH, {"default": {"test": corrections}})
    return root


def run(capsys: pytest.CaptureFixture[str], root: Path, results: Path) -> tuple[int, str]:
    with Background(LoopbackAldea(1, transcript=transcript_of)) as srv:
        code, _, err = cli(
            capsys,
            "batch",
            *("--model", "aldea/default", "--suite", "multilingual", "--datasets", "fleurs_hy"),
            *("--data_root", root, "--aldea_endpoints", srv.endpoints),
            *("--results_dir", results, "--no_progress"),
        )
    return code, err


def test_a_corrected_reference_is_scored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # clip 1's published reference has a typo the review fixed; clip 2 is not in the table
    published = ["Բարև աշխարհ", "Երևանը մեծ քաղաքէ", "Արարատը բարձր լեռ է"]
    fix = {
        "file_name": "audio/1001.wav",
        "original_transcription": published[1],
        "corrected_transcription": SAID[1],
    }
    root = write_copy(tmp_path / "hub", published, [fix])
    code, err = run(capsys, root, tmp_path / "results")
    assert code == 0, err
    name = (
        "MODEL_aldea-default_DATASET_Metric-AI-open-asr-leaderboard-multilingual-datasets_"
        "fleurs_hy_test.jsonl"
    )
    lines = read_results(tmp_path / "results" / name)
    assert sorted(line["text"] for line in lines) == sorted(SAID)
    code, out, err = cli(capsys, "score", tmp_path / "results", "--csv")
    assert code == 0, err
    assert "model,RTFx,FLEURS WER,MCV 26 WER" in out.splitlines()
    assert out.splitlines()[6].split(",")[2] == "0.0"


def test_a_reference_of_another_revision_stops_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fix = {
        "file_name": "1002.wav",
        "original_transcription": "something else",
        "corrected_transcription": SAID[2],
    }
    # clip 2's reference is neither the recorded original nor the correction
    root = write_copy(tmp_path / "hub", [*SAID[:2], "Արարատը լեռ է"], [fix])
    code, err = run(capsys, root, tmp_path / "results")
    assert code != 0
    assert (
        "error: aldea/default fleurs_hy/test: Metric-AI/open-asr-leaderboard-multilingual-"
        "datasets fleurs_hy: the reference of '1002.wav' is neither the original nor the "
        f"correction in {CORRECTIONS_PATH}: the two are of different revisions"
    ) in err.splitlines()


def test_one_file_corrected_two_ways_is_refused() -> None:
    rows = [
        {"file_name": "a/1.wav", "original_transcription": "x", "corrected_transcription": "y"},
        {"file_name": "b/1.wav", "original_transcription": "x", "corrected_transcription": "z"},
    ]
    with pytest.raises(ConfigError) as info:
        build_table(rows)
    assert str(info.value) == f"{CORRECTIONS_PATH} corrects '1.wav' in two different ways"
