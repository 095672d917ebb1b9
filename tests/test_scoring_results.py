"""Reading results files (ours, the leaderboard's, the seed's) and scoring one file."""

from __future__ import annotations

from pathlib import Path

import pytest

from asyncbench.core.errors import ConfigError
from asyncbench.scoring import score_file
from asyncbench.scoring.resultfiles import (
    find_result_files,
    parse_result_name,
    read_result_file,
)

from .scoring_files import LIBRI, foreign, our_run, ours, write_jsonl


def test_names_parse_like_the_leaderboard_without_the_seeds_test_clea_bug() -> None:
    assert parse_result_name(Path(f"results/{LIBRI}.jsonl")) == (
        "aldea/default",
        "hf-audio-esb-datasets-test-only-sorted_librispeech_test.clean",
    )
    assert parse_result_name(Path("MODEL_openai-whisper-1_DATASET_x_ami_test.jsonl")) == (
        "openai/whisper-1",
        "x_ami_test",
    )
    assert parse_result_name(Path("results/aldea/ami.jsonl")) is None


def test_files_are_found_recursively_sorted_and_filtered_by_model(tmp_path: Path) -> None:
    b = write_jsonl(tmp_path / "b" / "MODEL_elevenlabs-scribe_v1_DATASET_d_ami_test.jsonl", [])
    a = write_jsonl(tmp_path / "MODEL_elevenlabs-scribe_v1_DATASET_d_voxpopuli_test.jsonl", [])
    other = write_jsonl(tmp_path / "MODEL_aldea-default_DATASET_d_ami_test.jsonl", [])
    by_folder = write_jsonl(tmp_path / "elevenlabs-scribe_v1" / "ami.jsonl", [])
    write_jsonl(tmp_path / "notes.txt", [])
    assert find_result_files(tmp_path) == sorted([a, b, other, by_folder])
    assert find_result_files(str(tmp_path), "elevenlabs/scribe_v1") == sorted([a, b, by_folder])


def test_missing_directory_says_what_to_pass(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        find_result_files(tmp_path / "nope")
    assert str(e.value) == (
        f"results directory '{tmp_path / 'nope'}' does not exist: pass the folder your runs "
        "wrote their .jsonl files to (default ./results)"
    )


def test_a_file_instead_of_a_directory_is_refused(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / f"{LIBRI}.jsonl", [])
    with pytest.raises(ConfigError) as e:
        find_result_files(path)
    assert str(e.value) == (
        f"'{path}' is a file, not a directory: pass the folder that holds the results files"
    )


def test_no_results_files_at_all(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        find_result_files(tmp_path)
    assert str(e.value) == (
        f"no results files (*.jsonl) under '{tmp_path}': run a benchmark first, or pass the "
        "folder that holds the results"
    )


def test_no_results_files_for_the_model(tmp_path: Path) -> None:
    write_jsonl(tmp_path / f"{LIBRI}.jsonl", [])
    with pytest.raises(ConfigError) as e:
        find_result_files(tmp_path, "elevenlabs/scribe_v1")
    assert str(e.value) == (
        f"no results files for model 'elevenlabs/scribe_v1' under '{tmp_path}': expected "
        "names like MODEL_elevenlabs-scribe_v1_DATASET_<dataset>.jsonl; check --model "
        "(run without it to score every model found)"
    )


def test_the_last_line_for_an_id_wins(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / f"{LIBRI}.jsonl",
        [
            ours("s1", "up down", "", "failed", "rate_limited"),
            ours("s2", "left right", "left right"),
            ours("s1", "up down", "up town"),
        ],
    )
    read = read_result_file(path)
    assert [(s.status, s.prediction) for s in read.samples] == [
        ("ok", "up town"),
        ("ok", "left right"),
    ]
    assert (read.n_lines, read.n_superseded) == (3, 1)


def test_foreign_lines_without_id_all_count(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "f.jsonl", [foreign("a b", "a b"), foreign("a b", "a c")])
    read = read_result_file(path)
    assert len(read.samples) == 2
    assert all(s.status == "ok" and not s.ours for s in read.samples)


def test_a_failed_line_is_an_empty_prediction_with_a_kind(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "f.jsonl",
        [ours("s1", "a b", "junk", "failed", "timeout"), ours("s2", "a b", "", "failed")],
    )
    samples = read_result_file(path).samples
    assert [(s.prediction, s.error_kind) for s in samples] == [("", "timeout"), ("", "unknown")]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not valid JSON; line skipped"),
        ("[1, 2]", "expected a JSON object, got list; line skipped"),
        ('{"pred_text": "x"}', "'text' (the reference) must be a string, got None; line skipped"),
        (
            '{"text": "a", "pred_text": 5}',
            "'pred_text' must be a string or null, got 5; line skipped",
        ),
        (
            '{"text": "a", "pred_text": "a", "status": "pending"}',
            "unknown status 'pending' (expected one of ok, skipped_short, failed); line skipped",
        ),
        (
            '{"text": "a", "pred_text": "a", "duration": "2s"}',
            "'duration' must be a number of seconds, got '2s'; line skipped",
        ),
    ],
)
def test_a_bad_line_is_reported_with_file_and_line_and_the_rest_is_read(
    tmp_path: Path, line: str, message: str
) -> None:
    path = write_jsonl(tmp_path / "f.jsonl", [foreign("a", "a"), "", line, foreign("b", "b")])
    read = read_result_file(path)
    assert read.problems == [f"{path}:3: {message}"]
    assert [s.reference for s in read.samples] == ["a", "b"]


def test_chunks_of_a_recording_are_scored_as_one(tmp_path: Path) -> None:
    def chunk(parent: str, index: int, pred: str) -> dict:
        return {**foreign("one long talk here", pred), "parent_id": parent, "chunk_index": index}

    path = write_jsonl(
        tmp_path / "f.jsonl",
        [chunk("r1", 1, "talk here"), chunk("r1", 0, "one long "), chunk("r2", 1, "x")],
    )
    read = read_result_file(path)
    assert [(s.prediction, s.duration, s.time) for s in read.samples] == [
        ("one long talk here", 4.0, 2.0),
        ("x", 2.0, 1.0),
    ]
    assert read.problems == [
        f"{path}: recording 'r2' has chunks [1], not 0..0: missing chunks count as deletions"
    ]


def test_score_file_counts_failures_like_the_leaderboard_and_apart(tmp_path: Path) -> None:
    path = our_run(tmp_path)
    score = score_file(path)
    assert (score.model_id, score.dataset_id) == (
        "aldea/default",
        "hf-audio-esb-datasets-test-only-sorted_librispeech_test.clean",
    )
    # a 0/4, b 3 del, c 1 sub, d 1 del (".") , e 2 del: 7 errors over 12 words
    assert score.counts.as_dict() == {"ins": 0, "del": 6, "sub": 1, "ref_len": 12}
    assert score.wer == 58.33
    assert score.counts_ok_only.as_dict() == {"ins": 0, "del": 1, "sub": 1, "ref_len": 7}
    assert score.wer_ok_only == 28.57
    assert (score.n_lines, score.n_ok, score.n_skipped, score.n_failed) == (7, 2, 1, 2)
    assert (score.n_samples, score.n_done, score.n_superseded) == (5, 3, 1)
    assert score.failures_by_kind == {"timeout": 2}
    assert score.coverage == 60.0
    # RTFx over the two ok lines only: 4 s of audio in 2 s
    assert (score.total_audio_s, score.total_time_s, score.rtfx) == (4.0, 2.0, 2.0)
    assert score.problems == (f"{path}:7: not valid JSON; line skipped",)
    assert score.ours


def test_coverage_counts_samples_that_never_reached_the_file(tmp_path: Path) -> None:
    score = score_file(our_run(tmp_path), expected_samples=10)
    assert (score.total_samples, score.coverage) == (10, 30.0)


def test_legacy_scheme_scores_the_same_file_the_2025_way(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "f.jsonl", [foreign("the white paper", "the whitepaper")])
    assert score_file(path).wer == 0.0
    assert score_file(path, "legacy").wer == 66.67


def test_rtfx_needs_timed_requests(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "f.jsonl",
        [foreign("a", "a", time=0.0), foreign("b", "b", duration=None, time=None)],
    )
    score = score_file(path)
    assert (score.total_audio_s, score.total_time_s, score.rtfx) == (2.0, 0.0, None)


def test_score_file_on_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        score_file(tmp_path / "x.jsonl")
    assert str(e.value) == (
        f"results file '{tmp_path / 'x.jsonl'}' does not exist: pass the .jsonl file a run wrote"
    )


def test_score_file_with_an_unknown_scheme(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        score_file(our_run(tmp_path), "newest")
    assert str(e.value) == (
        "unknown scoring scheme 'newest': use 'leaderboard' (the current board, the default) "
        "or 'legacy' (Whisper normaliser + jiwer, as in 2025)"
    )
