"""How long scoring 100,000 result lines takes.

Writes synthetic results files shaped like a full English run (8 datasets, references of
5-30 words, predictions with casing, punctuation, fillers, digits and some errors, about
1 % failed and a few clips skipped as too short) to a temporary folder, then times
`collect_scores` on it: reading, normalising both sides, aligning, aggregating.

`--shape typical` draws words with English-like (Zipf) frequencies, so number words are
rare, and leaves about half the predictions exact but for casing and punctuation;
`--shape hard` draws every word equally often (numbers everywhere), adds a dollar amount
to a fifth of the predictions and leaves about a third exact: the slow end.

    .venv/bin/python bench/score_speed.py [--lines 100000] [--shape hard] [--scoring legacy]
        [--workers 1]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import tempfile
import time
from pathlib import Path

import orjson

DATASETS = (
    "ami_test",
    "earnings22_test",
    "gigaspeech_test",
    "librispeech_test.clean",
    "librispeech_test.other",
    "spgispeech_test",
    "tedlium_test",
    "voxpopuli_test",
)
_VOCABULARY = (
    "the of and to a in that is was he it for you with as his on be at by i this had not "
    "are but from or have an they which one you were her all she there would their we him "
    "been has when who will more no if out so said what up its about into than them can "
    "only other new some could time these two may then do first any my now such like our "
    "over man me even most made after also did many before must through back years where "
    "much your way well down should because each just those people mister how too little "
    "state good very make world still own see men work long get here between both life "
    "being under never day same another know while last might us great old year off come "
    "since against go came right used take three colour organisation revenue quarter "
    "margin guidance okay million percent dollars twenty five hundred thousand"
)
WORDS = _VOCABULARY.split()
FILLERS = ("uh", "um", "you know", "like")


ZIPF = [1 / rank for rank in range(1, len(WORDS) + 1)]  # WORDS is most frequent first


def sentence(rng: random.Random, hard: bool) -> list[str]:
    length = rng.randint(5, 30)
    if hard:
        return [rng.choice(WORDS) for _ in range(length)]
    return rng.choices(WORDS, weights=ZIPF, k=length)


def prediction(rng: random.Random, ref: list[str], hard: bool) -> str:
    """The reference as an API returns it: cased, punctuated, a few errors and fillers,
    and (hard shape) a dollar amount now and then."""
    words = list(ref)
    for _ in range(rng.choice((0, 0, 1, 2) if hard else (0, 0, 0, 0, 1, 2))):
        i = rng.randrange(len(words))
        words[i] = rng.choice((rng.choice(WORDS), "", f"{words[i]}s"))
    if rng.random() < (0.2 if hard else 0.1):
        words.insert(rng.randrange(len(words)), rng.choice(FILLERS) + ",")
    if hard and rng.random() < 0.2:
        words.append(f"${rng.randint(1, 999)}.{rng.randint(10, 99)}")
    text = " ".join(w for w in words if w)
    return text[:1].upper() + text[1:] + rng.choice((".", "?", "!", "..."))


def write_results(folder: Path, n_lines: int, *, hard: bool = False, seed: int = 0) -> None:
    rng = random.Random(seed)
    per_file = -(-n_lines // len(DATASETS))
    written = 0
    for dataset in DATASETS:
        name = f"MODEL_aldea-default_DATASET_hf-audio-esb-datasets-test-only-sorted_{dataset}"
        with (folder / f"{name}.jsonl").open("wb") as f:
            for i in range(min(per_file, n_lines - written)):
                ref = sentence(rng, hard)
                roll = rng.random()
                status = "failed" if roll < 0.01 else "skipped_short" if roll < 0.012 else "ok"
                pred = {"ok": prediction(rng, ref, hard), "failed": "", "skipped_short": "."}[
                    status
                ]
                line = {
                    "audio_filepath": f"{dataset}/{i}",
                    "duration": round(len(ref) * 0.4, 3),
                    "time": round(rng.uniform(0.2, 2.0), 3),
                    "text": " ".join(ref),
                    "pred_text": pred,
                    "id": f"{dataset}/{i}",
                    "status": status,
                    "error": "timed out" if status == "failed" else None,
                    "error_kind": "timeout" if status == "failed" else None,
                    "attempts": 1,
                    "endpoint": None,
                }
                f.write(orjson.dumps(line) + b"\n")
                written += 1


def _cpu_seconds() -> float:
    """User + system time of this process and of the finished worker processes."""
    own, children = (
        resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--shape", default="typical", choices=("typical", "hard"))
    parser.add_argument("--scoring", default="leaderboard", choices=("leaderboard", "legacy"))
    parser.add_argument(
        "--workers", type=int, default=None, help="processes (default: one per CPU)"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="score_speed_") as tmp:
        folder = Path(tmp)
        write_results(folder, args.lines, hard=args.shape == "hard")

        started = time.perf_counter()
        cpu_started = _cpu_seconds()
        from asyncbench.scoring.score import collect_scores
        from asyncbench.scoring.table import format_table

        imported = time.perf_counter()
        report = collect_scores(folder, scheme=args.scoring, workers=args.workers)
        table = format_table(report)
        scored = time.perf_counter()
        cpu = _cpu_seconds() - cpu_started

    lines = sum(f.n_lines for f in report.files)
    print(table)
    print(f"{lines} lines in {len(report.files)} files, {args.shape} shape, {args.scoring} scheme")
    print(f"import {imported - started:.2f} s, scoring {scored - imported:.2f} s")
    print(f"total {scored - started:.2f} s ({lines / (scored - started):,.0f} lines/s)")
    print(f"CPU {cpu:.2f} s over all processes ({os.cpu_count()} CPUs on this machine)")


if __name__ == "__main__":
    main()
