"""Memory per reply (#28 item 7): a long transcript is parsed and written in a small multiple
of its size (orjson held ~13x while it parsed and again while it encoded: 130 MB for a 10 MB
transcript), the bytes written are the same, and a transcript implausibly long for its audio
is counted in the summary (still scored as the board scores it)."""

from __future__ import annotations

import json
import sys
import tracemalloc
from pathlib import Path

import orjson
import pytest

from asyncbench.providers._http import reply_json
from asyncbench.providers._wire import BIG_REPLY, parse_json
from asyncbench.results.store import BIG_LINE, Result

from .inproc import Background, cli, run_args
from .loopback import LoopbackAldea
from .support import make_dataset

MB = 2**20


def _long_text(n: int) -> str:
    unit = 'seven "bright" stars é \\ shine\u2028above\x01 quiet hills '
    return (unit * (n // len(unit) + 1))[:n]


def _peak(fn) -> tuple[object, float]:  # type: ignore[no-untyped-def]
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        got = fn()
        return got, tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


ASCII = ("seven bright stars shine above quiet hills " * (10 * MB // 43 + 1))[: 10 * MB]


def test_a_10_mb_reply_is_parsed_in_a_small_multiple_of_its_size() -> None:
    body = orjson.dumps({"text": ASCII})
    got, peak = _peak(lambda: reply_json(body, "application/json"))
    assert got == {"text": ASCII}
    assert peak < 3 * sys.getsizeof(ASCII), peak / len(body)  # was 13x (130 MB)


def test_a_10_mb_line_is_written_in_a_small_multiple_of_its_size() -> None:
    result = Result(id="a", status="ok", duration=5.0, text="ref", pred_text=ASCII, time=0.25)
    line, peak = _peak(result.to_line)
    assert peak < 3.5 * sys.getsizeof(ASCII), peak / len(ASCII)  # was 13x (130 MB)
    assert orjson.loads(line)["pred_text"] == ASCII


def test_a_long_line_is_the_same_bytes_orjson_writes() -> None:
    text = _long_text(BIG_LINE + 100)  # quotes, backslashes, control and 2-byte characters
    result = Result(id="a", status="ok", duration=5.0, text="ré\x02f", pred_text=text, time=0.25)
    line = result.to_line()
    assert line == orjson.dumps(orjson.loads(line)) + b"\n"
    assert orjson.loads(line)["pred_text"] == text


def test_long_replies_parse_exactly_as_orjson_and_refuse_what_it_refuses() -> None:
    big = orjson.dumps({"text": _long_text(BIG_REPLY + 10), "n": [1, 2.5, None, True]})
    assert parse_json(big) == orjson.loads(big) == parse_json(big.decode())
    for bad in (
        big[:-1],  # torn
        b'{"text": "' + b"a" * BIG_REPLY + b'\\ud800"}',  # a lone surrogate
        b'{"text": "' + b"a" * BIG_REPLY + b'\xff"}',  # not UTF-8
        b"[" * (BIG_REPLY + 1),  # nested past any recursion limit
    ):
        with pytest.raises(orjson.JSONDecodeError):
            parse_json(bad)
    with pytest.raises(json.JSONDecodeError):  # what callers catch, either way
        parse_json("{" + " " * BIG_REPLY)


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
