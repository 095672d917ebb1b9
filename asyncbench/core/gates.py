"""SLOs (`--slo "latency<=2s"`) and pass/fail gates (`--fail_if "p99>3s"`) for CI.

Both are `metric OP number[unit]` with OP one of `<`, `<=`, `>`, `>=`. They differ in what
they judge:

- an **SLO** is judged per request, on what the user saw: `latency` is from the request's
  intended start to its answer (free of coordinated omission in an open loop), `rtfx` is the
  clip's audio seconds over that latency. Goodput counts the ok requests that met every SLO.
- a **gate** is judged once, after the run (or `score`), on one figure of the summary; the
  gate *fails* when its condition holds (`--fail_if "wer>8"` fails at 8.5 % WER), and any
  failed gate makes the exit code 3, so a CI job can stop a regression.

Parsing happens before any request: an unknown metric, a unit that does not fit it, or a
malformed spec is one ConfigError line (exit 2). Stdlib only, so `run` and `score` (which
sits below reporting) share it.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from asyncbench.core.errors import ConfigError

#: exit code of a command whose figures failed a `--fail_if` gate
GATE_FAILED = 3

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
}
_SPEC = re.compile(
    r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(<=|>=|<|>)\s*"
    r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(ms|s|%|/s)?\s*$"
)

# What each unit kind accepts, and the factor to the metric's own unit.
_SECONDS = {None: 1.0, "s": 1.0, "ms": 0.001}
_PERCENT = {None: 1.0, "%": 1.0}
_PER_S = {None: 1.0, "/s": 1.0}
_PLAIN = {None: 1.0}

#: per-request SLO metrics: name -> (units, what it is)
SLO_METRICS: dict[str, tuple[dict[str | None, float], str]] = {
    "latency": (_SECONDS, "seconds from the intended start to the answer"),
    "rtfx": (_PLAIN, "audio seconds ÷ latency from the intended start"),
}

#: gate metrics of `asyncbench run`: name -> (units, what it is)
RUN_GATE_METRICS: dict[str, tuple[dict[str | None, float], str]] = {
    "wer": (_PERCENT, "WER %, leaderboard scoring of the results file"),
    "coverage": (_PERCENT, "% of samples finished"),
    "rtfx": (_PLAIN, "per-request RTFx (the leaderboard's)"),
    "throughput_rtfx": (_PLAIN, "audio seconds ÷ wall clock"),
    "p50": (_SECONDS, "latency from the intended start, p50"),
    "p90": (_SECONDS, "latency from the intended start, p90"),
    "p99": (_SECONDS, "latency from the intended start, p99"),
    "max": (_SECONDS, "latency from the intended start, max"),
    "goodput": (_PER_S, "requests/s that met every --slo"),
    "goodput_audio": (_PER_S, "audio seconds/s of requests that met every --slo"),
    "achieved_rate": (_PER_S, "requests sent per second"),
    "late_starts": (_PLAIN, "requests sent later than intended"),
    "failed": (_PLAIN, "samples that ended failed in this run"),
}

#: gate metrics of `asyncbench score` (a results folder has no run figures): per model
SCORE_GATE_METRICS = {k: RUN_GATE_METRICS[k] for k in ("wer", "coverage", "rtfx")}


@dataclass(frozen=True, slots=True)
class Condition:
    """`metric OP threshold`, the threshold in the metric's own unit (seconds, %, ...)."""

    spec: str
    metric: str
    op: str
    threshold: float

    def holds(self, value: float) -> bool:
        return _OPS[self.op](value, self.threshold)


def parse_condition(
    spec: str, metrics: Mapping[str, tuple[dict[str | None, float], str]], flag: str
) -> Condition:
    match = _SPEC.match(spec)
    names = ", ".join(metrics)
    if match is None:
        raise ConfigError(
            f"{flag} {spec!r} does not parse; write METRIC OP NUMBER, e.g. "
            f'{flag} "{next(iter(metrics))}<=2" (OP is <, <=, > or >=; metrics: {names})'
        )
    metric, op, number, unit = match.groups()
    metric = metric.lower()
    if metric not in metrics:
        raise ConfigError(f"{flag} {spec!r}: unknown metric {metric!r}; metrics: {names}")
    units = metrics[metric][0]
    if unit not in units:
        fits = ", ".join(repr(u) for u in units if u) or "none"
        raise ConfigError(
            f"{flag} {spec!r}: {metric} takes no unit {unit!r} (units it takes: {fits})"
        )
    threshold = float(number) * units[unit]
    if not math.isfinite(threshold):
        raise ConfigError(f"{flag} {spec!r}: the number must be finite")
    return Condition(spec.strip(), metric, op, threshold)


def parse_slos(specs: Iterable[str] | None) -> tuple[Condition, ...]:
    return tuple(parse_condition(s, SLO_METRICS, "--slo") for s in specs or ())


def parse_gates(
    specs: Iterable[str] | None,
    metrics: Mapping[str, tuple[dict[str | None, float], str]] = RUN_GATE_METRICS,
) -> tuple[Condition, ...]:
    return tuple(parse_condition(s, metrics, "--fail_if") for s in specs or ())


def request_meets(slo: Condition, latency_s: float, duration_s: float) -> bool:
    """Whether one ok request met `slo` (judged on its latency from the intended start)."""
    if slo.metric == "latency":
        return slo.holds(latency_s)
    rtfx = duration_s / latency_s if latency_s > 0 else math.inf
    return slo.holds(rtfx)


@dataclass(frozen=True, slots=True)
class GateOutcome:
    gate: Condition
    value: float | None
    failed: bool

    def line(self, scope: str = "") -> str:
        shown = "n/a" if self.value is None else f"{self.value:.4g}"
        word = "FAIL" if self.failed else "PASS"
        where = f" [{scope}]" if scope else ""
        why = " (no figure: counts as failed)" if self.value is None else ""
        return f"gate {word}: fail_if {self.gate.spec}{where}: {self.gate.metric} = {shown}{why}"


def judge(gates: Sequence[Condition], figures: Mapping[str, float | None]) -> list[GateOutcome]:
    """Each gate against the figure of its metric; a missing figure fails the gate (a CI job
    must not pass because the number it guards was never measured)."""
    out = []
    for gate in gates:
        value = figures.get(gate.metric)
        if value is not None and not math.isfinite(value):
            value = None
        out.append(GateOutcome(gate, value, value is None or gate.holds(value)))
    return out
