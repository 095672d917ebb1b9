"""Client CPU per request: asyncbench against a bare Python floor, decomposed, in one run.

    .venv/bin/python bench/client_cost.py [--n 4000] [--workers 256] [--latency 0.02]

Every part is a child process against the same `bench/aldea_server.py` (its own process,
fixed `--latency`, answering each watermarked clip with its own text) over the same cached
FLAC clips (`bench/clips.py`), at the same concurrency. CPU time (user + system, from the
kernel: `bench/proc.py`), not wall time, is the figure: it does not depend on how busy the
machine is. Each part runs `--repeat` times and the lowest is kept.

- `decode`: the floor's FLAC → 16 kHz WAV decode alone (`bench/floor_client.py`);
- `post`: the floor's minimal aiohttp + uvloop POST loop alone, on pre-decoded WAVs;
- `floor`: both in one loop: the least a Python client does for a request here;
- `asyncbench --no_progress` and `asyncbench` (default progress): the real CLI, whole
  process (imports, dataset open, pre-scan, results file, summary and scoring included);
- `start-up`: the same `asyncbench run` with `--max_samples 10`: what a run costs whatever
  its size, shown per request of the full run, and subtracted for the steady figure.

The floor's figures are CPU of its measured phase only (its imports and parquet read are left
out, so the floor is as low as it can be). Printed: ms of CPU per request for each part, what
asyncbench spends above the floor, and the ratio asyncbench / floor (target ≤ 1.2×), with
and without start-up. Every asyncbench results line is checked against its clip's reference
(one ok line per clip), and every floor reply too.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson

from bench import clips
from bench.aldea_server import ServerProcess
from bench.proc import Measured, run_measured

REPO = Path(__file__).resolve().parents[1]
WORK = clips.CACHE / "client-cost"
TARGET = 1.2


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALDEA_")}
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", PYTHONPATH=str(REPO))
    env["HF_DATASETS_CACHE"] = str(WORK / "hf-cache")
    return env


def check_lines(results: Path, n: int, lines: int) -> str:
    """'' when the results file has `lines` ok lines, each a different one of the n clips
    with its own reference as the prediction; else what is wrong."""
    files = sorted(results.glob("*.jsonl"))
    if len(files) != 1:
        return f"expected one results file, found {len(files)}"
    expected = clips.expected(n)
    rows = [orjson.loads(line) for line in files[0].read_bytes().splitlines() if line.strip()]
    ids = {r["id"] for r in rows}
    if len(rows) != lines or len(ids) != lines or not ids <= expected.keys():
        return f"{len(rows)} lines ({len(ids)} ids), not {lines} different clips of the {n}"
    bad = [r for r in rows if r["status"] != "ok" or r["pred_text"] != expected[r["id"]]]
    return f"{len(bad)} lines wrong or not ok" if bad else ""


def floor_part(mode: str, ds: Path, n: int, workers: int, server: ServerProcess) -> float:
    """CPU seconds of the floor client's measured phase (`mode`: floor, decode or post)."""
    run_dir = WORK / mode
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    argv = [sys.executable, str(REPO / "bench" / "floor_client.py"), "--mode", mode]
    argv += ["--dataset", str(ds), "--n", str(n), "--workers", str(workers)]
    argv += ["--endpoints", server.endpoints]
    server.reset()
    measured = run_measured(argv, cwd=run_dir, env=child_env(), log=run_dir / "log.txt")
    out = (run_dir / "log.txt").read_text()
    if measured.returncode != 0:
        raise SystemExit(f"{mode}: exit {measured.returncode}\n{out[-2000:]}")
    line: dict[str, Any] = orjson.loads(out.strip().splitlines()[-1])
    if line["n"] != n or line["wrong"]:
        raise SystemExit(f"{mode}: {line['n']} clips, {line['wrong']} wrong answers")
    return float(line["work_cpu_s"])


def asyncbench_part(
    label: str, ds: Path, n: int, workers: int, server: ServerProcess, *flags: str, lines: int = 0
) -> Measured:
    """`asyncbench run` as a user runs it, measured whole; its lines checked."""
    run_dir = WORK / label.replace(" ", "_").replace("-", "")
    shutil.rmtree(run_dir, ignore_errors=True)
    (run_dir / "results").mkdir(parents=True)
    argv = [sys.executable, "-m", "asyncbench", "run", "--model_name", "aldea/default"]
    argv += ["--dataset_path", str(ds), "--dataset", clips.CONFIG, "--split", clips.SPLIT]
    argv += ["--aldea_endpoints", server.endpoints, "--max_workers", str(workers)]
    argv += ["--results_dir", "results", *flags]
    server.reset()
    measured = run_measured(argv, cwd=run_dir, env=child_env(), log=run_dir / "log.txt")
    if measured.returncode != 0:
        log = (run_dir / "log.txt").read_text()
        raise SystemExit(f"{label}: exit {measured.returncode}\n{log[-2000:]}")
    problem = check_lines(run_dir / "results", n, lines or n)
    if problem:
        raise SystemExit(f"{label}: {problem} (see {run_dir})")
    return measured


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4000, help="clips (1-6 s FLAC), one request each")
    ap.add_argument("--workers", type=int, default=256, help="requests in flight")
    ap.add_argument("--latency", type=float, default=0.02, help="server seconds per request")
    ap.add_argument("--ports", type=int, default=4, help="server ports (endpoints)")
    ap.add_argument("--repeat", type=int, default=2, help="runs per part; the lowest is kept")
    args = ap.parse_args(argv)
    ds = clips.build(args.n)
    WORK.mkdir(parents=True, exist_ok=True)
    n, w = args.n, args.workers
    cpu: dict[str, float] = {}
    with ServerProcess([free_port() for _ in range(args.ports)], args.latency) as server:
        print(
            f"{n} clips, {w} in flight, server latency {args.latency:g} s on "
            f"{args.ports} ports; CPU per request, lowest of {args.repeat}",
            flush=True,
        )
        parts: list[tuple[str, Any]] = [
            ("decode", lambda: floor_part("decode", ds, n, w, server)),
            ("post", lambda: floor_part("post", ds, n, w, server)),
            ("floor", lambda: floor_part("floor", ds, n, w, server)),
            (
                "start-up",
                lambda: (
                    asyncbench_part(
                        "start-up",
                        ds,
                        n,
                        w,
                        server,
                        "--no_progress",
                        "--max_samples",
                        "10",
                        lines=10,
                    ).cpu_s
                ),
            ),
            (
                "asyncbench --no_progress",
                lambda: asyncbench_part("no progress", ds, n, w, server, "--no_progress").cpu_s,
            ),
            ("asyncbench", lambda: asyncbench_part("progress", ds, n, w, server).cpu_s),
        ]
        for name, part in parts:
            runs = [part() for _ in range(args.repeat)]
            cpu[name] = min(runs)
            shown = ", ".join(f"{r:.2f}" for r in runs)
            print(f"  {name:<26} CPU {shown} s", flush=True)
    per = {k: 1000 * v / n for k, v in cpu.items()}
    floor = per["floor"]
    print(f"\nper request (ms of CPU, {n} requests):")
    print(f"  decode alone                {per['decode']:6.3f}")
    print(f"  POST loop alone             {per['post']:6.3f}")
    print(f"  floor (decode + POST)       {floor:6.3f}")
    print(f"  asyncbench start-up         {per['start-up']:6.3f}  ({cpu['start-up']:.2f} s a run)")
    for name in ("asyncbench --no_progress", "asyncbench"):
        total = per[name]
        steady = total - per["start-up"]
        print(
            f"  {name:<27} {total:6.3f}  = {total / floor:.2f}× floor "
            f"(target ≤ {TARGET}×: {'met' if total / floor <= TARGET else 'NOT met'}); "
            f"above floor {total - floor:.3f}; without start-up {steady:.3f} = "
            f"{steady / floor:.2f}×"
        )
    print("all lines and answers correct")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
