"""asyncbench against the seed's thread pool, side by side, on one machine, in one run.

    make bench                       # or: .venv/bin/python bench/engine.py
    .venv/bin/python bench/engine.py --n 2000 --workers 300 --parts baseline,asyncbench

What it does:

1. builds (once; cached under `.cache/bench/`) hub-layout folders of N and `--big_n` FLAC
   clips, 1–6 s at 16 kHz, each carrying its reference text as a watermark;
2. starts `bench/aldea_server.py` in a separate process on `--ports` ports, answering every
   clip with its own text after exactly `--latency` seconds (set anew for each run);
3. runs each client as a child process over the same dataset and endpoints (parts):
   - `baseline`: `bench/seed_baseline.py`, the seed's thread pool, `--max_workers W`;
   - `asyncbench`: `asyncbench run ... --max_workers W`;
   - `inflight`: asyncbench holding W and `--high_workers` slots, each at `--latency` (what
     the CPU allows) and at the latency that asks for `--steady_rps` requests/s (where it
     is not saturated), to show how many requests it keeps in flight;
   - `scale`: asyncbench on `--big_n` clips, to show peak memory does not grow with the split;
4. `prescan`: times the resume pre-scan of a 1,000,000-line results file;
5. `help`: times `asyncbench --help`;

then prints one table and the targets of issue 6, met or not, and checks every transcript
(each line's prediction equals its reference, each clip exactly once). The figures are
defined in bench/figures.py.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson

from bench import clips
from bench.aldea_server import ServerProcess, parse_ports
from bench.figures import Row, table, verdicts
from bench.proc import run_measured

REPO = Path(__file__).resolve().parents[1]
PARTS = ("baseline", "asyncbench", "inflight", "scale", "prescan", "help")


# -- running one client ---------------------------------------------------------------------


def client_env(run_dir: Path) -> dict[str, str]:
    """The user's environment without Aldea settings, offline, with a fresh datasets cache
    (so the seed prepares its Arrow copy of the split as on a first run)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALDEA_")}
    env.update(
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        HF_DATASETS_CACHE=str(run_dir / "hf-cache"),
        PYTHONUNBUFFERED="1",
    )
    return env


def asyncbench_argv() -> list[str]:
    script = Path(sys.executable).parent / "asyncbench"
    return [str(script)] if script.exists() else [sys.executable, "-m", "asyncbench"]


def client_argv(tool: str, dataset: Path, workers: int, endpoints: str) -> list[str]:
    common = [
        "--dataset_path",
        str(dataset),
        "--dataset",
        clips.CONFIG,
        "--split",
        clips.SPLIT,
        "--max_workers",
        str(workers),
        "--aldea_endpoints",
        endpoints,
        "--results_dir",
        "results",
    ]
    if tool == "baseline":
        script = REPO / "bench" / "seed_baseline.py"
        return [sys.executable, str(script), "--model_name", "aldea/default", *common]
    return [*asyncbench_argv(), "run", "--model_name", "aldea/default", *common]


def check_results(tool: str, results_dir: Path, n: int) -> tuple[int, bool, str, float]:
    """(lines, all correct, what is wrong, Σ latency) of a client's results file."""
    files = sorted(results_dir.glob("*.jsonl"))
    if len(files) != 1:
        return 0, False, f"expected one results file, found {len(files)}", 0.0
    rows = [orjson.loads(line) for line in files[0].read_bytes().splitlines() if line.strip()]
    sum_latency = sum(float(r.get("time") or 0.0) for r in rows)
    expected = clips.expected(n)
    wrong = [r for r in rows if r.get("pred_text") != r.get("text")]
    if wrong:
        return len(rows), False, f"{len(wrong)} lines with pred_text != text", sum_latency
    if tool == "baseline":  # the seed writes no sample id: compare the references as a multiset
        if Counter(r["text"] for r in rows) != Counter(expected.values()):
            return len(rows), False, "references differ from the dataset's", sum_latency
    else:
        got = Counter(r["id"] for r in rows)
        if got != Counter(expected.keys()) or any(r["text"] != expected[r["id"]] for r in rows):
            return len(rows), False, "ids or texts differ from the dataset's", sum_latency
        bad = [r for r in rows if r.get("status") != "ok"]
        if bad:
            return len(rows), False, f"{len(bad)} lines not ok", sum_latency
    return len(rows), True, "", sum_latency


def run_client(
    label: str,
    kind: str,
    n: int,
    workers: int,
    latency: float,
    server: ServerProcess,
    cache: Path = clips.CACHE,
) -> Row:
    tool = "baseline" if kind == "baseline" else "asyncbench"
    run_dir = cache / "runs" / label.replace(" ", "-").replace(",", "")
    shutil.rmtree(run_dir, ignore_errors=True)
    (run_dir / "results").mkdir(parents=True)
    argv = client_argv(tool, clips.build(n, cache=cache), workers, server.endpoints)
    print(f"-- {label}: {n} clips, {workers} in flight, {latency:g} s latency", flush=True)
    server.reset(latency)
    measured = run_measured(argv, cwd=run_dir, env=client_env(run_dir), log=run_dir / "log.txt")
    stats = server.stats()
    lines, correct, problem, sum_latency = check_results(tool, run_dir / "results", n)
    if measured.returncode != 0:
        correct, problem = False, f"exit code {measured.returncode} (see {run_dir}/log.txt)"
    row = Row(label, kind, tool, n, workers, latency, measured, stats, lines, correct, problem)
    row.sum_latency = sum_latency
    print(
        f"   {row.requests} requests in {row.phase_s:.2f} s, {row.rps:.0f}/s, "
        f"client CPU {measured.cpu_s:.1f} s, peak RSS {measured.peak_rss_mb:.0f} MB, "
        f"{'all correct' if correct else 'WRONG: ' + problem}",
        flush=True,
    )
    shutil.rmtree(run_dir / "hf-cache", ignore_errors=True)
    return row


# -- the other figures ----------------------------------------------------------------------


def time_help(repeat: int = 7) -> float:
    """Median wall seconds of `asyncbench --help` (a fresh interpreter each time)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run([*asyncbench_argv(), "--help"], capture_output=True, check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="asyncbench vs the seed's thread pool on a local Aldea-protocol server.",
        epilog="Figures are defined in the module docstring of bench/engine.py.",
    )
    parser.add_argument("--n", type=int, default=2000, help="clips per run (default 2000)")
    parser.add_argument("--big_n", type=int, default=20000, help="clips for the 'scale' run")
    parser.add_argument("--workers", type=int, default=300, help="--max_workers of both clients")
    parser.add_argument(
        "--high_workers", type=int, default=1000, help="the larger in-flight count ('inflight')"
    )
    parser.add_argument(
        "--steady_rps",
        type=float,
        default=300.0,
        help="requests/s asked of the 'inflight' runs at the easier latency",
    )
    parser.add_argument("--latency", type=float, default=0.3, help="server latency, seconds")
    parser.add_argument("--ports", default="18800-18820", help="server ports (21 by default)")
    parser.add_argument(
        "--parts", default=",".join(PARTS), help=f"comma-separated subset of {','.join(PARTS)}"
    )
    parser.add_argument("--prescan_lines", type=int, default=1_000_000)
    parser.add_argument(
        "--cache", type=Path, default=clips.CACHE, help="datasets and run folders (gitignored)"
    )
    args = parser.parse_args(argv)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")

    load = os.getloadavg()
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, {os.cpu_count()} cores")
    rows: list[Row] = []
    runs = [p for p in parts if p in ("baseline", "asyncbench", "inflight", "scale")]
    if runs:
        for n in {args.n, *([args.big_n] if "scale" in runs else [])}:
            clips.build(n, cache=args.cache)
        with ServerProcess(parse_ports(args.ports), args.latency) as server:
            n, w, lat = args.n, args.workers, args.latency

            def run(label: str, kind: str, n: int, workers: int, latency: float) -> None:
                rows.append(run_client(label, kind, n, workers, latency, server, args.cache))

            if "baseline" in runs:
                run("seed baseline", "baseline", n, w, lat)
            if "asyncbench" in runs:
                run("asyncbench", "asyncbench", n, w, lat)
            if "inflight" in runs:
                for slots in (w, args.high_workers):
                    if slots != w:
                        run(f"asyncbench, {slots} in flight", "inflight", n, slots, lat)
                    easy = round(slots / args.steady_rps, 3)
                    run(f"asyncbench, {slots} in flight, {easy:g} s", "inflight", n, slots, easy)
            if "scale" in runs:
                run(f"asyncbench, {args.big_n} clips", "scale", args.big_n, w, lat)
    prescan_s = None
    if "prescan" in parts:
        from bench.prescan_speed import time_prescan

        prescan_s, done = time_prescan(args.prescan_lines, "clean")
        repair_s, _ = time_prescan(args.prescan_lines, "repair")
        print(
            f"-- resume pre-scan, {args.prescan_lines:,} lines: {prescan_s:.2f} s "
            f"({done:,} finished ids); with 1 % failed + duplicates + torn tail "
            f"(file rewritten): {repair_s:.2f} s"
        )
    help_s = time_help() if "help" in parts else None
    if help_s is not None:
        print(f"-- asyncbench --help: {help_s:.3f} s (median of 7)")
    load = os.getloadavg()
    print(f"\nload average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}\n")
    if rows:
        print(table(rows))
        print()
    for line in verdicts(rows, prescan_s, help_s):
        print(line)
    return 0 if all(r.correct for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
