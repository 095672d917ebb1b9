"""Peak memory of a run whose server answers with a 2 GB body or an endless chunked body.

A misconfigured proxy or a broken server can answer a transcription request with a body
of any size. asyncbench reads replies with a cap (`--max_reply_bytes`, 16 MiB by default):
the attempt fails as `bad_response` and the connection is dropped, so such a body costs at
most the cap in memory. This script shows it: it serves 4 clips with an Aldea-protocol
server on 127.0.0.1 whose replies are, by mode,

- `normal`: `{"text": ...}` (the baseline peak RSS of a run),
- `2gb`: `Content-Length: 2147483648`, then 256 KiB chunks of filler up to `--send_mib`,
- `endless`: chunked, filler up to `--send_mib`, with no end,

after which the server stops sending and holds the connection open (a reader without a cap
then waits for `--timeout`). It runs `asyncbench run` as a child (the code under `--code`,
default this checkout) once per mode and prints the child's peak RSS (`VmHWM`, via
`bench/proc.py`) and its growth over the baseline.

    .venv/bin/python bench/reply_cap.py                       # this checkout, 2 GiB sent
    .venv/bin/python bench/reply_cap.py --code /tmp/old --send_mib 512   # an older checkout

`--send_mib` bounds what the server sends: an uncapped client holds everything it receives
(twice, while aiohttp joins the chunks), so measure old code with a budget the machine can
spare; its growth is then that budget, and with the full 2 GB it would be 2 GB or more.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiohttp import web

from bench import clips
from bench.proc import run_measured
from bench.thread_server import ThreadServer

REPO = Path(__file__).resolve().parents[1]
CHUNK = b"a" * (256 * 1024)
N_CLIPS = 4


class Server(ThreadServer):
    """The misbehaving server, on its own loop in a thread (the child is what is measured)."""

    def __init__(self, mode: str, send_bytes: int) -> None:
        super().__init__()
        self.mode = mode
        self.send_bytes = send_bytes

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        if self.mode == "normal":
            return web.json_response({"text": "hello world"})
        headers = {"Content-Type": "application/json"}
        if self.mode == "2gb":
            headers["Content-Length"] = str(2 * 2**30)
        resp = web.StreamResponse(headers=headers)
        if self.mode == "endless":
            resp.enable_chunked_encoding()
        await resp.prepare(request)
        sent = 0
        try:
            await resp.write(b'{"text": "')
            while sent < self.send_bytes:
                await resp.write(CHUNK)
                sent += len(CHUNK)
            await asyncio.sleep(3600)  # no more, and no end
        except (ConnectionError, asyncio.CancelledError):
            pass  # the client hung up: what a capped client does
        return resp


def measure(mode: str, code: Path, dataset: Path, send_bytes: int, timeout: float) -> float:
    """The child's peak RSS in MB for one mode."""
    with Server(mode, send_bytes) as srv, tempfile.TemporaryDirectory() as tmp:
        argv = clips.aldea_command(
            "run",
            dataset,
            f"127.0.0.1:{srv.port}",
            "--results_dir",
            tmp,
            "--max_workers",
            "1",
            "--max_samples",
            "1" if mode != "normal" else str(N_CLIPS),
            "--max_retries",
            "0",
            "--timeout",
            str(timeout),
            "--no_progress",
        )
        env = {**os.environ, "PYTHONPATH": str(code), "HF_HUB_OFFLINE": "1"}
        env.pop("ALDEA_ENDPOINTS", None)
        log = Path(tmp) / "run.log"
        got = run_measured(argv, cwd=Path(tmp), env=env, log=log, timeout=600)
        text = log.read_text(errors="replace")
        outcome = next(
            (line for line in text.splitlines() if line.startswith("failed by kind")),
            "all ok" if got.returncode == 0 else f"exit {got.returncode}",
        )
        print(f"  {mode:<8} peak RSS {got.peak_rss_mb:8.1f} MB  {got.wall_s:5.1f} s  {outcome}")
        return got.peak_rss_mb


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--code", type=Path, default=REPO, help="checkout whose asyncbench runs")
    ap.add_argument("--send_mib", type=int, default=2048, help="MiB the server sends at most")
    ap.add_argument("--timeout", type=float, default=5.0, help="the child's --timeout")
    args = ap.parse_args()
    dataset = clips.build(N_CLIPS)
    print(f"asyncbench from {args.code}; server sends at most {args.send_mib} MiB per reply")
    base = measure("normal", args.code, dataset, 0, args.timeout)
    for mode in ("2gb", "endless"):
        peak = measure(mode, args.code, dataset, args.send_mib * 2**20, args.timeout)
        print(f"           growth over the baseline: {peak - base:+.1f} MB")


if __name__ == "__main__":
    main()
