"""How long scoring 100,000 result lines takes, in English and in the multilingual track.

Writes synthetic results files shaped like a full English run (8 datasets, references of
5-30 words, predictions with casing, punctuation, fillers, digits and some errors, about
1 % failed and a few clips skipped as too short) to a temporary folder, then times
`collect_scores` on it: reading, normalising both sides, aligning, aggregating. Then the
same for as many lines of the board's multilingual track (its 13 configs, de/fr/it/es/pt:
accented words, digits in the references that the predictions spell out in words, split
and joined compounds), scored with the multilingual scheme, and prints the ratio of the two
times: the multilingual path must stay within 1.5 times the English one.

`--shape typical` draws words with English-like (Zipf) frequencies, so number words are
rare, and leaves about half the predictions exact but for casing and punctuation;
`--shape hard` draws every word equally often (numbers everywhere), adds a dollar amount
to a fifth of the predictions and leaves about a third exact: the slow end.

    .venv/bin/python bench/score_speed.py [--lines 100000] [--shape hard] [--scoring legacy]
        [--workers 1] [--track both|en|ml] [--bootstrap 1000]

`--bootstrap N` instead times the English files scored without and with N bootstrap
resamples per dataset (the 95 % intervals of `asyncbench score`) and prints the ratio.
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

ML_CONFIGS = (
    *("fleurs_de", "fleurs_fr", "fleurs_it", "fleurs_es", "fleurs_pt"),
    *("mcv_de", "mcv_es", "mcv_fr", "mcv_it"),
    *("mls_es", "mls_fr", "mls_it", "mls_pt"),
)
# most frequent first, with the accents, apostrophes and long compounds of each language
_ML_VOCABULARY = {
    "de": "der die und in den von zu das mit sich des auf für ist im dem nicht ein eine als "
    "auch es an werden aus er hat dass sie nach wird bei einer um am sind noch wie einem über "
    "einen so zum war haben nur oder aber vor zur bis mehr durch man sein wurde sei können "
    "größer müssen straße bürgermeister krankenhaus überraschung arbeitslosenquote "
    "bundesregierung wohnungsbaugesellschaft fußballweltmeisterschaft öffentlichkeit",
    "fr": "de la le et les des en un du une que est pour qui dans a par plus pas au sur ne se "
    "ce il sont été être avec son ses mais ou elle nous leur comme tout était très aussi "
    "cette même après où déjà année élèves été français qu'il l'été c'est aujourd'hui "
    "peut-être quelqu'un gouvernement développement république",
    "it": "di e il la che in a per un è del non una sono le con si da i lo della al ma come "
    "più anche questo nel gli ha alla se perché già città università così può perciò "
    "qualità all'inizio dell'anno l'italia c'è governo sviluppo repubblica",
    "es": "de la que el en y a los del se las por un para con no una su al lo como más pero "
    "sus le ya o este sí porque esta entre cuando muy sin sobre también me hasta año "
    "está según después qué niño señor corazón información gobierno desarrollo",
    "pt": "de a o que e do da em um para é com não uma os no se na por mais as dos como mas "
    "foi ao ele das tem à seu sua ou ser quando muito há nos já está também só pelo "
    "ação não são informação coração governo desenvolvimento república português",
}
ML_WORDS = {lang: words.split() for lang, words in _ML_VOCABULARY.items()}


def ml_sentence(rng: random.Random, lang: str, hard: bool) -> list[str]:
    words = ML_WORDS[lang]
    length = rng.randint(5, 30)
    if hard:
        picked = [rng.choice(words) for _ in range(length)]
    else:
        picked = rng.choices(words, weights=ZIPF[: len(words)], k=length)
    for _ in range(rng.choice((0, 1, 1, 2) if hard else (0, 0, 0, 1))):
        number = rng.choice((rng.randint(1, 31), rng.randint(1900, 2030), rng.randint(1, 999)))
        picked.insert(rng.randrange(len(picked)), f"{number:,}".replace(",", " "))
    return picked


def ml_prediction(rng: random.Random, lang: str, ref: list[str], hard: bool) -> str:
    """The reference as an API returns it: cased and punctuated, numbers mostly spelt out,
    compounds now and then split or joined, a few errors."""
    from num2words import num2words

    words = [
        num2words(int(w.replace(" ", "")), lang=lang)
        if w[0].isdigit() and rng.random() < 0.7
        else w
        for w in ref
    ]
    for _ in range(rng.choice((0, 0, 1, 2) if hard else (0, 0, 0, 0, 1, 2))):
        i = rng.randrange(len(words))
        words[i] = rng.choice((rng.choice(ML_WORDS[lang]), "", f"{words[i]}s"))
    if rng.random() < (0.3 if hard else 0.1) and len(words) > 1:  # a joined compound
        i = rng.randrange(len(words) - 1)
        words[i : i + 2] = [words[i] + words[i + 1]]
    long = [i for i, w in enumerate(words) if len(w) >= 8]
    if long and rng.random() < (0.3 if hard else 0.1):  # a split compound
        i = rng.choice(long)
        cut = len(words[i]) // 2
        words[i : i + 1] = [words[i][:cut], words[i][cut:]]
    text = " ".join(w for w in words if w)
    return text[:1].upper() + text[1:] + rng.choice((".", "?", "!", "...", " »"))


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


def write_results(
    folder: Path, n_lines: int, *, hard: bool = False, seed: int = 0, track: str = "en"
) -> None:
    """`track` "en": the 8 English datasets; "ml": the 13 configs of the multilingual set."""
    rng = random.Random(seed)
    if track == "ml":
        prefix = "hf-audio-open-asr-leaderboard-multilingual-datasets"
        datasets = tuple(f"{config}_test" for config in ML_CONFIGS)
    else:
        prefix, datasets = "hf-audio-esb-datasets-test-only-sorted", DATASETS
    per_file = -(-n_lines // len(datasets))
    written = 0
    for dataset in datasets:
        name = f"MODEL_aldea-default_DATASET_{prefix}_{dataset}"
        lang = dataset.removesuffix("_test")[-2:]
        with (folder / f"{name}.jsonl").open("wb") as f:
            for i in range(min(per_file, n_lines - written)):
                ref = ml_sentence(rng, lang, hard) if track == "ml" else sentence(rng, hard)
                roll = rng.random()
                status = "failed" if roll < 0.01 else "skipped_short" if roll < 0.012 else "ok"
                if status != "ok":
                    pred = {"failed": "", "skipped_short": "."}[status]
                elif track == "ml":
                    pred = ml_prediction(rng, lang, ref, hard)
                else:
                    pred = prediction(rng, ref, hard)
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


def time_track(args: argparse.Namespace, track: str) -> tuple[float, float]:
    """Write one track's files, score them, print the table and the figures; returns
    (wall seconds, CPU seconds) of scoring, import excluded (paid once, by the first)."""
    with tempfile.TemporaryDirectory(prefix="score_speed_") as tmp:
        folder = Path(tmp)
        write_results(folder, args.lines, hard=args.shape == "hard", track=track)

        started = time.perf_counter()
        from asyncbench.scoring.score import collect_scores
        from asyncbench.scoring.table import format_table

        imported = time.perf_counter()
        cpu_started = _cpu_seconds()
        report = collect_scores(folder, scheme=args.scoring, workers=args.workers)
        table = format_table(report)
        scored = time.perf_counter()
        cpu = _cpu_seconds() - cpu_started

    lines = sum(f.n_lines for f in report.files)
    what = "English" if track == "en" else "multilingual (de fr it es pt)"
    scheme = args.scoring if track == "en" else "multilingual"
    print(table)
    files = len(report.files)
    print(f"{what}: {lines} lines in {files} files, {args.shape} shape, {scheme} scheme")
    print(f"import {imported - started:.2f} s, scoring {scored - imported:.2f} s")
    print(f"total {scored - started:.2f} s ({lines / (scored - started):,.0f} lines/s)")
    print(f"CPU {cpu:.2f} s over all processes ({os.cpu_count()} CPUs on this machine)")
    print()
    return scored - imported, cpu


def time_intervals(args: argparse.Namespace) -> None:
    """Score the same English files with `--bootstrap 0` and with `args.bootstrap`
    resamples (in this process, as `asyncbench score` does on one CPU's worth of files when
    `--workers 1`): the intervals must cost under 2x the scoring without them."""
    from asyncbench.scoring.score import collect_scores

    with tempfile.TemporaryDirectory(prefix="score_speed_ci_") as tmp:
        folder = Path(tmp)
        write_results(folder, args.lines, hard=args.shape == "hard", track="en")
        walls = {}
        for resamples in (0, args.bootstrap):
            started = time.perf_counter()
            report = collect_scores(
                folder, scheme=args.scoring, workers=args.workers, bootstrap=resamples
            )
            walls[resamples] = time.perf_counter() - started
    ci = report.composites[0].wer_ci95
    print(
        f"{args.lines} lines: {walls[0]:.2f} s without intervals, {walls[args.bootstrap]:.2f} s "
        f"with {args.bootstrap} bootstrap resamples (composite 95 % CI {ci}): "
        f"{walls[args.bootstrap] / walls[0]:.2f}x; target under 2x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--shape", default="typical", choices=("typical", "hard"))
    parser.add_argument("--scoring", default="leaderboard", choices=("leaderboard", "legacy"))
    parser.add_argument(
        "--workers", type=int, default=None, help="processes (default: one per CPU)"
    )
    parser.add_argument(
        "--track", default="both", choices=("both", "en", "ml"), help="which files to time"
    )
    parser.add_argument(
        "--bootstrap",
        type=int,
        default=0,
        help="time scoring with this many bootstrap resamples against none, instead",
    )
    args = parser.parse_args()
    if args.bootstrap:
        time_intervals(args)
        return

    tracks = ("en", "ml") if args.track == "both" else (args.track,)
    figures = {track: time_track(args, track) for track in tracks}
    if len(figures) == 2:
        (en_wall, en_cpu), (ml_wall, ml_cpu) = figures["en"], figures["ml"]
        print(
            f"multilingual / English scoring time: {ml_wall / en_wall:.2f} wall "
            f"({ml_wall:.2f} s / {en_wall:.2f} s), {ml_cpu / en_cpu:.2f} CPU "
            f"({ml_cpu:.2f} s / {en_cpu:.2f} s); target at most 1.5"
        )


if __name__ == "__main__":
    main()
