"""Long recordings for long-form tests and benchmarks, made from the demo's spoken sentences.

The long-form track (`hf-audio/asr-leaderboard-longform`: earnings21, earnings22, tedlium)
sends whole recordings of 15-100+ minutes. To exercise that path offline, this builds a
split in the same hub layout whose recordings last several minutes each: the demo's plain
English sentences (`asyncbench/data/demo_sentences.json`) spoken by flite, each synthesised
once, then strung together with short silences (where a client-side chunker can cut) until
a recording reaches its length. The reference is the sentences in order, so a recogniser
that gets every clip right gets every recording right.

Audio is 16 kHz mono FLAC (about a third of the WAV's size), one row per recording.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

SAMPLE_RATE = 16000


def _spoken_sentences() -> list[tuple[str, np.ndarray]]:
    """Every demo sentence once, as (text, int16 samples at 16 kHz), voices in turn."""
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np
    from torchcodec.decoders import AudioDecoder

    from asyncbench.sources.demo_data import demo_clips, flite_path, synthesize

    flite = flite_path()
    clips = demo_clips()

    def speak(clip: Any) -> tuple[str, np.ndarray]:
        wav = synthesize(clip.text, clip.voice, flite=flite)
        samples = AudioDecoder(wav, sample_rate=SAMPLE_RATE, num_channels=1).get_all_samples()
        pcm = np.clip(np.round(samples.data.numpy()[0] * 32768.0), -32768, 32767)
        return clip.text, pcm.astype(np.int16)

    with ThreadPoolExecutor(4, thread_name_prefix="longform-tts") as pool:
        return list(pool.map(speak, clips))


def string_together(
    parts: Sequence[tuple[str, np.ndarray]], seconds: float, *, start: int = 0, gap_s: float = 0.4
) -> tuple[str, np.ndarray]:
    """Sentences from `parts` in turn (from `start`), each followed by `gap_s` of silence,
    until at least `seconds` of audio: (the words in order, int16 samples)."""
    import numpy as np

    if not parts:
        raise ValueError("no sentences to string together")
    gap = np.zeros(int(gap_s * SAMPLE_RATE), dtype=np.int16)
    texts: list[str] = []
    pieces: list[np.ndarray] = []
    total = 0
    i = start
    while total < seconds * SAMPLE_RATE:
        text, pcm = parts[i % len(parts)]
        texts.append(text)
        pieces += [pcm, gap]
        total += len(pcm) + len(gap)
        i += 1
    return " ".join(texts), np.concatenate(pieces)


def build_longform_split(
    out_dir: Path,
    minutes: Sequence[float],
    *,
    config: str = "earnings22",
    split: str = "test",
    gap_s: float = 0.4,
) -> Path:
    """Write `out_dir` (hub layout) with one `config`/`split` whose recording i lasts at
    least `minutes[i]` minutes; returns `out_dir`. Needs flite (ConfigError otherwise)."""
    from asyncbench.sources.hub_layout import make_row, write_hub_folder

    spoken = _spoken_sentences()
    rows = []
    for i, length in enumerate(minutes):
        text, pcm = string_together(spoken, 60 * length, start=i * 7, gap_s=gap_s)
        rid = f"{config}-{split}-long-{i:03d}"
        rows.append(
            make_row(pcm, SAMPLE_RATE, name=rid, fmt="flac", text=text, id=rid, dataset=config)
        )
    return write_hub_folder(
        Path(out_dir), {config: {split: rows}}, title="asyncbench long-form set (flite voices)"
    )
