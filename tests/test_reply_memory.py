"""Runaway transcripts (#28 item 7): a transcript implausibly long for its audio is counted
in the summary and said in one line, and still scored as the board scores it. (Memory per
reply is measured by bench/reply_memory.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .inproc import Background, cli, run_args
from .loopback import LoopbackAldea
from .support import make_dataset


def _long_text(n: int) -> str:
    unit = 'seven "bright" stars é \\ shine\u2028above\x01 quiet hills '
    return (unit * (n // len(unit) + 1))[:n]


def test_implausibly_long_transcripts_are_counted_in_the_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = make_dataset(tmp_path / "esb", {("ami", "test"): 6}, fmt="wav")
    runaway = _long_text(20_000)
    results = tmp_path / "r"
    with Background(LoopbackAldea(1, transcript=lambda body: runaway)) as srv:
        code, _out, err = cli(
            capsys, "run", *run_args("aldea/default", data, "ami", "test", srv.endpoints, results)
        )
    assert code == 0, err  # still scored, as the board scores it
    assert (
        "6 transcripts are implausibly long for their audio (over 60 characters per second, "
        "at least 500): scored as they are, as the board does; check the server"
    ) in err.splitlines()
    summary = json.loads(next(results.glob("*.summary.json")).read_text())
    assert summary["this_run"]["implausible_transcripts"] == 6


def test_scoring_runaway_transcripts_splits_one_at_a_time(tmp_path: Path) -> None:
    """Scoring held every transcript's word list at once (~12x the text each): ten 10 MB
    runaway replies peaked at 1.9 GB when the run scored its file (1.0 GB now); one at a time."""
    import tracemalloc

    import orjson

    from asyncbench.scoring import score_file

    text = ("seven bright stars shine above quiet hills " * 25_000)[: 2**20]
    path = tmp_path / "r.jsonl"
    line = {"status": "ok", "text": "seven bright stars", "pred_text": text, "duration": 5.0}
    path.write_bytes(b"".join(orjson.dumps({"id": f"a{i}", **line}) + b"\n" for i in range(6)))
    tracemalloc.start()
    try:
        score = score_file(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert score.n_ok == 6 and score.counts.ins == 6 * (len(text.split()) - 3)
    assert peak < 48 * len(text), peak / len(text)  # 30x now (the normaliser 17x); was 68x
