"""`asyncbench batch`: every model × a suite's splits (the seed's 8 by default), in one process.

What the seed's `run_api.sh` does with one `run_eval.py` process per split, done in sequence
in one process, with one summary at the end. Each model gets its provider's default
concurrency (`Provider.default_concurrency`, the seed's per-provider numbers) unless
`--max_workers` says otherwise, and `--aldea_endpoints` goes to `aldea/*` models only.

Resumable as a whole: a split whose last run went through every sample and left nothing
failed has `"complete": true` in its `.summary.json`, and is skipped at once on the next run
(without opening the dataset); any other split is run again, which resumes its results file
sample by sample. A split that cannot run (a missing key, a missing config) is reported and
the batch goes on; Ctrl-C or SIGTERM stops the batch after the current split's grace period.

`--suite NAME` picks the entries from the registry (`asyncbench.sources.suites`): each entry
brings its own dataset path, language and, for chunked sets, the parent of its references.
`--dataset_path` replaces the suite's own path (entries with a path of their own keep it),
and `--data_root` reads every hub id from a local copy while results keep the hub's names.
"""

from __future__ import annotations

import inspect
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from asyncbench.core import exit_codes
from asyncbench.core.errors import ConfigError
from asyncbench.core.numbers import is_count, is_number
from asyncbench.core.text import check_model_name, lines, one_line
from asyncbench.sources.suites import (
    DEFAULT_SUITE,
    SUITES,
    SuiteEntry,
    pinned_revision,
    select,
    suite_for,
)

if TYPE_CHECKING:
    from asyncbench.runs.runner import RunConfig
    from asyncbench.scoring.score import ScoreReport

#: the seed's 8 English test splits, in its order: (config, split) of the `esb` suite
ESB_SPLITS: tuple[tuple[str, str], ...] = tuple(
    (e.config, e.split) for e in SUITES[DEFAULT_SUITE].entries
)


def parse_datasets(spec: str | None) -> list[tuple[str, str]]:
    """`"ami librispeech:test.clean"` → those splits of the seed's 8, in its order
    (`asyncbench.sources.suites.select` on the `esb` suite)."""
    return [(e.config, e.split) for e in select(SUITES[DEFAULT_SUITE], spec)]


@dataclass(slots=True)
class SplitOutcome:
    model: str
    config: str
    split: str
    # "done" | "skipped" | "error" | "not started" | "interrupted" ("pending" until it ends)
    status: str
    results: Path
    summary: dict[str, Any] | None = None
    error: str | None = None
    # the summary beside the results file when the batch began (an earlier run's): a run
    # that ends in an error before writing its own must not be shown with it
    before: dict[str, Any] | None = None


def check_languages(
    models: Sequence[str], entries: Sequence[SuiteEntry | tuple[str, str]], base: RunConfig
) -> None:
    """Every model × entry's language (and `--stream`, and the price `--budget_usd` needs),
    resolved and checked before the first run: a bad `--language`, one a model does not list,
    a model that cannot stream or has no known price under a budget, is exit 2 at once, not
    an error found run after run. A model whose prefix is unknown is
    left to the batch (not started)."""
    from asyncbench.core.languages import resolve as resolve_language
    from asyncbench.providers import resolve
    from asyncbench.sources.parquet_split import card_language

    for entry in entries:
        cfg = entry_config(base, entry)
        code = resolve_language(cfg.dataset, cfg.language or card_language(cfg.dataset_path))
        for model in models:
            try:
                provider_cls, variant = resolve(model)
            except ConfigError:
                continue
            provider_cls.check_language(variant, code)
            if base.stream:  # a model that cannot stream: one line, not an error per split
                provider_cls.check_stream(variant, model.split("/", 1)[0])
    from asyncbench.runs.budget import check_price

    for model in models:  # a budget for a model of unknown price: likewise
        try:
            resolve(model)
        except ConfigError:
            continue
        check_price(model, base.budget_usd, base.prices, base.price_per_hour)


def default_workers(model_name: str) -> int:
    """The provider's own default concurrency (groq 8, elevenlabs 5, assembly 200, ...)."""
    from asyncbench.providers import resolve

    provider_cls, _ = resolve(model_name)
    return provider_cls.default_concurrency


def is_complete(
    summary: dict[str, Any] | None,
    max_samples: int | None,
    results: Path,
    cfg: RunConfig | None = None,
) -> bool:
    """A previous run covered what this one asks for: it was complete, its results file is
    still there, it took at least as many samples (all of them, or N >= this N), and its
    sidecar names this run (`cfg`): a split read at another `--revision` is not done, and is
    left to the run, which refuses the file with the sidecar's one line."""
    if not summary or not summary.get("complete") or not results.is_file():
        return False
    before = summary.get("max_samples")
    if before is not None and not is_count(before):
        return False  # not a figure this tool wrote: the run decides what is done
    if not (before is None or (max_samples is not None and before >= max_samples)):
        return False
    if cfg is not None:
        from asyncbench.results import manifest
        from asyncbench.runs.runner import run_identity

        try:
            manifest.check(results, run_identity(cfg))
        except ConfigError:
            return False
    return True


def entry_config(base: RunConfig, entry: SuiteEntry | tuple[str, str]) -> RunConfig:
    """The run of one suite entry: its config, split, own path, parent and language."""
    if not isinstance(entry, SuiteEntry):
        entry = SuiteEntry(*entry)
    dataset_path = entry.dataset_path(base.dataset_path)
    return replace(
        base,
        dataset=entry.config,
        split=entry.split,
        dataset_path=dataset_path,
        parent_dataset_path=(base.parent_dataset_path or entry.parent_path)
        if entry.parent_path
        else None,
        language=base.language or entry.language,
        # --revision for every entry, else the commit the board reads that repository at
        revision=base.revision or pinned_revision(dataset_path),
    )


def check_local_copies(base: RunConfig, entries: Iterable[SuiteEntry]) -> None:
    """With `--data_root`, every dataset the batch reads must be there before any run."""
    from asyncbench.sources.suites import local_copy

    if not base.data_root:
        return
    for entry in entries:
        cfg = entry_config(base, entry)
        try:
            local_copy(cfg.dataset_path, cfg.data_root)
            if cfg.parent_dataset_path:
                local_copy(cfg.parent_dataset_path, cfg.data_root, what="parent dataset")
        except ConfigError as exc:
            raise ConfigError(f"{entry.config}/{entry.split}: {exc}") from None


def run_batch(
    models: Sequence[str],
    splits: Iterable[SuiteEntry | tuple[str, str]],
    base: RunConfig,  # every field but model, dataset, split and max_workers
    *,
    max_workers: int | None = None,
    sequential: bool = False,
    max_runs: int | None = None,
    sharded: tuple[int, Any] | None = None,  # (shards, executor): runs/sharded.py
    ledger: Any = None,  # the command's runs/ledger.Ledger (None: one for this batch)
) -> tuple[list[SplitOutcome], int]:
    """Run every model on every split (suite entry); (outcomes, exit code).

    By default every run goes at once in one event loop, each provider at its own budget
    (runs/scheduler.py); `sequential` runs them one after another, as the seed's script did."""
    from asyncbench.reporting.summary import read_summary
    from asyncbench.runs.runner import results_path

    splits = list(splits)
    check_languages(models, splits, base)
    outcomes: list[SplitOutcome] = []
    todo: list[tuple[SplitOutcome, RunConfig]] = []
    err = sys.stderr
    for model in models:
        aldea = model.split("/", 1)[0] == "aldea"
        try:
            workers = max_workers or default_workers(model)
        except ConfigError as exc:  # an unknown prefix: this model's runs only
            print(f"error: {one_line(model)}: {lines(exc)}", file=err)
            for entry in splits:
                cfg = entry_config(base, entry)
                outcomes.append(
                    SplitOutcome(
                        model,
                        cfg.dataset or cfg.dataset_path,  # a set of its own repository
                        cfg.split,
                        "not started",
                        base.results_dir,
                        error=str(exc),
                    )
                )
            continue
        for entry in splits:
            cfg = replace(
                entry_config(base, entry),
                model_name=model,
                max_workers=workers,
                aldea_endpoints=base.aldea_endpoints if aldea else None,
            )
            # shown as config/split; a set of its own repository (no config) by its path
            config, split = cfg.dataset or cfg.dataset_path, cfg.split
            path = results_path(cfg)
            previous = read_summary(path)
            if is_complete(previous, cfg.max_samples, path, cfg):
                print(
                    one_line(f"== {model} {config}/{split}: complete in {path}, skipped"), file=err
                )
                outcomes.append(SplitOutcome(model, config, split, "skipped", path, previous))
                continue
            outcome = SplitOutcome(model, config, split, "pending", path, before=previous)
            outcomes.append(outcome)
            todo.append((outcome, cfg))
    from asyncbench.runs.ledger import Ledger

    if ledger is None:
        ledger = Ledger.for_config(base)  # the batch's one budget and job ledger
    if sharded is not None:
        code = _run_sharded(todo, *sharded, ledger)
    else:
        code = _run_in_turn(todo, ledger) if sequential else _run_at_once(todo, max_runs, ledger)
    if code in (130, 143):
        print(
            "batch interrupted: rerun the same command to resume; finished splits are skipped",
            file=err,
        )
        return [o for o in outcomes if o.status != "pending"], code
    for outcome in outcomes:
        if outcome.status == "pending":  # never started: the budget was spent first
            outcome.status = "budget"
    broken = any(o.status in ("error", "not started") for o in outcomes)
    return outcomes, exit_codes.most_serious([code, exit_codes.ERROR if broken else 0])


def _settle(outcome: SplitOutcome, result: int | BaseException) -> int:
    """Record how a run ended; its exit code (0 for an error, which the batch reports)."""
    from asyncbench.reporting.summary import read_summary

    if isinstance(result, BaseException):
        from asyncbench.runs.runner import NotStarted

        why = str(result)
        if not isinstance(result, ConfigError):
            why = f"{type(result).__name__}: {why}"
        print(
            lines(f"error: {outcome.model} {outcome.config}/{outcome.split}: {why}"),
            file=sys.stderr,
        )
        outcome.status = "not started" if isinstance(result, NotStarted) else "error"
        outcome.error = why
        # a run that never started wrote nothing: a file there is another run's (its sidecar
        # said so), whose figures are not this batch's; nor are those of a summary the run
        # did not get to write (its viewer was down), left there by an earlier run
        summary = None if outcome.status == "not started" else read_summary(outcome.results)
        outcome.summary = None if summary == outcome.before else summary
        return 0
    outcome.summary = read_summary(outcome.results)
    outcome.status = run_status(result)
    return result


def run_status(code: int) -> str:
    """How a run that returned `code` ended, as a batch's table and a sweep's levels say it:
    a run stopped early (Ctrl-C, a stall, the budget) is not `done`, whatever it wrote."""
    return {
        exit_codes.INTERRUPTED: "interrupted",
        exit_codes.TERMINATED: "interrupted",
        exit_codes.STALLED: "stalled",
        exit_codes.BUDGET: "budget",
    }.get(code, "done")


def announce(cfg: RunConfig) -> None:
    print(
        one_line(
            f"== {cfg.model_name} {cfg.dataset or cfg.dataset_path}/{cfg.split} with "
            f"{cfg.max_workers} requests in flight"
        ),
        file=sys.stderr,
    )


def _run_in_turn(todo: Sequence[tuple[SplitOutcome, RunConfig]], ledger: Any) -> int:
    from asyncbench.runs.runner import run

    codes: list[int] = []
    for outcome, cfg in todo:
        if ledger.stopped:  # the budget is spent: no further split starts
            break
        announce(cfg)
        try:
            result: int | BaseException = run(cfg, ledger)
        except ConfigError as exc:
            result = exc
        code = _settle(outcome, result)
        if code in (130, 143):
            return code
        codes.append(code)
    return exit_codes.most_serious(codes)


def _run_at_once(
    todo: Sequence[tuple[SplitOutcome, RunConfig]], max_runs: int | None, ledger: Any
) -> int:
    from asyncbench.runs.scheduler import run_all

    results = run_all([cfg for _, cfg in todo], ledger, max_runs=max_runs, announce=announce)
    codes = [_settle(outcome, result) for (outcome, _), result in zip(todo, results, strict=True)]
    return exit_codes.most_serious(codes)


def _run_sharded(
    todo: Sequence[tuple[SplitOutcome, RunConfig]], shards: int, executor: Any, ledger: Any
) -> int:
    """`--ray` / `--processes`: every run cut into shards on other processes or nodes."""
    from asyncbench.runs.sharded import run_all_sharded

    results = run_all_sharded([cfg for _, cfg in todo], shards, executor, ledger, announce=announce)
    codes = [_settle(outcome, result) for (outcome, _), result in zip(todo, results, strict=True)]
    return exit_codes.most_serious(codes)


def _fmt(value: object, spec: str) -> str:
    """A figure from a summary: "-" when absent; a non-number where one belongs (a summary
    someone edited, in a folder from elsewhere) shown as visible text, never formatted."""
    if value is None:
        return "-"
    if not is_number(value) or (spec == "d" and not is_count(value)):
        return one_line(value, 20)
    return format(value, spec)


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def batch_table(outcomes: Sequence[SplitOutcome], wall_s: float) -> list[str]:
    """One line per split: what happened, how many samples, how fast, WER. Text columns are
    as wide as their longest entry, so the usual table fits 80 columns without wrapping."""
    rows = []
    for o in outcomes:
        s = _mapping(o.summary)
        wer = _mapping(s.get("wer"))
        rows.append(
            (
                one_line(o.model, 60),
                one_line(f"{o.config}/{o.split}", 60),
                o.status,
                _fmt(wer.get("samples"), "d"),
                _fmt(wer.get("failed"), "d"),
                _fmt(s.get("wall_s"), ".1f"),
                _fmt(_mapping(s.get("rtfx")).get("throughput"), ".2f"),
                _fmt(wer.get("wer"), ".2f"),
            )
        )
    head = ("model", "split", "status", "samples", "failed", "wall s", "thr RTFx", "WER %")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]

    def line(cells: Sequence[str]) -> str:
        return " ".join(
            f"{c:<{w}}" if i < 3 else f"{c:>{w}}"
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    lines = [
        f"batch: {len(outcomes)} splits in {wall_s:.1f} s "
        "(throughput RTFx = audio ÷ wall clock of the split's last run)",
        line(head),
    ]
    for o, row in zip(outcomes, rows, strict=True):
        lines.append(line(row))
        if o.error:
            lines.append(f"    error: {one_line(o.error, 400)}")
    return lines


def score_outcomes(
    outcomes: Sequence[SplitOutcome], results_dir: Path, models: Sequence[str]
) -> ScoreReport | None:
    """The seed's score table over the results files of this batch (not every file that
    happens to sit in the results folder), or None when no file has a line yet."""
    from asyncbench.scoring.score import ScoreReport, composites, score_file

    files = [
        score_file(o.results)
        for o in outcomes
        if o.results.is_file() and o.status != "not started"  # another run's file, if any
    ]
    files = [f for f in files if f.n_samples]
    if not files:
        return None
    return ScoreReport(
        directory=results_dir,
        model_filter=models[0] if len(models) == 1 else None,
        scheme="leaderboard",
        files=tuple(files),
        composites=composites(files),
        problems=tuple(p for f in files for p in f.problems),
    )


def batch(
    models: Sequence[str],
    splits: Sequence[SuiteEntry | tuple[str, str]],
    base: RunConfig,
    **kw: Any,
) -> int:
    """Run, then print the batch table (stderr) and the score table (stdout)."""
    from asyncbench.runs.ledger import Ledger, close_command
    from asyncbench.scoring.table import print_report

    started = time.monotonic()
    ledger = Ledger.for_config(base)
    outcomes, code = run_batch(models, splits, base, ledger=ledger, **kw)
    for line in batch_table(outcomes, time.monotonic() - started):
        print(line, file=sys.stderr)
    report = score_outcomes(outcomes, base.results_dir, models)
    if report is not None:
        print_report(report)
    for line in batch_errors(outcomes):
        print(line, file=sys.stderr)
    code = close_command(ledger, code)  # the spend lines; a budget stop explains a shortfall
    if code == exit_codes.SHORT:
        short = sum(1 for o in outcomes if _short(o))
        print(
            f"error: {short} of {len(outcomes)} splits have samples failed or never written: "
            f"exit {exit_codes.SHORT}; rerun the same command to retry them, or allow some "
            "with --max_failed_pct X",
            file=sys.stderr,
        )
    return code


def _short(outcome: SplitOutcome) -> bool:
    from asyncbench.runs.verdict import short_percent

    return outcome.status == "done" and short_percent(outcome.summary or {})[2] > 0


def batch_errors(outcomes: Sequence[SplitOutcome]) -> list[str]:
    """The most frequent failure messages over the batch's runs, with their model (each
    run's summary counted them: `errors_top`)."""
    from asyncbench.results.errors_top import TOP, errors_lines

    counts: dict[str, int] = {}
    for o in outcomes:
        top = _mapping(o.summary).get("errors_top")
        for entry in top if isinstance(top, list) else []:
            # an entry of another shape (a summary someone edited) says nothing countable
            count = entry.get("count") if isinstance(entry, dict) else None
            if not is_count(count):
                continue
            message = str(entry.get("message", ""))
            if message.startswith("("):  # a run's "(N other messages)" line
                continue
            label = f"{o.model}: {message}"
            counts[label] = counts.get(label, 0) + count
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    lines = errors_lines([{"count": n, "message": m} for m, n in ranked[:TOP]])
    if len(ranked) > TOP:
        lines.append(f"  ... and {len(ranked) - TOP} other messages (each run's summary lists its)")
    return lines


def sharded_plan(
    ray_address: str | None, shards: int | None, processes: int, sequential: bool
) -> tuple[int, Any] | None:
    """Check `--ray`, `--shards` and `--processes` together; (shards, executor) for
    `--processes N` (a Ray executor is made once the cluster is joined), else None."""
    if shards is not None and shards < 1:
        raise ConfigError(f"--shards must be at least 1 (got {shards})")
    if processes < 1:
        raise ConfigError(f"--processes must be at least 1 (got {processes})")
    if ray_address is not None and processes > 1:
        raise ConfigError("--ray and --processes both split the runs: use one of them")
    if shards is not None and ray_address is None:
        raise ConfigError("--shards goes with --ray (use --processes N on one machine)")
    if sequential and (ray_address is not None or processes > 1):
        raise ConfigError("--sequential runs one thing at a time: leave out --ray/--processes")
    if processes > 1:
        from asyncbench.runs.procs import ProcessExecutor

        return processes, ProcessExecutor()
    return None


def ray_flag_default(args: list[str]) -> list[str]:
    """`batch --ray` with no address means `--ray auto` (the option takes a value)."""
    out = []
    for i, arg in enumerate(args):
        out.append(arg)
        if arg == "--ray" and (i + 1 == len(args) or args[i + 1].startswith("-")):
            out.append("auto")
    return out


def make_batch_command(run_command: Callable[..., None]) -> Callable[..., None]:
    """`batch` takes `run`'s options but the model, dataset, split and shard: `--model`
    (repeated), `--suite`, `--datasets` and an optional `--max_workers` instead."""
    from asyncbench.cli.derive import like_run
    from asyncbench.cli.run import DEFAULT_DATASET_PATH, run_config

    own = [
        (
            "model",
            list[str],
            inspect.Parameter.empty,
            ("--model", "--model_name"),
            "PROVIDER/MODEL to benchmark; repeat for several (run_api.sh passes MODEL_IDs)",
        ),
        (
            "datasets",
            str | None,
            None,
            ("--datasets",),
            "Subset of the suite's splits, space/comma-separated, by name or config: for esb "
            "ami earnings22 gigaspeech librispeech (both splits) librispeech:test.clean "
            "spgispeech tedlium voxpopuli (asyncbench suites lists every suite's)",
        ),
        (
            "suite",
            str | None,
            None,
            ("--suite",),
            f"Which suite: {', '.join(SUITES)} (default {DEFAULT_SUITE}, the seed's 8 splits)",
        ),
        (
            "sequential",
            bool,
            False,
            ("--sequential",),
            "One run at a time, in order (the seed's way); default: every model and split at "
            "once, each provider at its own concurrency",
        ),
        (
            "max_runs",
            int | None,
            None,
            ("--max_runs", "--max-runs"),
            (
                "At most this many runs at once, a provider's next split started early "
                "included (default: no cap)"
            ),
        ),
        (
            "max_workers",
            int | None,
            None,
            ("--max_workers", "--max-workers"),
            "Requests in flight (default: the provider's: groq 8, elevenlabs 5, assembly "
            "200, deepgram 50, speechmatics 30, speechmatics-rt 15, aldea 160, others 20)",
        ),
        (
            "ray",
            str | None,
            None,
            ("--ray",),
            "Run the batch on a Ray cluster: --ray alone or --ray auto joins the running one, "
            "--ray HOST:PORT that head, --ray local starts one here; each run is cut into "
            "--shards by the --shard id hash, this process writes every results file "
            "(needs pip install 'asyncbench[ray]')",
        ),
        (
            "shards",
            int | None,
            None,
            ("--shards",),
            "With --ray: shards per run, each a Ray task with its share of the provider's "
            "concurrency (default: the cluster's CPUs)",
        ),
    ]

    @like_run(
        run_command,
        drop=("model_name", "dataset", "split", "max_workers", "shard", "fail_if"),
        own=own,
    )
    def batch_command(**options: Any) -> None:
        """Every model × the 8 leaderboard splits in one process; resumable as a whole."""
        models, max_workers = options.pop("model"), options.pop("max_workers")
        for model in models:  # printed on every line of its runs and named in their files
            check_model_name("--model", model)
        sequential, max_runs = options.pop("sequential"), options.pop("max_runs")
        ray_address, shards = options.pop("ray"), options.pop("shards")
        given = options["dataset_path"] if options["dataset_path"] != DEFAULT_DATASET_PATH else None
        suite = suite_for(options.pop("suite"), given)  # your own folder: its own splits
        splits = select(suite, options.pop("datasets"))
        if max_workers is not None and max_workers < 1:
            raise ConfigError(f"--max_workers must be at least 1 (got {max_workers})")
        if max_runs is not None and max_runs < 1:
            raise ConfigError(f"--max_runs must be at least 1 (got {max_runs})")
        if sequential and max_runs is not None:
            raise ConfigError("--sequential runs one at a time: leave out --max_runs")
        sharded = sharded_plan(ray_address, shards, options.get("processes", 1), sequential)
        if options["dataset_path"] == DEFAULT_DATASET_PATH:  # not given: the suite's own
            options["dataset_path"] = suite.path
        base = run_config(
            {**options, "model_name": models[0], "dataset": "", "split": "test"}
            | {"max_workers": max_workers or 1, "shard": None, "processes": 1}
        )
        base.validate()
        check_local_copies(base, splits)
        if ray_address is not None:  # joined last: every other check has passed
            from asyncbench.runs.ray_exec import RayExecutor, connect

            cpus = connect(ray_address)
            sharded = (shards or cpus, RayExecutor(cpus))
        code = batch(
            models,
            splits,
            base,
            max_workers=max_workers,
            sequential=sequential,
            max_runs=max_runs,
            sharded=sharded,
        )
        if code:
            raise typer.Exit(code)

    return batch_command
