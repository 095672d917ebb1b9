"""The command line this process was asked to run, as the user typed it.

Recorded once by the entry point (`cli.app.main`) so that what a run writes into its results
sidecar is the asyncbench command (redacted there), not the interpreter's `sys.argv` (which is
`pytest ...` in tests, or a wrapper script's own arguments).
"""

from __future__ import annotations

import sys

_argv: list[str] | None = None


def record(argv: list[str]) -> None:
    """Remember the command (program name first)."""
    global _argv
    _argv = list(argv)


def argv() -> list[str]:
    """The recorded command, else this process's `sys.argv`."""
    return list(_argv) if _argv is not None else list(sys.argv)
