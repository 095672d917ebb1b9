"""Process limits a run checks before its first request.

Every request in flight holds one socket, so `--max_workers 5000` under the usual soft limit
of 1024 open files fails thousands of requests with `EMFILE: Too many open files` once the
run is under way (each recorded as a connection error, and retried, and resting endpoints
that did nothing wrong). The soft limit may be raised up to the hard one by any process, so
the run does that first; if even the hard limit is too low, it refuses at once with the
limit and how to raise it.
"""

from __future__ import annotations

from asyncbench.core.errors import ConfigError

#: descriptors a run needs besides one socket per request in flight: the results, lock and
#: summary files, the dataset's files, decode threads, the event loop's own, endpoints'
#: spare keep-alive connections, stdio
HEADROOM = 128


def raise_open_files_limit(
    max_workers: int,
    n_endpoints: int = 1,
    *,
    files: int = 0,
    what: str | None = None,
    lower: str = "--max_workers",
) -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit; ConfigError if it is still too low.

    `files`: descriptors beyond the headroom (a batch's open runs); `what` names the demand
    in the error (default `--max_workers N`). Returns the soft limit in force afterwards."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on POSIX: nothing to check
        return -1
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):  # e.g. macOS refuses RLIM_INFINITY: keep what there is
            pass
    needed = max_workers + HEADROOM + n_endpoints + files
    if soft != resource.RLIM_INFINITY and needed > soft:
        raise ConfigError(
            f"{what or f'--max_workers {max_workers}'} needs about {needed} open files (one "
            f"socket per request in flight, plus {needed - max_workers} for files and "
            "endpoints), but "
            f"this process may open at most {soft} (ulimit -n; hard limit {_show(hard)}); "
            f"raise it (e.g. `ulimit -n {needed}`, or the nofile entry in "
            f"/etc/security/limits.conf) or lower {lower}"
        )
    return soft


def _show(limit: int) -> str:
    import resource

    return "unlimited" if limit == resource.RLIM_INFINITY else str(limit)


#: descriptors one open run of a batch holds: results file, lock, summary, dataset files
PER_RUN_FILES = 8


def check_batch_open_files(budgets: list[tuple[str, int, int]], max_runs: int | None) -> None:
    """A batch runs every provider at once, so its sockets are the sum of the budgets
    `(name, requests in flight, endpoints)`, not any one run's; each budget keeps at most two
    runs open (the split it is on and the next). `--max_runs N` caps that to the N largest."""
    ranked = sorted(budgets, key=lambda b: b[1], reverse=True)
    if max_runs is not None:
        ranked = ranked[:max_runs]
    workers = sum(b[1] for b in ranked)
    shown = " + ".join(f"{name} {limit}" for name, limit, _ in ranked[:6])
    shown += " + ..." if len(ranked) > 6 else ""
    raise_open_files_limit(
        workers,
        sum(b[2] for b in ranked),
        files=PER_RUN_FILES * 2 * len(ranked),
        what=f"this batch's providers at once ({shown} = {workers} in flight)",
        lower="--max_workers or --max_runs",
    )
