"""The exit codes of `run`, `batch` (and so `run_api.sh`), in one place, so scripts can trust them.

A calm 0 after every request failed is the worst thing a benchmark can print: 0 means every
sample of the split is in the results file, answered (or too short to send), and no gate
failed. Anything else has a code of its own; the last lines on stderr say why.
"""

from __future__ import annotations

#: every sample done (ok or too short to send), nothing failed, every --fail_if gate passed
OK = 0
#: the results file stopped taking lines, or the split stopped being readable part-way
ERROR = 1
#: a bad flag, key, URL, file or dataset, found before the first request (nothing sent)
CONFIG = 2
#: the run went through, but samples ended failed or never reached the file (coverage below
#: 100 %) beyond --max_failed_pct, or a --fail_if gate failed: the numbers are not a full run's
SHORT = 3
#: stopped before the next request would cross --budget_usd (resumable)
BUDGET = 4
#: stopped because nothing succeeded for --stall_timeout while every endpoint was resting
STALLED = 5
#: interrupted by Ctrl-C (SIGINT) or SIGTERM: what was in flight finished or is redone on resume
INTERRUPTED = 130
TERMINATED = 143

#: when a batch's runs end differently, the batch exits with the most serious code among them
SEVERITY = (INTERRUPTED, TERMINATED, CONFIG, ERROR, BUDGET, STALLED, SHORT, OK)


def most_serious(codes: list[int]) -> int:
    """The code a command made of several runs exits with (unknown codes rank first)."""
    if not codes:
        return OK
    rank = {code: i for i, code in enumerate(SEVERITY)}
    return min(codes, key=lambda c: rank.get(c, -1))
