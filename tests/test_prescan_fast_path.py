"""The pre-scan's fast paths give exactly what the full JSON parse of every line gives.

`prescan` reads our own lines' `id` and `status` straight off the bytes (a regex over the
whole file, or per line) instead of parsing every line as JSON. These tests run it on files
mixing our lines with every awkward kind of line, once as it is and once with the fast paths
switched off, and compare everything: the resume state and the file left behind.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import asdict
from pathlib import Path

import pytest

from asyncbench.core.errors import ConfigError
from asyncbench.results import store as results
from asyncbench.results.store import FAILED, OK, SKIPPED_SHORT, Result, prescan

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
    monkeypatch.setattr(results, "_OUR_LINE", re.compile(rb"(?!)"))
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
