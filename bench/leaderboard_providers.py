"""The four leaderboard providers (soniox, gladia, microsoft, zoom) against `asyncbench mock`.

    PYTHONPATH=$PWD .venv/bin/python bench/leaderboard_providers.py --clips 60 --latency 0.3

Runs `run_eval.py` on N watermarked WAV clips per provider at the leaderboard's default
concurrency, against one mock whose every transcription takes `--latency` seconds, and prints
the wall time, WER and RTFx of each. Soniox runs twice: at its default request budgets (the
leaderboard's 240/min for files and for transcription calls), which bound it, and with the
budgets raised, to show what they cost. About 1.5 minutes for 60 clips on two cores (100
clips: soniox 105 s at its default budgets, 4 s raised; gladia 4 s; microsoft 22 s, bound by
its 300 requests/min; zoom 5 s).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from asyncbench.sources import watermark
from asyncbench.sources.hub_layout import encode_audio, write_hub_folder
from bench.host import free_port

REPO = Path(__file__).resolve().parents[1]
UNPACED = {
    "SONIOX_FILE_REQUESTS_PER_MINUTE": "60000",
    "SONIOX_TRANSCRIPTION_REQUESTS_PER_MINUTE": "60000",
}
#: (model, leaderboard's max_workers, environment)
CASES = [
    ("soniox/stt-async-v5", 20, {"SONIOX_API_KEY": "k"}),
    ("soniox/stt-async-v5", 20, {"SONIOX_API_KEY": "k", **UNPACED}),
    ("gladia/solaria-3", 20, {"GLADIA_API_KEY": "k"}),
    ("microsoft/azure-speech-06-2026", 4, {"AZURE_API_KEY": "k"}),
    ("zoom/scribe_v1", 32, {"ZOOM_API_KEY": "k"}),
]
WORDS = "apple river stone cloud garden window paper silver forest candle market bridge".split()


@contextlib.contextmanager
def mock_serving(port: int, env: dict[str, str], *flags: str) -> Iterator[None]:
    """`asyncbench mock --port PORT FLAGS` running (its first line read: it is listening)
    for the block, stopped after it whatever happens."""
    mock = subprocess.Popen(
        [sys.executable, "-m", "asyncbench", "mock", "--port", str(port), *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=REPO,
    )
    try:
        assert mock.stdout is not None
        mock.stdout.readline()  # "mock serving ..."
        yield
    finally:
        mock.terminate()
        mock.wait()


def build(root: Path, n: int) -> Path:
    """A hub-layout folder of n 1-2 s 16 kHz WAV clips, each saying its own text."""
    rows = []
    for i in range(n):
        text = " ".join(WORDS[(i * 7 + k * 3) % len(WORDS)] for k in range(6)) + f" {i}"
        pcm = watermark.embed(text, 1.0 + (i % 10) / 10, seed=i)
        rows.append(
            {
                "audio": {"bytes": encode_audio(pcm, 16000, "wav"), "path": f"{i}.wav"},
                "text": text,
                "id": f"clip-{i:05d}",
                "dataset": "librispeech",
                "audio_length_s": len(pcm) / 16000,
            }
        )
    return write_hub_folder(root, {"librispeech": {"test.clean": rows}})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=60)
    parser.add_argument("--latency", type=float, default=0.3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lb-providers-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SONIOX_", "GLADIA_"))}
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", PYTHONUNBUFFERED="1")
    port = free_port()
    try:
        with mock_serving(port, env, "--latency", str(args.latency)):
            dataset = build(work / "esb", args.clips)
            for i, (model, workers, extra) in enumerate(CASES):
                started = time.perf_counter()
                flags = {
                    "--model_name": model,
                    "--dataset": "librispeech",
                    "--split": "test.clean",
                    "--dataset_path": str(dataset),
                    "--results_dir": str(work / f"r{i}"),
                    "--base_url": f"http://127.0.0.1:{port}",
                    "--max_workers": str(workers),
                }
                out = subprocess.run(
                    [
                        sys.executable,
                        "run_eval.py",
                        *(x for kv in flags.items() for x in kv),
                        "--no_progress",
                    ],
                    capture_output=True,
                    text=True,
                    env={**env, **extra},
                    cwd=REPO,
                )
                wall = time.perf_counter() - started
                wer = re.search(r"WER: ([\d.]+) %", out.stdout)
                rtfx = re.search(r"RTFx: ([\d.]+)", out.stdout)
                label = model + (
                    " (budgets raised)" if "SONIOX_FILE_REQUESTS_PER_MINUTE" in extra else ""
                )
                print(
                    f"{label:48s} workers={workers:3d} exit={out.returncode} wall={wall:6.1f} s "
                    f"WER={wer.group(1) if wer else '?'} % RTFx={rtfx.group(1) if rtfx else '?'}",
                    flush=True,
                )
                if out.returncode:
                    print(out.stderr[-500:])
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
