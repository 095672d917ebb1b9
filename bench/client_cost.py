"""Client CPU per request: asyncbench against a bare Python floor, decomposed, in one run.

    .venv/bin/python bench/client_cost.py [--n 4000] [--workers 256] [--latency 0.02] \
        [--repeat 2] [--threads] [--prep_threads 2,4]

Every part is a child process against the same `bench/aldea_server.py` (its own process,
fixed `--latency`, answering each watermarked clip with its own text) over the same cached
FLAC clips (`bench/clips.py`), at the same concurrency. CPU time (user + system, from the
kernel: `bench/proc.py`), not wall time, is the figure: it does not depend on how busy the
machine is. `--repeat` rounds run every part once each, and each part's lowest is kept.

- `decode`: the floor's FLAC → 16 kHz WAV decode alone (`bench/floor_client.py`), and
  `decode-asyncbench`: asyncbench's own decoder (`to_wav16k`) alone, the same way;
- `post`: the floor's minimal aiohttp + uvloop POST loop alone, on pre-decoded WAVs;
- `floor`: both in one loop: the least a Python client does for a request here, with the
  issue's decoder (libsndfile);
- `decode-drflac` and `floor-drflac`: the same floor with dr_flac, the decoder asyncbench
  uses for these clips: asyncbench is also held against it, so a faster decoder cannot hide
  what asyncbench spends above decode + POST;
- `asyncbench --no_progress` and `asyncbench` (default progress): the real CLI, whole
  process (imports, dataset open, pre-scan, results file, summary and scoring included);
- `start-up`: the same `asyncbench run` with `--max_samples 10`: what a run costs whatever
  its size, shown per request of the full run, and subtracted for the steady figure;
- `prep N` (with `--prep_threads N,M`): `asyncbench run --no_progress --prep_threads N`, to
  set decode-thread counts side by side.

Each asyncbench run's CPU is split by phase and thread (`bench/proc.py` samples the child's
whole and main-thread CPU; the server's first arrival and last reply bound the sending
phase): before the first request, the event loop (main thread) while sending, the other
threads while sending (decode, dataset reader, result writer), and after the last reply;
`--threads` adds one run's CPU by named thread (py-spy names them).

The floor's figures are CPU of its measured phase only (its imports and parquet read are left
out, so the floor is as low as it can be). Printed: ms of CPU per request for each part, what
asyncbench spends above the floor, and the ratio asyncbench / floor (target ≤ 1.2×), with
and without start-up. Every asyncbench results line is checked against its clip's reference
(one ok line per clip), and every floor reply too.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson

from bench import clips
from bench.aldea_server import ServerProcess
from bench.host import free_port
from bench.proc import run_measured

REPO = Path(__file__).resolve().parents[1]
WORK = clips.CACHE / "client-cost"
TARGET = 1.2


def child_env() -> dict[str, str]:
    """The children's environment. Without PYTHONDONTWRITEBYTECODE (set in some shells and
    CI images): an installed package has its bytecode, and a run that compiles every module
    from source on each start would count some 0.2 s of CPU no user pays."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALDEA_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", PYTHONPATH=str(REPO))
    env["HF_DATASETS_CACHE"] = str(WORK / "hf-cache")
    return env


def compile_package() -> None:
    """Bytecode for the checkout's modules, as `pip install` writes it for a user, before
    anything is measured (an editable install or a fresh clone has none yet)."""
    import compileall

    compileall.compile_dir(REPO / "asyncbench", quiet=1)
    compileall.compile_dir(REPO / "bench", quiet=1)


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


@dataclass(slots=True)
class Split:
    """Where one asyncbench run's CPU went, by phase (the server's first arrival and last
    reply bound the sending phase) and by thread (the event loop is the main thread; the
    others decode clips, read the dataset and append result lines)."""

    total: float
    before: float  # start-up: imports, checks, dataset open, up to the first request
    loop: float  # main thread while sending: the event loop
    threads: float  # every other thread while sending
    after: float  # from the last reply: summary, scoring, exit


def asyncbench_part(
    label: str, ds: Path, n: int, workers: int, server: ServerProcess, *flags: str, lines: int = 0
) -> Split:
    """`asyncbench run` as a user runs it, measured whole; its lines checked."""
    run_dir = WORK / label.replace(" ", "_").replace("-", "")
    shutil.rmtree(run_dir, ignore_errors=True)
    (run_dir / "results").mkdir(parents=True)
    argv = clips.aldea_command("run", ds, server.endpoints, "--max_workers", str(workers))
    argv += ["--results_dir", "results", *flags]
    server.reset()
    m = run_measured(argv, cwd=run_dir, env=child_env(), log=run_dir / "log.txt")
    if m.returncode != 0:
        log = (run_dir / "log.txt").read_text()
        raise SystemExit(f"{label}: exit {m.returncode}\n{log[-2000:]}")
    problem = check_lines(run_dir / "results", n, lines or n)
    if problem:
        raise SystemExit(f"{label}: {problem} (see {run_dir})")
    stats = server.stats()
    lo, hi = stats["first_arrival"], stats["last_reply"]
    sending = m.cpu_between(lo, hi)
    loop = m.cpu_between(lo, hi, main_thread=True)
    before = m.cpu_between(0.0, lo)
    return Split(m.cpu_s, before, loop, sending - loop, m.cpu_s - before - sending)


def thread_names(pid: int) -> dict[int, str]:
    """Thread id -> Python thread name of a running process, from `py-spy dump` (the bench
    extra has it); {} when py-spy is missing or not allowed to attach."""
    spy = Path(sys.executable).with_name("py-spy")
    try:
        out = subprocess.run(
            [str(spy), "dump", "--pid", str(pid)], capture_output=True, text=True, timeout=30
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return {}
    return {
        int(m.group(1)): m.group(2)
        for m in re.finditer(r'^Thread (\d+) \([^)]*\): "([^"]+)"', out, re.MULTILINE)
    }


def by_thread(ds: Path, n: int, workers: int, server: ServerProcess) -> dict[str, float]:
    """CPU seconds of one `asyncbench run --no_progress` by thread: the event loop
    (MainThread), the decode threads (prep_*), the dataset reader (reader_*), the default
    executor that appends result lines (uvloop_*), and threads Python did not start
    (pyarrow's, reading parquet for the reader). Read from /proc/<pid>/task/*/stat until the
    process ends (a thread's last reading counts), named once the run is under way."""
    run_dir = WORK / "threads"
    shutil.rmtree(run_dir, ignore_errors=True)
    (run_dir / "results").mkdir(parents=True)
    argv = clips.aldea_command("run", ds, server.endpoints, "--max_workers", str(workers))
    argv += ["--results_dir", "results", "--no_progress"]
    server.reset()
    tick = os.sysconf("SC_CLK_TCK")
    last: dict[int, float] = {}
    names: dict[int, str] = {}
    with open(run_dir / "log.txt", "wb") as log:
        proc = subprocess.Popen(argv, cwd=run_dir, env=child_env(), stdout=log, stderr=log)
    while proc.poll() is None:
        for task in Path(f"/proc/{proc.pid}/task").glob("*"):
            try:
                fields = (task / "stat").read_bytes().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            last[int(task.name)] = (int(fields[11]) + int(fields[12])) / tick
        if not names and server.stats().get("replied", 0) > n // 4:
            names = thread_names(proc.pid)
        time.sleep(0.05)
    if proc.returncode != 0:
        raise SystemExit(f"threads: exit {proc.returncode} (see {run_dir})")
    problem = check_lines(run_dir / "results", n, n)
    if problem:
        raise SystemExit(f"threads: {problem} (see {run_dir})")
    groups: dict[str, float] = {}
    for tid, cpu in last.items():
        name = names.get(tid, "other (pyarrow, native)" if names else "unnamed")
        name = re.sub(r"_\d+$", "_*", name)
        groups[name] = groups.get(name, 0.0) + cpu
    return groups


PARTS = (
    "decode",
    "decode-asyncbench",
    "decode-drflac",
    "post",
    "floor",
    "floor-drflac",
    "start-up",
    "no progress",
    "progress",
)


def run_part(name: str, ds: Path, n: int, w: int, server: ServerProcess) -> float | Split:
    if name == "start-up":
        flags = ("--no_progress", "--max_samples", "10")
        return asyncbench_part(name, ds, n, w, server, *flags, lines=10)
    if name == "no progress":
        return asyncbench_part(name, ds, n, w, server, "--no_progress")
    if name == "progress":
        return asyncbench_part(name, ds, n, w, server)
    if name.startswith("prep "):  # `--no_progress` with that many decode threads
        threads = name.split()[1]
        return asyncbench_part(name, ds, n, w, server, "--no_progress", "--prep_threads", threads)
    return floor_part(name, ds, n, w, server)


def cpu_of(result: float | Split) -> float:
    return result.total if isinstance(result, Split) else result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4000, help="clips (1-6 s FLAC), one request each")
    ap.add_argument("--workers", type=int, default=256, help="requests in flight")
    ap.add_argument("--latency", type=float, default=0.02, help="server seconds per request")
    ap.add_argument("--ports", type=int, default=4, help="server ports (endpoints)")
    ap.add_argument("--repeat", type=int, default=2, help="rounds of every part; lowest kept")
    ap.add_argument(
        "--threads", action="store_true", help="also one run's CPU by thread (needs py-spy)"
    )
    ap.add_argument(
        "--prep_threads",
        default="",
        help="comma-separated decode-thread counts: each also runs as a `--no_progress` part",
    )
    args = ap.parse_args(argv)
    parts = PARTS + tuple(f"prep {int(t)}" for t in args.prep_threads.split(",") if t.strip())
    ds = clips.build(args.n)
    WORK.mkdir(parents=True, exist_ok=True)
    compile_package()
    n, w = args.n, args.workers
    runs: dict[str, list[float | Split]] = {name: [] for name in parts}
    with ServerProcess([free_port() for _ in range(args.ports)], args.latency) as server:
        print(
            f"{n} clips, {w} in flight, server latency {args.latency:g} s on "
            f"{args.ports} ports; CPU per request, lowest of {args.repeat} rounds",
            flush=True,
        )
        # rounds of every part, not every part twice in a row: a machine that gets busier
        # half way through then weighs on all parts alike
        for r in range(args.repeat):
            for name in parts:
                runs[name].append(run_part(name, ds, n, w, server))
            shown = ", ".join(f"{name} {cpu_of(runs[name][-1]):.2f}" for name in parts)
            print(f"  round {r + 1} CPU s: {shown}", flush=True)
        threads = by_thread(ds, n, w, server) if args.threads else {}
    best = {name: min(results, key=cpu_of) for name, results in runs.items()}
    per = {name: 1000 * cpu_of(b) / n for name, b in best.items()}
    floor, drflac = per["floor"], per["floor-drflac"]
    # the spread across rounds: how far one round's ratio can be from another's here
    spread = {
        name: f"{1000 * min(map(cpu_of, rs)) / n:.3f}-{1000 * max(map(cpu_of, rs)) / n:.3f}"
        for name, rs in runs.items()
    }
    print(f"\nrange over the {args.repeat} rounds (ms of CPU per request):")
    for name in parts:
        print(f"  {name:<42} {spread[name]}")
    for against, label in (("floor", "floor"), ("floor-drflac", "floor with dr_flac")):
        pairs = zip(runs["no progress"], runs[against], strict=True)
        print(
            f"  asyncbench --no_progress / {label}, round by round: "
            + ", ".join(f"{cpu_of(a) / cpu_of(f):.2f}×" for a, f in pairs)
        )
    print(f"\nper request (ms of CPU, {n} requests, lowest of the rounds):")
    print(f"  floor: decode alone (soundfile.read)       {per['decode']:6.3f}")
    print(f"  asyncbench's decoder alone (to_wav16k)     {per['decode-asyncbench']:6.3f}")
    print(f"  floor: POST loop alone                     {per['post']:6.3f}")
    print(f"  floor: decode alone, dr_flac               {per['decode-drflac']:6.3f}")
    print(f"  floor: decode + POST in one loop           {floor:6.3f}")
    print(f"  floor with dr_flac: decode + POST          {per['floor-drflac']:6.3f}")
    startup = best["start-up"]
    assert isinstance(startup, Split)
    print(
        f"  asyncbench start-up (--max_samples 10)     {per['start-up']:6.3f}  "
        f"({startup.total:.2f} s a run, {startup.before:.2f} s before its first request)"
    )
    labels = [("no progress", "asyncbench --no_progress"), ("progress", "asyncbench")]
    labels += [(p, f"--no_progress --prep_threads {p.split()[1]}") for p in parts[len(PARTS) :]]
    for name, label in labels:
        split = best[name]
        assert isinstance(split, Split)
        total = per[name]
        steady = total - per["start-up"]
        verdict = "met" if total / floor <= TARGET else "NOT met"
        print(
            f"  {label:<42} {total:6.3f}  = {total / floor:.2f}× floor (target ≤ {TARGET}×: "
            f"{verdict}); above floor {total - floor:.3f}; less start-up {steady:.3f} = "
            f"{steady / floor:.2f}×"
        )
        print(
            f"      against the floor with dr_flac: {total / drflac:.2f}×, above it "
            f"{total - drflac:.3f}; less start-up {steady / drflac:.2f}×"
        )
        phases = (
            ("before the first request", split.before),
            ("event loop while sending", split.loop),
            ("other threads while sending (decode, reader, writer)", split.threads),
            ("after the last reply (summary, scoring, exit)", split.after),
        )
        for what, cpu in phases:
            print(f"      {what:<52} {1000 * cpu / n:6.3f}")
    if threads:
        print("  one asyncbench --no_progress run by thread (ms of CPU per request):")
        for name, cpu in sorted(threads.items(), key=lambda kv: -kv[1]):
            print(f"      {name:<52} {1000 * cpu / n:6.3f}")
    print("all lines and answers correct")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
