"""`asyncbench sweep --levels 8,16,32,64`: the same samples at each concurrency (or request
rate), and where throughput stops growing.

For a self-hosted server the question is "how many requests in flight does it take to get
the most out of it, and what does that cost in latency and accuracy?". A sweep answers it
with one run per level over the same sample set (same flags, same `--max_samples`), each
level in its own folder, `<sweep_dir>/<results file stem>/c<level>/` (`r<rate>` for
`--rates`), so each level sends every sample and a rerun resumes or skips each level on its
own. Sweep folders stay out of `results/`, so scoring that folder keeps one line per dataset.

The knee is the first level whose throughput gained less than `--knee` (10 % by default) over
the level before: past it, more requests in flight buy latency, not throughput.
`<sweep_dir>/<stem>/sweep.json` holds every level's figures for reports.

With an open-loop `--arrival` (constant, poisson, gamma), `--rates` are the arrival rates of
the levels (folders `<arrival><rate>`, e.g. `poisson40`), each for the same samples or, with
`--level_seconds D`, for the first ceil(R × D) samples (about D seconds of sending at R). Each
level reports achieved rate, latency from the intended start, goodput, WER and coverage, and
the knee is where the load stops being served: the first level where less than
(1 - `--knee`) of the requests sent met every `--slo` (came back ok, without SLOs), or whose
p99 from the intended start is more than twice the lowest level's. (Goodput is compared with
what was sent, not with the target: a short Poisson level's achieved rate is itself random.)
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from asyncbench.core.errors import ConfigError

if TYPE_CHECKING:
    from asyncbench.runs.runner import RunConfig

DEFAULT_KNEE = 0.10


def parse_levels(spec: str, *, what: str = "--levels", integer: bool = True) -> list[float]:
    """`"8,16,32"` → [8, 16, 32]: positive numbers, sorted, each once."""
    items = [x for x in spec.replace(" ", ",").split(",") if x]
    if not items:
        raise ConfigError(f"{what} is empty; give numbers such as 8,16,32,64")
    values: set[float] = set()
    for item in items:
        try:
            value = int(item) if integer else float(item)
        except ValueError:
            kind = "whole numbers" if integer else "numbers"
            raise ConfigError(
                f"{what} {spec!r}: {item!r} is not a number; give {kind} such as 8,16,32,64"
            ) from None
        if value <= 0:
            raise ConfigError(f"{what} {spec!r}: every level must be positive (got {item})")
        values.add(value)
    return sorted(values)


def find_knee(throughputs: Sequence[float | None], threshold: float = DEFAULT_KNEE) -> int | None:
    """Index of the first level whose throughput grew by less than `threshold` (a fraction)
    over the previous level's, or None when every step still paid off."""
    for i in range(1, len(throughputs)):
        before, now = throughputs[i - 1], throughputs[i]
        if before is None or now is None or before <= 0:
            continue
        if now / before - 1 < threshold:
            return i
    return None


def level_row(level: float, summary: dict[str, Any] | None, status: str) -> dict[str, Any]:
    """The figures of one level, from the summary its run wrote."""
    s = summary or {}
    lat = s.get("latency_s") or {}
    wer = s.get("wer") or {}
    this_run = s.get("this_run") or {}
    wall = s.get("wall_s") or 0.0
    return {
        "level": level,
        "status": status,
        "samples_per_s": (this_run.get("ok", 0) / wall) if wall else None,
        "throughput_rtfx": (s.get("rtfx") or {}).get("throughput"),
        "per_request_rtfx": (s.get("rtfx") or {}).get("per_request"),
        "p50": lat.get("p50"),
        "p90": lat.get("p90"),
        "p99": lat.get("p99"),
        "max": lat.get("max"),
        "wer": wer.get("wer"),
        "failed": wer.get("failed"),
        "errors": sum((this_run.get("errors_by_kind") or {}).values()),
        "mean_in_flight": (s.get("little") or {}).get("mean_in_flight"),
        "results_file": s.get("results_file"),
    }


#: open-loop knee: p99 from the intended start this many times the lowest level's
P99_FACTOR = 2.0


def open_level_row(level: float, summary: dict[str, Any] | None, status: str) -> dict[str, Any]:
    """`level_row` plus the open-loop figures of one level."""
    row = level_row(level, summary, status)
    s = summary or {}
    lat = s.get("latency_from_intended") or {}
    good = s.get("goodput") or {}
    wer = s.get("wer") or {}
    row.update(
        target_rate=level,
        achieved_rate=s.get("achieved_rate"),
        p50=lat.get("p50"),
        p90=lat.get("p90"),
        p99=lat.get("p99"),
        max=lat.get("max"),
        service_p99=(s.get("latency_s") or {}).get("p99"),
        goodput=good.get("requests_per_s"),
        goodput_share=good.get("share"),
        goodput_audio=good.get("audio_s_per_s"),
        coverage=wer.get("coverage_percent"),
        samples=wer.get("samples"),
        late_starts=(s.get("late_starts") or {}).get("count"),
    )
    return row


def find_open_knee(
    rows: Sequence[dict[str, Any]], threshold: float = DEFAULT_KNEE
) -> tuple[int | None, str | None]:
    """(index of the first level the server no longer keeps up with, why), or (None, None)."""
    base_p99 = next((r["p99"] for r in rows if r["p99"] is not None), None)
    for i, r in enumerate(rows):
        share = r.get("goodput_share")
        if share is not None and share < 1 - threshold:
            return i, (
                f"only {100 * share:.1f} % of the requests sent came back ok within every "
                f"--slo (goodput {_f(r.get('goodput'), '.2f')} requests/s), below "
                f"{100 * (1 - threshold):.0f} %"
            )
        if i and base_p99 and r["p99"] is not None and r["p99"] > P99_FACTOR * base_p99:
            return i, (
                f"p99 from the intended start {r['p99']:.3f} s is over {P99_FACTOR:g}x the "
                f"lowest level's {base_p99:.3f} s"
            )
    return None, None


def open_sweep_table(rows: Sequence[dict[str, Any]], knee: int | None) -> list[str]:
    lines = [
        f"  {'rate':>7} {'samples':>7} {'achieved':>8} {'p50 s':>7} {'p90 s':>7} {'p99 s':>7} "
        f"{'goodput':>8} {'good %':>6} {'WER %':>6} {'cover %':>7} {'late':>5} {'errors':>6}"
    ]
    for i, r in enumerate(rows):
        share = None if r["goodput_share"] is None else 100 * r["goodput_share"]
        mark = "* " if i == knee else "  "
        lines.append(
            f"{mark}{_f(r['level'], 'g'):>7} {_f(r.get('samples'), 'd'):>7} "
            f"{_f(r['achieved_rate'], '.2f'):>8} "
            f"{_f(r['p50'], '.3f'):>7} {_f(r['p90'], '.3f'):>7} {_f(r['p99'], '.3f'):>7} "
            f"{_f(r['goodput'], '.2f'):>8} {_f(share, '.1f'):>6} {_f(r['wer'], '.2f'):>6} "
            f"{_f(r['coverage'], '.2f'):>7} {_f(r['late_starts'], 'd'):>5} {r['errors']:>6}"
        )
    return lines


def _f(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def sweep_table(rows: Sequence[dict[str, Any]], rates: bool) -> list[str]:
    head = "req/s cap" if rates else "in flight"
    lines = [
        f"{head:>9} {'samples/s':>9} {'thr RTFx':>9} {'p50 s':>7} {'p90 s':>7} {'p99 s':>7} "
        f"{'max s':>7} {'WER %':>6} {'failed':>6} {'errors':>6} {'mean in flight':>14}"
    ]
    for r in rows:
        level = _f(r["level"], "g")
        lines.append(
            f"{level:>9} {_f(r['samples_per_s'], '.2f'):>9} {_f(r['throughput_rtfx'], '.2f'):>9} "
            f"{_f(r['p50'], '.3f'):>7} {_f(r['p90'], '.3f'):>7} {_f(r['p99'], '.3f'):>7} "
            f"{_f(r['max'], '.3f'):>7} {_f(r['wer'], '.2f'):>6} {_f(r['failed'], 'd'):>6} "
            f"{r['errors']:>6} {_f(r['mean_in_flight'], '.1f'):>14}"
        )
    return lines


def knee_line(
    rows: Sequence[dict[str, Any]], knee: int | None, threshold: float, rates: bool
) -> str:
    what = "request rate" if rates else "concurrency"
    if len(rows) < 2:
        return "knee: one level only; give several to see where throughput stops growing"
    if knee is None:
        best = rows[-1]["level"]
        return (
            f"knee: not reached; throughput still grew by {100 * threshold:.0f} % or more at "
            f"every step up to {what} {best:g}: try higher levels"
        )
    before, at = rows[knee - 1], rows[knee]
    gain = at["throughput_rtfx"] / before["throughput_rtfx"] - 1
    return (
        f"knee: throughput stops growing at {what} {at['level']:g} ({100 * gain:+.1f} % over "
        f"{before['level']:g}, below {100 * threshold:.0f} %); {before['level']:g} gets "
        f"{100 * before['throughput_rtfx'] / max(r['throughput_rtfx'] or 0 for r in rows):.0f} % "
        f"of the best throughput at p90 latency {_f(before['p90'], '.3f')} s"
    )


def run_sweep(
    base: RunConfig,
    levels: Sequence[float],
    *,
    rates: bool,
    sweep_dir: Path,
    threshold: float = DEFAULT_KNEE,
    level_seconds: float | None = None,
) -> tuple[dict[str, Any], int]:
    """One run per level, in order; (the sweep's figures, exit code)."""
    from asyncbench.cli.batch import is_complete
    from asyncbench.reporting.summary import read_summary
    from asyncbench.runs.runner import results_path, run

    root = sweep_dir / results_path(base).stem
    rows: list[dict[str, Any]] = []
    err = sys.stderr
    open_loop = base.arrival != "closed"
    row_of = open_level_row if open_loop else level_row
    for level in levels:
        if open_loop:
            folder = root / f"{base.arrival}{level:g}"
            change: dict[str, Any] = {"rate": float(level)}
            if level_seconds is not None:
                n = math.ceil(level * level_seconds)
                change["max_samples"] = min(n, base.max_samples) if base.max_samples else n
        else:
            folder = root / (f"r{level:g}" if rates else f"c{int(level)}")
            change = {"max_rps": float(level)} if rates else {"max_workers": int(level)}
        cfg = replace(base, results_dir=folder, **change)
        path = results_path(cfg)
        previous = read_summary(path)
        if is_complete(previous, cfg.max_samples, path):
            print(f"== sweep level {level:g}: complete in {folder}, skipped", file=err)
            rows.append(row_of(level, previous, "skipped"))
            continue
        what = f"at most {level:g} requests/s" if rates else f"{int(level)} requests in flight"
        if open_loop:
            what = f"{base.arrival} arrivals at {level:g} requests/s"
        print(f"== sweep level {level:g}: {what}", file=err)
        code = run(cfg)
        rows.append(row_of(level, read_summary(path), "done"))
        if code:
            return _result(base, rows, rates, threshold, root, level_seconds), code
    return _result(base, rows, rates, threshold, root, level_seconds), 0


def _result(
    base: RunConfig,
    rows: list[dict[str, Any]],
    rates: bool,
    threshold: float,
    root: Path,
    level_seconds: float | None = None,
) -> dict[str, Any]:
    open_loop = base.arrival != "closed"
    why = None
    if open_loop:
        knee, why = find_open_knee(rows, threshold)
    else:
        knee = find_knee([r["throughput_rtfx"] for r in rows], threshold)
    data = {
        "model": base.model_name,
        "dataset_path": base.dataset_path,
        "dataset": base.dataset,
        "split": base.split,
        "max_samples": base.max_samples,
        "kind": "rate" if rates else "concurrency",
        "knee_threshold": threshold,
        "knee_index": knee,
        "knee_level": rows[knee]["level"] if knee is not None else None,
        "levels": rows,
        **(
            {
                "arrival": {"kind": base.arrival, "burstiness": base.burstiness, "seed": base.seed},
                "level_seconds": level_seconds,
                "knee_reason": why,
            }
            if open_loop
            else {}
        ),
    }
    root.mkdir(parents=True, exist_ok=True)
    (root / "sweep.json").write_text(json.dumps(data, indent=2) + "\n")
    return data


def print_sweep(data: dict[str, Any], root: Path) -> None:
    rates = data["kind"] == "rate"
    rows = data["levels"]
    print(
        f"sweep: {data['model']} on {data['dataset']}/{data['split']}"
        + (f", first {data['max_samples']} samples" if data["max_samples"] else "")
        + " (thr RTFx = audio ÷ wall clock at that level)"
    )
    if data.get("arrival"):
        knee = data["knee_index"]
        print(
            f"open loop, {data['arrival']['kind']} arrivals; latency from the intended start; "
            "goodput = requests/s that came back ok and met every --slo"
        )
        for line in open_sweep_table(rows, knee):
            print(line)
        if len({r.get("samples") for r in rows}) > 1:
            print(
                "note: with --level_seconds the levels hold different numbers of samples (the "
                "first N of the split), so their WERs are over different samples"
            )
        if knee is None:
            print(
                "knee: not reached; every level was served (goodput and p99 held): try higher rates"
            )
        else:
            print(f"knee (*): rate {rows[knee]['level']:g}: {data['knee_reason']}")
    else:
        for line in sweep_table(rows, rates):
            print(line)
        print(knee_line(rows, data["knee_index"], data["knee_threshold"], rates))
    print(f"sweep figures written to {root / 'sweep.json'}")


def make_sweep_command(run_command: Callable[..., None]) -> Callable[..., None]:
    """`sweep` takes every option of `run` except `--results_dir` and `--shard`, plus
    `--levels`/`--rates`, `--knee` and `--sweep_dir`."""
    from asyncbench.cli.derive import like_run
    from asyncbench.cli.run import run_config

    own = [
        ("levels", str | None, None, ("--levels",), "Concurrency levels, e.g. 8,16,32,64,128"),
        (
            "rates",
            str | None,
            None,
            ("--rates",),
            "Request-rate levels instead (requests/s over all endpoints, e.g. 5,10,20,40), "
            "with --max_workers as the cap on requests in flight",
        ),
        (
            "knee",
            float,
            DEFAULT_KNEE,
            ("--knee",),
            "A level whose throughput grows by less than this fraction is the knee",
        ),
        (
            "sweep_dir",
            Path,
            Path("sweeps"),
            ("--sweep_dir", "--sweep-dir"),
            "Where each level's results go: SWEEP_DIR/<results name>/c<level>/",
        ),
        (
            "level_seconds",
            float | None,
            None,
            ("--level_seconds", "--level-seconds"),
            "Open-loop sweep: about this many seconds per level (the first ceil(rate x "
            "seconds) samples) instead of the same samples at every level",
        ),
    ]

    @like_run(
        run_command,
        drop=("results_dir", "shard", "fail_if", "processes", "max_failed_pct"),
        own=own,
    )
    def sweep_command(**options: Any) -> None:
        """Run the same samples at each concurrency (or rate) level and find the knee."""
        levels_spec, rates_spec = options.pop("levels"), options.pop("rates")
        if (levels_spec is None) == (rates_spec is None):
            raise ConfigError("give exactly one of --levels (concurrency) or --rates (requests/s)")
        rates = rates_spec is not None
        spec = rates_spec if rates else levels_spec
        levels = parse_levels(spec, what="--rates" if rates else "--levels", integer=not rates)
        threshold = options.pop("knee")
        if not 0 < threshold < 1:
            raise ConfigError(f"--knee must be a fraction between 0 and 1 (got {threshold})")
        sweep_dir = options.pop("sweep_dir")
        level_seconds = options.pop("level_seconds")
        base = run_config({**options, "results_dir": sweep_dir, "shard": None})
        if base.arrival != "closed":
            if not rates:
                raise ConfigError(
                    f"--arrival {base.arrival} sweeps arrival rates: give --rates, not --levels"
                )
            if base.rate is not None or base.ramp is not None:
                raise ConfigError(
                    "a sweep sets each level's rate from --rates; drop --rate and --ramp"
                )
            replace(base, rate=levels[0]).validate()
        else:
            base.validate()
        if level_seconds is not None:
            if base.arrival == "closed":
                raise ConfigError("--level_seconds is for open-loop sweeps (--arrival poisson ...)")
            if not math.isfinite(level_seconds) or level_seconds <= 0:
                raise ConfigError(f"--level_seconds must be positive (got {level_seconds:g})")
        data, code = run_sweep(
            base,
            levels,
            rates=rates,
            sweep_dir=sweep_dir,
            threshold=threshold,
            level_seconds=level_seconds,
        )
        from asyncbench.runs.runner import results_path

        print_sweep(data, sweep_dir / results_path(base).stem)
        if code:
            raise typer.Exit(code)

    return sweep_command
