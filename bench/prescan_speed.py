"""How long the resume pre-scan takes on a 1,000,000-line results file.

A rerun of a big split starts by reading the whole results file once
(`asyncbench.results.store.prescan`), so that time is paid before the first request. The file is
written once from `Result.to_line()` (so it always has the writer's current shape) and cached
under `.cache/bench/`; each timing runs on a fresh copy because the pre-scan may rewrite it.

Two files are timed: `clean` (every line finished, nothing to rewrite: the usual resume) and
`repair` (1 % failed lines to drop for retry, a few superseded duplicates and a torn last
line, so the file is rewritten and fsynced as well).

    .venv/bin/python bench/prescan_speed.py [--lines 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import hashlib
import random
import shutil
import time
from pathlib import Path

from asyncbench.results.store import FAILED, OK, Result, prescan

CACHE = Path(__file__).resolve().parents[1] / ".cache" / "bench"
_WORDS = "the of and to a in that is was he it for you with as his on be at by this had".split()


def _result(i: int, rng: random.Random, status: str = OK) -> Result:
    ref = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(5, 30)))
    return Result(
        id=f"librispeech-test.clean-{i:07d}",
        status=status,
        duration=rng.uniform(1, 30),
        time=rng.uniform(0.2, 2.0),
        text=ref.capitalize() + ".",
        pred_text=ref if status == OK else "",
        error="server_error: 503 Service Unavailable" if status == FAILED else None,
        error_kind="server_error" if status == FAILED else None,
        attempts=1,
        endpoint=f"http://127.0.0.1:{8800 + i % 21}/asr/transcribe",
    )


def results_file(lines: int, kind: str) -> Path:
    """The cached file for `kind` ("clean" or "repair"), written on first use."""
    shape = hashlib.sha1(_result(0, random.Random(0)).to_line()).hexdigest()[:8]
    path = CACHE / f"prescan-{kind}-{lines}-{shape}.jsonl"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(lines)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        chunk: list[bytes] = []
        for i in range(lines):
            failed = kind == "repair" and i % 100 == 7
            chunk.append(_result(i, rng, FAILED if failed else OK).to_line())
            if kind == "repair" and i % 1000 == 999:
                chunk.append(_result(i - 500, rng).to_line())  # a superseded outcome
            if len(chunk) >= 10_000:
                fh.write(b"".join(chunk))
                chunk.clear()
        if kind == "repair":
            chunk.append(_result(lines, rng).to_line()[:40])  # a torn last line
        fh.write(b"".join(chunk))
    tmp.replace(path)
    return path


def time_prescan(lines: int, kind: str, repeat: int = 3) -> tuple[float, int]:
    """(best seconds, finished ids) over `repeat` runs, each on a fresh copy of the file."""
    source = results_file(lines, kind)
    work = source.with_name(f"prescan-work-{kind}.jsonl")
    best = float("inf")
    done = 0
    try:
        for _ in range(repeat):
            shutil.copyfile(source, work)
            t0 = time.perf_counter()
            state = prescan(work)
            best = min(best, time.perf_counter() - t0)
            done = len(state.done_ids)
    finally:
        work.unlink(missing_ok=True)
    return best, done


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    for kind in ("clean", "repair"):
        seconds, done = time_prescan(args.lines, kind, args.repeat)
        print(f"prescan {kind:<6} {args.lines:,} lines: {seconds:.2f} s ({done:,} ids finished)")


if __name__ == "__main__":
    main()
