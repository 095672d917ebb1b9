"""How big and how slow `asyncbench report` is for 10,000 samples (issue 17: under ~5 MB).

Writes 3 models × 4 datasets of synthetic results (20-word references, a few errors per
model, 2 % failures, timestamps and endpoints) totalling --samples lines, runs the real
`asyncbench report` in a subprocess, and prints the page's size and the command's time.

    PYTHONPATH=$PWD .venv/bin/python bench/report_size.py --samples 10000
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

WORDS = (
    "the a of to and in is it that for on was with he as at by this had not are but from or "
    "have an they which one you were her all she there would their we him been has when who "
    "will more no if out so said what up its about into than them can only other new some "
    "could time these two may then do first any my now such like our over man me even most"
).split()


def write(root: Path, samples: int) -> None:
    rng = random.Random(17)
    models = ("aldea/alpha", "deepgram/beta", "openai/gamma")
    datasets = ("ami", "tedlium", "voxpopuli", "spgispeech")
    per_file = samples // (len(models) * len(datasets))
    t = 1_800_000_000.0
    for m, model in enumerate(models):
        for dataset in datasets:
            lines = []
            for i in range(per_file):
                ref = [rng.choice(WORDS) for _ in range(20)]
                hyp = [w if rng.random() > 0.03 * (m + 1) else rng.choice(WORDS) for w in ref]
                failed = rng.random() < 0.02
                t += 0.01
                lines.append(
                    orjson.dumps(
                        {
                            "id": f"{dataset}-{i}",
                            "text": " ".join(ref),
                            "pred_text": None if failed else " ".join(hyp),
                            "status": "failed" if failed else "ok",
                            "duration": 6.0,
                            "time": 0.3 + rng.random(),
                            "t_end": t,
                            "endpoint": f"http://127.0.0.1:{8800 + i % 4}",
                            "attempts": 1,
                        }
                    )
                )
            name = f"MODEL_{model.replace('/', '-')}_DATASET_esb_{dataset}_test.jsonl"
            (root / name).write_bytes(b"\n".join(lines) + b"\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "results").mkdir()
        write(root / "results", args.samples)
        out = root / "report.html"
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "asyncbench", "report", str(root / "results"), "-o", str(out)],
            check=True,
            env=os.environ,
        )
        took = time.perf_counter() - start
        size = out.stat().st_size
        print(f"{args.samples} samples: report {size / 1e6:.2f} MB in {took:.1f} s")


if __name__ == "__main__":
    main()
