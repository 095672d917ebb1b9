"""Does the sweep's knee survive noise? The same sweep, several times, against a noisy server
with a known knee.

    .venv/bin/python bench/sweep_knee.py                # about a minute on 2 cores
    .venv/bin/python bench/sweep_knee.py --repeats 8 --n 96 --knee 0.05

The server (in this process, on a thread of its own) works on at most `--capacity` requests
at once, each for a random time (lognormal, mean `--service` s, spread `--sigma`; a model
server whose requests differ in length): its throughput tops out at capacity ÷ service, so
the true knee is at `--capacity` requests in flight. Each repetition runs `asyncbench sweep
--levels 1,2,4,8,16` as a user would (a fresh sweep folder each time, so nothing is
skipped) and prints the sweep's own table (cut after its verdict column: each level's
throughput, its 95 % interval and its verdict against the best), its knee line, the range
the knee lies in by asyncbench (one level when it is sure), and the knee the point rule
would have called from the figures alone (the first level within `--knee` of the best).
The closing line counts how often each rule's answer held the true knee.

Figures depend on the machine and on what else runs on it; the load average is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiohttp import web

from bench import clips
from bench.aldea_server import answer

REPO = Path(__file__).resolve().parents[1]
LEVELS = (1, 2, 4, 8, 16)


class NoisyCapped:
    """An Aldea-protocol server on a background loop: at most `capacity` requests at once,
    each served for a lognormal time of mean `service` (seeded, so runs are comparable)."""

    def __init__(self, port: int, capacity: int, service: float, sigma: float) -> None:
        self.port, self.capacity = port, capacity
        self.mu = math.log(service) - sigma * sigma / 2  # lognormal with that mean
        self.sigma = sigma
        self.rnd = random.Random(1)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.runner: web.AppRunner | None = None

    async def _start(self) -> None:
        sem = asyncio.Semaphore(self.capacity)

        async def handle(request: web.Request) -> web.Response:
            reply = answer(await request.read())
            async with sem:
                await asyncio.sleep(self.rnd.lognormvariate(self.mu, self.sigma))
            if reply is None:
                return web.Response(status=400, text="no watermark")
            return web.Response(body=reply, content_type="application/json")

        app = web.Application(client_max_size=64 * 2**20)
        app.router.add_post("/asr/transcribe", handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    def __enter__(self) -> NoisyCapped:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.runner is not None
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def point_knee(rows: list[dict[str, Any]], threshold: float) -> float | None:
    """The first level within `threshold` of the best by the figures alone."""
    best = max(r["samples_per_s"] for r in rows)
    for i, r in enumerate(rows):
        if r["samples_per_s"] >= (1 - threshold) * best:
            return None if i == len(rows) - 1 else r["level"]
    return None


def one_sweep(label: str, dataset: Path, port: int, args: argparse.Namespace) -> dict[str, Any]:
    out = clips.CACHE / "sweep_knee" / label
    shutil.rmtree(out, ignore_errors=True)
    argv = clips.aldea_command(
        "sweep",
        dataset,
        f"127.0.0.1:{port}",
        *("--max_samples", str(args.n), "--sweep_dir", str(out)),
        *("--levels", ",".join(map(str, LEVELS)), "--knee", str(args.knee), "--no_progress"),
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALDEA_")}
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", PYTHONPATH=str(REPO))
    done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{label}: exit {done.returncode}\n{done.stderr[-2000:]}")
    (path,) = out.rglob("sweep.json")
    data: dict[str, Any] = json.loads(path.read_text())
    lines = done.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("in flight"))
    for line in lines[start:]:
        if not line.startswith("sweep figures"):
            print("   " + line[:50] if line.startswith(" ") else "   " + line)
    return data


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=4)
    ap.add_argument("--n", type=int, default=64, help="samples per level")
    ap.add_argument("--capacity", type=int, default=4)
    ap.add_argument("--service", type=float, default=0.05, help="mean service time, s")
    ap.add_argument("--sigma", type=float, default=0.5, help="lognormal spread of service")
    ap.add_argument("--knee", type=float, default=0.05)
    ap.add_argument("--port", type=int, default=18990)
    args = ap.parse_args()
    dataset = clips.build(args.n)
    true = args.capacity
    held = {"interval": 0, "point": 0}
    with NoisyCapped(args.port, args.capacity, args.service, args.sigma):
        for rep in range(args.repeats):
            print(f"-- sweep {rep + 1} (load average {os.getloadavg()[0]:.1f})", flush=True)
            data = one_sweep(f"rep{rep}", dataset, args.port, args)
            rows = data["levels"]
            knee, upto = data["knee_level"], data.get("knee_upto_level")
            if data.get("knee_verdict") == "unclear":
                last = upto if upto is not None else LEVELS[-1]
                span = (knee, last)
            else:
                span = (knee, knee)
            point = point_knee(rows, args.knee)
            holds = span[0] is not None and span[0] <= true <= span[1]
            held["interval"] += holds
            held["point"] += point == true
            said = f"{span[0]}"
            if span[1] != span[0]:
                needed = data.get("knee_samples_needed")
                tell = f"{needed} samples would tell" if needed else "no sample count would tell"
                said += f" to {span[1]} ({tell})"
            print(f"== knee: the intervals say {said}; the figures alone say {point}; true {true}")
    print(
        f"== over {args.repeats} sweeps of {args.n} samples per level: the intervals' answer "
        f"held the true knee {held['interval']} times, the figures alone named it "
        f"{held['point']} times"
    )


if __name__ == "__main__":
    main()
