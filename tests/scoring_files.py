"""Results files for the scoring tests, written as our runner and the seed's scripts do."""

from __future__ import annotations

import json
from pathlib import Path


def _shared_scoring() -> Path:
    """`shared/scoring/` beside the checkout (CI, and a clone next to shared/), else beside
    the nearest folder above it that has one: a git worktree under `wt/<branch>/` sits two
    levels below the `shared/` its main checkout sits beside."""
    checkout = Path(__file__).resolve().parents[1]
    for folder in checkout.parents:
        if (folder / "shared" / "scoring").is_dir():
            return folder / "shared" / "scoring"
    return checkout.parent / "shared" / "scoring"  # the place CI has it, named in the error


VECTORS = _shared_scoring()
"""The leaderboard's test vectors (`normalizer_vectors.jsonl`, `ml_wer_vectors.jsonl`, ...)."""

DS = "hf-audio-esb-datasets-test-only-sorted"
LIBRI = f"MODEL_aldea-default_DATASET_{DS}_librispeech_test.clean"


def write_jsonl(path: Path, lines: list[dict | str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join((json.dumps(x) if isinstance(x, dict) else x) + "\n" for x in lines)
    path.write_text(text, encoding="utf-8")
    return path


def ours(
    sid: str,
    ref: str,
    pred: str,
    status: str = "ok",
    kind: str | None = None,
    duration: float = 2.0,
    time: float = 1.0,
) -> dict:
    """A line as our runner writes it (the results-file contract)."""
    return {
        "audio_filepath": sid,
        "duration": duration,
        "time": time,
        "text": ref,
        "pred_text": pred,
        "id": sid,
        "status": status,
        "error": None if status != "failed" else "boom",
        "error_kind": kind,
        "attempts": 1,
        "endpoint": None,
    }


def foreign(ref: str, pred: str, duration: float | None = 2.0, time: float | None = 1.0) -> dict:
    """A line as the leaderboard's and the seed's scripts write it."""
    return {
        "audio_filepath": "sample_0",
        "duration": duration,
        "time": time,
        "text": ref,
        "pred_text": pred,
    }


def our_run(tmp_path: Path) -> Path:
    """5 samples: 1 clean, 1 superseded failure now ok with 1 error, 1 skipped as too short,
    2 failed (timeout) — and a torn last line from a crash."""
    return write_jsonl(
        tmp_path / f"{LIBRI}.jsonl",
        [
            ours("a", "alpha beta gamma delta", "Alpha, beta, gamma, delta."),
            ours("b", "red green blue", "", "failed", "timeout", duration=1.0, time=30.0),
            ours("c", "up down", "", "failed", "rate_limited"),
            ours("d", "hi", ".", "skipped_short", duration=0.1, time=0.0),
            ours("e", "yes no", "", "failed", "timeout"),
            ours("c", "up down", "up town"),
            '{"audio_filepath": "f", "dur',
        ],
    )
