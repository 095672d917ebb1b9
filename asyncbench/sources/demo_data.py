"""Build the demo speech set: real sentences spoken by flite, in the ESB hub layout.

`make demo` must benchmark something real without a Hugging Face token or network, so the
demo synthesises its own small test set: a few dozen plain English sentences per corpus
style (`asyncbench/data/demo_sentences.json`), spoken by flite's voices, resampled to 16 kHz
FLAC and written with `hub_layout.write_hub_folder`. The runner then reads it through
`datasets.load_dataset(folder, config, split=..., streaming=True)`, exactly like the real set,
and pocketsphinx (the local servers) recognises it with a WER in the leaderboard's range.

The build is idempotent: a stamp holding a hash of the sentences and of this builder's
version makes a second call return at once, and a half-finished build (no stamp) is redone.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from asyncbench.core.errors import ConfigError

__all__ = ["DemoClip", "build_demo_dataset", "demo_clips", "load_demo_sentences", "synthesize"]

# Bump when the audio or layout this module writes changes, so old demo folders rebuild.
BUILD_VERSION = 1
STAMP_NAME = ".asyncbench-demo.json"
SAMPLE_RATE = 16000
FLITE_MISSING = "flite not found; install it with 'apt-get install flite' (make install does this)"


@dataclass(frozen=True)
class DemoClip:
    config: str
    split: str
    index: int
    voice: str
    text: str

    @property
    def id(self) -> str:
        return f"{self.config}-{self.split}-{self.index:03d}"


def load_demo_sentences() -> dict[str, Any]:
    """The shipped sentence file, parsed (`configs -> split -> {voices, sentences}`)."""
    text = resources.files("asyncbench").joinpath("data/demo_sentences.json").read_text("utf-8")
    return json.loads(text)


def demo_clips(spec: dict[str, Any] | None = None) -> list[DemoClip]:
    """Every clip to synthesise, voices taken in turn within each split."""
    spec = load_demo_sentences() if spec is None else spec
    clips: list[DemoClip] = []
    for config, splits in spec["configs"].items():
        for split, entry in splits.items():
            voices = entry["voices"]
            for i, sentence in enumerate(entry["sentences"]):
                clips.append(DemoClip(config, split, i, voices[i % len(voices)], sentence))
    return clips


def flite_path() -> str:
    path = shutil.which("flite")
    if path is None:
        raise ConfigError(FLITE_MISSING)
    return path


def synthesize(text: str, voice: str = "slt", *, flite: str | None = None) -> bytes:
    """flite speech as WAV bytes (8 or 16 kHz mono PCM16, depending on the voice)."""
    flite = flite or flite_path()
    with tempfile.TemporaryDirectory(prefix="asyncbench-flite-") as tmp:
        out = Path(tmp) / "speech.wav"
        proc = subprocess.run(
            [flite, "-voice", voice, "-t", text, "-o", str(out)],
            capture_output=True,
            check=False,
        )
        if proc.returncode != 0 or not out.exists():
            reason = proc.stderr.decode(errors="replace").strip() or f"exit {proc.returncode}"
            raise RuntimeError(f"flite failed for voice {voice!r}: {reason}")
        return out.read_bytes()


def _clip_row(clip: DemoClip, flite: str) -> dict[str, Any]:
    """flite -> 16 kHz mono FLAC row. Runs in a thread: flite is a subprocess and torchcodec
    releases the GIL, so a small pool keeps both cores busy."""
    from torchcodec.decoders import AudioDecoder

    from asyncbench.sources.hub_layout import audio_cell, encode_audio

    wav = synthesize(clip.text, clip.voice, flite=flite)
    samples = AudioDecoder(wav, sample_rate=SAMPLE_RATE, num_channels=1).get_all_samples()
    mono = samples.data.numpy()
    return {
        "audio": audio_cell(encode_audio(mono, SAMPLE_RATE, "flac"), f"{clip.id}.flac"),
        "dataset": clip.config,
        "text": clip.text,
        "id": clip.id,
        "audio_length_s": round(mono.shape[1] / SAMPLE_RATE, 6),
    }


def _fingerprint(spec: dict[str, Any]) -> str:
    payload = json.dumps({"v": BUILD_VERSION, "configs": spec["configs"]}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def _is_complete(out_dir: Path, fingerprint: str) -> bool:
    try:
        stamp = json.loads((out_dir / STAMP_NAME).read_text("utf-8"))
    except (OSError, ValueError):
        return False
    if stamp.get("fingerprint") != fingerprint:
        return False
    return all((out_dir / name).is_file() for name in [*stamp.get("files", []), "README.md"])


def build_demo_dataset(out_dir: Path, *, workers: int | None = None, force: bool = False) -> Path:
    """Synthesise the demo set into `out_dir` (hub layout) unless it is already there.

    Returns `out_dir`. Raises `ConfigError` when flite is missing, before any work.
    """
    out_dir = Path(out_dir)
    spec = load_demo_sentences()
    fingerprint = _fingerprint(spec)
    if not force and _is_complete(out_dir, fingerprint):
        return out_dir
    flite = flite_path()
    from asyncbench.sources.hub_layout import write_hub_folder

    clips = demo_clips(spec)
    workers = workers or min(8, 2 * (os.cpu_count() or 1))
    (out_dir / STAMP_NAME).unlink(missing_ok=True)  # a crash below must not look complete
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="demo-tts") as pool:
        rows = list(pool.map(lambda c: _clip_row(c, flite), clips))
    tables: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for clip, row in zip(clips, rows, strict=True):
        tables.setdefault(clip.config, {}).setdefault(clip.split, []).append(row)
    write_hub_folder(out_dir, tables, title="asyncbench demo speech set (flite voices)")
    files = sorted(
        str(p.relative_to(out_dir)) for p in out_dir.glob("*/*.parquet") if p.parent.name in tables
    )
    stamp = {"fingerprint": fingerprint, "clips": len(clips), "files": files}
    (out_dir / STAMP_NAME).write_text(json.dumps(stamp, indent=2) + "\n", encoding="utf-8")
    return out_dir


def main(argv: list[str] | None = None) -> int:
    """`python -m asyncbench.sources.demo_data [OUT_DIR]`: build the set, say how long it took."""
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0] if args else "demo_data")
    start = time.perf_counter()
    try:
        build_demo_dataset(out)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"demo set ready in {out} ({time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
