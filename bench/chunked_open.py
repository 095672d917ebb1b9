"""What the chunked Earnings22 costs before its first request, and what scoring it costs.

Builds a local chunked set the size of `ArtificialAnalysis/Earnings22-Cleaned-AA-chunked`
(6 calls, 341 chunks; the chunks here are short watermarked WAVs, the metadata and
references full size: each call's transcript about 3,000 words, for 875-1,340 s of speech,
repeated on every chunk's results line as the board does), then times:

- `open_source`: reading and checking the whole chunk table, every audio file's presence
  and the parent's transcripts (all done before the first request);
- reading every chunk's audio through `ChunkedSplit.iter_samples`;
- scoring a results file of the 341 chunks (merge into 6 calls, normalise, align).

    .venv/bin/python bench/chunked_open.py [--chunks 341] [--calls 6]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import orjson

from asyncbench.sources import watermark
from asyncbench.sources.hub_layout import (
    audio_cell,
    encode_wav,
    write_chunked_set,
    write_hub_folder,
)

WORDS = "revenue quarter growth margin guidance customers million percent year thank".split()


def build(root: Path, calls: int, chunks: int) -> tuple[Path, Path]:
    rng = random.Random(0)
    per_call = [chunks // calls + (i < chunks % calls) for i in range(calls)]
    rows, parents = [], []
    for c, n in enumerate(per_call):
        pid = f"44{c:05d}"
        texts = [" ".join(rng.choice(WORDS) for _ in range(3000 // n)) for _ in range(n)]
        for i, text in enumerate(texts):
            pcm = watermark.embed(text[:60], 0.5, seed=i)
            rows.append(
                {
                    "parent_id": pid,
                    "chunk_index": i,
                    "audio": audio_cell(encode_wav(pcm, 16000), f"{pid}_{i}.wav"),
                    "duration": 0.5,
                }
            )
        parents.append({"id": pid, "transcript": " ".join(texts)})
    write_chunked_set(root / "chunked", rows)
    write_hub_folder(root / "parent", {"default": {"test": parents}}, sort_longest_first=False)
    return root / "chunked", root / "parent"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chunks", type=int, default=341)
    ap.add_argument("--calls", type=int, default=6)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="asyncbench-chunked-") as tmp:
        chunked, parent = build(Path(tmp), args.calls, args.chunks)
        from asyncbench.sources.chunked import open_source

        t0 = time.perf_counter()
        split = open_source(
            str(chunked), str(chunked), "x", "test", parent_path=str(parent), parent_given=True
        )
        t1 = time.perf_counter()
        samples = [s for batch in split.iter_samples() for s in batch]
        t2 = time.perf_counter()
        results = (
            Path(tmp) / "MODEL_x-y_DATASET_AA-chunked_earnings22_cleaned_aa_chunked_test.jsonl"
        )
        with results.open("wb") as fh:
            for s in samples:
                words = s.reference.split()
                part = len(words) // sum(
                    1 for c in split.chunks if c.parent_id == s.meta["parent_id"]
                )
                i = s.meta["chunk_index"]
                pred = " ".join(words[i * part : (i + 1) * part])
                line = {
                    "id": s.id,
                    "status": "ok",
                    "audio_filepath": s.id,
                    "duration": 0.5,
                    "time": 0.1,
                    "text": s.reference,
                    "pred_text": pred,
                    "parent_id": s.meta["parent_id"],
                    "chunk_index": i,
                }
                fh.write(orjson.dumps(line) + b"\n")
        from asyncbench.scoring.score import score_file

        t3 = time.perf_counter()
        score = score_file(results)
        t4 = time.perf_counter()
    print(f"{len(samples)} chunks of {args.calls} calls")
    print(f"open + check (table, audio/ files, parent transcripts): {t1 - t0:.2f} s")
    print(f"read every chunk's audio: {t2 - t1:.2f} s")
    print(f"score the results file ({score.n_samples} calls, WER {score.wer} %): {t4 - t3:.2f} s")


if __name__ == "__main__":
    main()
