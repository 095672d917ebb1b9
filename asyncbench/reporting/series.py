"""The binned time series the report computes and the figures draw.

A type of its own, below both `report` and `plots`, so neither has to import the other
to name it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Series:
    """One results file over time, binned."""

    name: str
    audio_per_bin: list[float]
    in_flight: list[float]
