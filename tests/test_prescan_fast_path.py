"""The pre-scan's fast paths give exactly what the full JSON parse of every line gives.

`prescan` reads our own lines' `id` and `status` straight off the bytes (one regex over the
whole file that matches each line's whole JSON grammar) instead of parsing every line. These
tests run it on files
mixing our lines with every awkward kind of line, once as it is and once with the fast paths
switched off, and compare everything: the resume state and the file left behind.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict
from pathlib import Path

import pytest

from asyncbench.core.errors import ConfigError
from asyncbench.results import store as results
from asyncbench.results.store import FAILED, OK, SKIPPED_SHORT, Result, prescan
from asyncbench.scoring.resultfiles import read_result_file

IDS = ["a", "b", "c", 'q"uote', "back\\slash", "ünïcode", "tab\tid", "new\nline", "x/y/0"]
STATUSES = [OK, FAILED, SKIPPED_SHORT]


def ours(rng: random.Random, status: str | None = None) -> bytes:
    text = rng.choice(["plain", '{"id":"nested"}', 'é,"status":', "ends with }"])
    return Result(rng.choice(IDS), status or rng.choice(STATUSES), 1.0, 0.1, text, "p").to_line()


def odd(rng: random.Random) -> bytes:
    """Lines the writer never writes: each must take the full parse and be judged by it."""
    sid = rng.choice(IDS)
    return rng.choice(
        [
            b"\n",
            b"   \n",
            b"{garbage\n",
            b"[1, 2]\n",
            b'{"id":5,"status":"ok"}\n',
            b'{"id":"a","status":"ok"}\n',
            b'{"id":"a","status":"ok","x":1,"id":"b"}\n',
            b'{"id":"a","status":"ok","status":"failed"}\n',
            b'{"id":"a","status":"unknown","x":1}\n',
            b'{"id":"a","status":"ok",\n',
            (json.dumps({"id": sid, "status": rng.choice(STATUSES), "text": "t"}) + "\n").encode(),
            (json.dumps({"audio_filepath": sid, "status": "ok"}) + "\n").encode(),
            b'{"text": "no status"}\n',
        ]
    )


def outcome(path: Path, body: bytes, retry_failed: bool) -> tuple[object, bytes]:
    path.write_bytes(body)
    try:
        state: object = asdict(prescan(path, retry_failed=retry_failed))
    except ConfigError as exc:
        state = ("refused", str(exc))
    return state, path.read_bytes()


@pytest.mark.parametrize("seed", range(12))
def test_fast_paths_agree_with_the_full_parse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    rng = random.Random(seed)
    files = []
    for _ in range(25):
        n = rng.randint(0, 12)
        mostly_ours = rng.random() < 0.5
        body = b"".join(
            ours(rng) if mostly_ours or rng.random() < 0.6 else odd(rng) for _ in range(n)
        )
        if rng.random() < 0.3:
            body += ours(rng)[: rng.randint(1, 40)]  # a torn tail
        files.append(body)
    path = tmp_path / "r.jsonl"
    fast = [outcome(path, body, retry) for body in files for retry in (True, False)]
    monkeypatch.setattr(results, "_scan_ours", lambda *a: None)
    full = [outcome(path, body, retry) for body in files for retry in (True, False)]
    assert fast == full


def test_a_file_of_our_lines_is_read_by_the_whole_file_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(7)
    lines = [
        Result(f"s{i}", rng.choice(STATUSES), 1.0, 0.1, "ref", "hyp").to_line() for i in range(300)
    ]
    path = tmp_path / "r.jsonl"
    path.write_bytes(b"".join(lines))

    def no_per_line_parse(line: bytes) -> None:
        raise AssertionError("the whole-file scan should have read every line")

    monkeypatch.setattr(results, "_line_id_status", no_per_line_parse)
    state = prescan(path)
    finished = {f"s{i}" for i, line in enumerate(lines) if b'"status":"failed"' not in line}
    assert state.done_ids == finished and state.failed_dropped == 300 - len(finished)


def damaged(line: bytes, rng: random.Random) -> bytes:
    """One of our lines with its middle broken (no longer JSON, or not UTF-8) and both ends
    intact (issue 18, item 7)."""
    while True:
        out = _damage(line, rng)
        try:
            json.loads(out.decode())
        except ValueError:  # UnicodeDecodeError included
            return out


def _damage(line: bytes, rng: random.Random) -> bytes:
    body = bytearray(line[:-1])
    i = rng.randrange(10, len(body) - 2)
    op = rng.choice(["cut", "ff", "nul", "quote", "brace"])
    if op == "cut":
        del body[i : i + rng.randint(1, 20)]
    elif op == "ff":
        body[i:i] = b"\xff"
    elif op == "nul":
        body[i : i + 4] = bytes(4)
    elif op == "quote":
        body[i:i] = b'"'
    else:
        body[i:i] = b"}"
    return bytes(body) + b"\n"


@pytest.mark.parametrize("seed", range(20))
def test_the_prescan_counts_as_done_exactly_what_the_scorer_reads(
    tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    texts = ["plain words", "ünïcode and emoji 🙂", 'a "quoted" word', "back\\slash"]
    lines = [
        Result(f"s{i}", rng.choice(STATUSES), 1.0, 0.1, rng.choice(texts), "hyp").to_line()
        for i in range(30)
    ]
    for k in rng.sample(range(30), 6):
        lines[k] = damaged(lines[k], rng)
    path = tmp_path / "r.jsonl"
    path.write_bytes(b"".join(lines))
    scored = read_result_file(path)
    state = prescan(path)
    done = [s for s in scored.samples if s.status != "failed"]
    assert state.finished == len(done)
    assert len(state.bad_lines) == len(scored.problems)
    after = read_result_file(path)  # what is left: only lines both read alike
    assert after.problems == [] and len(after.samples) == state.finished
