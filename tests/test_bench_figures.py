"""No benchmark figure divides by a measured zero (issue 18, item 12).

On a loaded machine the client's CPU over the sending phase can be read as exactly 0 (its
/proc samples fall in one tick), and `make test`'s end-to-end benchmark test then died with
ZeroDivisionError in `bench/figures.py`. Every figure must come out as n/a instead.
"""

from __future__ import annotations

from bench.figures import Row, ratio, table, verdicts
from bench.proc import Measured


def row(kind: str, tool: str, cpu_s: float, server: dict[str, float]) -> Row:
    measured = Measured(returncode=0, wall_s=1.0, cpu_s=cpu_s, peak_rss_mb=50.0)
    return Row(kind, kind, tool, 20, 8, 0.05, measured, server, 20, True, "", sum_latency=0.0)


def test_zero_measurements_give_na_figures_not_zero_division() -> None:
    idle = {"requests": 20, "phase_s": 0.0, "first_arrival": 1.0, "last_reply": 1.0}
    rows = [
        row("baseline", "seed", 0.0, idle),
        row("asyncbench", "asyncbench", 0.0, dict(idle, steady_arrivals_per_s=0.0)),
        row("scale", "asyncbench", 0.0, {}),
    ]
    lines = verdicts(rows, prescan_s=None, help_s=None)  # raised ZeroDivisionError before
    assert any(line.startswith("NOT MET requests/s") for line in lines), lines
    assert any("CPU per request: asyncbench 1/nan" in line for line in lines), lines
    assert "n/a" in table(rows)


def test_ratio() -> None:
    assert ratio(1.0, 4.0) == 0.25
    assert ratio(1.0, 0.0) != ratio(1.0, 0.0)  # NaN
    assert ratio(1.0, float("nan")) != ratio(1.0, float("nan"))
