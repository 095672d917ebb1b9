"""A local long-form split: recordings of several minutes, in the hub layout.

The leaderboard's long-form track (`hf-audio/asr-leaderboard-longform`, `bezzam/coraal`) runs
whole recordings of 15-100+ minutes; tests and `bench/longform_rss.py` need such recordings
offline, with a reference that a mock server can reproduce exactly. Each recording is the
demo's sentences one after another, each a watermarked stretch of loud noise
(`asyncbench.sources.watermark`: the clip carries its sentence, and the mock reads every
sentence in what it is sent), with a pause of near silence between sentences. So a part cut
at a pause carries its own sentences, the stitched transcript equals the reference only if
the parts were cut at pauses, sent in order and joined, and the noise keeps FLAC near WAV's
size (as hard to compress as any real recording, which is what the byte limits are about).
Rows are written one per parquet row group, so a streaming reader holds one recording.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

RATE = 16000
LOUD_STD = 6000.0  # speech-level noise after each watermark: FLAC stays near WAV's size
PAUSE_S = (0.6, 1.4)  # pause between sentences, uniform in this range
QUIET_STD = 8.0


def sentences() -> list[str]:
    """Every sentence of the demo set, in file order."""
    from asyncbench.sources.demo_data import load_demo_sentences

    spec = load_demo_sentences()
    return [
        s for splits in spec["configs"].values() for e in splits.values() for s in e["sentences"]
    ]


def recording(seconds: float, *, seed: int = 0) -> tuple[np.ndarray, str]:
    """(int16 samples, reference): sentences with pauses until `seconds` is filled (the
    tail after the last whole sentence is quiet)."""
    import numpy as np

    from asyncbench.sources import watermark

    rng = np.random.default_rng(seed)
    pool = sentences()
    total = round(seconds * RATE)
    out = (rng.standard_normal(total) * QUIET_STD).astype(np.int16)
    pos, used, k = round(rng.uniform(*PAUSE_S) * RATE), [], int(rng.integers(len(pool)))
    while True:
        text = pool[k % len(pool)]
        k += 1
        speech_s = max(2.0, 0.07 * len(text) * rng.uniform(0.8, 1.2))
        clip = watermark.embed(text, speech_s, seed=int(rng.integers(1 << 30)))
        head = 6 + len(text.encode())
        clip[head:] = np.clip(rng.standard_normal(len(clip) - head) * LOUD_STD, -32768, 32767)
        if pos + len(clip) > total:
            break
        out[pos : pos + len(clip)] = clip
        used.append(text)
        pos += len(clip) + round(rng.uniform(*PAUSE_S) * RATE)
    return out, " ".join(used)


def flac_bytes(samples: np.ndarray) -> bytes:
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, samples, RATE, subtype="PCM_16", format="FLAC")
    return buf.getvalue()


def write_longform_split(
    root: Path,
    minutes: Sequence[float],
    *,
    config: str = "earnings22",
    split: str = "test",
    seed: int = 0,
) -> dict[str, str]:
    """Write one recording per entry of `minutes` as `<root>/<config>/<split>-*.parquet`
    (FLAC audio, `text`, `id`, `audio_length_s`); returns id -> reference."""
    from asyncbench.sources.hub_layout import audio_cell, write_hub_folder

    rows: list[dict[str, Any]] = []
    refs: dict[str, str] = {}
    for i, m in enumerate(minutes):
        samples, text = recording(m * 60, seed=seed + i)
        rid = f"{config}-{i:03d}"
        rows.append(
            {
                "audio": audio_cell(flac_bytes(samples), f"{rid}.flac"),
                "dataset": config,
                "text": text,
                "id": rid,
                "audio_length_s": len(samples) / RATE,
            }
        )
        refs[rid] = text
        del samples
    write_hub_folder(
        root, {config: {split: rows}}, title="asyncbench long-form set", rows_per_group=1
    )
    return refs
