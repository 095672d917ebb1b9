"""Chunk merging against the board's `merge_chunked_manifest` rules (PROTOCOLS-2026 C2):
predictions stripped, empty ones skipped, joined with one space in chunk order; the first
chunk's reference; durations and times summed; a missing chunk warned about and counted as
deletions."""

from __future__ import annotations

from pathlib import Path

import orjson

from asyncbench.scoring.score import score_file

REF = "alpha bravo charlie delta echo foxtrot"


def line(pid: str, i: int, pred: str, status: str = "ok", **kw: object) -> bytes:
    record = {
        "id": f"{pid}/{i}",
        "status": status,
        "audio_filepath": f"{pid}/{i}",
        "duration": kw.get("duration", 2.0),
        "time": kw.get("time", 1.0),
        "text": REF,
        "pred_text": pred,
        "error_kind": "timeout" if status == "failed" else None,
        "parent_id": pid,
        "chunk_index": i,
    }
    return orjson.dumps(record) + b"\n"


def write(tmp_path: Path, *lines: bytes) -> Path:
    path = tmp_path / "MODEL_x-y_DATASET_AA-chunked_earnings22_cleaned_aa_chunked_test.jsonl"
    path.write_bytes(b"".join(lines))
    return path


def test_chunks_join_in_order_stripped_and_empty_ones_skipped(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        line("a", 2, "  echo foxtrot "),
        line("a", 0, "alpha bravo"),
        line("a", 1, "   "),  # empty after stripping: skipped, not a double space
        line("a", 3, "", status="failed"),
    )
    score = score_file(path)
    # "charlie delta" missing: 2 deletions of 6, as the board counts them
    assert (score.counts.dels, score.counts.ins, score.counts.sub) == (2, 0, 0)
    assert score.wer == round(100 * 2 / 6, 2)
    assert score.n_failed == 1 and score.n_samples == 1


def test_a_skipped_first_chunk_does_not_make_the_recording_skipped(tmp_path: Path) -> None:
    """A chunk shorter than 0.16 s is recorded as skipped_short ('.'); when it is chunk 0,
    the merged recording was once 'skipped' too, so its timing fell out of RTFx."""
    path = write(
        tmp_path,
        line("a", 0, ".", status="skipped_short", duration=0.1, time=0.0),
        line("a", 1, "alpha bravo charlie", duration=3.0, time=1.0),
        line("a", 2, "delta echo foxtrot", duration=3.0, time=2.0),
    )
    score = score_file(path)
    assert score.wer == 0.0
    assert (score.n_ok, score.n_skipped) == (1, 0)
    assert score.rtfx == round(6.1 / 3.0, 4)  # durations and times summed, as the board does


def test_a_missing_chunk_is_warned_and_counted_as_deletions(tmp_path: Path) -> None:
    path = write(tmp_path, line("a", 0, "alpha bravo charlie"), line("a", 2, "foxtrot"))
    score = score_file(path)
    assert score.counts.dels == 2
    assert any("has chunks [0, 2], not 0..1" in p for p in score.problems)


def test_a_file_written_by_the_boards_scripts_is_merged_the_same_way(tmp_path: Path) -> None:
    """Its lines have no id or status (`audio_filepath` = sample_<idx>), rows in completion
    order, a failed chunk stored as the empty prediction."""
    rows = [
        ("b", 1, "bravo"),
        ("a", 1, ""),
        ("a", 0, "alpha bravo charlie"),
        ("b", 0, "alpha"),
        ("a", 2, "delta echo foxtrot"),
    ]
    body = b"".join(
        orjson.dumps(
            {
                "audio_filepath": f"sample_{n}",
                "duration": 5.0,
                "time": 0.5,
                "text": REF if pid == "a" else "alpha bravo",
                "pred_text": pred,
                "parent_id": pid,
                "chunk_index": i,
            }
        )
        + b"\n"
        for n, (pid, i, pred) in enumerate(rows)
    )
    path = write(tmp_path, body)
    score = score_file(path)
    assert score.n_samples == 2 and not score.ours
    assert (score.counts.errors, score.counts.ref_len) == (0, 8)
    assert score.rtfx == 10.0  # 25 s of audio in 2.5 s, summed over every chunk
