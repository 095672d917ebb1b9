"""`asyncbench batch`: every model × the 8 Open ASR Leaderboard English splits, in one process.

What the seed's `run_api.sh` does with one `run_eval.py` process per split, done in sequence
in one process, with one summary at the end. Each model gets its provider's default
concurrency (`Provider.default_concurrency`, the seed's per-provider numbers) unless
`--max_workers` says otherwise, and `--aldea_endpoints` goes to `aldea/*` models only.

Resumable as a whole: a split whose last run went through every sample and left nothing
failed has `"complete": true` in its `.summary.json`, and is skipped at once on the next run
(without opening the dataset); any other split is run again, which resumes its results file
sample by sample. A split that cannot run (a missing key, a missing config) is reported and
the batch goes on; Ctrl-C or SIGTERM stops the batch after the current split's grace period.
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

from asyncbench.core.errors import ConfigError

if TYPE_CHECKING:
    from asyncbench.runs.runner import RunConfig
    from asyncbench.scoring.score import ScoreReport

#: the leaderboard's 8 English test splits, in the seed's order: (config, split)
ESB_SPLITS: tuple[tuple[str, str], ...] = (
    ("ami", "test"),
    ("earnings22", "test"),
    ("gigaspeech", "test"),
    ("librispeech", "test.clean"),
    ("librispeech", "test.other"),
    ("spgispeech", "test"),
    ("tedlium", "test"),
    ("voxpopuli", "test"),
)


def parse_datasets(spec: str | None) -> list[tuple[str, str]]:
    """`"ami librispeech:test.clean"` → those splits, in the leaderboard's order.

    Entries are separated by spaces or commas; a bare config takes all of its splits
    (`librispeech` is test.clean and test.other), `config:split` or `config/split` one."""
    if spec is None or not spec.strip():
        return list(ESB_SPLITS)
    from asyncbench.core.endpoint_spec import split_list

    names = ", ".join(dict.fromkeys(c for c, _ in ESB_SPLITS))
    chosen: set[tuple[str, str]] = set()
    for item in split_list(spec):
        config, sep, split = item.replace("/", ":").partition(":")
        matches = [(c, s) for c, s in ESB_SPLITS if c == config and (not sep or s == split)]
        if not matches:
            known = [s for c, s in ESB_SPLITS if c == config]
            hint = (
                f"{config} has split(s) {', '.join(known)}"
                if known
                else f"the 8 splits are of {names}"
            )
            raise ConfigError(f"unknown dataset {item!r} in DATASETS/--datasets; {hint}")
        chosen.update(matches)
    return [s for s in ESB_SPLITS if s in chosen]


@dataclass(slots=True)
class SplitOutcome:
    model: str
    config: str
    split: str
    status: str  # "done" | "skipped" | "error" | "interrupted"
    results: Path
    summary: dict[str, Any] | None = None
    error: str | None = None


def default_workers(model_name: str) -> int:
    """The provider's own default concurrency (groq 8, elevenlabs 5, assembly 200, ...)."""
    from asyncbench.providers import resolve

    provider_cls, _ = resolve(model_name)
    return provider_cls.default_concurrency


def is_complete(summary: dict[str, Any] | None, max_samples: int | None, results: Path) -> bool:
    """A previous run covered what this one asks for: it was complete, its results file is
    still there, and it took at least as many samples (all of them, or N >= this N)."""
    if not summary or not summary.get("complete") or not results.is_file():
        return False
    before = summary.get("max_samples")
    return before is None or (max_samples is not None and before >= max_samples)


def run_batch(
    models: Sequence[str],
    splits: Iterable[tuple[str, str]],
    base: RunConfig,  # every field but model, dataset, split and max_workers
    *,
    max_workers: int | None = None,
) -> tuple[list[SplitOutcome], int]:
    """Run every model on every split, in sequence; (outcomes, exit code)."""
    from asyncbench.reporting.summary import read_summary
    from asyncbench.runs.runner import results_path, run

    splits = list(splits)
    defaults = {m: default_workers(m) for m in models}  # a bad prefix: exit 2 before any run
    workers = {m: max_workers or defaults[m] for m in models}
    outcomes: list[SplitOutcome] = []
    err = sys.stderr
    for model in models:
        aldea = model.split("/", 1)[0] == "aldea"
        for config, split in splits:
            cfg = replace(
                base,
                model_name=model,
                dataset=config,
                split=split,
                max_workers=workers[model],
                aldea_endpoints=base.aldea_endpoints if aldea else None,
            )
            path = results_path(cfg)
            previous = read_summary(path)
            if is_complete(previous, cfg.max_samples, path):
                print(f"== {model} {config}/{split}: complete in {path}, skipped", file=err)
                outcomes.append(SplitOutcome(model, config, split, "skipped", path, previous))
                continue
            print(
                f"== {model} {config}/{split} with {cfg.max_workers} requests in flight", file=err
            )
            try:
                code = run(cfg)
            except ConfigError as exc:
                print(f"error: {exc}", file=err)
                outcomes.append(SplitOutcome(model, config, split, "error", path, error=str(exc)))
                continue
            summary = read_summary(path)
            if code in (130, 143):
                outcomes.append(SplitOutcome(model, config, split, "interrupted", path, summary))
                print(
                    "batch interrupted: rerun the same command to resume; finished splits are "
                    "skipped",
                    file=err,
                )
                return outcomes, code
            outcomes.append(SplitOutcome(model, config, split, "done", path, summary))
    return outcomes, 1 if any(o.status == "error" for o in outcomes) else 0


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def batch_table(outcomes: Sequence[SplitOutcome], wall_s: float) -> list[str]:
    """One line per split: what happened, how many samples, how fast, WER."""
    lines = [
        f"batch: {len(outcomes)} splits in {wall_s:.1f} s "
        "(throughput RTFx = audio ÷ wall clock of the split's last run)",
        f"{'model':<24} {'split':<24} {'status':<11} {'samples':>7} {'failed':>6} "
        f"{'wall s':>8} {'thr RTFx':>9} {'WER %':>7}",
    ]
    for o in outcomes:
        s = o.summary or {}
        wer = s.get("wer") or {}
        lines.append(
            f"{o.model:<24} {o.config + '/' + o.split:<24} {o.status:<11} "
            f"{_fmt(wer.get('samples'), 'd'):>7} {_fmt(wer.get('failed'), 'd'):>6} "
            f"{_fmt(s.get('wall_s'), '.1f'):>8} "
            f"{_fmt((s.get('rtfx') or {}).get('throughput'), '.2f'):>9} "
            f"{_fmt(wer.get('wer'), '.2f'):>7}"
        )
        if o.error:
            lines.append(f"    error: {o.error}")
    return lines


def score_outcomes(
    outcomes: Sequence[SplitOutcome], results_dir: Path, models: Sequence[str]
) -> ScoreReport | None:
    """The seed's score table over the results files of this batch (not every file that
    happens to sit in the results folder), or None when no file has a line yet."""
    from asyncbench.scoring.score import ScoreReport, composites, score_file

    files = [score_file(o.results) for o in outcomes if o.results.is_file()]
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
    models: Sequence[str], splits: Sequence[tuple[str, str]], base: RunConfig, **kw: Any
) -> int:
    """Run, then print the batch table (stderr) and the score table (stdout)."""
    from asyncbench.scoring.table import print_report

    started = time.monotonic()
    outcomes, code = run_batch(models, splits, base, **kw)
    for line in batch_table(outcomes, time.monotonic() - started):
        print(line, file=sys.stderr)
    report = score_outcomes(outcomes, base.results_dir, models)
    if report is not None:
        print_report(report)
    return code


def make_batch_command(run_command: Callable[..., None]) -> Callable[..., None]:
    """`batch` takes `run`'s options but the model, dataset, split and shard: `--model`
    (repeated), `--datasets` and an optional `--max_workers` instead."""
    from asyncbench.cli.derive import like_run
    from asyncbench.cli.run import run_config

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
            "Subset of the 8 splits, space/comma-separated: ami earnings22 gigaspeech "
            "librispeech (both splits) librispeech:test.clean spgispeech tedlium voxpopuli",
        ),
        (
            "max_workers",
            int | None,
            None,
            ("--max_workers", "--max-workers"),
            "Requests in flight (default: the provider's: groq 8, elevenlabs 5, assembly "
            "200, deepgram 50, speechmatics 30, speechmatics-rt 15, aldea 160, others 20)",
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
        splits = parse_datasets(options.pop("datasets"))
        if max_workers is not None and max_workers < 1:
            raise ConfigError(f"--max_workers must be at least 1 (got {max_workers})")
        base = run_config(
            {**options, "model_name": models[0], "dataset": "", "split": "test"}
            | {"max_workers": max_workers or 1, "shard": None}
        )
        base.validate()
        code = batch(models, splits, base, max_workers=max_workers)
        if code:
            raise typer.Exit(code)

    return batch_command
