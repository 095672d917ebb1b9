"""The benchmark's figures: one `Row` per client run, the table, and issue 6's targets.

Definitions (the same for both clients; see also bench/engine.py):

- requests/s = requests the server received ÷ the sending phase (first request in to last
  answer out, on the server's clock); `steady` = arrivals per second between the server's
  first answer and its last arrival (no fill, no drain: what Little's law bounds by W/L);
- mean in flight = Σ of the client's own per-request latencies (its results file) ÷ that
  phase (Little's law). Over a whole run it is capped by the fill and drain at both ends
  (N·W/(N+W) for an ideal client); `steady in flight` is the server's time-weighted count
  between its first answer and its last arrival, where an ideal client holds all W slots;
- client CPU per request = user+system CPU of the whole client process (rusage from
  `os.wait4`, start-up included) ÷ requests; `in phase` counts only the CPU spent during
  the sending phase (sampled from /proc), the steady cost of one more request;
- client cores = CPU seconds per second during the phase, whole process and (in brackets)
  its main thread, where asyncbench's event loop runs;
- a run is CPU-saturated when the rate it asks (W slots ÷ latency) would need 90 % or more
  of the machine's cores at its own measured CPU per request (client and server), or when
  its event-loop thread was busy 90 % of the time; the in-flight target applies to the runs
  that are not.
- peak RSS = the client process's own `VmHWM` (see `bench/proc.py` for why not `ru_maxrss`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from bench.proc import Measured


@dataclass(slots=True)
class Row:
    label: str
    kind: str  # the part that ran it: baseline, asyncbench, inflight, scale
    tool: str
    n: int
    workers: int
    latency: float
    measured: Measured
    server: dict[str, float]
    lines: int
    correct: bool
    problem: str
    sum_latency: float = 0.0

    @property
    def requests(self) -> int:
        return int(self.server.get("requests", 0))

    @property
    def phase_s(self) -> float:
        return float(self.server.get("phase_s", 0.0)) or float("nan")

    @property
    def rps(self) -> float:
        return ratio(self.requests, self.phase_s)

    @property
    def steady_rps(self) -> float:
        """Requests the server received per second between its first answer and its last
        arrival: the rate without the fill and the drain at both ends of a run."""
        return float(self.server.get("steady_arrivals_per_s", float("nan")))

    @property
    def mean_in_flight(self) -> float:
        return ratio(self.sum_latency, self.phase_s)

    @property
    def steady_in_flight(self) -> float:
        return float(self.server.get("steady_in_flight", float("nan")))

    @property
    def cpu_ms(self) -> float:
        return ratio(1000 * self.measured.cpu_s, max(1, self.requests))

    @property
    def phase_cpu_s(self) -> float:
        if "first_arrival" not in self.server:
            return float("nan")
        return self.measured.cpu_between(self.server["first_arrival"], self.server["last_reply"])

    @property
    def phase_cpu_ms(self) -> float:
        return ratio(1000 * self.phase_cpu_s, max(1, self.requests))

    @property
    def client_cores(self) -> float:
        return ratio(self.phase_cpu_s, self.phase_s)

    @property
    def loop_cores(self) -> float:
        """CPU of the main thread (asyncbench's event loop) per second of the phase."""
        if "first_arrival" not in self.server:
            return float("nan")
        first, last = self.server["first_arrival"], self.server["last_reply"]
        return ratio(self.measured.cpu_between(first, last, main_thread=True), self.phase_s)

    @property
    def needed_rps(self) -> float:
        """What W slots at this latency ask for (Little's law)."""
        return ratio(self.workers, self.latency)

    @property
    def server_cores(self) -> float:
        return ratio(float(self.server.get("cpu_s", 0.0)), self.phase_s)


def ratio(num: float, den: float) -> float:
    """num / den, or NaN (shown as n/a, judged NOT MET) when den is zero or not a number.

    Every figure here divides by something measured, and on a loaded machine a measurement
    can come out as exactly 0 (a CPU figure of 0.00 ms read from /proc ticks, a phase of one
    tick): that must give an n/a figure, never a ZeroDivisionError in the test suite."""
    return num / den if den and den == den else float("nan")


def _f(value: float, fmt: str) -> str:
    return "n/a" if value != value else format(value, fmt)  # NaN -> n/a


def table(rows: list[Row]) -> str:
    """A markdown table, one line per client run."""
    head = (
        "| run | clips | max_workers | latency s | requests/s | … steady | mean in flight "
        "| steady in flight | client CPU ms/req | … in phase | client cores (loop) "
        "| server cores | peak RSS MB | correct |"
    )
    out = [head, "|" + "---|" * head.count(" | ") + "---|"]
    for r in rows:
        out.append(
            f"| {r.label} | {r.n} | {r.workers} | {r.latency:g} | {_f(r.rps, '.0f')} "
            f"| {_f(r.steady_rps, '.0f')} "
            f"| {_f(r.mean_in_flight, '.0f')} | {_f(r.steady_in_flight, '.0f')} "
            f"| {_f(r.cpu_ms, '.2f')} | {_f(r.phase_cpu_ms, '.2f')} "
            f"| {_f(r.client_cores, '.2f')} ({_f(r.loop_cores, '.2f')}) "
            f"| {_f(r.server_cores, '.2f')} "
            f"| {r.measured.peak_rss_mb:.0f} | {'yes' if r.correct else 'NO: ' + r.problem} |"
        )
    return "\n".join(out)


def demand_cores(r: Row) -> float:
    """Cores the asked rate would take at this run's own CPU cost per request (client in the
    sending phase plus server): W slots at latency L ask for W/L requests/s."""
    per_request = ratio(r.phase_cpu_s + float(r.server.get("cpu_s", 0.0)), max(1, r.requests))
    return r.needed_rps * per_request


def saturated(r: Row, cores: int) -> bool:
    """Whether the CPU limits this run: the rate asked needs (nearly) all the machine's
    cores at the measured cost per request, or the client's event loop thread was busy all
    the time (one thread can use one core, whatever the machine has)."""
    return demand_cores(r) >= 0.9 * cores or r.loop_cores >= 0.9


def verdicts(rows: list[Row], prescan_s: float | None, help_s: float | None) -> list[str]:
    """Each target of issue 6 that this run can judge, with its numbers."""
    out: list[str] = []

    def mark(ok: bool) -> str:
        return "MET    " if ok else "NOT MET"

    def first(kind: str) -> Row | None:
        return next((r for r in rows if r.kind == kind), None)

    base, ab, scale = first("baseline"), first("asyncbench"), first("scale")
    if base and ab:
        steady, rps = ratio(ab.steady_rps, base.steady_rps), ratio(ab.rps, base.rps)
        cpu = ratio(base.cpu_ms, ab.cpu_ms)
        cap = ratio(ab.n * ab.needed_rps, ab.n + ab.workers)
        out.append(
            f"{mark(steady >= 5)} requests/s: asyncbench {steady:.1f}x the baseline in steady "
            f"state (>= 5x); {rps:.1f}x over the whole phase, where fill and drain cap even an "
            f"ideal client at N*W/(N+W)/L = {cap:.0f}/s"
        )
        phase = ratio(base.phase_cpu_ms, ab.phase_cpu_ms)
        out.append(
            f"{mark(cpu >= 5)} CPU per request: asyncbench 1/{cpu:.1f} of the baseline's "
            f"(<= 1/5; in the sending phase alone 1/{phase:.1f})"
        )
        out.append(
            f"        peak RSS: asyncbench {ab.measured.peak_rss_mb:.0f} MB, baseline "
            f"{base.measured.peak_rss_mb:.0f} MB"
        )
    cores = os.cpu_count() or 1
    for r in rows:
        if r.tool != "asyncbench":
            continue
        share = ratio(r.steady_in_flight, r.workers)
        text = (
            f"steady in flight, {r.label}: {r.steady_in_flight:.0f} of {r.workers} "
            f"({100 * share:.1f} %) for {r.needed_rps:.0f} requests/s asked, "
            f"{r.rps:.0f} done; that rate needs {demand_cores(r):.1f} of {cores} cores "
            f"(client {r.client_cores:.2f}, loop {r.loop_cores:.2f}, server "
            f"{r.server_cores:.2f} busy)"
        )
        out.append(
            f"        {text}: CPU saturated, the target does not apply"
            if saturated(r, cores)
            else f"{mark(share >= 0.95)} {text}"
        )
    if ab and scale:
        grow = scale.measured.peak_rss_mb - ab.measured.peak_rss_mb
        out.append(
            f"{mark(grow <= 50)} peak RSS {ab.n} vs {scale.n} clips: "
            f"{ab.measured.peak_rss_mb:.0f} vs {scale.measured.peak_rss_mb:.0f} MB "
            f"({grow:+.0f} MB; within 50)"
        )
    if prescan_s is not None:
        out.append(f"{mark(prescan_s < 2)} resume pre-scan of 1,000,000 lines: {prescan_s:.2f} s")
    if help_s is not None:
        out.append(f"{mark(help_s < 0.5)} asyncbench --help: {help_s:.2f} s (median of 7)")
    if any(not r.correct for r in rows):
        out.append(
            "NOT MET every transcript right: "
            + ", ".join(f"{r.label}: {r.problem}" for r in rows if not r.correct)
        )
    elif rows:
        out.append(f"MET     every transcript right in all {len(rows)} runs")
    return out
