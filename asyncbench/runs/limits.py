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


def raise_open_files_limit(max_workers: int, n_endpoints: int = 1) -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit; ConfigError if it is still too low.

    Returns the soft limit in force afterwards."""
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
    needed = max_workers + HEADROOM + n_endpoints
    if soft != resource.RLIM_INFINITY and needed > soft:
        raise ConfigError(
            f"--max_workers {max_workers} needs about {needed} open files (one socket per "
            f"request in flight, plus {HEADROOM + n_endpoints} for files and endpoints), but "
            f"this process may open at most {soft} (ulimit -n; hard limit {_show(hard)}); "
            f"raise it (e.g. `ulimit -n {needed}`, or the nofile entry in "
            "/etc/security/limits.conf) or lower --max_workers"
        )
    return soft


def _show(limit: int) -> str:
    import resource

    return "unlimited" if limit == resource.RLIM_INFINITY else str(limit)
