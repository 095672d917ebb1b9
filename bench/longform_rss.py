"""Peak memory of a long-form run: N recordings of M minutes in flight at once.

    .venv/bin/python bench/longform_rss.py               # 8 recordings of 20 min, 8 in flight
    .venv/bin/python bench/longform_rss.py --n 16 --minutes 30 --workers 16

What it does:

1. builds (once; cached under `.cache/bench/longform-<n>x<m>/`) a hub-layout split of N
   recordings of M minutes (`asyncbench.sources.longform_layout`: the demo's sentences as
   watermarked speech-level noise with pauses; FLAC at about 80 % of WAV's size, so a
   20-minute recording is over OpenAI's 25 MB as WAV and as FLAC, and goes in parts);
2. starts `asyncbench mock` in its own process (its memory is not counted), answering each
   request after `--latency` seconds, and refusing files over 25 MB as OpenAI does;
3. runs `asyncbench run --model_name openai/whisper-1 --max_workers W` over the split as a
   child process and reads its peak RSS (`VmHWM`, see bench/proc.py);
4. checks every line: status ok, stitched prediction equal to the reference.

The target (issue 15): under 800 MB with 8 recordings of 20 minutes in flight. Spilled
recordings go to temporary files under TMPDIR; on a tmpfs TMPDIR they would be memory too.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson

from bench.host import free_port
from bench.proc import run_measured

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / ".cache" / "bench"
TARGET_MB = 800.0


def build(root: Path, n: int, minutes: float) -> dict[str, str]:
    """The split (cached) and its references by id."""
    from asyncbench.sources.longform_layout import write_longform_split

    stamp = root / "refs.json"
    if stamp.exists():
        return orjson.loads(stamp.read_bytes())
    start = time.perf_counter()
    refs = write_longform_split(root, [minutes] * n)
    stamp.write_bytes(orjson.dumps(refs))
    print(f"built {n} recordings of {minutes:g} min in {time.perf_counter() - start:.1f} s")
    return refs


def wait_for_port(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"the mock did not open port {port}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=8, help="recordings (default 8)")
    parser.add_argument("--minutes", type=float, default=20.0, help="length of each (20)")
    parser.add_argument("--workers", type=int, default=8, help="requests in flight (8)")
    parser.add_argument(
        "--latency",
        type=float,
        default=15.0,
        help="mock seconds per request (15: sending outlasts prep, so all are in flight)",
    )
    args = parser.parse_args(argv)

    data = CACHE / f"longform-{args.n}x{args.minutes:g}"
    refs = build(data, args.n, args.minutes)
    run_dir = CACHE / "runs" / f"longform-{args.n}x{args.minutes:g}-w{args.workers}"
    results = run_dir / "results"
    if results.exists():
        for old in results.iterdir():
            old.unlink()
    run_dir.mkdir(parents=True, exist_ok=True)

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env.update(
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        HF_DATASETS_CACHE=str(run_dir / "hf-cache"),
        PYTHONUNBUFFERED="1",
        OPENAI_API_KEY="sk-bench",
        OPENAI_BASE_URL=f"http://127.0.0.1:{port}/v1",
    )
    cli = [sys.executable, "-m", "asyncbench"]
    mock = subprocess.Popen(
        [*cli, "mock", "--port", str(port), "--latency", str(args.latency)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        measured = run_measured(
            [
                *cli,
                "run",
                "--model_name",
                "openai/whisper-1",
                "--dataset_path",
                str(data),
                "--dataset",
                "earnings22",
                "--results_dir",
                str(results),
                "--max_workers",
                str(args.workers),
                "--no_progress",
            ],
            cwd=REPO,
            env=env,
            log=run_dir / "run.log",
        )
    finally:
        mock.terminate()
        mock.wait(10)

    log = (run_dir / "run.log").read_text(errors="replace")
    [path] = sorted(results.glob("*.jsonl"))
    rows = [orjson.loads(x) for x in path.read_bytes().splitlines()]
    ok = sum(r["status"] == "ok" for r in rows)
    exact = sum(r["pred_text"] == refs.get(r["id"]) for r in rows)
    parts = [r.get("parts") or 1 for r in rows]
    little = next((line for line in log.splitlines() if line.startswith("Little")), "")
    # a recording is busy from its first part's request to its answer: t_end - time
    events = sorted([(r["t_end"] - r["time"], 1) for r in rows] + [(r["t_end"], -1) for r in rows])
    busy = peak_busy = 0
    for _, step in events:
        busy += step
        peak_busy = max(peak_busy, busy)
    print(
        f"{args.n} recordings of {args.minutes:g} min, --max_workers {args.workers}, mock "
        f"latency {args.latency:g} s: exit {measured.returncode}, {ok}/{args.n} ok, "
        f"{exact}/{args.n} stitched transcripts equal to the reference, {sum(parts)} requests "
        f"({', '.join(map(str, parts))} parts)"
    )
    print(f"recordings being sent at once: up to {peak_busy}")
    if little:
        print(little)
    print(
        f"peak RSS {measured.peak_rss_mb:.0f} MB (target < {TARGET_MB:.0f} MB: "
        f"{'met' if measured.peak_rss_mb < TARGET_MB else 'NOT met'}); wall "
        f"{measured.wall_s:.1f} s, CPU {measured.cpu_s:.1f} s"
    )
    good = measured.returncode == 0 and ok == exact == args.n
    return 0 if good and measured.peak_rss_mb < TARGET_MB else 1


if __name__ == "__main__":
    sys.exit(main())
