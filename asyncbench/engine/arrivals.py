"""Arrival processes: *when* each request is meant to be sent, apart from *how many* at once.

A closed loop (the default, and all asyncbench did before) sends the next request when one
comes back, so a stalled server simply receives less: the stall hides from the percentiles
(coordinated omission). An open loop sends on a schedule fixed before the run, whatever is
outstanding, so a stall shows as latency counted from each request's *intended* start:

- `constant`: one request every 1/R s;
- `poisson`: exponential gaps of mean 1/R (coefficient of variation 1);
- `gamma`: gamma gaps of mean 1/R and shape B (`--burstiness`): CV = 1/sqrt(B), so B = 1 is
  Poisson and B < 1 is burstier (vLLM's `--burstiness`).

R is requests per second over the whole run (every endpoint together). An optional linear
ramp (`--ramp START:END:SECONDS`) replaces the fixed R: the rate goes from START to END over
SECONDS, then stays at END. Ramps use time rescaling: gaps are drawn for a unit-rate process
and mapped through the inverse of the cumulative rate Λ(t), so each process keeps its shape
(Poisson stays Poisson) at every moment of the ramp.

The schedule is a pure function of the spec and `--seed`, so it is reproducible and its
statistics are tested on the generated offsets, never on wall-clock timing.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass

from asyncbench.core.errors import ConfigError

CLOSED = "closed"
KINDS = (CLOSED, "constant", "poisson", "gamma")


@dataclass(frozen=True, slots=True)
class Ramp:
    start: float  # requests/s at t = 0
    end: float  # requests/s from t = seconds on
    seconds: float

    def cumulative(self, t: float) -> float:
        """Λ(t): the expected number of arrivals in [0, t]."""
        if t <= self.seconds:
            return self.start * t + (self.end - self.start) * t * t / (2 * self.seconds)
        return (self.start + self.end) * self.seconds / 2 + self.end * (t - self.seconds)

    def inverse(self, lam: float) -> float:
        """t such that Λ(t) = lam."""
        at_end = (self.start + self.end) * self.seconds / 2
        if lam >= at_end:
            return self.seconds + (lam - at_end) / self.end
        slope = (self.end - self.start) / self.seconds
        if abs(slope) < 1e-12:
            return lam / self.start
        # slope/2 t² + start t - lam = 0, the root that grows with lam
        return (-self.start + math.sqrt(self.start**2 + 2 * slope * lam)) / slope


@dataclass(frozen=True, slots=True)
class ArrivalSpec:
    kind: str = CLOSED
    rate: float | None = None  # requests/s over the whole run (None with a ramp)
    burstiness: float = 1.0  # gamma shape; 1 for the other processes
    ramp: Ramp | None = None
    seed: int = 0

    @property
    def open(self) -> bool:
        return self.kind != CLOSED

    @property
    def target_rate(self) -> float | None:
        """The rate asked for (a ramp's end rate), for achieved-vs-target figures."""
        if self.ramp is not None:
            return self.ramp.end
        return self.rate

    def describe(self) -> str:
        if not self.open:
            return "closed loop"
        shape = f", burstiness {self.burstiness:g}" if self.kind == "gamma" else ""
        if self.ramp is not None:
            r = self.ramp
            how = f"ramp {r.start:g} to {r.end:g} requests/s over {r.seconds:g} s"
        else:
            how = f"{self.rate:g} requests/s"
        return f"open loop: {self.kind} arrivals at {how}{shape}, seed {self.seed}"

    def share(self, fraction: float, part: int) -> ArrivalSpec:
        """This process's part of the command's arrivals when the run is cut into shards
        (`--processes`, Ray): `fraction` of the rate (of a ramp's too: the shares of the
        shards running at once add up to the whole) and a seed of its own for `part`, so
        the shards' streams are independent (two Poisson streams of R/2 are one of R; two
        identical ones would send in pairs)."""
        import dataclasses

        if not self.open:
            return self
        ramp = self.ramp
        return dataclasses.replace(
            self,
            rate=None if self.rate is None else self.rate * fraction,
            ramp=None
            if ramp is None
            else Ramp(ramp.start * fraction, ramp.end * fraction, ramp.seconds),
            seed=self.seed * 1_000_003 + part + 1,
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "rate": self.rate,
            "burstiness": self.burstiness if self.kind == "gamma" else None,
            "ramp": None
            if self.ramp is None
            else {"start": self.ramp.start, "end": self.ramp.end, "seconds": self.ramp.seconds},
            "seed": self.seed,
        }


def _positive(value: float, what: str) -> float:
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{what} must be a positive number (got {value:g})")
    return value


def parse_ramp(spec: str) -> Ramp:
    """`"10:200:30"` → a ramp from 10 to 200 requests/s over 30 s."""
    parts = spec.split(":")
    hint = "give START:END:SECONDS, e.g. --ramp 10:200:30 (requests/s, requests/s, seconds)"
    if len(parts) != 3:
        raise ConfigError(f"--ramp {spec!r} does not parse; {hint}")
    try:
        start, end, seconds = (float(p) for p in parts)
    except ValueError:
        raise ConfigError(f"--ramp {spec!r} does not parse; {hint}") from None
    if not all(math.isfinite(v) for v in (start, end, seconds)):
        raise ConfigError(f"--ramp {spec!r}: every part must be a finite number; {hint}")
    if start < 0 or end <= 0 or seconds <= 0:
        raise ConfigError(
            f"--ramp {spec!r}: START must be 0 or more, END and SECONDS positive; {hint}"
        )
    return Ramp(start, end, seconds)


def make_spec(
    kind: str,
    rate: float | None = None,
    burstiness: float | None = None,
    ramp: str | None = None,
    seed: int = 0,
) -> ArrivalSpec:
    """Check the arrival flags together; every mistake is one ConfigError line (exit 2)."""
    kind = kind.strip().lower()
    if kind not in KINDS:
        raise ConfigError(f"--arrival {kind!r} is not one of {', '.join(KINDS)}")
    if kind == CLOSED:
        for value, flag in ((rate, "--rate"), (burstiness, "--burstiness"), (ramp, "--ramp")):
            if value is not None:
                raise ConfigError(
                    f"{flag} needs an open-loop arrival: add --arrival constant, poisson or "
                    "gamma (closed loop sends when a reply comes back; --max_rps caps it)"
                )
        return ArrivalSpec(seed=seed)
    if rate is not None and ramp is not None:
        raise ConfigError("give --rate or --ramp START:END:SECONDS, not both")
    if rate is None and ramp is None:
        raise ConfigError(
            f"--arrival {kind} needs --rate R (requests/s over the whole run) "
            "or --ramp START:END:SECONDS"
        )
    if burstiness is not None and kind != "gamma":
        raise ConfigError(f"--burstiness is for --arrival gamma, not {kind}")
    shape = 1.0 if burstiness is None else _positive(burstiness, "--burstiness")
    return ArrivalSpec(
        kind=kind,
        rate=None if rate is None else _positive(rate, "--rate"),
        burstiness=shape,
        ramp=None if ramp is None else parse_ramp(ramp),
        seed=seed,
    )


def unit_gaps(spec: ArrivalSpec) -> Iterator[float]:
    """Gaps of the process at rate 1 (mean 1), seeded."""
    rng = random.Random(spec.seed)
    if spec.kind == "constant":
        while True:
            yield 1.0
    elif spec.kind == "poisson":
        while True:
            yield rng.expovariate(1.0)
    elif spec.kind == "gamma":
        shape = spec.burstiness
        while True:
            yield rng.gammavariate(shape, 1.0 / shape)
    else:
        raise ValueError(f"a {spec.kind} loop has no schedule")


def schedule(spec: ArrivalSpec) -> Iterator[float]:
    """Intended send times in seconds from the start of sending, endless and non-decreasing.

    The first request goes at t = 0 for a fixed rate (a run starts by sending, not by waiting
    a random gap) and at Λ⁻¹(first gap) for a ramp that starts at 0 requests/s.
    """
    gaps = unit_gaps(spec)
    lam = 0.0
    if spec.ramp is None:
        assert spec.rate is not None
        rate = spec.rate
        yield 0.0
        for gap in gaps:
            lam += gap
            yield lam / rate
    else:
        ramp = spec.ramp
        if ramp.start > 0:
            yield 0.0
        for gap in gaps:
            lam += gap
            yield ramp.inverse(lam)
