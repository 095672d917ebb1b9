"""Run a client as a child process and measure it: CPU time, peak RSS, and CPU over time.

CPU totals come from the kernel when the child is reaped (`os.wait4` rusage: user + system
CPU of the child and anything it waited for). A sampler thread also reads `/proc/<pid>/stat`
every few milliseconds, so the benchmark can tell how much of the CPU went into the sending
phase (as the server saw it) and how much into start-up, and how busy the main thread
(asyncbench's event loop) was.

Peak RSS is the child's own `VmHWM` from `/proc/<pid>/status`, read by the same sampler (it
only grows, so the last reading is the peak up to a few milliseconds before exit). The
rusage `ru_maxrss` is no good here: Linux carries the parent's high-water mark over fork and
exec, so after the bench process itself has built 20,000 clips every child "peaked" at the
parent's 4 GB.
"""

from __future__ import annotations

import bisect
import os
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


@dataclass(slots=True)
class Measured:
    returncode: int
    wall_s: float
    cpu_s: float  # user + system, whole life of the process
    peak_rss_mb: float
    samples: list[tuple[float, float]] = field(default_factory=list)  # (monotonic, cpu_s)
    main_samples: list[tuple[float, float]] = field(default_factory=list)  # main thread only

    def cpu_between(self, start: float, end: float, *, main_thread: bool = False) -> float:
        """CPU seconds spent between two monotonic instants (interpolated from samples), by
        the whole process or by its main thread (where asyncbench's event loop runs)."""
        samples = self.main_samples if main_thread else self.samples
        return _value_at(samples, end) - _value_at(samples, start)


def _value_at(samples: list[tuple[float, float]], t: float) -> float:
    times = [s[0] for s in samples]
    i = bisect.bisect_left(times, t)
    if i == 0:
        return samples[0][1] if samples else 0.0
    if i == len(times):
        return samples[-1][1]
    (t0, c0), (t1, c1) = samples[i - 1], samples[i]
    return c0 + (c1 - c0) * (t - t0) / (t1 - t0) if t1 > t0 else c1


def _proc_cpu_s(path: str) -> float | None:
    try:
        with open(path, "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    # after the command name: state is field 3, utime 14, stime 15 (1-based, man proc)
    return (int(fields[11]) + int(fields[12])) / _TICK


def _proc_hwm_mb(path: str) -> float | None:
    try:
        with open(path, "rb") as fh:
            for line in fh:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except (OSError, ValueError, IndexError):
        return None
    return None


def run_measured(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    log: Path,
    timeout: float = 1800.0,
    interval: float = 0.01,
) -> Measured:
    """Run `argv` to the end with output to `log`; never leaves the child behind."""
    with open(log, "wb") as out:
        start = time.monotonic()
        proc = subprocess.Popen(argv, cwd=cwd, env=dict(env), stdout=out, stderr=subprocess.STDOUT)
    samples: list[tuple[float, float]] = []
    main_samples: list[tuple[float, float]] = []
    peak_rss_mb = 0.0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak_rss_mb
        whole, main = f"/proc/{proc.pid}/stat", f"/proc/{proc.pid}/task/{proc.pid}/stat"
        status = f"/proc/{proc.pid}/status"
        while not done.is_set():
            now = time.monotonic()
            cpu, main_cpu = _proc_cpu_s(whole), _proc_cpu_s(main)
            if cpu is not None and main_cpu is not None:
                samples.append((now, cpu))
                main_samples.append((now, main_cpu))
            hwm = _proc_hwm_mb(status)
            if hwm is not None:
                peak_rss_mb = max(peak_rss_mb, hwm)
            done.wait(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        timer.cancel()
        done.set()
        sampler.join()
    wall = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    cpu = usage.ru_utime + usage.ru_stime
    samples.append((time.monotonic(), cpu))
    return Measured(proc.returncode, wall, cpu, peak_rss_mb, samples, main_samples)
