"""`batch --ray` on a real two-node Ray cluster on 127.0.0.1 against the single-process batch.

    .venv/bin/python bench/ray_batch.py [--n 100] [--budget 8] [--shards 4] [--latency 0.1]

One Aldea-protocol loopback server (in this process, on a thread) answers every clip with its
own words after `--latency` seconds, except that every third clip loses its last word (so
the scores are not all zero and equal scores mean something), and counts what is in flight.
A cluster of a head and one more node (one CPU each, `ray start`) is started for the bench
and stopped after it. Printed, each from one run:

1. the batch of 4 splits × `--n` clips in one process (`asyncbench batch`): wall time;
2. the same batch with `--ray ADDRESS --shards S`: wall time, whether every WER line and
   every line's prediction is identical to (1), each id exactly once, and the most requests
   the server saw in flight at once against the budget (the limit must hold cluster-wide);
3. the same with the worker node SIGKILLed once a quarter of the lines are written: whether
   every sample still ends exactly once, and the wall time with the redone shards.

Ray's start-up (cluster, driver, worker processes importing asyncbench) is in the walls: on a
2-core machine Ray buys no speed, it shows the same answers and limits across nodes.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` and `tests` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.faultkit import finish, heard, start, wait_until
from tests.loopback import LoopbackAldea
from tests.raycluster import RayCluster
from tests.support import cli_env, make_dataset, read_results

SPLITS = ("ami", "voxpopuli", "tedlium", "spgispeech")


def imperfect(body: bytes) -> str:
    words = (heard(body) or "no watermark").split()
    return " ".join(words[:-1] if len(body) % 3 == 0 else words)


def wer_lines(stdout: str) -> list[str]:
    """The WER figures printed, without RTFx (a timing), sorted (runs end in any order)."""
    return sorted(
        re.sub(r", RTFx = [0-9.]+", "", line) for line in stdout.splitlines() if "WER" in line
    )


def predictions(results: Path) -> dict[str, dict[str, tuple[str, str]]]:
    return {
        p.name: {r["id"]: (r["status"], r["pred_text"]) for r in read_results(p)}
        for p in sorted(results.glob("*.jsonl"))
    }


def once_each(results: Path) -> tuple[int, int]:
    """(samples, the most times any id appears) over every results file."""
    ids: Counter[str] = Counter()
    for p in results.glob("*.jsonl"):
        ids.update(r["id"] for r in read_results(p))
    return len(ids), max(ids.values(), default=0)


async def main(args: argparse.Namespace) -> int:
    work = Path(tempfile.mkdtemp(prefix="ray-bench-"))
    ds = make_dataset(work / "ds", {(s, "test"): args.n for s in SPLITS})
    total = args.n * len(SPLITS)
    print(
        f"{len(SPLITS)} splits × {args.n} clips = {total}; aldea budget {args.budget}, "
        f"latency {args.latency} s, --shards {args.shards}",
        flush=True,
    )
    cluster = RayCluster.start()
    try:
        async with LoopbackAldea(2, transcript=imperfect, latency=args.latency) as srv:

            def argv(results: Path, *extra: str) -> list[str]:
                out = ["batch", "--model", "aldea/default", "--aldea_endpoints", srv.endpoints]
                out += ["--dataset_path", str(ds), "--datasets", ",".join(SPLITS)]
                out += ["--max_workers", str(args.budget), "--results_dir", str(results)]
                return [*out, "--no_progress", *extra]

            ray_flags = ("--ray", cluster.address, "--shards", str(args.shards))
            t0 = time.monotonic()
            code, out_one, err = await finish(await start(argv(work / "one"), cli_env()), 600)
            one_wall = time.monotonic() - t0
            if code:
                raise SystemExit(f"one process: exit {code}\n{err[-2000:]}")
            one_peak = srv.max_in_flight
            print(f"one process     {one_wall:6.1f} s   server in flight max {one_peak}")

            srv.max_in_flight = 0
            t0 = time.monotonic()
            proc = await start(argv(work / "ray", *ray_flags), cli_env())
            code, out_ray, err = await finish(proc, 900)
            ray_wall = time.monotonic() - t0
            if code:
                raise SystemExit(f"--ray: exit {code}\n{err[-2000:]}")
            same_wer = wer_lines(out_ray) == wer_lines(out_one)
            same_lines = predictions(work / "ray") == predictions(work / "one")
            n, most = once_each(work / "ray")
            print(
                f"--ray, 2 nodes  {ray_wall:6.1f} s   server in flight max {srv.max_in_flight} "
                f"of budget {args.budget}; WER lines identical: {same_wer}; every prediction "
                f"identical: {same_lines}; {n}/{total} samples, each at most {most}×"
            )

            srv.max_in_flight = 0
            killed = work / "killed"
            t0 = time.monotonic()
            proc = await start(argv(killed, *ray_flags), cli_env())

            def written() -> int:
                return sum(p.read_bytes().count(b"\n") for p in killed.glob("*.jsonl"))

            await wait_until(lambda: written() >= total // 4, proc, 600, "a quarter written")
            at_kill = written()
            cluster.kill_worker_node()
            code, _, err = await finish(proc, 900)
            kill_wall = time.monotonic() - t0
            n, most = once_each(killed)
            lost_worker = "lost its worker" in err
            print(
                f"worker killed   {kill_wall:6.1f} s   at {at_kill} lines; exit {code}; "
                f"{n}/{total} samples, each at most {most}×; server in flight max "
                f"{srv.max_in_flight} of {args.budget}; driver said 'lost its worker': "
                f"{lost_worker}"
            )
            ok = same_wer and same_lines and n == total and most == 1 and code == 0
            ok = ok and srv.max_in_flight <= args.budget
            print("verdict:", "pass" if ok else "FAIL")
            return 0 if ok else 1
    finally:
        cluster.stop()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100, help="clips per split")
    ap.add_argument("--budget", type=int, default=8, help="aldea requests in flight")
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--latency", type=float, default=0.1)
    raise SystemExit(asyncio.run(main(ap.parse_args())))
