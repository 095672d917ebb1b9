"""Real speech for tests: flite sentences, free loopback ports, and a plain word error count.

Kept out of conftest.py so that it stays one module with one job and other test files can
import it explicitly.
"""

from __future__ import annotations

import functools
import re
import socket
from contextlib import ExitStack

import numpy as np

from asyncbench.sources.demo_data import synthesize

# Sentences that flite's "slt" voice says clearly enough for pocketsphinx to get (almost) right.
SENTENCES = (
    "Please turn off the lights when you leave the office.",
    "The children played in the park until it started to rain.",
    "Thank you very much for listening to my talk.",
)
SHORT_SENTENCE = "Thank you very much."  # 1.6 s: quick to recognise even on a busy machine


@functools.cache
def speech_wav(text: str, voice: str = "slt") -> bytes:
    """flite's WAV for `text` (16 kHz mono PCM16 for slt/rms/awb/kal16, 8 kHz for kal)."""
    return synthesize(text, voice)


def wav_samples(wav: bytes) -> tuple[np.ndarray, int]:
    """int16 mono samples and rate of a flite WAV (plain PCM16, so the stdlib can read it)."""
    import io
    import wave

    with wave.open(io.BytesIO(wav)) as w:
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2)
        return np.frombuffer(w.readframes(w.getnframes()), "<i2"), w.getframerate()


def words(text: str) -> list[str]:
    """Lowercase words without punctuation: enough normalisation for flite's plain sentences."""
    return re.sub(r"[^a-z' ]+", " ", text.lower()).split()


def word_errors(reference: str, hypothesis: str) -> int:
    """Levenshtein distance over words."""
    ref, hyp = words(reference), words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1]


def free_ports(n: int) -> list[int]:
    """n distinct ports that were free a moment ago (all held open together while chosen)."""
    with ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(n)]
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
