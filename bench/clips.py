"""The benchmark's dataset: N watermarked FLAC clips (1–6 s, 16 kHz) in the hub layout, cached.

Every clip carries its reference text in its first samples (`asyncbench.sources.watermark`), so the
benchmark server answers each clip with its own text and the benchmark can check that a
client got every transcript right. References are unique and already in the leaderboard's
normalised form, so the seed (which writes normalised text) and asyncbench (which writes raw
text) can both be checked with `pred_text == text` on every line.

Folders are cached under `.cache/bench/clips-<N>-v<version>/` and rebuilt only when missing.
FLAC is written with soundfile (libsndfile, about 1 ms a clip) rather than through torchcodec's
encoder (over 100 ms a clip here), in two processes, so 20,000 clips take well under a minute.
"""

from __future__ import annotations

import io
import os
import random
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from asyncbench.sources import watermark
from asyncbench.sources.hub_layout import audio_cell, write_hub_folder

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / ".cache" / "bench"
CONFIG, SPLIT = "bench", "test"
VERSION = 1  # bump when clips change, so stale caches are not reused
MIN_S, MAX_S = 1.0, 6.0

# Plain words the leaderboard normaliser leaves as they are (no numbers, no British spellings,
# no contractions), so `normalize(text) == text`.
_WORDS = (
    "apple river stone cloud garden window paper silver forest candle market bridge "
    "yellow orange planet letter summer winter morning evening pocket rocket button "
    "island valley meadow harbor castle dragon feather lantern marble needle oyster "
    "pepper quilt ribbon saddle tunnel velvet wagon anchor basket cotton dinner engine "
    "falcon ginger helmet jacket kettle ladder mirror napkin orchid parrot rabbit spider "
    "tiger violin walnut zebra"
).split()


def aldea_command(command: str, dataset: Path, endpoints: str, *more: str) -> list[str]:
    """`python -m asyncbench COMMAND` on this folder's clips against aldea ENDPOINTS (host:port
    list), followed by MORE: every bench that drives the local aldea server starts from it,
    so they all read the same set the same way."""
    return [
        *(sys.executable, "-m", "asyncbench", command, "--model_name", "aldea/default"),
        *("--dataset_path", str(dataset), "--dataset", CONFIG, "--split", SPLIT),
        *("--aldea_endpoints", endpoints, *more),
    ]


def reference(i: int) -> str:
    """Clip i's text: a unique prefix (i written in base len(_WORDS)) plus 2–12 more words."""
    n = len(_WORDS)
    digits = [_WORDS[(i // n**k) % n] for k in range(3)]
    rng = random.Random(i)
    return " ".join(digits + [rng.choice(_WORDS) for _ in range(rng.randint(2, 12))])


def duration(i: int) -> float:
    return round(random.Random(-1 - i).uniform(MIN_S, MAX_S), 3)


def clip_id(i: int) -> str:
    return f"bench-{i:06d}"


def _row(i: int) -> dict[str, Any]:
    import soundfile as sf

    text = reference(i)
    pcm = watermark.embed(text, duration(i), seed=i)
    out = io.BytesIO()
    sf.write(out, pcm, watermark.RATE, format="FLAC", subtype="PCM_16")
    return {
        "audio": audio_cell(out.getvalue(), f"{clip_id(i)}.flac"),
        "dataset": CONFIG,
        "text": text,
        "id": clip_id(i),
        "audio_length_s": len(pcm) / watermark.RATE,
    }


def _rows(start: int, stop: int) -> list[dict[str, Any]]:
    return [_row(i) for i in range(start, stop)]


def folder(n: int, cache: Path = CACHE) -> Path:
    return cache / f"clips-{n}-v{VERSION}"


def build(n: int, *, cache: Path = CACHE, workers: int | None = None, log: Any = print) -> Path:
    """The hub-layout folder of clips 0..n-1 (built on first use, then reused)."""
    root = folder(n, cache)
    if (root / "README.md").exists():
        return root
    log(f"building {n} watermarked FLAC clips in {root} (once; cached)")
    tmp = root.with_name(root.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    workers = workers or min(2, os.cpu_count() or 1)
    step = max(1, -(-n // (workers * 8)))
    with ProcessPoolExecutor(workers) as pool:
        chunks = pool.map(_rows, range(0, n, step), [min(n, s + step) for s in range(0, n, step)])
        rows = [row for chunk in chunks for row in chunk]
    write_hub_folder(tmp, {CONFIG: {SPLIT: rows}}, title=f"asyncbench benchmark clips ({n})")
    os.replace(tmp, root)
    return root


def expected(n: int) -> dict[str, str]:
    """id -> reference for clips 0..n-1, what a perfect client writes."""
    return {clip_id(i): reference(i) for i in range(n)}
