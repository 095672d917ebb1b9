"""Whether a run that went through its split delivered a full run's numbers: the exit code.

A run whose every request failed used to end with exit 0 and `WER over the 0 successful
samples = 0.00 %`. Here the results file decides: samples that ended failed, or rows of the
split that never reached the file (coverage below 100 %), make the run exit
`exit_codes.SHORT` (3), unless `--max_failed_pct X` allows up to X % of the split to be
missing. The last stderr line says how many, and how to retry or allow them.
"""

from __future__ import annotations

import sys
from typing import Any

from asyncbench.core import exit_codes
from asyncbench.core.numbers import is_count


def short_percent(summary: dict[str, Any]) -> tuple[float, int, int, int]:
    """(percent of the split not done, samples failed, samples not done, samples in all) from
    a run summary's `wer` section (nothing scored: nothing failed, nothing known missing)."""
    wer = summary.get("wer")
    if not wer or not isinstance(wer, dict):
        return 0.0, 0, 0, 0

    def count(key: str) -> int:
        """A count of this section; 0 for anything else (a summary someone edited)."""
        value = wer.get(key)
        return value if is_count(value) else 0

    done = count("ok") + count("skipped_short")
    total = max(count("total"), count("samples"))
    missing = max(0, total - done)
    return (100.0 * missing / total if total else 0.0), count("failed"), missing, total


def verdict(summary: dict[str, Any], max_failed_pct: float | None) -> int:
    """`exit_codes.SHORT` (with one `error:` line on stderr) when more of the split than
    `max_failed_pct` percent is failed or missing; else OK. None: no check (a sweep level)."""
    if max_failed_pct is None:
        return exit_codes.OK
    short, failed, missing, total = short_percent(summary)
    if missing <= 0 or short <= max_failed_pct + 1e-9:
        return exit_codes.OK
    allowed = f"above --max_failed_pct {max_failed_pct:g}" if max_failed_pct else "none allowed"
    print(
        f"error: {missing} of {total} samples not done ({failed} failed, "
        f"{missing - failed} never written; {short:.2f} % of the split, {allowed}): exit "
        f"{exit_codes.SHORT}; rerun the same command to retry them, or allow some with "
        "--max_failed_pct X",
        file=sys.stderr,
    )
    return exit_codes.SHORT
