"""How long a run takes to notice that its only endpoint is dead (issue 28 item 1).

The endpoint accepts connections and never answers. Before liveness, 600 clips at
`--timeout 5 --max_retries 0` reached 207/600 after 120 s and then went on at one request
every 20-35 s (a resting endpoint's single probe): about 3.8 hours. Now the run stops once
nothing has succeeded for `--stall_timeout` (default 2 x --timeout, at least 30 s) and every
endpoint rests, with exit code 5 and one line naming the endpoint and its last error.

    .venv/bin/python bench/stall_detection.py                     # 600 clips, --timeout 5
    .venv/bin/python bench/stall_detection.py --stall_timeout 10  # a shorter watch
    .venv/bin/python bench/stall_detection.py --beside_live 0.2    # plus a live endpoint

It prints the exit code, the wall time from start to exit, how many lines were written, and
the run's last stderr line. With `--beside_live S` the dead endpoint sits beside a live one
answering in S seconds: the run must finish, only the requests sent to the dead endpoint
before it was rested may fail (`--max_retries 0`), and every later request it gets is a probe
whose sample goes on to the live endpoint (attempts 2, ok).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson
from aiohttp import web

from bench import clips
from bench.aldea_server import ServerProcess
from bench.host import free_port
from bench.thread_server import ThreadServer

REPO = Path(__file__).resolve().parents[1]


class DeadServer(ThreadServer):
    """Accepts every request and never answers (on its own loop in a thread)."""

    def __init__(self) -> None:
        super().__init__()
        self.requests = 0

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        await asyncio.sleep(3600)
        return web.Response()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--code", type=Path, default=REPO, help="checkout whose asyncbench runs")
    ap.add_argument("--clips", type=int, default=600)
    ap.add_argument("--timeout", type=float, default=5.0, help="the run's --timeout")
    ap.add_argument("--stall_timeout", type=float, default=None, help="default: the run's own")
    ap.add_argument("--limit", type=float, default=600.0, help="kill the run after this long")
    ap.add_argument(
        "--beside_live", type=float, default=None, metavar="S", help="add a live endpoint (S s)"
    )
    ap.add_argument("--per_endpoint", type=int, default=8, help="with --beside_live")
    args = ap.parse_args()
    dataset = clips.build(args.clips)
    live = ServerProcess([free_port()], args.beside_live) if args.beside_live else None
    with (
        DeadServer() as srv,
        live if live is not None else contextlib.nullcontext(),
        tempfile.TemporaryDirectory() as tmp,
    ):
        endpoints = f"127.0.0.1:{srv.port}" + (f" {live.endpoints}" if live else "")
        argv = clips.aldea_command(
            "run",
            dataset,
            endpoints,
            "--results_dir",
            tmp,
            "--timeout",
            str(args.timeout),
            "--max_retries",
            "0",
            "--no_progress",
        )
        if live:  # a few slots each, so the run lasts through several of the dead one's rests
            argv += ["--per_endpoint_concurrency", str(args.per_endpoint)]
        if args.stall_timeout is not None:
            argv += ["--stall_timeout", str(args.stall_timeout)]
        env = {**os.environ, "PYTHONPATH": str(args.code), "HF_HUB_OFFLINE": "1"}
        env.pop("ALDEA_ENDPOINTS", None)
        t0 = time.monotonic()
        try:
            done = subprocess.run(
                argv, cwd=tmp, env=env, capture_output=True, text=True, timeout=args.limit
            )
            code, err = done.returncode, done.stderr
        except subprocess.TimeoutExpired as exc:
            code, err = None, (exc.stderr or b"").decode(errors="replace") if exc.stderr else ""
        took = time.monotonic() - t0
        rows = [
            orjson.loads(line)
            for p in Path(tmp).glob("*.jsonl")
            for line in p.read_bytes().splitlines()
            if line.strip()
        ]
    lines = len(rows)
    last = next((ln for ln in reversed(err.splitlines()) if ln.strip()), "")
    shown = "killed (still running)" if code is None else f"exit {code}"
    where = f"beside one answering in {args.beside_live:g} s" if live else "(the only one)"
    print(f"{args.clips} clips, --timeout {args.timeout:g}, a dead endpoint {where}")
    print(f"  {shown} after {took:.1f} s; {lines} lines written; {srv.requests} requests seen")
    if live:
        failed = sum(r.get("status") != "ok" for r in rows)
        probed = sum(r.get("status") == "ok" and r.get("attempts", 1) >= 2 for r in rows)
        print(
            f"  {failed} samples failed (sent to the dead endpoint before it rested); "
            f"{probed} samples were a probe of it and finished on the live one; "
            f"the dead endpoint saw {srv.requests} requests = {failed} + {probed}"
            + ("" if srv.requests == failed + probed else " (NOT EQUAL)")
        )
    print(f"  last line: {last[:300]}")


if __name__ == "__main__":
    main()
