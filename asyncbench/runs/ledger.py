"""The command's money: one budget and one job ledger, owned by the driver, whatever executes.

A command (`run`, `run --processes N`, `batch` in one loop, with processes or on Ray, and so
`run_api.sh`) has exactly one `Ledger`, made where the command starts. Every attempt that
bills asks it first (`reserve`: the attempt's worst-case cost at the model's price is taken
from the one budget, or refused when it would cross it) and reports back after (`settle`),
so concurrency, retries and shards can never push the spend past `--budget_usd`: the sum of
what is reserved and settled is never above it, by construction. The first refusal stops the
whole command: every later `reserve` is refused too, so each engine, wherever it runs,
stops at its next attempt (what is in flight finishes and is written) and the driver starts
nothing new.

The job journals of async-job providers live here too, one per results file beside it
(`results.jobs`), so a shard's jobs survive the shard: a worker never opens one, it asks the
ledger (`lookup`, `record`). An entry is bound to what it was made for (model, endpoint,
audio digest): one that does not match this run is reported once and never polled here. A
job id that the service returns for two different uploads is a protocol error for both
(`record` says so), reported once.

Workers in other processes or on Ray reach the ledger through `runs.ledger_wire` (a small
loopback server in the driver); in-process runs call it directly. It is thread-safe.
"""

from __future__ import annotations

import math
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asyncbench.core import exit_codes
from asyncbench.core.prices import Price, price_for
from asyncbench.core.text import one_line
from asyncbench.providers._jobs import DUPLICATE_JOB
from asyncbench.results.jobs import SUBMITTED, JobEntry, JobJournal, jobs_path
from asyncbench.runs.budget import BUDGET_EXIT


@dataclass
class _Spend:
    price: Price | None
    settled: float = 0.0
    attempts: int = 0


@dataclass
class Ledger:
    """The budget (`limit_usd` None: count only) and the job journals of one command."""

    limit_usd: float | None = None
    prices: str | None = None  # --prices FILE (None: the shipped table)
    price_per_hour: float | None = None
    reserved: float = 0.0  # attempts in flight, at their worst-case cost
    stopped: bool = False  # a reservation was refused: the command is stopping
    why: str = "the next request would cross it"  # why the command stopped
    spend: dict[str, _Spend] = field(default_factory=dict)
    journals: dict[str, JobJournal] = field(default_factory=dict)
    _job_owner: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    _bad_jobs: set[tuple[str, str]] = field(default_factory=set)
    _said: set[str] = field(default_factory=set)
    _foreign: dict[str, int] = field(default_factory=dict)  # entries not polled, per file
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def for_config(cls, cfg: Any) -> Ledger:
        """The ledger of a command whose options are `cfg` (a RunConfig)."""
        return cls(cfg.budget_usd, cfg.prices, cfg.price_per_hour)

    # -- budget ---------------------------------------------------------------------------

    def _price(self, model: str) -> _Spend:
        entry = self.spend.get(model)
        if entry is None:
            entry = self.spend[model] = _Spend(price_for(model, self.prices, self.price_per_hour))
        return entry

    @property
    def settled(self) -> float:
        return sum(s.settled for s in self.spend.values())

    def _cost(self, entry: _Spend, seconds: float) -> float:
        if not (math.isfinite(seconds) and seconds >= 0):
            return 0.0  # no limit to keep: counted as unknown, never as NaN
        price = entry.price
        cost = price.request_cost(seconds) if price is not None else None
        return cost or 0.0

    def reserve(self, model: str, seconds: float) -> bool:
        """Reserve one attempt of `seconds` of audio for `model` at its worst-case cost (0
        when the price is unknown); False when it would take the command past the budget,
        and from then on for every attempt of the command (it is stopping)."""
        with self._lock:
            entry = self._price(model)
            if self.stopped:
                return False
            if self.limit_usd is not None and not (math.isfinite(seconds) and seconds >= 0):
                # a clip of unknown length (a URL source whose length column is NaN) cannot
                # be priced: under a budget it is not sent, and the command stops saying so
                self.stopped = True
                self.why = (
                    "a clip of unknown length (its audio_length_s is not a number) cannot be priced"
                )
                return False
            cost = self._cost(entry, seconds)
            if self.limit_usd is not None and (
                self.settled + self.reserved + cost > self.limit_usd + 1e-9
            ):
                self.stopped = True
                return False
            self.reserved += cost
            entry.attempts += 1
            return True

    def settle(self, model: str, seconds: float) -> None:
        """A reserved attempt is over: it counts as spent at the cost it was reserved at (an
        attempt that reached the wire may have been billed, whatever came back)."""
        with self._lock:
            entry = self._price(model)
            cost = self._cost(entry, seconds)
            self.reserved = max(0.0, self.reserved - cost)
            entry.settled += cost

    def spend_lines(self) -> list[str]:
        """`spend: $ X (audio sent, retries included)` for the command, with one line per
        model before it when there are several; nothing when no price is known."""
        priced = {m: s for m, s in self.spend.items() if s.price is not None and s.price.known}
        if not priced:
            return []
        lines = []
        if len(self.spend) > 1:
            for model, s in sorted(self.spend.items()):
                said = f"$ {s.settled:0.4f}" if model in priced else "unknown (no price)"
                lines.append(
                    f"spend {model}: {said} ({s.attempts} attempt{'s' * (s.attempts != 1)})"
                )
        total = sum(s.settled for s in priced.values())
        lines.append(f"spend: $ {total:0.4f} (audio sent, retries included)")
        return lines

    def stop_line(self, written: int | None = None) -> str:
        done = "" if written is None else f"{written} samples written; "
        return (
            f"stopped by --budget_usd {self.limit_usd:g}: $ {self.settled:0.4f} spent, "
            f"{self.why}; {done}rerun (with a larger budget) to resume"
        )

    # -- job journals ---------------------------------------------------------------------

    def _journal(self, results: str) -> JobJournal:
        journal = self.journals.get(results)
        if journal is None:
            journal = self.journals[results] = JobJournal(jobs_path(Path(results)))
            for entry in journal.entries.values():
                bound = (entry.extra.get("_model", ""), entry.job)
                self._job_owner.setdefault(bound, (results, entry.key))
        return journal

    def open_journal(self, results: str) -> None:
        """Read the journal beside `results` now (the driver, before any worker asks)."""
        with self._lock:
            self._journal(results)

    def lookup(
        self, results: str, key: str, model: str, urls: list[str], sample: str | None = None
    ) -> JobEntry | None:
        """The pending job to poll for the audio `key` of sample `sample` in a run of `model`
        on `urls`, or None. An entry made for another model, endpoint or sample is reported
        once and not returned (the sample is then submitted as a new job)."""
        with self._lock:
            entry = self._journal(results).pending(key)
            if entry is None:
                return None
            made_for = entry.extra.get("_model", "")
            for_sample = entry.extra.get("_sample")
            same_sample = sample is None or for_sample is None or for_sample == sample
            if made_for == model and entry.url in urls and same_sample:
                extra = {k: v for k, v in entry.extra.items() if not k.startswith("_")}
                return JobEntry(entry.key, entry.job, entry.state, entry.url, extra)
            owner = one_line(made_for or "an unrecorded model", 80)
            where = f"{owner} at {one_line(entry.url, 80)}"
            if not same_sample:
                where = f"sample {one_line(for_sample, 80)} of {where}"
                model = f"sample {sample} of {model}"
            self._foreign[results] = self._foreign.get(results, 0) + 1
            self._say(
                f"foreign:{results}",
                f"warning: {one_line(Path(results).name, 200)}: job {one_line(entry.job, 80)} "
                f"was recorded for {where}, not for this run's {one_line(model, 80)} at "
                f"{one_line(', '.join(urls), 80)}; "
                "it is not polled here, and its sample is submitted as a new job",
            )
            return None

    def record(
        self,
        results: str,
        key: str,
        job: str,
        state: str,
        url: str,
        extra: dict[str, Any],
        model: str,
    ) -> str | None:
        """Write one journal line (before the job is polled, when `state` is submitted).
        Returns DUPLICATE_JOB when the job id belongs to another upload of this provider
        (that job is then bad for both; reported once), else None."""
        provider = model.partition("/")[0]
        with self._lock:
            journal = self._journal(results)
            bound = (model, job)
            if state == SUBMITTED:
                owner = self._job_owner.setdefault(bound, (results, key))
                if owner != (results, key):
                    self._bad_jobs.add(bound)
                    self._say(
                        f"dup:{provider}:{job}",
                        f"error: {one_line(provider, 80)} returned job id {one_line(job, 80)} "
                        "for two different uploads: neither transcript is scored (both samples end "
                        "failed, kind protocol, and are retried by a rerun)",
                    )
                    return DUPLICATE_JOB
                journal.write_now(JobEntry(key, job, state, url, extra | {"_model": model}))
                return None
            old = journal.entries.get(key)
            if old is not None and old.job == job:
                journal.write_now(JobEntry(key, job, state, old.url, old.extra))
            return DUPLICATE_JOB if bound in self._bad_jobs else None

    def close_journal(self, results: str, *, compact: bool) -> None:
        """The run of `results` is over: close its journal, and keep only the jobs still
        pending when the split went through."""
        with self._lock:
            journal = self.journals.pop(results, None)
            foreign = self._foreign.pop(results, 0)
        if foreign > 1:  # the first was said in full when it was met
            print(
                f"warning: {one_line(Path(results).name, 200)}: {foreign} recorded jobs were "
                "made for another model or endpoint; their samples were submitted as new jobs",
                file=sys.stderr,
                flush=True,
            )
        if journal is None:
            journal = JobJournal(jobs_path(Path(results))) if compact else None
        if journal is None:
            return
        journal.close()
        if compact:
            journal.compact()

    def _say(self, once: str, line: str) -> None:
        if once not in self._said:
            self._said.add(once)
            print(line, file=sys.stderr, flush=True)


def close_command(ledger: Ledger, code: int) -> int:
    """The end of a command: its spend (stdout), the budget stop (stderr) and the exit code,
    `BUDGET_EXIT` when the budget stopped it (unless it was interrupted or failed otherwise).

    A budget stop leaves samples unsent, so a run's own verdict may say "short" (exit 3):
    the stop is what explains that shortfall, and a rerun with room resumes it, so it wins."""
    for line in ledger.spend_lines():
        print(line, flush=True)
    if ledger.stopped:
        print(ledger.stop_line(), file=sys.stderr, flush=True)
        if code in (exit_codes.OK, exit_codes.SHORT, BUDGET_EXIT):
            return BUDGET_EXIT
    return code
