"""The printed scores: the seed's exact format first, then coverage and failures."""

from __future__ import annotations

from pathlib import Path

import pytest

from asyncbench.core.errors import ConfigError
from asyncbench.scoring import collect_scores, format_run_summary, score_file, score_results
from asyncbench.scoring.table import format_table, report_as_json

from .scoring_files import DS, LIBRI, foreign, our_run, write_jsonl


def seed_run(root: Path) -> None:
    """Two datasets of elevenlabs/scribe_v1 as the seed's scripts wrote them (already
    normalised text), plus another model's file that the filter must leave out."""
    model = "MODEL_elevenlabs-scribe_v1_DATASET_"
    write_jsonl(  # 1 substitution in 6 words; 3 s of audio in 2 s
        root / f"{model}{DS}_ami_test.jsonl",
        [foreign("the cat sat on the mat", "the cat sat on a mat", 3.0, 2.0)],
    )
    write_jsonl(  # 1 deletion in 6 words; 8 s in 2 s
        root / f"{model}{DS}_librispeech_test.clean.jsonl",
        [
            foreign("hello world", "hello world", 4.0, 1.0),
            foreign("good morning to you", "good morning you", 4.0, 1.0),
        ],
    )
    write_jsonl(root / f"MODEL_aldea-default_DATASET_{DS}_ami_test.jsonl", [foreign("a", "b")])


SEED_TABLE = f"""\
Filtering models by id: elevenlabs/scribe_v1
********************************************************************************
Results per dataset:
********************************************************************************
elevenlabs/scribe_v1 | {DS}_ami_test: WER = 16.67 %, RTFx = 1.50
elevenlabs/scribe_v1 | {DS}_librispeech_test.clean: WER = 16.67 %, RTFx = 4.00
********************************************************************************
Composite Results:
********************************************************************************
elevenlabs/scribe_v1: WER = 16.67 %
elevenlabs/scribe_v1: RTFx = 2.75
********************************************************************************
"""


def test_golden_seed_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seed_run(tmp_path)
    report = score_results(str(tmp_path), "elevenlabs/scribe_v1")
    out, err = capsys.readouterr()
    assert out == SEED_TABLE
    assert err == ""
    assert [c.wer for c in report.composites] == [16.67]


def test_without_a_filter_every_model_gets_its_composite(tmp_path: Path) -> None:
    seed_run(tmp_path)
    report = collect_scores(tmp_path)
    assert [(c.model_id, c.n_datasets, round(c.wer, 2)) for c in report.composites] == [
        ("aldea/default", 1, 100.0),
        ("elevenlabs/scribe_v1", 2, 16.67),
    ]


OUR_TABLE = f"""\
********************************************************************************
Results per dataset:
********************************************************************************
aldea/default | {DS}_librispeech_test.clean: WER = 58.33 %, RTFx = 2.00
********************************************************************************
Composite Results:
********************************************************************************
aldea/default: WER = 58.33 %
aldea/default: RTFx = 2.00
********************************************************************************
Coverage and failures:
********************************************************************************
aldea/default | {DS}_librispeech_test.clean: 3/5 samples done (60.00 %), 1 of them \
skipped as shorter than 0.16 s; 2 failed: timeout 2; 1 earlier attempts superseded by later \
lines
    WER over the 3 successful samples = 28.57 % (the leaderboard's 58.33 % counts each \
failure as an empty transcript)
********************************************************************************
"""


def test_golden_coverage_and_failures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = our_run(tmp_path)
    score_results(tmp_path)
    out, err = capsys.readouterr()
    assert out == OUR_TABLE
    assert err == (
        f"note: {path}: no .meta.json sidecar; read as the board's format (coverage counted "
        f"from its own lines)\nwarning: {path}:7: not valid JSON; line skipped\n"
    )


def test_rtfx_without_timing_is_printed_as_not_available(tmp_path: Path) -> None:
    write_jsonl(tmp_path / f"{LIBRI}.jsonl", [foreign("a b", "a b", None, None)])
    lines = format_table(collect_scores(tmp_path)).splitlines()
    assert lines[3].endswith(": WER = 0.00 %, RTFx = n/a")
    assert lines[-2] == "aldea/default: RTFx = n/a"


def test_a_file_with_nothing_to_score_is_left_out_and_named(tmp_path: Path) -> None:
    seed_run(tmp_path)
    empty = write_jsonl(tmp_path / f"MODEL_elevenlabs-scribe_v1_DATASET_{DS}_x_test.jsonl", [])
    broken = write_jsonl(
        tmp_path / f"MODEL_elevenlabs-scribe_v1_DATASET_{DS}_y_test.jsonl", ["{", "[]"]
    )
    report = collect_scores(tmp_path, "elevenlabs/scribe_v1")
    assert len(report.files) == 2
    assert report.problems == (
        f"{empty}: is empty; file left out of the scores",
        f"{broken}:1: not valid JSON; line skipped",
        f"{broken}:2: expected a JSON object, got list; line skipped",
        f"{broken}: has no line that can be scored; file left out of the scores",
    )


def test_only_unscorable_files_is_an_error(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / f"{LIBRI}.jsonl", ["{"])
    with pytest.raises(ConfigError) as e:
        collect_scores(tmp_path)
    assert str(e.value) == (
        f"none of the results files under '{tmp_path}' has a line that can be scored: "
        f"{path}:1: not valid JSON; line skipped; "
        f"{path}: has no line that can be scored; file left out of the scores"
    )


def test_end_of_run_summary(tmp_path: Path) -> None:
    assert format_run_summary(score_file(our_run(tmp_path), expected_samples=8)) == [
        f"aldea/default | {DS}_librispeech_test.clean: WER = 58.33 %, RTFx = 2.00",
        "coverage: 3/8 samples done (37.50 %), 1 of them skipped as shorter than 0.16 s; "
        "3 never attempted; 2 failed: timeout 2; 1 earlier attempts superseded by later lines",
        "WER over the 3 successful samples = 28.57 % (the leaderboard's 58.33 % counts each "
        "failure as an empty transcript)",
    ]


def test_json_report(tmp_path: Path) -> None:
    path = our_run(tmp_path)
    data = report_as_json(collect_scores(tmp_path))
    assert data["composite"] == [
        {
            "model": "aldea/default",
            "language": "en",
            "wer": 58.33,
            "wer_ci95": None,  # the library's default: no bootstrap, no prices
            "cost_usd": None,
            "rtfx": 2.0,
            "datasets": 1,
        }
    ]
    assert data["datasets"] == [
        {
            "model": "aldea/default",
            "dataset": f"{DS}_librispeech_test.clean",
            "language": "en",
            "file": str(path),
            "wer": 58.33,
            "wer_ok_only": 28.57,
            "wer_ci95": None,
            "cost_usd": None,
            "price": None,
            "rtfx": 2.0,
            "ins": 0,
            "del": 6,
            "sub": 1,
            "ref_len": 12,
            "samples": 5,
            "ok": 2,
            "skipped_short": 1,
            "failed": 2,
            "failures_by_kind": {"timeout": 2},
            "coverage_percent": 60.0,
            "superseded_lines": 1,
            "audio_s": 4.0,
            "time_s": 2.0,
            "expected_samples": None,  # no sidecar says the dataset's size
            "provenance": None,
        }
    ]
    assert data["problems"] == [f"{path}:7: not valid JSON; line skipped"]


def test_parallel_scoring_gives_the_same_report(tmp_path: Path) -> None:
    seed_run(tmp_path)
    our_run(tmp_path)
    write_jsonl(tmp_path / f"MODEL_aldea-default_DATASET_{DS}_empty_test.jsonl", [])
    alone = collect_scores(tmp_path, workers=1)
    parallel = collect_scores(tmp_path, workers=2)
    assert parallel == alone
    assert len(alone.files) == 4 and len(alone.problems) == 2
