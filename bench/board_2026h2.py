"""The board's newer providers (issue 27) and `--stream` through `run_eval.py` against
`asyncbench mock`: every clip must come back with its own text.

    PYTHONPATH=$PWD .venv/bin/python bench/board_2026h2.py --clips 120

Runs each model on N watermarked clips at the board's max_workers against one mock (no added
latency), and prints how many lines came back right, WER, RTFx and wall time, with the
streaming figures the summary printed (WebSocket streams, and `--stream` replies). About a
minute for 120 clips on two cores; Meta's realtime client streams at 4x real time.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.host import free_port
from bench.leaderboard_providers import REPO, build, mock_serving

#: (model, the board's max_workers, environment, base URL suffix, extra flags)
CASES: list[tuple[str, int, dict[str, str], str, tuple[str, ...]]] = [
    ("meta/muse-voice-transcribe", 8, {"META_API_KEY": "k"}, "", ()),
    ("meta/muse-voice-transcribe-streaming", 8, {"META_API_KEY": "k"}, "",
     ("--realtime_factor", "4")),
    ("gemini/gemini-3.5-transcribe", 8, {"GEMINI_API_KEY": "k"}, "", ()),
    ("sprag/symphony", 8, {"SPRAG_API_KEY": "k"}, "/sprag/v1", ()),
    ("sophea/asr-k1", 16, {"SOPHEA_API_KEY": "k"}, "", ()),
    ("zoom/scribe_v2_pro", 8, {"ZOOM_API_KEY": "k"}, "", ()),
    ("microsoft/azure-speech-07-2026", 4, {"AZURE_API_KEY": "k"}, "", ()),
    ("modulate/multilingual", 25, {"MODULATE_API_KEY": "k"}, "", ()),
    ("openai/gpt-4o-transcribe", 16, {"OPENAI_API_KEY": "k"}, "", ("--stream",)),
    ("openai-compatible/whisper-large-v3", 16, {}, "/vllm/v1", ("--stream",)),
]  # fmt: skip
SUMMARY = ("streaming:", "stream (", "  first_", "  final_after", "  delta_gap", "  usage")


def right(results: Path) -> tuple[int, int]:
    """(lines whose prediction is their own text, lines) in the run's results file."""
    rows = [orjson.loads(line) for f in results.glob("*.jsonl") for line in f.open("rb")]
    return sum(r["status"] == "ok" and r["pred_text"] == r["text"] for r in rows), len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=120)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="board-2026h2-"))
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", PYTHONUNBUFFERED="1")
    port = free_port()
    try:
        with mock_serving(port, env):
            dataset = build(work / "esb", args.clips)
            for i, (model, workers, keys, suffix, extra) in enumerate(CASES):
                started = time.perf_counter()
                out = subprocess.run(
                    [
                        sys.executable, "run_eval.py", "--model_name", model,
                        "--dataset", "librispeech", "--split", "test.clean",
                        "--dataset_path", str(dataset), "--results_dir", str(work / f"r{i}"),
                        "--base_url", f"http://127.0.0.1:{port}{suffix}",
                        "--max_workers", str(workers), "--no_progress", *extra,
                    ],
                    capture_output=True, text=True, env={**env, **keys}, cwd=REPO,
                )  # fmt: skip
                wall = time.perf_counter() - started
                ok, n = right(work / f"r{i}")
                wer = re.search(r"WER: ([\d.]+) %", out.stdout)
                rtfx = re.search(r"RTFx: ([\d.]+)", out.stdout)
                print(
                    f"{model + ' ' + ' '.join(extra):56s} exit={out.returncode} {ok}/{n} right "
                    f"WER={wer.group(1) if wer else '?'} % RTFx={rtfx.group(1) if rtfx else '?'} "
                    f"wall={wall:5.1f} s",
                    flush=True,
                )
                for line in out.stderr.splitlines():
                    if line.startswith(SUMMARY):
                        print("    " + line.strip(), flush=True)
                if out.returncode:
                    print(out.stderr[-500:])
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
