"""A batch of 3 providers × 4 splits at once vs each provider alone vs `--sequential`.

    .venv/bin/python bench/batch_parallel.py [--n 60] [--latency 0.2] [--models a,b]

deepgram (budget 50) and openai (budget 20) run against one `asyncbench mock --latency L`,
aldea (budget 160) against `bench/aldea_server.py` with the same fixed latency; every provider
gets the same 4 splits of `--n` watermarked clips. Printed: the wall time of the whole
concurrent batch, of each provider's 4 splits alone and of `--sequential`, the ratio of the
concurrent batch to the slowest provider alone (target ≤ 1.15×), and aldea's in flight as
its server saw it around each split boundary, alone and in the concurrent batch: over the
drain of split k (from its last send to its last reply; target ≥ 90 % of the budget), and
over the body of the split after it (its steady state, to compare), from the server's own
arrival and reply times. Splits are taken in the order the batch ran them (the suite's, not
this file's). Every line is checked against its clip's reference. With `--processes P`,
also `run` on one split with 1 and with P processes against fast local endpoints.

Reading the boundary figure: it means something only when a split is several times aldea's
budget (`--n` well above 160: with 60 clips a whole split is in flight at once, and two runs
of a budget at a time can hold at most 120) and when the client can sustain the budget at
that latency at all (160 in flight at 0.2 s is 800 requests/s: on a loaded 2-core machine
the body itself stays at 41-87 %, and the boundary cannot be fuller than the body). So the
boundary by itself is measured with aldea alone, e.g. `--models aldea/default --n 480
--latency 0.5` (about 40 s).

Figures (2026-12-01, 2 loaded cores). Boundary, `--models aldea/default --n 480 --latency
0.5`: drains at 97/98/96 % of 160 alone and 95/95/96 % in the batch (min 111-140), bodies
89-99 %; the scheduler before this (next run started on `Engine.source_done`): 56/95/70 %
alone and 75/68/88 % in the batch (min 38-134). At `--latency 1.0`: 100 % every boundary
(min 135-152), before 85-95 % (min 77-123). Whole batch, `--n 200 --latency 0.5`: at once
26.2 s = 1.10× the slowest alone (openai 23.8 s), `--sequential` 1.72×. At `--n 400
--latency 0.2` the client is the limit (bodies 41-87 %): at once 1.37×, boundaries 16-43 %.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson

from asyncbench.sources.hub_layout import write_hub_folder
from bench import clips
from bench.aldea_server import ServerProcess
from bench.host import free_port

REPO = Path(__file__).resolve().parents[1]
WORK = clips.CACHE / "batch-parallel"
SPLITS = ("ami", "voxpopuli", "tedlium", "spgispeech")
BUDGETS: dict[str, int] = {}
MODELS = ("deepgram/nova-3", "openai/gpt-4o-transcribe", "aldea/default")


def dataset(n: int) -> Path:
    """4 configs of the esb suite's names, each the same n watermarked clips."""
    root = WORK / f"ds-{n}-v{clips.VERSION}"
    if not (root / "README.md").exists():
        rows = clips._rows(0, n)
        shutil.rmtree(root, ignore_errors=True)
        tables = {
            c: {"test": [dict(r, dataset=c, id=f"{c}-{r['id']}") for r in rows]} for c in SPLITS
        }
        write_hub_folder(root, tables, title="batch_parallel bench")
    return root


def env(mock_port: int) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith(("ALDEA_", "OPENAI_"))}
    base = f"http://127.0.0.1:{mock_port}"
    out.update(
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        PYTHONPATH=str(REPO),
        DEEPGRAM_API_KEY="bench",
        DEEPGRAM_BASE_URL=base,
        OPENAI_API_KEY="bench",
        OPENAI_BASE_URL=f"{base}/v1",
    )
    return out


def batch(
    label: str, models: list[str], ds: Path, aldea: str, mock_port: int, *flags: str
) -> float:
    """One `asyncbench batch`: its wall time (each model at its own budget)."""
    results = WORK / label
    shutil.rmtree(results, ignore_errors=True)
    argv = [sys.executable, "-m", "asyncbench", "batch"]
    for m in models:
        argv += ["--model", m]
    argv += ["--dataset_path", str(ds), "--datasets", ",".join(SPLITS)]
    argv += ["--aldea_endpoints", aldea, "--results_dir", str(results), "--no_progress", *flags]
    started = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, env=env(mock_port), cwd=REPO)
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"{label}: exit {done.returncode}\n{done.stderr[-3000:]}")
    wrong = 0
    for path in results.glob("*.jsonl"):
        for line in path.read_bytes().splitlines():
            r = orjson.loads(line)
            wrong += r["status"] != "ok" or r["pred_text"] != r["text"]
    print(f"  {label:<34} {wall:6.1f} s  ({wrong} wrong lines)", flush=True)
    return wall


def in_flight_at(events: list[tuple[float, int]], lo: float, hi: float) -> tuple[float, int]:
    """Time-weighted mean and minimum of requests in flight between lo and hi."""
    level, area, low, prev = 0, 0.0, None, lo
    for t, step in events:
        if t > hi:
            break
        if t > lo:
            area += level * (t - max(prev, lo))
            low = level if low is None else min(low, level)
            prev = t
        level += step
    area += level * (hi - max(prev, lo))
    low = level if low is None else min(low, level)
    return area / (hi - lo) if hi > lo else float(level), low


def boundaries(results: Path, server: ServerProcess, budget: int) -> list[dict[str, Any]]:
    """aldea's in flight (server-side) over each split's drain (its last send to its last
    reply: where the next split must fill the slots freed), and, to compare, over the body of
    the split after it (its first reply to its last send: the steady state of the client)."""
    offset = time.time() - time.monotonic()  # lines carry epoch times; the server monotonic
    arrivals, replies = server.arrivals(), server.replies()
    events = sorted([(t, 1) for t in arrivals] + [(t, -1) for t in replies])
    spans = {}
    for config in SPLITS:  # then ordered as the batch ran them (the suite's order, not ours)
        (path,) = results.glob(f"MODEL_aldea-default_*_{config}_test.jsonl")
        rows = [orjson.loads(line) for line in path.read_bytes().splitlines()]
        spans[config] = (
            min(r["t_end"] for r in rows) - offset,
            max(r["t_sent"] for r in rows) - offset,
            max(r["t_end"] for r in rows) - offset,
        )
    order = sorted(spans, key=lambda c: spans[c][0])
    out = []
    for config, after in itertools.pairwise(order):
        _, lo, hi = spans[config]
        mean, low = in_flight_at(events, lo, hi)
        first_reply, last_send, _ = spans[after]
        body = in_flight_at(events, max(first_reply, hi), last_send)[0]
        out.append(
            {
                "split": config,
                "drain_s": hi - lo,
                "mean": mean,
                "min": low,
                "budget": budget,
                "body": body,
            }
        )
    return out


def print_boundaries(label: str, drains: list[dict[str, Any]]) -> None:
    for d in drains:
        print(
            f"aldea {label} after {d['split']}: {d['drain_s']:.2f} s drain, server in flight "
            f"mean {d['mean']:.1f} ({100 * d['mean'] / d['budget']:.0f} % of {d['budget']}), "
            f"min {d['min']}; next split's body {d['body']:.1f} "
            f"({100 * d['body'] / d['budget']:.0f} %)"
        )


def processes_figure(n: int, procs: int, latency: float) -> None:
    """`run` one split of n clips against fast local endpoints, 1 vs `procs` processes."""
    ds = clips.build(n)
    with ServerProcess([free_port() for _ in range(4)], latency) as server:
        for p in (1, procs):
            results = WORK / f"procs-{p}"
            shutil.rmtree(results, ignore_errors=True)
            argv = clips.aldea_command("run", ds, server.endpoints, "--max_workers", "256")
            argv += ["--results_dir", str(results), "--no_progress", "--processes", str(p)]
            server.reset(latency)
            started = time.monotonic()
            done = subprocess.run(argv, capture_output=True, text=True, env=env(1), cwd=REPO)
            wall = time.monotonic() - started
            if done.returncode != 0:
                raise SystemExit(f"--processes {p}: exit {done.returncode}\n{done.stderr[-2000:]}")
            arrivals = sorted(server.arrivals())
            span = arrivals[-1] - arrivals[0]
            print(
                f"  --processes {p}: {len(arrivals)} requests, {len(arrivals) / span:7.0f} req/s "
                f"while sending ({wall:.1f} s wall with start-up)",
                flush=True,
            )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=300, help="clips per split")
    ap.add_argument("--latency", type=float, default=0.2, help="server seconds per request")
    ap.add_argument("--processes", type=int, default=0, help="also the 1 vs P processes figure")
    ap.add_argument("--proc_n", type=int, default=4000, help="clips for the processes figure")
    ap.add_argument(
        "--models",
        default=",".join(MODELS),
        help="which of the three (comma-separated); `aldea/default` alone with --n well above "
        "its budget and a latency the client sustains measures the split boundary by itself",
    )
    args = ap.parse_args(argv)
    models = [m for m in args.models.split(",") if m]
    if not models or set(models) - set(MODELS):
        raise SystemExit(f"--models: some of {', '.join(MODELS)}")
    from asyncbench.cli.batch import default_workers

    # each provider at its own default budget, as `batch` gives it (one --max_workers would
    # be one value for all three)
    BUDGETS.update({m: default_workers(m) for m in MODELS if m in models})
    WORK.mkdir(parents=True, exist_ok=True)
    ds = dataset(args.n)
    mock_port = free_port()
    mock = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "asyncbench",
            "mock",
            "--port",
            str(mock_port),
            "--latency",
            str(args.latency),
        ],
        env=env(mock_port),
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with ServerProcess([free_port()], args.latency) as aldea:
            deadline = time.monotonic() + 30
            while subprocess.run(
                [
                    sys.executable,
                    "-c",
                    f"import socket; socket.create_connection(('127.0.0.1', {mock_port}), 1)",
                ],
                capture_output=True,
            ).returncode:
                if time.monotonic() > deadline:
                    raise SystemExit("asyncbench mock did not start")
                time.sleep(0.2)
            print(
                f"{len(BUDGETS)} providers × {len(SPLITS)} splits × {args.n} clips, latency "
                f"{args.latency} s; "
                f"budgets {BUDGETS}",
                flush=True,
            )
            alone = {}
            for model in BUDGETS:
                aldea.reset(args.latency)
                alone[model] = batch(f"alone {model}", [model], ds, aldea.endpoints, mock_port)
            measured = "aldea/default" in BUDGETS
            if measured:
                alone_drains = boundaries(
                    WORK / "alone aldea/default", aldea, BUDGETS["aldea/default"]
                )
            aldea.reset(args.latency)
            at_once = batch_many("at once", ds, aldea.endpoints, mock_port)
            if measured:
                drains = boundaries(WORK / "at once", aldea, BUDGETS["aldea/default"])
            in_turn = batch_many("--sequential", ds, aldea.endpoints, mock_port, "--sequential")
    finally:
        mock.terminate()
        mock.wait(10)
    slowest = max(alone, key=alone.__getitem__)
    print(f"slowest alone: {slowest} {alone[slowest]:.1f} s; sum alone {sum(alone.values()):.1f} s")
    print(
        f"at once {at_once:.1f} s = {at_once / alone[slowest]:.2f}× the slowest alone "
        f"(target ≤ 1.15×); --sequential {in_turn:.1f} s = {in_turn / alone[slowest]:.2f}×"
    )
    if measured:
        print_boundaries("alone", alone_drains)
        print_boundaries("at once", drains)
    if args.processes > 1:
        processes_figure(args.proc_n, args.processes, 0.02)
    return 0


def batch_many(label: str, ds: Path, aldea: str, mock_port: int, *flags: str) -> float:
    """The three providers in one batch, each at its own default budget."""
    return batch(label, list(BUDGETS), ds, aldea, mock_port, *flags)


if __name__ == "__main__":
    raise SystemExit(main())
