"""Finished lines laid out on a terminal: long lines wrapped cleanly. Stdlib only, so every
stage may use it. (Making outside text safe to print is `core.text`'s job; this module
escapes nothing.)

A line wider than the terminal is folded by the terminal itself at the last column, mid-word,
and a live view redrawn over it leaves it cut; so on a terminal, stderr's finished lines are
wrapped at spaces with an indent (`WrappingStream`, installed once by the CLI).
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import textwrap
from collections.abc import Callable, Iterable
from typing import Any, TextIO

__all__ = ["WrappingStream", "fit_lines", "wrap_terminal_stderr"]


def fit_lines(line: str, columns: int) -> list[str]:
    """One printed line as the rows a terminal `columns` wide should show: unchanged when it
    fits, else wrapped at spaces to one column less than the width (so the terminal never
    folds it itself, mid-word), continuation rows indented by two spaces."""
    width = max(20, columns - 1)
    if len(line) <= width:
        return [line]
    rows = textwrap.wrap(
        line, width=width, subsequent_indent="  ", break_on_hyphens=False, drop_whitespace=True
    )
    return rows or [line]


class WrappingStream:
    """stderr on a terminal: each finished line that is wider than the terminal is wrapped by
    `fit_lines`. Text that steers the cursor (escape sequences, carriage returns: a live
    view's frames) passes as it is, and so does an unfinished line when flushed."""

    def __init__(self, stream: TextIO, columns: Callable[[], int] | None = None) -> None:
        self._stream = stream
        self._columns = columns or (lambda: shutil.get_terminal_size((80, 24)).columns)
        self._held = ""

    def write(self, text: str) -> int:
        held = self._held + text
        if "\x1b" in held or "\r" in held:
            self._held = ""
            self._stream.write(held)
            return len(text)
        *done, self._held = held.split("\n")
        if done:
            columns = self._columns()
            self._stream.write("".join(row + "\n" for d in done for row in fit_lines(d, columns)))
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if self._held:
            self._stream.write(self._held)
            self._held = ""
        self._stream.flush()

    @property
    def wrapped(self) -> TextIO:
        return self._stream

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def wrap_terminal_stderr() -> Callable[[], None]:
    """Make `sys.stderr` a `WrappingStream` when it is a terminal; returns the undo."""
    if not sys.stderr.isatty():
        return lambda: None
    saved = sys.stderr
    sys.stderr = WrappingStream(saved)  # type: ignore[assignment]

    def restore() -> None:
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        sys.stderr = saved

    return restore
