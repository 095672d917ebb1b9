"""`asyncbench sweep --levels 8,16,32,64`: the same samples at each concurrency (or request
rate), and where throughput stops growing.

For a self-hosted server the question is "how many requests in flight does it take to get
the most out of it, and what does that cost in latency and accuracy?". A sweep answers it
with one run per level over the same sample set (same flags, same `--max_samples`), each
level in its own folder, `<sweep_dir>/<results file stem>/c<level>/` (`r<rate>` for
`--rates`), so each level sends every sample and a rerun resumes or skips each level on its
own. Sweep folders stay out of `results/`, so scoring that folder keeps one line per dataset.

The knee is the first level whose throughput may be within `--knee` (5 % by default) of the
best level's: past it, more requests in flight buy latency, not throughput. Each level's
throughput is judged with its uncertainty (`reporting/knee.py`): its 95 % interval
(`reporting/rate_interval.py`: a replay of the level's closed loop with its own latencies, or
batch means over its completions when a rate cap paced it), and, for a level whose client was
itself late, what it could have done without that delay. When the first such level cannot
be told from the line at this many samples, the sweep says between which levels the knee lies
and about how many samples per level would decide it. Comparing with the best level rather
than with the level before keeps one noisy step (a slow level between two fast ones) from
calling the knee. `<sweep_dir>/<stem>/sweep.json` holds every level's figures for reports.

With an open-loop `--arrival` (constant, poisson, gamma), `--rates` are the arrival rates of
the levels (folders `<arrival><rate>`, e.g. `poisson40`), each for the same samples or, with
`--level_seconds D`, for the first ceil(R × D) samples (about D seconds of sending at R). Each
level reports achieved rate, latency from the intended start, goodput, WER and coverage, and
the knee is where the load stops being served, judged from goodput: the first level where
the share of requests sent that met every `--slo` (came back ok, without SLOs) is below
(1 - `--knee`) beyond doubt (the upper end of its 95 % Wilson interval is below it), so a
short level where every request met its SLO is never flagged. Without `--slo`, a level whose
p99 from the intended start is more than twice the lowest level's is the knee too, but only
when both p99s come from enough requests to be p99s (368 each; `engine.stats`). (Goodput is
compared with what was sent, not with the target: a short Poisson level's achieved rate is
itself random.)
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

from asyncbench.core import exit_codes
from asyncbench.core.errors import ConfigError
from asyncbench.core.numbers import is_number

if TYPE_CHECKING:
    from asyncbench.runs.runner import RunConfig

DEFAULT_KNEE = 0.05


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


def find_knee(
    throughputs: Sequence[float | None],
    threshold: float = DEFAULT_KNEE,
    upper: Sequence[float | None] | None = None,
    lo: Sequence[float | None] | None = None,
    hi: Sequence[float | None] | None = None,
) -> int | None:
    """Index of the knee (`reporting/knee.py`): the first level whose throughput may be within
    `threshold` of the best's, given its 95 % interval (`lo`/`hi`) and its client-delay-free
    bound (`upper`); None when that is only the last level and it is the best (throughput was
    still growing at every step)."""
    from asyncbench.reporting.knee import Level, judge_knee

    def at(values: Sequence[float | None] | None, i: int) -> float | None:
        return values[i] if values is not None else None

    levels = [Level(t, at(lo, i), at(hi, i), at(upper, i)) for i, t in enumerate(throughputs)]
    return judge_knee(levels, threshold).index


def level_row(level: float, summary: dict[str, Any] | None, status: str) -> dict[str, Any]:
    """The figures of one level, from the summary its run wrote."""
    s = summary or {}
    lat = s.get("latency_s") or {}
    wer = s.get("wer") or {}
    this_run = s.get("this_run") or {}
    wall = s.get("wall_s") or 0.0
    interval = (s.get("throughput") or {}).get("whole_interval") or {}
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
        # its 95 % interval (reporting/rate_interval.py), or how many samples one takes
        "samples_per_s_lo": interval.get("lo"),
        "samples_per_s_hi": interval.get("hi"),
        "interval_method": interval.get("method"),
        "interval_needed": interval.get("needed"),
        "ok": this_run.get("ok"),
        # what the level could have done had its client not been late (saturation.py)
        "samples_per_s_lag_free": (s.get("throughput") or {}).get("hi_per_s"),
        "client_bound": s.get("client_bound"),
        "results_file": s.get("results_file"),
    }


#: open-loop knee: p99 from the intended start this many times the lowest level's
P99_FACTOR = 2.0


#: a level's fields that are not figures (text, or a list of SLO verdicts), and its flags
_NOT_FIGURES = frozenset({"level", "status", "interval_method", "slos", "results_file"})
_FLAGS = frozenset({"client_bound"})


def readable_row(
    row_of: Callable[[float, dict[str, Any] | None, str], dict[str, Any]],
    level: float,
    summary: dict[str, Any],
) -> dict[str, Any] | None:
    """A skipped level's row from the summary an earlier run left, or None when that summary's
    figures are not numbers (it was edited, or came from elsewhere): the knee must never be
    found from figures this tool did not measure."""
    try:
        row = row_of(level, summary, "skipped")
    except (TypeError, ValueError, AttributeError, ZeroDivisionError):
        return None
    for key, value in row.items():
        if key in _NOT_FIGURES or value is None:
            continue
        if key in _FLAGS:
            if not isinstance(value, bool):
                return None
        elif not is_number(value):
            return None
    return row


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
        sent=s.get("sent"),
        p99_n=lat.get("n"),
        slos=good.get("slos") or [],
    )
    return row


def wilson_upper(share: float, n: int, z: float = 1.96) -> float:
    """Upper end of the 95 % Wilson score interval of a proportion seen as `share` of n."""
    if n <= 0:
        return 1.0
    centre = share + z * z / (2 * n)
    spread = z * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n))
    return min(1.0, (centre + spread) / (1 + z * z / n))


def find_open_knee(
    rows: Sequence[dict[str, Any]], threshold: float = DEFAULT_KNEE
) -> tuple[int | None, str | None]:
    """(index of the first level the server no longer keeps up with, why), or (None, None)."""
    from asyncbench.engine.stats import needed_for_bound

    enough = needed_for_bound(0.99)
    base = next((r for r in rows if r["p99"] is not None), None)
    base_p99 = base["p99"] if base is not None else None
    for i, r in enumerate(rows):
        share = r.get("goodput_share")
        sent = r.get("sent") or r.get("samples") or 0
        if share is not None and wilson_upper(share, sent) < 1 - threshold:
            return i, (
                f"only {100 * share:.1f} % of the {sent} requests sent came back ok within "
                f"every --slo (goodput {_f(r.get('goodput'), '.2f')} requests/s), below "
                f"{100 * (1 - threshold):.0f} % beyond the 95 % interval"
            )
        valid = (
            base is not None
            and not r.get("slos")
            and min(r.get("p99_n") or 0, base.get("p99_n") or 0) >= enough
        )
        if valid and i and base_p99 and r["p99"] is not None and r["p99"] > P99_FACTOR * base_p99:
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


def _interval(r: dict[str, Any]) -> str:
    lo, hi = r.get("samples_per_s_lo"), r.get("samples_per_s_hi")
    return "-" if lo is None or hi is None else f"[{lo:.2f}, {hi:.2f}]"


def sweep_table(rows: Sequence[dict[str, Any]], rates: bool) -> list[str]:
    head = "req/s cap" if rates else "in flight"
    lines = [
        f"{head:>9} {'samples/s':>9} {'95 % interval':>16} {'vs best':>7} {'thr RTFx':>9} "
        f"{'p50 s':>7} {'p90 s':>7} {'p99 s':>7} {'max s':>7} {'WER %':>6} {'failed':>6} "
        f"{'errors':>6} {'mean in flight':>14}"
    ]
    for r in rows:
        level = _f(r["level"], "g")
        lines.append(
            f"{level:>9} {_f(r['samples_per_s'], '.2f'):>9} {_interval(r):>16} "
            f"{r.get('vs_best') or '-':>7} {_f(r['throughput_rtfx'], '.2f'):>9} "
            f"{_f(r['p50'], '.3f'):>7} {_f(r['p90'], '.3f'):>7} {_f(r['p99'], '.3f'):>7} "
            f"{_f(r['max'], '.3f'):>7} {_f(r['wer'], '.2f'):>6} {_f(r['failed'], 'd'):>6} "
            f"{r['errors']:>6} {_f(r['mean_in_flight'], '.1f'):>14}"
        )
    return lines


def knee_line(data: dict[str, Any]) -> str:
    """The knee with its share of the best throughput, and, when the first level that may be
    within the threshold cannot be told from it, between which levels the knee lies."""
    from asyncbench.reporting.knee import UNCLEAR

    rows = data["levels"]
    knee, threshold = data["knee_index"], data["knee_threshold"]
    what = "request rate" if data["kind"] == "rate" else "concurrency"
    if len(rows) < 2:
        return "knee: one level only; give several to see where throughput stops growing"
    known = [r for r in rows if r["samples_per_s"]]
    if not known:
        return "knee: no level has a throughput (none came back ok)"
    best = max(known, key=lambda r: r["samples_per_s"])
    if knee is None:
        return (
            f"knee: not reached; only the last level, {what} {rows[-1]['level']:g}, came within "
            f"{100 * threshold:g} % of the best throughput: try higher levels"
        )
    at = rows[knee]
    share = at["samples_per_s"] / best["samples_per_s"]
    line = (
        f"knee: {what} {at['level']:g} reaches {100 * share:.0f} % of the best throughput "
        f"({at['samples_per_s']:.2f} of {best['samples_per_s']:.2f} samples/s, at "
        f"{best['level']:g}), "
    )
    lag_free = at.get("samples_per_s_lag_free")
    if at.get("vs_best") != UNCLEAR:
        line += f"within {100 * threshold:g} %"
    elif data.get("knee_by_lag") and lag_free is not None:
        line += (
            f"within {100 * threshold:g} % once its client's own delay is taken out (up to "
            f"{lag_free:.2f}/s)"
        )
    else:
        upto = data.get("knee_upto_level")
        later = f"as late as {upto:g}" if upto is not None else "past it"
        best_interval = "" if best.get("samples_per_s_lo") is None else f" {_interval(best)}"
        line += (
            f"maybe within {100 * threshold:g} %: its 95 % interval {_interval(at)} ("
            f"{at.get('ok') or 0} samples) cannot tell it from {100 * (1 - threshold):g} % of "
            f"the best's {best['samples_per_s']:.2f}{best_interval}, so the knee is at "
            f"{at['level']:g} or {later}"
        )
        needed = data.get("knee_samples_needed")
        if needed is not None:
            line += f"; about {needed} samples per level would tell (--max_samples {needed})"
        else:
            line += "; it sits on the line, where no number of samples would tell"
    line += f"; more in flight buys latency, not throughput (p90 {_f(at['p90'], '.3f')} s there)"
    late = [f"{r['level']:g}" for r in rows if r.get("client_bound")]
    if late:
        line += f"; client-bound at {', '.join(late)}: those levels measured the client"
    return line


def interval_note(rows: Sequence[dict[str, Any]], rates: bool) -> str | None:
    """Which levels have no throughput interval, and why: too few samples (and how many one
    takes), or a summary written before asyncbench recorded intervals."""
    from asyncbench.reporting.rate_interval import MIN_BATCHES, MIN_ROUNDS

    what = "request rate" if rates else "concurrency"
    bare = [r for r in rows if r["samples_per_s"] is not None and r.get("samples_per_s_lo") is None]
    short = [
        f"{r['level']:g} (needs {r['interval_needed']})" for r in bare if r.get("interval_needed")
    ]
    old = [f"{r['level']:g}" for r in bare if not r.get("interval_needed")]
    parts = []
    if short:
        closed = all(r.get("interval_method") == "closed-loop bootstrap" for r in bare)
        why = (
            f"a closed loop's interval takes {MIN_ROUNDS} requests per request in flight"
            if closed
            else f"an interval takes {MIN_BATCHES} batches, each of at least the level's mean "
            "number in flight"
        )
        parts.append(f"no 95 % throughput interval at {what} {', '.join(short)} samples: {why}")
    if old:
        parts.append(
            f"no interval recorded at {what} {', '.join(old)}: written by an older asyncbench "
            "(remove the level's folder to measure it again)"
        )
    if not parts:
        return None
    return "; ".join(parts) + "; those levels are judged by their point figures"


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
    from asyncbench.cli.batch import is_complete, run_status
    from asyncbench.core.text import one_line
    from asyncbench.reporting.summary import read_summary, summary_path
    from asyncbench.runs.ledger import Ledger, close_command
    from asyncbench.runs.runner import results_path, run

    ledger = Ledger.for_config(base)  # one --budget_usd for every level of the sweep
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
        if is_complete(previous, cfg.max_samples, path, cfg):
            row = readable_row(row_of, level, previous)
            if row is not None:
                said = f"== sweep level {level:g}: complete in {folder}, skipped"
                print(one_line(said), file=err)
                rows.append(row)
                continue
            print(
                one_line(
                    f"warning: sweep level {level:g}: the figures in {summary_path(path)} are "
                    "not ones this tool writes; the level is left without figures (remove "
                    f"{folder} to measure it again)"
                ),
                file=err,
            )
            rows.append(row_of(level, None, "unreadable"))
            continue
        what = f"at most {level:g} requests/s" if rates else f"{int(level)} requests in flight"
        if open_loop:
            what = f"{base.arrival} arrivals at {level:g} requests/s"
        print(f"== sweep level {level:g}: {what}", file=err)
        try:
            code = run(cfg, ledger)
        except ConfigError:
            # a fatal error (a key rejected at this level): the levels before it keep their
            # figures in sweep.json, and what the sweep spent is said before the error's line;
            # the level itself is judged by nothing (its summary may be an earlier run's)
            rows.append(row_of(level, None, "error"))
            _result(base, rows, rates, threshold, root, level_seconds)
            close_command(ledger, exit_codes.CONFIG)
            raise
        rows.append(row_of(level, read_summary(path), run_status(code)))
        if code:
            code = close_command(ledger, code)
            return _result(base, rows, rates, threshold, root, level_seconds), code
    return _result(base, rows, rates, threshold, root, level_seconds), close_command(ledger, 0)


def closed_knee(rows: list[dict[str, Any]], threshold: float) -> tuple[int | None, dict[str, Any]]:
    """(the knee's index, its sweep.json fields) of a closed-loop or rate-cap sweep, judged
    with each level's throughput interval (`reporting/knee.py`); marks each row's `vs_best`."""
    from asyncbench.reporting.knee import Level, judge_knee

    judged = judge_knee(
        [
            Level(
                r["samples_per_s"],
                r.get("samples_per_s_lo"),
                r.get("samples_per_s_hi"),
                r.get("samples_per_s_lag_free"),
                r.get("ok") or 0,
            )
            for r in rows
        ],
        threshold,
    )
    for r, verdict in zip(rows, judged.verdicts, strict=True):
        r["vs_best"] = verdict
    knee = judged.index
    return knee, {
        "knee_verdict": judged.verdicts[knee] if knee is not None else None,
        "knee_upto_level": rows[judged.upto]["level"] if judged.upto is not None else None,
        "knee_samples_needed": judged.needed,
        "knee_by_lag": judged.by_lag,
    }


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
        extra: dict[str, Any] = {}
    else:
        knee, extra = closed_knee(rows, threshold)
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
        **extra,
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
            if rows and rows[0].get("slos"):
                print("knee: not reached; every level was served (goodput held): try higher rates")
            else:
                print(
                    "knee: not reached; every request came back ok and no p99 from 368 requests "
                    "or more doubled; give --slo (e.g. latency<=2s) to judge from goodput"
                )
        else:
            print(f"knee (*): rate {rows[knee]['level']:g}: {data['knee_reason']}")
    else:
        for line in sweep_table(rows, rates):
            print(line)
        note = interval_note(rows, rates)
        if note is not None:
            print(note)
        print(knee_line(data))
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
            "The knee is the first level within this fraction of the best throughput "
            "(open loop: whose goodput share falls below 1 - this)",
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
