"""Arrival processes, tested on the schedule they generate (seeded), never on wall-clock time."""

from __future__ import annotations

import itertools
import math
import statistics

import pytest

from asyncbench.core.errors import ConfigError
from asyncbench.engine.arrivals import Ramp, make_spec, parse_ramp, schedule

N = 20_000


def first(spec, n: int = N) -> list[float]:  # type: ignore[no-untyped-def]
    return list(itertools.islice(schedule(spec), n))


def gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(times)]


def cv(values: list[float]) -> float:
    return statistics.pstdev(values) / statistics.fmean(values)


@pytest.mark.parametrize(
    ("kind", "burstiness", "want_cv"),
    [("constant", None, 0.0), ("poisson", None, 1.0), ("gamma", 0.25, 2.0), ("gamma", 4, 0.5)],
)
def test_rate_and_shape(kind: str, burstiness: float | None, want_cv: float) -> None:
    times = first(make_spec(kind, rate=200, burstiness=burstiness, seed=7))
    assert times[0] == 0.0 and all(b >= a for a, b in itertools.pairwise(times))
    rate = (N - 1) / times[-1]
    assert rate == pytest.approx(200, rel=0.03)
    assert cv(gaps(times)) == pytest.approx(want_cv, abs=0.05)


def test_constant_is_exact() -> None:
    assert first(make_spec("constant", rate=4), 5) == [0.0, 0.25, 0.5, 0.75, 1.0]


def test_seeded_and_reproducible() -> None:
    a = first(make_spec("poisson", rate=50, seed=1), 100)
    assert a == first(make_spec("poisson", rate=50, seed=1), 100)
    assert a != first(make_spec("poisson", rate=50, seed=2), 100)


def test_ramp_rises_linearly_then_holds() -> None:
    # 0 -> 100 requests/s over 10 s: 500 arrivals expected in the ramp, then 100/s
    times = first(make_spec("poisson", ramp="0:100:10", seed=3), 3000)
    in_ramp = [t for t in times if t < 10]
    assert len(in_ramp) == pytest.approx(500, rel=0.1)
    first_half = sum(1 for t in in_ramp if t < 5)  # Λ(5) = 125 of 500
    assert first_half == pytest.approx(125, rel=0.2)
    after = [t for t in times if 10 <= t < 20]
    assert len(after) == pytest.approx(1000, rel=0.08)
    # a constant ramp lands exactly on Λ⁻¹(k)
    ramp = Ramp(10, 30, 2)
    for k in (1, 10, 40, 41, 100):
        assert ramp.cumulative(ramp.inverse(k)) == pytest.approx(k)
    const = first(make_spec("constant", ramp="10:30:2"), 50)
    assert const[0] == 0.0 and const[1] == pytest.approx(ramp.inverse(1))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "closed", "rate": 5.0}, "--rate needs an open-loop arrival"),
        ({"kind": "closed", "ramp": "1:2:3"}, "--ramp needs an open-loop arrival"),
        ({"kind": "closed", "burstiness": 0.5}, "--burstiness needs an open-loop arrival"),
        ({"kind": "poisson"}, "--arrival poisson needs --rate R"),
        ({"kind": "poisson", "rate": 0.0}, "--rate must be a positive number (got 0)"),
        ({"kind": "poisson", "rate": -3.0}, "--rate must be a positive number"),
        ({"kind": "poisson", "rate": math.nan}, "--rate must be a positive number (got nan)"),
        ({"kind": "poisson", "rate": math.inf}, "--rate must be a positive number (got inf)"),
        ({"kind": "gamma", "rate": 5.0, "burstiness": 0.0}, "--burstiness must be a positive"),
        ({"kind": "poisson", "rate": 5.0, "burstiness": 2.0}, "--burstiness is for --arrival"),
        ({"kind": "poisson", "rate": 5.0, "ramp": "1:2:3"}, "give --rate or --ramp"),
        ({"kind": "bursty", "rate": 5.0}, "--arrival 'bursty' is not one of closed"),
    ],
)
def test_bad_specs(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        make_spec(**kwargs)
    assert str(info.value).startswith(message), str(info.value)


@pytest.mark.parametrize("spec", ["1:2", "a:2:3", "1:2:3:4", "1:0:3", "-1:2:3", "1:2:0", "1:nan:3"])
def test_bad_ramps(spec: str) -> None:
    with pytest.raises(ConfigError, match="--ramp"):
        parse_ramp(spec)
