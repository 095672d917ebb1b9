"""Saturation honesty, measured: does asyncbench say when it is itself the bottleneck, and
does its steady-state throughput leave ramp-up and drain out?

    .venv/bin/python bench/saturation.py          # well under a minute on 2 cores
    .venv/bin/python bench/saturation.py --n 6000 --workers 300 --latency 0.02

Against `bench/aldea_server.py` (fixed latency, its own count of requests in flight) and the
cached FLAC clips of `bench/clips.py`, it runs `asyncbench run` as a user would, twice:

1. `client-bound`: a 0.02 s server and 300 requests in flight, more than one client core can
   keep going. Printed: the verdict and loop lag from the run's summary, its latency p50
   against the server's 0.02 s, and its Little's-law mean in flight against the requests in
   flight the server itself saw (time-weighted, between the first reply and the last
   arrival).
2. `steady`: a 0.3 s server and 64 in flight (ideal 213 requests/s) with `--warmup 1s`:
   the whole-run throughput (ramp-up and drain included) beside the steady one.

Figures depend on the machine and on what else runs on it; the load average is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import clips
from bench.aldea_server import ServerProcess, parse_ports
from bench.proc import run_measured

REPO = Path(__file__).resolve().parents[1]


def env() -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith("ALDEA_")}
    out.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", PYTHONPATH=str(REPO))
    return out


def phase(
    label: str, server: ServerProcess, dataset: Path, n: int, latency: float, flags: list[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """One `asyncbench run`: (its summary, the server's own figures for the phase)."""
    run_dir = clips.CACHE / "saturation" / label
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    argv = clips.aldea_command(
        "run",
        dataset,
        server.endpoints,
        *("--max_samples", str(n), "--results_dir", str(run_dir / "results"), "--no_progress"),
        *flags,
    )
    print(f"-- {label}: {' '.join(flags)} (load average {os.getloadavg()[0]:.1f})", flush=True)
    server.reset(latency)
    log = run_dir / "log.txt"
    measured = run_measured(argv, cwd=REPO, env=env(), log=log)
    if measured.returncode != 0:
        raise SystemExit(f"{label}: exit {measured.returncode}; see {log}")
    (path,) = (run_dir / "results").glob("*.jsonl")
    summary = json.loads(path.with_name(path.stem + ".summary.json").read_text())
    for line in log.read_text().splitlines():
        if line.startswith(("client", "latency", "throughput:", "Little")):
            print("   " + line)
    return summary, server.stats()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=4000, help="clips of the client-bound phase")
    ap.add_argument("--workers", type=int, default=300)
    ap.add_argument("--latency", type=float, default=0.02)
    ap.add_argument("--steady_n", type=int, default=1500, help="clips of the steady phase")
    ap.add_argument("--ports", default="18970-18973")
    args = ap.parse_args()
    dataset = clips.build(max(args.n, args.steady_n))
    with ServerProcess(parse_ports(args.ports), args.latency) as server:
        s, srv = phase(
            "client-bound",
            server,
            dataset,
            args.n,
            args.latency,
            ["--max_workers", str(args.workers)],
        )
        lag = s["loop_lag_ms"]
        print(
            f"== client-bound: verdict {s['client_bound']}; loop lag p50 {lag['p50']:.1f} ms, "
            f"p99 {lag['p99']:.1f} ms, max {lag['max']:.1f} ms; latency p50 "
            f"{1000 * s['latency_s']['p50']:.1f} ms for a {1000 * args.latency:.0f} ms server; "
            f"Little's law says {s['little']['mean_in_flight']:.1f} in flight, the server saw "
            f"{srv.get('steady_in_flight', float('nan')):.1f} (max {srv['max_in_flight']})"
        )
        s, srv = phase(
            "steady",
            server,
            dataset,
            args.steady_n,
            0.3,
            ["--max_workers", "64", "--warmup", "1s"],
        )
        t = s["throughput"]
        print(
            f"== steady: whole run {t['whole_per_s']:.1f}/s, steady {t['steady_per_s']:.1f}/s "
            f"(ideal {64 / 0.3:.1f}/s = 64 in flight / 0.3 s); server saw "
            f"{srv.get('steady_arrivals_per_s', float('nan')):.1f} arrivals/s in its steady "
            f"window; client-bound {s['client_bound']}"
        )


if __name__ == "__main__":
    main()
