"""Is this JSON value a figure? Values read back from disk (summaries, sidecars, results
lines) are outside text: a figure there is used only when it is a number, and `True` is not
one although Python's `bool` is an `int`."""

from __future__ import annotations


def is_number(value: object) -> bool:
    """An int or a float (not a bool)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_count(value: object) -> bool:
    """An int (not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool)
