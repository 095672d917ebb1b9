"""The report's error analysis agrees with the scorer: per-utterance edits from the
alignment sum to the WER `scoring` prints; compounds merge at no cost; the bootstrap CI is
seeded and covers the WER; the Pareto front keeps only undominated models."""

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


def test_bootstrap_is_seeded_and_covers_the_wer() -> None:
    errors = [i % 4 for i in range(400)]
    words = [10] * 400
    reps = analysis.bootstrap_rates(errors, words)
    again = analysis.bootstrap_rates(errors, words)
    assert (reps == again).all()
    low, high = analysis.ci95(reps)
    assert low < 15.0 < high and high - low < 3.0  # true WER 15 %, 400 utterances
    assert analysis.ci95(analysis.bootstrap_rates([], [])) is None


def test_pareto_front() -> None:
    # (throughput, WER): b is both faster and more accurate than c; a is the most accurate
    points = [(10.0, 5.0), (50.0, 7.0), (40.0, 8.0)]
    assert analysis.pareto(points, maximise_x=True) == [True, True, False]
    # (cost, WER): cheaper is better
    assert analysis.pareto([(1.0, 9.0), (2.0, 5.0), (3.0, 6.0)], False) == [True, True, False]
