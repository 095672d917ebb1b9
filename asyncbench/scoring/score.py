"""Scores of results files: one dataset per file, then one composite per model.

The numbers are the leaderboard's: WER over every sample, a failed one counting as an
empty transcript; per-dataset WER rounded to 2 decimals before the composite takes their
plain mean. Beside them, for our own files, what the leaderboard cannot see: how many
samples finished, which failures happened, and the WER over successful samples only.

RTFx is audio seconds over request seconds, summed over the lines whose `time` is a real
transcription: our "ok" lines and every line of a foreign file (failed requests and clips
skipped as too short would distort it). When no such line has timing, RTFx is None.

Each file is scored in its language (`language.file_language`: its sidecar, else its
config name): English files with the chosen scheme, the board's multilingual track (de, fr,
it, es, pt) with the multilingual scheme, and composites are per model and language. The
board's multilingual runner drops failed samples; we keep them as for English, and the WER
over successful samples only (the number that runner prints) stays beside it.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from asyncbench.core.errors import ConfigError
from asyncbench.scoring.bootstrap import (
    DEFAULT_SEED,
    Utterances,
    percentile_ci,
    resampled_rates,
    rng_for,
)
from asyncbench.scoring.error_rate import ErrorCounts, check_pairs, utterance_token_errors
from asyncbench.scoring.language import ENGLISH, file_language, language_code
from asyncbench.scoring.legacy import legacy_normalize, legacy_utterance_errors
from asyncbench.scoring.normalizer import normalize
from asyncbench.scoring.resultfiles import (
    ResultFile,
    find_result_files,
    group_shards,
    parse_result_name,
    read_result_file,
    read_result_files,
)
from asyncbench.scoring.runs import Run, choose, runs_of, without_sweeps

# The totals, then each utterance's errors and reference words (for the bootstrap).
PerUtterance = tuple[ErrorCounts, list[int], list[int]]


@dataclass(frozen=True, slots=True)
class Scheme:
    normalize: Callable[[str], str]
    count: Callable[[Sequence[str], Sequence[str]], PerUtterance]  # on normalised text


def _leaderboard_count(refs: Sequence[str], preds: Sequence[str]) -> PerUtterance:
    check_pairs(refs, preds)
    # lazily: one pair's words at a time (a runaway transcript's list is ~12x its text)
    return utterance_token_errors((r.split() for r in refs), (p.split() for p in preds))


def _legacy_count(refs: Sequence[str], preds: Sequence[str]) -> PerUtterance:
    return legacy_utterance_errors(refs, preds)


def _multilingual_count(refs: Sequence[str], preds: Sequence[str]) -> PerUtterance:
    from asyncbench.scoring.compound import utterance_paired_errors

    return utterance_paired_errors(refs, preds)


SCHEMES: dict[str, Scheme] = {
    "leaderboard": Scheme(normalize, _leaderboard_count),
    "legacy": Scheme(legacy_normalize, _legacy_count),
}


def get_scheme(name: str, language: str = ENGLISH) -> Scheme:
    """The rules for a file: `name` for English; for any other language the board's
    multilingual scheme whatever `name` says (the board has no other for those, and the
    legacy scheme is an English normaliser). `language` is a checked code
    (`language.language_code`)."""
    try:
        scheme = SCHEMES[name]
    except KeyError:
        raise ConfigError(
            f"unknown scoring scheme {name!r}: use 'leaderboard' (the current board, the "
            "default) or 'legacy' (Whisper normaliser + jiwer, as in 2025)"
        ) from None
    if language == ENGLISH:
        return scheme
    from asyncbench.scoring.multilingual import OIWER_LANGUAGES, normalizer_for

    if language in OIWER_LANGUAGES:
        from asyncbench.scoring.oiwer import utterance_errors

        return Scheme(_as_is, utterance_errors)
    return Scheme(normalizer_for(language), _multilingual_count)


def _as_is(text: str) -> str:
    """OIWER's `normalize`: a reference is a lattice (JSON), normalised inside the alignment."""
    return text


def checked(language: str) -> str:
    """`language.language_code`, with a language the scorer cannot score as a ConfigError."""
    try:
        return language_code(language)
    except ValueError as e:
        raise ConfigError(str(e)) from None


def detect_language(path: Path) -> str:
    """`language.file_language`, with a sidecar language the scorer cannot score as a
    ConfigError that names the file."""
    try:
        return file_language(path)
    except ValueError as e:
        raise ConfigError(f"{path}: {e}") from None


@dataclass(frozen=True, slots=True)
class FileScore:
    """Everything known about one results file after scoring it."""

    path: Path
    model_id: str
    dataset_id: str
    scheme: str
    counts: ErrorCounts  # every sample; a failed one as an empty prediction
    counts_ok_only: ErrorCounts  # successful samples only (ok and skipped_short)
    n_lines: int
    n_ok: int
    n_skipped: int
    n_failed: int
    n_superseded: int
    failures_by_kind: dict[str, int]  # most frequent first
    total_audio_s: float  # over timed lines that hit the API
    total_time_s: float
    ours: bool  # written by asyncbench, so coverage and failures are known
    problems: tuple[str, ...]  # lines left out, as "path:line: what is wrong"
    expected_samples: int | None = None
    language: str = ENGLISH  # "en", or the multilingual scheme's language code
    # per-utterance errors for the bootstrap (numpy arrays; None only if built by hand)
    utterances: Utterances | None = None
    wer_ci95: tuple[float, float] | None = None  # percent; None when --bootstrap 0
    cost_usd: float | None = None  # audio sent (retries included) at the model's price
    price_note: str | None = None  # the price used, or why there is no cost
    #: the board's `compute_rtfx`: every line (chunks merged) has a non-zero duration and
    #: time; when not, its CSV leaves the file's RTFx blank and out of family sums
    board_timed: bool = True
    # what made the numbers, from the run's sidecar (`scoring.runs.PROVENANCE_KEYS`); None
    # for a file without one (read as the board's format)
    provenance: dict | None = None
    # False when the run's sidecar could not say how many samples its dataset has: coverage
    # is then unknown and printed `of ?`, never as 100 % of the lines the file happens to hold
    size_known: bool = True

    @property
    def n_samples(self) -> int:
        return self.n_ok + self.n_skipped + self.n_failed

    @property
    def n_done(self) -> int:
        return self.n_ok + self.n_skipped

    @property
    def total_samples(self) -> int:
        """The dataset size when the caller knows it, else the samples in the file."""
        return max(self.expected_samples or 0, self.n_samples)

    @property
    def coverage(self) -> float:
        """Finished samples over all samples, in percent."""
        return 100 * self.n_done / self.total_samples if self.total_samples else 0.0

    @property
    def wer(self) -> float:
        return self.counts.wer

    @property
    def wer_ok_only(self) -> float:
        return self.counts_ok_only.wer

    @property
    def rtfx(self) -> float | None:
        """Rounded to 4 places before printing, as the leaderboard does."""
        if self.total_time_s <= 0:
            return None
        return round(self.total_audio_s / self.total_time_s, 4)


def _identify(path: Path, model_id: str | None) -> tuple[str, str]:
    parsed = parse_result_name(path)
    if parsed is None:  # e.g. results/<model>/<name>.jsonl
        return model_id or path.parent.name, path.stem
    parsed_model, dataset_id = parsed
    if model_id and f"MODEL_{model_id.replace('/', '-')}_DATASET_" in path.name:
        # the user's spelling: the file name cannot say which "-" was the "/"
        return model_id, dataset_id
    return parsed_model, dataset_id


def score_read_file(
    result: ResultFile,
    *,
    scheme: str = "leaderboard",
    model_id: str | None = None,
    expected_samples: int | None = None,
    language: str | None = None,
) -> FileScore:
    """Score a file already read by `read_result_file`, in `language` ("de", "fr", ...;
    "en" for English), or when None in the language its sidecar or name says."""
    language = detect_language(result.path) if language is None else checked(language)
    rules = get_scheme(scheme, language)
    model, dataset = _identify(result.path, model_id)
    succeeded = [s for s in result.samples if s.status != "failed"]
    failed = [s for s in result.samples if s.status == "failed"]
    norm = rules.normalize
    try:
        counts_ok, errors_ok, words_ok = rules.count(
            [norm(s.reference) for s in succeeded], [norm(s.prediction) for s in succeeded]
        )
        counts_failed, errors_failed, words_failed = rules.count(
            [norm(s.reference) for s in failed], [norm(s.prediction) for s in failed]
        )
    except ValueError as e:  # a malformed reference lattice (OIWER) names its file
        raise ConfigError(f"{result.path}: {e}") from None
    ordered = succeeded + failed
    utterances = Utterances(
        ids=tuple(
            s.sample_id if s.sample_id is not None else f"#{i}" for i, s in enumerate(ordered)
        ),
        errors=np.asarray(errors_ok + errors_failed, dtype=np.int64),
        words=np.asarray(words_ok + words_failed, dtype=np.int64),
        answered=np.arange(len(ordered)) < len(succeeded),
        seconds=np.asarray([s.duration or 0.0 for s in ordered], dtype=np.float64),
        sends=np.asarray(
            [0 if s.status == "skipped_short" else max(1, s.attempts or 1) for s in ordered],
            dtype=np.int64,
        ),
    )
    timed = [
        s for s in result.samples if s.hit_the_api and s.duration is not None and s.time is not None
    ]
    kinds = Counter(s.error_kind or "unknown" for s in failed)
    return FileScore(
        path=result.path,
        model_id=model,
        dataset_id=dataset,
        scheme=scheme,
        counts=counts_ok + counts_failed,
        counts_ok_only=counts_ok,
        n_lines=result.n_lines,
        n_ok=sum(s.status == "ok" for s in succeeded),
        n_skipped=sum(s.status == "skipped_short" for s in succeeded),
        n_failed=len(failed),
        n_superseded=result.n_superseded,
        failures_by_kind=dict(kinds.most_common()),
        total_audio_s=sum(s.duration or 0.0 for s in timed),
        total_time_s=sum(s.time or 0.0 for s in timed),
        ours=any(s.ours for s in result.samples),
        problems=tuple(result.problems),
        expected_samples=expected_samples,
        language=language,
        utterances=utterances,
        board_timed=all(s.duration and s.time for s in result.samples),
    )


def score_file(
    path: str | Path,
    scheme: str = "leaderboard",
    *,
    model_id: str | None = None,
    expected_samples: int | None = None,
    language: str | None = None,
) -> FileScore:
    """Score one results file (what the runner calls at the end of a run).

    `expected_samples` is the dataset size when known, so that coverage counts samples
    that never reached the file. Bad lines are left out and listed in `problems`. The
    language is the file's own (sidecar, else config name, else English) unless given.
    """
    get_scheme(scheme)  # fail on a bad name before reading anything
    file = Path(path)
    if not file.is_file():
        raise ConfigError(
            f"results file {str(path)!r} does not exist: pass the .jsonl file a run wrote"
        )
    if language is not None:
        language = checked(language)  # before reading anything, as the scheme's name
    return score_read_file(
        read_result_file(file),
        scheme=scheme,
        model_id=model_id,
        expected_samples=expected_samples,
        language=language,
    )


@dataclass(frozen=True, slots=True)
class Composite:
    model_id: str
    wer: float  # plain mean of the per-dataset WERs (each already rounded)
    total_audio_s: float
    total_time_s: float
    n_datasets: int
    language: str = ENGLISH
    wer_ci95: tuple[float, float] | None = None  # percent; the mean over resampled datasets
    cost_usd: float | None = None  # summed over its datasets; None if any is unknown

    @property
    def rtfx(self) -> float | None:
        if self.total_time_s <= 0:
            return None
        return self.total_audio_s / self.total_time_s


@dataclass(frozen=True, slots=True)
class ScoreReport:
    directory: Path
    model_filter: str | None
    scheme: str
    files: tuple[FileScore, ...]  # the scored files, in path order
    composites: tuple[Composite, ...]  # one per model, in order of first appearance
    problems: tuple[str, ...]  # every line or file left out, and why
    bootstrap: int = 0  # resamples behind each `wer_ci95` (0: no intervals)
    seed: int = DEFAULT_SEED
    priced: bool = False  # whether `cost_usd` was worked out (the score table's `cost $`)
    explicit_prices: bool = False  # --prices or --price_per_hour given: print the spend
    # how files were read into runs: sweep levels left out, files read as the board's format
    notes: tuple[str, ...] = ()


def composites(files: Sequence[FileScore]) -> tuple[Composite, ...]:
    """One composite per model and language, in order of first appearance: a mean over
    English and German datasets would compare with nothing on the board, whose multilingual
    scripts score each language on its own (a plain mean of that language's WERs)."""
    by_model: dict[tuple[str, str], list[FileScore]] = {}
    for f in files:
        by_model.setdefault((f.model_id, f.language), []).append(f)
    return tuple(
        Composite(
            model_id=model,
            wer=sum(f.wer for f in scored) / len(scored),
            total_audio_s=sum(f.total_audio_s for f in scored),
            total_time_s=sum(f.total_time_s for f in scored),
            n_datasets=len(scored),
            language=language,
        )
        for (model, language), scored in by_model.items()
    )


def _score_path(
    group: tuple[Path, ...], scheme: str, model_id: str | None
) -> tuple[FileScore | None, list[str]]:
    """Read and score one file, or the shard files of one split as one: (its score, or None
    when nothing in it can be scored; the problems found). Runs in a worker process when
    scoring in parallel."""
    result = read_result_files(group)
    path = ", ".join(map(str, group))
    problems = list(result.problems)
    if not result.samples:
        what = "is empty" if not result.n_lines else "has no line that can be scored"
        problems.append(f"{path}: {what}; file left out of the scores")
        return None, problems
    try:
        language = detect_language(group[0])
    except ConfigError as e:
        problems.append(f"{e}; file left out of the scores")
        return None, problems
    return score_read_file(result, scheme=scheme, model_id=model_id, language=language), problems


# Below this much JSON, starting worker processes costs more than it saves.
PARALLEL_MIN_BYTES = 4_000_000


def _size(group: tuple[Path, ...]) -> int:
    return sum(p.stat().st_size for p in group)


def _worker_count(paths: Sequence[tuple[Path, ...]], workers: int | None) -> int:
    if workers is not None:
        return max(1, min(workers, len(paths)))
    if sum(_size(p) for p in paths) < PARALLEL_MIN_BYTES:
        return 1
    return max(1, min(os.cpu_count() or 1, len(paths)))


def _score_paths(
    paths: Sequence[tuple[Path, ...]], scheme: str, model_id: str | None, workers: int
) -> list[tuple[FileScore | None, list[str]]]:
    """Score files one per process (the work is pure Python, so threads would not help),
    biggest first so that a large dataset does not start last; results in `paths` order."""
    if workers == 1:
        return [_score_path(p, scheme, model_id) for p in paths]
    biggest_first = sorted(paths, key=_size, reverse=True)
    # "spawn": a fork of a process with threads (a run that scores at its end) can hang
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        futures = {p: pool.submit(_score_path, p, scheme, model_id) for p in biggest_first}
        return [futures[p].result() for p in paths]


def find_runs(
    directory: str | Path, model_id: str | None = None, run: str | None = None
) -> tuple[list[Run], list[str]]:
    """The runs under `directory` that make a model's table (see `scoring.runs`), and notes
    on what was left out or read as the board's format."""
    root = Path(directory)
    groups, notes = without_sweeps(root, group_shards(find_result_files(directory, model_id)))
    if not groups:
        raise ConfigError(f"only sweep levels under {str(directory)!r}: " + "; ".join(notes))
    runs = choose(runs_of(groups), lambda r: _identify(r.files[0], model_id), run)
    for r in runs:
        if not r.has_sidecar and _ours(r.files[0]):
            notes.append(
                f"{r.label}: no .meta.json sidecar; read as the board's format (coverage "
                "counted from its own lines)"
            )
        elif r.has_sidecar and not r.records_size:
            notes.append(
                f"{r.label}: its sidecar is from before dataset sizes were recorded; coverage "
                "counted from its own lines"
            )
    return runs, notes


def _ours(path: Path) -> bool:
    """Whether the first line of `path` is one of asyncbench's (it has a `status`)."""
    try:
        with path.open("rb") as f:
            return b'"status"' in f.readline()
    except OSError:
        return False


def collect_scores(
    directory: str | Path,
    model_id: str | None = None,
    *,
    scheme: str = "leaderboard",
    workers: int | None = None,
    bootstrap: int = 0,
    seed: int = DEFAULT_SEED,
    prices: str | Path | None = None,
    price_per_hour: float | None = None,
    priced: bool = False,
    run: str | None = None,
) -> ScoreReport:
    """Score every results file under `directory` (optionally one model's) without
    printing anything. A file with no scorable line is left out and named in `problems`.
    Large sets of files are scored in parallel, one process per CPU unless `workers` says
    otherwise (1 = in this process). `bootstrap` resamples (0: none) give each dataset and
    composite a seeded 95 % interval (`bootstrap.py`). `priced` (or a price file or
    hourly price) adds the spend: audio sent, retries included, at each model's price.
    Files are grouped into runs by their sidecars (`scoring.runs`): sweep levels are left
    out, and several runs of one model and dataset need `run` (a path) to choose one."""
    get_scheme(scheme)
    priced = priced or prices is not None or price_per_hour is not None
    if priced:  # a bad price file fails before anything is read
        from asyncbench.core.prices import load_prices, price_for

        if price_per_hour is not None:
            price_for("any/model", price_per_hour=price_per_hour)  # checks the number
        table = None if price_per_hour is not None else load_prices(prices)
    if bootstrap < 0:
        raise ConfigError(f"--bootstrap must be 0 (off) or a number of resamples, got {bootstrap}")
    runs, notes = find_runs(directory, model_id, run)
    paths = [r.files for r in runs]
    outcomes = _score_paths(paths, scheme, model_id, _worker_count(paths, workers))
    scored = [
        replace(
            score,
            expected_samples=r.expected_samples(),
            provenance=r.provenance(),
            size_known=r.size_known,
        )
        for r, (score, _) in zip(runs, outcomes, strict=True)
        if score is not None
    ]
    problems = [problem for _, found in outcomes for problem in found]
    if not scored:
        raise ConfigError(
            f"none of the results files under {str(directory)!r} has a line that can be "
            "scored: " + "; ".join(problems[-3:])
        )
    means = composites(scored)
    if priced:
        scored, means = with_costs(
            scored,
            means,
            lambda model: (
                price_for(model, price_per_hour=price_per_hour)
                if table is None
                else table.lookup(model)
            ),
        )
    if bootstrap:
        scored, means = with_intervals(scored, means, bootstrap, seed)
    return ScoreReport(
        directory=Path(directory),
        model_filter=model_id or None,
        scheme=scheme,
        files=tuple(scored),
        composites=tuple(means),
        problems=tuple(problems),
        bootstrap=bootstrap,
        seed=seed,
        priced=priced,
        explicit_prices=prices is not None or price_per_hour is not None,
        notes=tuple(notes),
    )


def with_costs(
    files: Sequence[FileScore], means: Sequence[Composite], lookup: Callable
) -> tuple[list[FileScore], list[Composite]]:
    """Each file's spend (`core.prices.cost_of` over the audio it sent, as often as it was
    sent) and each composite's sum, or None with the reason where no price is known."""
    from asyncbench.core.prices import cost_of, describe_missing

    out: list[FileScore] = []
    for f in files:
        price = lookup(f.model_id)
        u = f.utterances
        cost = None
        if u is not None and u.seconds is not None and u.sends is not None:
            cost = cost_of(price, zip(u.seconds.tolist(), u.sends.tolist(), strict=True))
        note = price.describe() if price is not None and price.known else None
        out.append(
            replace(f, cost_usd=cost, price_note=note or describe_missing(f.model_id, price))
        )
    totals: list[Composite] = []
    for c in means:
        costs = [f.cost_usd for f in out if f.model_id == c.model_id and f.language == c.language]
        known = bool(costs) and all(x is not None for x in costs)
        totals.append(replace(c, cost_usd=sum(costs) if known else None))  # type: ignore[arg-type]
    return out, totals


def with_intervals(
    files: Sequence[FileScore], means: Sequence[Composite], resamples: int, seed: int
) -> tuple[list[FileScore], list[Composite]]:
    """The files and composites with their 95 % bootstrap intervals. A dataset's interval
    resamples its utterances; a composite's resamples every one of its datasets at once
    (stratified) and takes the plain mean of their resampled WERs, as the composite does."""
    rates: dict[int, np.ndarray] = {}
    out: list[FileScore] = []
    for i, f in enumerate(files):
        if f.utterances is None:
            out.append(f)
            continue
        rng = rng_for(seed, f"{f.model_id}|{f.dataset_id}")
        rates[i] = resampled_rates(f.utterances.errors, f.utterances.words, resamples, rng)
        out.append(replace(f, wer_ci95=percentile_ci(rates[i])))
    with_ci: list[Composite] = []
    for c in means:
        members = [
            rates.get(i)
            for i, f in enumerate(files)
            if f.model_id == c.model_id and f.language == c.language
        ]
        if members and all(m is not None for m in members):
            c = replace(c, wer_ci95=percentile_ci(np.mean(np.vstack(members), axis=0)))
        with_ci.append(c)
    return out, with_ci
