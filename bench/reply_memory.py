"""Memory per reply: what a long transcript costs the client, as a multiple of its size.

A 10 MB transcript for a 5 s clip (under the 16 MiB reply cap) used to cost about 270 MB of
RSS per reply in flight (issue 28 item 7). This script serves clips with an Aldea-protocol
server on 127.0.0.1 whose every reply is `{"text": "<word word ...>"}` of `--reply_mb` MB
and runs `asyncbench run` as a child (the checkout under `--code`) at 1 and at `--in_flight`
requests in flight, then once with short replies (the baseline). It prints each run's peak
RSS (`VmHWM`) while requests were in flight (until the results file has every line)
and over the whole run (the end-of-run scoring included), the growth of each over the
baseline, and that growth per reply in flight as a multiple of the reply's size (aim: 3x).

    .venv/bin/python bench/reply_memory.py                    # this checkout
    .venv/bin/python bench/reply_memory.py --code /tmp/old    # an older checkout
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiohttp import web

from bench import clips
from bench.thread_server import ThreadServer

REPO = Path(__file__).resolve().parents[1]


class Server(ThreadServer):
    """Answers every clip with the same long transcript, all requests at once (a barrier of
    `hold` requests), so that many replies really are in the client together."""

    def __init__(self, reply: bytes, hold: int) -> None:
        super().__init__()
        self.reply = reply
        self.hold = hold
        self.last_reply = 0.0

    async def _handle(self, request: web.Request) -> web.Response:
        await request.read()
        self.last_reply = time.monotonic()
        return web.Response(body=self.reply, content_type="application/json")


def transcript(mb: float) -> bytes:
    """`{"text": "..."}` of about `mb` MB of plain words."""
    words = ("seven bright stars shine above quiet hills " * int(mb * 2**20 / 43 + 1))[
        : int(mb * 2**20)
    ]
    return b'{"text": "' + words.encode() + b'"}'


def _hwm_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _lines(folder: Path) -> int:
    """Complete lines in the run's results file (0 before it exists)."""
    found = list(folder.glob("*.jsonl"))
    if not found:
        return 0
    with open(found[0], "rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


def measure(code: Path, dataset: Path, reply: bytes, in_flight: int, n: int) -> tuple[float, float]:
    """The child's peak RSS in MB while replies were in flight, and over its whole run."""
    with Server(reply, in_flight) as srv, tempfile.TemporaryDirectory() as tmp:
        argv = clips.aldea_command(
            "run",
            dataset,
            f"127.0.0.1:{srv.port}",
            "--results_dir",
            tmp,
            "--max_workers",
            str(in_flight),
            "--max_samples",
            str(n),
            "--max_retries",
            "0",
            "--no_progress",
        )
        env = {**os.environ, "PYTHONPATH": str(code), "HF_HUB_OFFLINE": "1"}
        env.pop("ALDEA_ENDPOINTS", None)
        with open(Path(tmp) / "run.log", "wb") as log:
            proc = subprocess.Popen(argv, cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT)
        # "while sending" ends when the results file has every line (scoring comes next)
        during = whole = 0.0
        written = False
        while proc.poll() is None:
            hwm = _hwm_mb(proc.pid)
            if hwm is not None:
                whole = max(whole, hwm)
                if not written:
                    during = whole
                    written = _lines(Path(tmp)) >= n
            time.sleep(0.005)
        return during, whole


#: run in a child (the checkout's code, this process serving): one reply through each stage
#: of the client, the resident peak over what was there before each, read from VmHWM after
#: resetting it (clear_refs); blocks of 1 MiB and more are unmapped when freed (as
#: core.malloc sets it, here through the environment for any checkout), so the figures are
#: what each stage really holds, not what malloc kept
_STAGES = """
import asyncio, gc, os, sys, tempfile
from pathlib import Path
import aiohttp
from asyncbench.providers._wire import WirePolicy, send
from asyncbench.providers.aldea import parse_reply
from asyncbench.results.store import Result, ResultWriter

def status(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key))

def start():
    gc.collect()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return status("VmRSS:")

def show(what, at, size):
    peak, held = status("VmHWM:") - at, status("VmRSS:") - at
    print(f"{what:44s} peak {peak / size:+4.1f}x, then holds {held / size:+4.1f}x", flush=True)

async def main(url, size):
    async with aiohttp.ClientSession() as session:
        at = start()
        reply = await send(session, "POST", url, WirePolicy(), data=b"RIFF")
        show("reading the body (send)", at, size)
        at = start()
        text = parse_reply(reply.body, reply.content_type)
        show("parsing it (check_reply, orjson.loads)", at, size)
        at = start()
        del reply
        show("letting the body go (the transcript stays)", at, size)
        with tempfile.TemporaryDirectory() as tmp:
            writer = ResultWriter(Path(tmp) / "r.jsonl")
            task = asyncio.create_task(writer.run())
            at = start()
            writer.put(Result("a", "ok", 5.0, 0.1, "ref", text))
            del text
            while writer.written < 1:
                await asyncio.sleep(0.01)
            show("writing its results line, then letting go", at, size)
            writer.close()
            await task

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


def stages(code: Path, reply: bytes) -> None:
    """Print what one reply costs at each stage of the client (see `_STAGES`)."""
    with Server(reply, 1) as srv, tempfile.TemporaryDirectory() as tmp:
        url = f"http://127.0.0.1:{srv.port}/asr/transcribe"
        env = {**os.environ, "PYTHONPATH": str(code), "MALLOC_MMAP_THRESHOLD_": str(2**20)}
        out = subprocess.run(
            [sys.executable, "-c", _STAGES, url, str(len(reply))],
            cwd=tmp,  # not this folder: `-c` puts the working folder first on the path
            env=env,
            capture_output=True,
            text=True,
        )
    if out.returncode != 0:
        print(f"  (per-stage accounting not available: {out.stderr.strip().splitlines()[-1]})")
        return
    print("  one reply, stage by stage (resident peak over what was there, x the reply):")
    for line in out.stdout.splitlines():
        print(f"    {line}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--code", type=Path, default=REPO, help="checkout whose asyncbench runs")
    ap.add_argument("--reply_mb", type=float, default=10.0, help="size of each reply, MB")
    ap.add_argument("--in_flight", type=int, default=5, help="requests in flight (2nd run)")
    ap.add_argument("--clips", type=int, default=10, help="clips per run")
    ap.add_argument(
        "--stages_only", action="store_true", help="only the stage-by-stage figures (seconds)"
    )
    args = ap.parse_args()
    dataset = clips.build(args.clips)
    reply = transcript(args.reply_mb)
    size = len(reply) / 2**20
    print(f"asyncbench from {args.code}; each reply {size:.1f} MiB; {args.clips} clips per run")
    stages(args.code, reply)
    if args.stages_only:
        return
    base, _ = measure(args.code, dataset, b'{"text": "hello world"}', 1, args.clips)
    print(f"  short replies   peak RSS {base:7.1f} MB (the baseline)")
    for in_flight in (1, args.in_flight):
        during, whole = measure(args.code, dataset, reply, in_flight, args.clips)
        per = (during - base) / in_flight
        print(
            f"  {in_flight:>2} in flight    while sending: peak {during:7.1f} MB, "
            f"{per:6.1f} MB per reply in flight = {per / size:4.1f} x the reply; "
            f"whole run (scoring included): peak {whole:7.1f} MB"
        )


if __name__ == "__main__":
    main()
