"""The engine's own CPU per request, with no network and no audio work.

    PYTHONPATH=. .venv/bin/python bench/engine_cost.py [--n 20000] [--workers 256]

What `bench/client_cost.py` cannot separate from aiohttp and the decode threads: the real
`Engine` (reader thread, chunked prep hand-off, endpoint pool, timeouts, results lines
written to a real file by its writer) driving a `transcribe` that answers at the next turn
of the loop. The figure is the floor under the engine's part of "event loop while sending".
Every line is checked (one ok line per sample). Lowest of `--repeat` runs.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `asyncbench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson
import uvloop

from asyncbench.engine.endpoints import EndpointPool
from asyncbench.engine.pipeline import Engine, EngineOptions, Job
from asyncbench.providers.base import AudioPayload
from asyncbench.results.store import ResultWriter
from asyncbench.sources.dataset import Sample
from bench.host import cpu_s


async def one_run(n: int, workers: int, folder: Path) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one engine run over n samples."""
    payload = AudioPayload(b"RIFF" + bytes(40_000), "audio/wav", "audio.wav", 1.25)

    async def transcribe(url: str, audio: AudioPayload) -> str:
        await asyncio.sleep(0)
        return "hello world"

    async def prepare(sample: Sample) -> Job:
        return Job(sample, 1.25, payload=payload)

    async def prepare_many(samples: list[Sample]) -> list[Job]:
        return [Job(s, 1.25, payload=payload) for s in samples]

    path = folder / "results.jsonl"
    path.unlink(missing_ok=True)
    engine = Engine(
        pool=EndpointPool(["http://a/asr", "http://b/asr"], workers // 2),
        transcribe=transcribe,
        prepare=prepare,
        prepare_many=prepare_many,
        writer=ResultWriter(path),
        options=EngineOptions(max_workers=workers, prep_concurrency=4, prep_chunk=16),
    )
    batches = iter(
        [
            [Sample(f"s{i + j}", i + j, "a reference", 1.25) for j in range(min(64, n - i))]
            for i in range(0, n, 64)
        ]
    )
    cpu, wall = cpu_s(), time.monotonic()
    await engine.run(batches)
    cpu, wall = cpu_s() - cpu, time.monotonic() - wall
    rows = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    if (
        len(rows) != n
        or len({r["id"] for r in rows}) != n
        or any(r["status"] != "ok" for r in rows)
    ):
        raise SystemExit(f"expected {n} different ok lines, found {len(rows)}")
    return cpu, wall


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20_000, help="samples, one request each")
    ap.add_argument("--workers", type=int, default=256, help="requests in flight")
    ap.add_argument("--repeat", type=int, default=3, help="runs; lowest kept")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        runs = [uvloop.run(one_run(args.n, args.workers, Path(tmp))) for _ in range(args.repeat)]
    cpu, wall = min(runs)
    print(
        f"engine alone, {args.n} requests at {args.workers} in flight: "
        f"{1e6 * cpu / args.n:.1f} µs of CPU a request (lowest of {args.repeat}; all: "
        + ", ".join(f"{1e6 * c / args.n:.1f}" for c, _ in runs)
        + f"), {args.n / wall:,.0f} requests/s; every line checked"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
