"""The report's error analysis agrees with the scorer: per-utterance edits from the
alignment sum to the WER `scoring` prints; compounds merge at no cost; the bootstrap CI is
the scorer's (seeded, covering the WER); the Pareto front keeps only undominated models."""

from __future__ import annotations

from pathlib import Path

import orjson

from asyncbench.reporting import analysis
from asyncbench.reporting.report import gather


def test_alignment_marks_each_edit_and_merges_compounds() -> None:
    tokens, sub, ins, dels = analysis.align("a white paper on cats", "a whitepaper of cats too")
    assert (sub, ins, dels) == (1, 1, 0)
    assert tokens == ["a", "whitepaper", ["on", "of"], "cats", ["", "too"]]
    assert analysis.align("same words", "same words") == (["same", "words"], 0, 0, 0)


def test_utterance_errors_sum_to_the_scorers_wer(tmp_path: Path) -> None:
    lines = [
        {"id": "u0", "text": "Hello, World!", "pred_text": "hello word", "status": "ok"},
        {"id": "u1", "text": "it is twenty past ten", "pred_text": "it's 20 past", "status": "ok"},
        {"id": "u2", "text": "nothing came back", "pred_text": None, "status": "failed"},
        {"id": "u3", "text": "a white paper", "pred_text": "a whitepaper", "status": "ok"},
    ]
    path = tmp_path / "MODEL_aldea-x_DATASET_esb_ami_test.jsonl"
    path.write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in lines))
    data = gather(tmp_path)
    rows = analysis.utterances(data.files)
    assert [r.sample_id for r in rows] == ["u0", "u1", "u2", "u3"]
    total = sum(r.errors for r in rows) / sum(r.ref_len for r in rows)
    assert round(100 * total, 2) == data.files[0].score.wer
    assert rows[2].wer == 100.0 and rows[2].dels == 3  # a failure is all deletions
    subs = analysis.substitutions(rows)["aldea/x"]
    assert ("world → word", 1) in subs


def test_the_report_shows_the_scorers_intervals(tmp_path: Path) -> None:
    """The report's CIs are `score`'s own (one bootstrap in the project), seeded."""
    lines = [
        {"id": f"u{i}", "text": "one two three four", "pred_text": pred, "status": "ok"}
        for i, pred in enumerate(["one two three four", "one two tree four", "one four"] * 20)
    ]
    path = tmp_path / "MODEL_aldea-x_DATASET_esb_ami_test.jsonl"
    path.write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in lines))
    data = gather(tmp_path)
    first = gather(tmp_path)
    for f, again in zip(data.files, first.files, strict=True):
        assert f.score.wer_ci95 is not None and f.score.wer_ci95 == again.score.wer_ci95
        low, high = f.score.wer_ci95
        assert low <= f.score.wer <= high


def test_pareto_front() -> None:
    # (throughput, WER): b is both faster and more accurate than c; a is the most accurate
    points = [(10.0, 5.0), (50.0, 7.0), (40.0, 8.0)]
    assert analysis.pareto(points, maximise_x=True) == [True, True, False]
    # (cost, WER): cheaper is better
    assert analysis.pareto([(1.0, 9.0), (2.0, 5.0), (3.0, 6.0)], False) == [True, True, False]
