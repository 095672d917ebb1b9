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


def test_a_reply_is_checked_without_a_copy_of_its_size() -> None:
    """Every HTTP client checked a reply's text by decoding all of it and throwing the str
    away before the JSON parser read the bytes: one more copy of a 10 MB reply (up to 4x its
    size as a str of non-Latin text). UTF-8 is now checked a slice at a time."""
    import tracemalloc

    from asyncbench.core.errors import TransientError
    from asyncbench.providers._http import reply_json
    from asyncbench.providers._wire import _UTF8_SLICE, check_reply

    body = ('{"text": "' + "seven bright stars 星 " * 400_000 + '"}').encode()
    tracemalloc.start()
    try:
        check_reply(body, "application/json")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < len(body) / 8, peak / len(body)  # a slice; was 1.8x (the whole str, UCS-2)
    # the same refusals as before, at the same byte
    for broken in (
        body[:5_000_000] + b"\xff" + body[5_000_000:],
        # a character across a slice's end, then a bad byte; a character cut by the end
        b'{"text": "' + b"a" * (_UTF8_SLICE - 11) + "星".encode() + b"\xff" + b'"}',
        b"a" * (_UTF8_SLICE - 1) + "星".encode()[:2],
    ):
        with pytest.raises(UnicodeDecodeError) as whole:
            broken.decode("utf-8")
        with pytest.raises(TransientError) as info:
            reply_json(broken)
        assert str(info.value).startswith(
            f"reply is not valid UTF-8 (byte {whole.value.start}): "
        ), (str(info.value)[:60], whole.value.start)


async def test_the_writer_lets_go_of_a_written_transcript(tmp_path: Path) -> None:
    """The writer held the last batch's results and their joined lines until the next result
    came: a 10 MB transcript stayed in memory twice over after it was on disk."""
    import asyncio
    import tracemalloc

    from asyncbench.results.store import Result, ResultWriter

    path = tmp_path / "r.jsonl"
    writer = ResultWriter(path)
    task = asyncio.create_task(writer.run())
    text = _long_text(4_000_000)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        writer.put(Result("a", "ok", 5.0, 0.1, "ref", text))
        del text
        async with asyncio.timeout(60):  # event-driven: the writer counts what it wrote
            while writer.written < 1:
                await asyncio.sleep(0.01)
        await asyncio.sleep(0)  # the writer's loop goes back to waiting
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
        writer.close()
        await task
    assert held < 1_000_000, held  # nothing of the transcript or its line (was 9 MB)
    line = path.read_bytes()
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert json.loads(line)["pred_text"] == _long_text(4_000_000)


class _RawReplies:
    """A real HTTP/1.1 server on 127.0.0.1 in a thread that answers every POST with `body`
    (with its Content-Length, or chunked), sent with `sendall` straight from the bytes: the
    server adds no copy of its own to what tracemalloc sees of the client."""

    def __init__(self, body: bytes, *, chunked: bool) -> None:
        import socket
        import threading

        self.body = body
        self.chunked = chunked
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/asr/transcribe"
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        with conn:
            while True:
                head = b""
                while b"\r\n\r\n" not in head:
                    more = conn.recv(65536)
                    if not more:
                        return
                    head += more
                header, _, rest = head.partition(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in header.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                while len(rest) < length:
                    rest += conn.recv(65536)
                if self.chunked:
                    conn.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        b"Transfer-Encoding: chunked\r\n\r\n"
                    )
                    piece = 1 << 20
                    view = memoryview(self.body)
                    for at in range(0, len(view), piece):
                        part = view[at : at + piece]
                        conn.sendall(b"%x\r\n" % len(part))
                        conn.sendall(part)
                        conn.sendall(b"\r\n")
                    conn.sendall(b"0\r\n\r\n")
                else:
                    conn.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        b"Content-Length: %d\r\n\r\n" % len(self.body)
                    )
                    conn.sendall(self.body)

    def __enter__(self) -> _RawReplies:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_a_long_reply_is_read_into_one_buffer_of_its_size(chunked: bool) -> None:
    """aiohttp's `read()` kept every piece of a reply until it joined them (and the chunked
    path grew a bytearray, then copied it to bytes): two copies of a 10 MB reply at once, on
    the wire path every HTTP client takes. The body is now written into one buffer as it
    arrives (sized from Content-Length when known) and handed over without a copy."""
    import tracemalloc

    import aiohttp

    from asyncbench.providers._wire import WirePolicy, send

    body = ('{"text": "' + _long_text(8_000_000) + '"}').encode()
    with _RawReplies(body, chunked=chunked) as srv:
        async with aiohttp.ClientSession() as session:
            reply = await send(session, "POST", srv.url, WirePolicy(), data=b"RIFF")  # warm
            del reply
            tracemalloc.start()
            try:
                reply = await send(session, "POST", srv.url, WirePolicy(), data=b"RIFF")
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
    assert reply.status == 200 and reply.body == body
    # the body once, plus what is in transit (was 2x and more)
    assert peak < 1.4 * len(body), peak / len(body)


async def test_a_long_transcript_is_written_a_slice_at_a_time(tmp_path: Path) -> None:
    """The writer made each result's whole line before writing it: a 10 MB transcript and its
    10 MB line were held at once while it was written, as the next reply was coming in. The
    line is now encoded and written a slice at a time, byte for byte the same line."""
    import asyncio
    import tracemalloc

    from asyncbench.results.store import Result, ResultWriter

    path = tmp_path / "r.jsonl"
    writer = ResultWriter(path)
    task = asyncio.create_task(writer.run())
    short = Result("s", "ok", 5.0, 0.1, "ref", "hello")
    result = Result("a", "ok", 5.0, 0.1, 'ref "quoted"', _long_text(8_000_000), t_end=1.5)
    expected = short.to_line() + result.to_line()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        writer.put(short)
        writer.put(result)
        async with asyncio.timeout(60):  # event-driven: the writer counts what it wrote
            while writer.written < 2:
                await asyncio.sleep(0.01)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
        writer.close()
        await task
    # a megabyte of the line at a time (was the whole line, for which orjson reserves ~16
    # bytes a character and touches ~1.2: 16.6x the transcript's length traced)
    assert peak < 4 * 2**20, peak / len(result.pred_text)
    assert path.read_bytes() == expected
    assert b"".join(result.line_pieces()) == result.to_line()


_RETAINED = """
import sys
from asyncbench.core.malloc import return_freed_blocks

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096

if sys.argv[1] == "set":
    assert return_freed_blocks()
reply = b"x" * (8 << 20)  # the first long reply: glibc maps it, and raises its threshold
del reply
before = rss()
reply = b"x" * (8 << 20)  # the next one
del reply
print(rss() - before)
"""


@pytest.mark.skipif(__import__("platform").libc_ver()[0] != "glibc", reason="glibc's malloc tuning")
@pytest.mark.parametrize("mode", ["set", "default"])
def test_a_freed_long_reply_goes_back_to_the_system(mode: str) -> None:
    """glibc raises its mmap threshold to each large block freed, so from the second long
    reply on, freed replies stayed resident in the heap: the peak RSS of one reply in flight
    was ~5x the reply, of which ~1x was memory no longer in use. Each command now fixes the
    threshold at 1 MiB (`core.malloc`), so a freed reply leaves the process at once."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    kept = subprocess.run(
        [sys.executable, "-c", _RETAINED, mode], env=env, capture_output=True, check=True
    )
    retained = int(kept.stdout)
    if mode == "set":
        assert retained < 1 << 20, retained  # nothing of the 8 MiB reply stays resident
    else:  # what glibc does left to itself: why the threshold is set
        assert retained > 6 << 20, retained


def test_a_json_reply_ending_in_a_newline_is_parsed_without_a_copy() -> None:
    """Aldea's parser stripped every reply before parsing it: a JSON body ending in a newline
    (as many servers send one) was copied whole first, one more copy at the parse, the peak
    of a reply. JSON allows whitespace around a value, so the body is parsed as it is."""
    import tracemalloc

    import orjson

    from asyncbench.providers.aldea import parse_reply

    text = _long_text(4_000_000)
    body = orjson.dumps({"text": text})

    def peak(reply: bytes) -> int:
        tracemalloc.start()
        try:
            assert parse_reply(reply, "application/json") == text
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    # orjson reserves the same for both; the newline must not add a copy of the body
    extra = peak(body + b"\r\n") - peak(body)
    assert extra < len(body) / 4, extra / len(body)
    # what strip() is still for: form feeds and vertical tabs are no JSON whitespace
    assert parse_reply(b'\x0c{"text": "a b"}\x0b\n', "application/json") == "a b"
