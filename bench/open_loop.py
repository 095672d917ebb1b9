"""Open-loop load, measured: does asyncbench send when its schedule says, and does a server
stall show where users feel it?

    .venv/bin/python bench/open_loop.py                 # about a minute and a half
    .venv/bin/python bench/open_loop.py --n 2000 --rate 200 --latency 0.05

Against `bench/aldea_server.py` (fixed latency, true transcripts, its own arrival clock) and
the cached FLAC clips of `bench/clips.py` (so audio decoding runs beside the sending), it runs
`asyncbench run` as a user would, one child process per phase:

1. `poisson`: `--arrival poisson --rate R` for N requests. Figures: the arrival rate the
   server saw against R (and against the seeded schedule's own rate, which for N Poisson
   gaps is itself off R by about 1/sqrt(N)), the coefficient of variation of the gaps
   between arrivals at the server (1 for Poisson), and the client's send lateness
   (`t_sent - t_intended`, p50/p99/max) while decoding runs beside it;
2. `constant`: the same at `--arrival constant` (CV should be near 0);
3. `stall open`: Poisson at `--stall_rate` with a `--stall_s` server stall half-way: p99 of
   latency from the intended start shows the stall (as much as p99 can: the top 1 % of
   requests, those sent first into a d s stall, wait d + latency - 0.01 N / R);
4. `stall closed`: the same samples closed-loop at the `--max_workers` that gives about the
   same rate: the stall holds only the requests in flight, and its p99 does not show it;
5. `stall capped`: phase 3 with a `--cap` on requests in flight that the stall makes bind:
   the late starts are counted.

Every transcript is checked (prediction == reference on every line).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import shutil
import statistics
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson

from asyncbench.engine.stats import percentile
from bench import clips
from bench.aldea_server import ServerProcess, parse_ports
from bench.proc import run_measured

REPO = Path(__file__).resolve().parents[1]


def env() -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith("ALDEA_")}
    out.update(
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        PYTHONUNBUFFERED="1",
        PYTHONPATH=str(REPO),
    )
    return out


def q(values: list[float], p: float) -> float:
    return percentile(sorted(values), p) if values else math.nan


def cv(values: list[float]) -> float:
    return statistics.pstdev(values) / statistics.fmean(values)


def run(
    label: str,
    server: ServerProcess,
    dataset: Path,
    n: int,
    flags: list[str],
    *,
    stall_after: float | None = None,
    stall_s: float = 0.0,
) -> dict[str, Any]:
    """One `asyncbench run` phase: its summary, lines and the server's arrival times."""
    run_dir = clips.CACHE / "open-loop" / label.replace(" ", "-")
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    argv = clips.aldea_command(
        "run",
        dataset,
        server.endpoints,
        *("--max_samples", str(n), "--results_dir", str(run_dir / "results"), "--no_progress"),
        *flags,
    )
    load = os.getloadavg()[0]
    print(f"-- {label}: {' '.join(flags)} (load average {load:.1f})", flush=True)
    server.reset(server.latency, stall_after, stall_s)
    log = run_dir / "log.txt"
    measured = run_measured(argv, cwd=REPO, env=env(), log=log)
    if measured.returncode != 0:
        raise SystemExit(f"{label}: exit {measured.returncode}; see {log}")
    (path,) = (run_dir / "results").glob("*.jsonl")
    rows = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    wrong = sum(r["pred_text"] != r["text"] or r["status"] != "ok" for r in rows)
    summary = json.loads(path.with_name(path.stem + ".summary.json").read_text())
    arrivals = sorted(server.arrivals())
    # the client's CPU while it was sending: a starved client sends late whatever it does
    span = arrivals[-1] - arrivals[0]
    cores = measured.cpu_between(arrivals[0], arrivals[-1]) / span if span > 0 else math.nan
    print(
        f"   {len(rows)} lines ({wrong} wrong) in {measured.wall_s:.1f} s; client CPU while "
        f"sending {cores:.2f} cores",
        flush=True,
    )
    return {
        "rows": rows,
        "wrong": wrong,
        "summary": summary,
        "arrivals": arrivals,
        "load": load,
        "cores": cores,
    }


def rate_figures(phase: dict[str, Any], rate: float, kind: str, seed: int) -> dict[str, float]:
    from asyncbench.engine.arrivals import make_spec, schedule

    arr = phase["arrivals"]
    gaps = [b - a for a, b in itertools.pairwise(arr)]
    n = len(arr)
    planned = list(itertools.islice(schedule(make_spec(kind, rate=rate, seed=seed)), n))
    lateness = [r["t_sent"] - r["t_intended"] for r in phase["rows"]]
    sent = sorted(r["t_sent"] for r in phase["rows"])
    plan_gaps = [b - a for a, b in itertools.pairwise(planned)]
    return {
        "server_rate": (n - 1) / (arr[-1] - arr[0]),
        "schedule_rate": (n - 1) / planned[-1],
        "cv": cv(gaps),
        "client_cv": cv([b - a for a, b in itertools.pairwise(sent)]),
        "schedule_cv": statistics.pstdev(plan_gaps) / statistics.fmean(plan_gaps),
        "within_1ms": sum(x <= 0.001 for x in lateness) / len(lateness),
        "late_p50_ms": 1000 * q(lateness, 50),
        "late_p99_ms": 1000 * q(lateness, 99),
        "late_max_ms": 1000 * max(lateness),
        "late_starts": phase["summary"]["late_starts"]["count"],
        "load": phase["load"],
        "cores": phase["cores"],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=2000, help="requests of the rate phases")
    ap.add_argument("--rate", type=float, default=200.0, help="R of the rate phases")
    ap.add_argument("--latency", type=float, default=0.05, help="the server's fixed latency")
    ap.add_argument("--stall_n", type=int, default=1500, help="requests of the stall phases")
    ap.add_argument("--stall_rate", type=float, default=150.0)
    ap.add_argument("--stall_s", type=float, default=2.0)
    ap.add_argument("--cap", type=int, default=40, help="--max_workers of 'stall capped'")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ports", default="18960-18963")
    args = ap.parse_args(argv)

    dataset = clips.build(max(args.n, args.stall_n))
    seed = ["--seed", str(args.seed)]
    out: dict[str, Any] = {}
    with ServerProcess(parse_ports(args.ports), args.latency) as server:
        for kind in ("poisson", "constant"):
            phase = run(
                kind,
                server,
                dataset,
                args.n,
                ["--arrival", kind, "--rate", f"{args.rate:g}", "--max_workers", "1000", *seed],
            )
            out[kind] = rate_figures(phase, args.rate, kind, args.seed) | {"wrong": phase["wrong"]}
        mid = 0.5 * args.stall_n / args.stall_rate
        stall = {"stall_after": mid, "stall_s": args.stall_s}
        open_flags = ["--arrival", "poisson", "--rate", f"{args.stall_rate:g}", *seed]
        closed_workers = max(1, round(args.stall_rate * args.latency))
        phases = {
            "stall open": [*open_flags, "--max_workers", "1000"],
            "stall closed": ["--max_workers", str(closed_workers)],
            "stall capped": [*open_flags, "--max_workers", str(args.cap)],
        }
        for label, flags in phases.items():
            phase = run(label, server, dataset, args.stall_n, flags, **stall)
            s = phase["summary"]
            out[label] = {
                "from_intended_p99": s["latency_from_intended"]["p99"],
                "from_intended_max": s["latency_from_intended"]["max"],
                "service_p99": s["latency_s"]["p99"],
                "late_starts": s["late_starts"]["count"],
                "waited_for_slot": s["late_starts"]["waited_for_slot"],
                "achieved_rate": s["achieved_rate"],
                "wrong": phase["wrong"],
                "load": phase["load"],
                "cores": phase["cores"],
            }

    print()
    print(f"open loop vs a server with {args.latency:g} s fixed latency (seed {args.seed})")
    for kind in ("poisson", "constant"):
        f = out[kind]
        vs_r = 100 * (f["server_rate"] / args.rate - 1)
        vs_plan = 100 * (f["server_rate"] / f["schedule_rate"] - 1)
        print(
            f"{kind:>9} R={args.rate:g}/s x {args.n}: server-side rate {f['server_rate']:.2f}/s "
            f"({vs_r:+.2f} % vs R; the seeded schedule itself {f['schedule_rate']:.2f}/s, "
            f"server {vs_plan:+.2f} % vs it), CV of gaps {f['cv']:.3f} at the server "
            f"({f['client_cv']:.3f} between the client's sends, {f['schedule_cv']:.3f} in the "
            f"schedule); {100 * f['within_1ms']:.1f} % sent within 1 ms; t_sent - t_intended "
            f"p50 {f['late_p50_ms']:.2f} ms, p99 {f['late_p99_ms']:.2f} ms, max "
            f"{f['late_max_ms']:.1f} ms; late starts (>10 ms) {f['late_starts']}; client "
            f"{f['cores']:.2f} cores at load average {f['load']:.1f}; wrong {f['wrong']}"
        )
    print(
        f"stall of {args.stall_s:g} s half-way through {args.stall_n} requests "
        f"(open: poisson {args.stall_rate:g}/s; closed: {closed_workers} in flight)"
    )
    for label in phases:
        f = out[label]
        print(
            f"{label:>13}: latency from intended p99 {f['from_intended_p99']:.3f} s "
            f"(max {f['from_intended_max']:.3f}), service p99 {f['service_p99']:.3f} s, "
            f"achieved {f['achieved_rate']:.1f}/s, late starts {f['late_starts']} "
            f"({f['waited_for_slot']} waited for a slot); client {f['cores']:.2f} cores at "
            f"load average {f['load']:.1f}; wrong {f['wrong']}"
        )
    p, c = out["poisson"], out["constant"]
    # No reply leaves for d s: a request arriving t s into the stall waits d - t (+ latency
    # L), so the top 1 % (0.01 n requests, the first 0.01 n / R s of it) waits at least
    # d + L - 0.01 n / R: that is what p99 can show of a d s stall.
    bound = args.stall_s + args.latency - 0.01 * args.stall_n / args.stall_rate
    print(f"  (the p99 a {args.stall_s:g} s stall can show here: {bound:.3f} s)")
    checks = [
        ("poisson server-side rate within 2 % of R", abs(p["server_rate"] / args.rate - 1) <= 0.02),
        ("poisson CV of gaps in 0.9-1.1", 0.9 <= p["cv"] <= 1.1),
        ("constant CV of gaps below 0.1", c["cv"] < 0.1),
        (
            "open-loop stall: p99 from intended shows it (>= 95 % of that bound)",
            out["stall open"]["from_intended_p99"] >= 0.95 * bound,
        ),
        (
            "closed-loop stall: p99 below the stall",
            out["stall closed"]["from_intended_p99"] < args.stall_s,
        ),
        ("capped open loop counts late starts", out["stall capped"]["late_starts"] > 0),
        ("every transcript right", all(f["wrong"] == 0 for f in out.values())),
    ]
    for what, ok in checks:
        print(f"  {'MET ' if ok else 'MISS'} {what}")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
