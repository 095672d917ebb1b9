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
