"""One writer per results file: an exclusive `flock` on `<results file>.lock`, held all run.

Two runs appending to one results file (a second `nohup bash run_api.sh` started by mistake,
two shells resuming the same split) would both send every request, interleave their lines and
each rewrite the file under the other during its resume pre-scan. So a run takes this lock
before it reads or writes anything of its results file (the sidecar check, the pre-scan and
its rewrite included) and keeps it until it has written its summary. A second run of the same
file is refused at once, before any request, naming the file and the PID that holds it.

`flock` rather than a PID file: the kernel drops the lock when its holder dies, however it
dies (SIGKILL, OOM killer, power loss on a local disk), so a stale lock can never block a
rerun, and there is no PID-reuse guessing. The PID is written into the lock file only to be
shown in the refusal. The holder deletes the file when it lets go, so no `.lock` stays
behind after any exit that runs Python's cleanup (a SIGKILL leaves it, harmlessly: the next
run takes it over). Deleting a lock file races with a run that has just opened it, which would
then lock a file nobody else can see; so `acquire` checks, once it holds the lock, that the
path still names the file it locked, and starts again on a fresh one when it does not.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from pathlib import Path

from asyncbench.core.errors import ConfigError

SUFFIX = ".lock"


def lock_path(results: Path) -> Path:
    """`results/X.jsonl` → `results/X.jsonl.lock` (not `*.jsonl`, so scoring ignores it)."""
    return results.with_name(results.name + SUFFIX)


class ResultsLock:
    """`with ResultsLock(path):` — exclusive use of one results file, or ConfigError (exit 2)."""

    def __init__(self, results: Path) -> None:
        self.results = results
        self.path = lock_path(results)
        self._fd: int | None = None

    def acquire(self) -> None:
        for _ in range(100):  # a retry only follows another run's release: a few at most
            fd = self._lock_once()
            if _same_file(fd, self.path):
                self._fd = fd
                return
            os.close(fd)  # the holder released and deleted it between our open and flock
        raise ConfigError(f"cannot lock {self.path} for {self.results}: it keeps changing")

    def _lock_once(self) -> int:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise ConfigError(
                f"cannot create the lock file {self.path} for {self.results}: "
                f"{exc.strerror}; pick another --results_dir"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _read_pid(fd)
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise ConfigError(
                    f"cannot lock {self.path} for {self.results}: {exc.strerror}"
                ) from None
            who = f"PID {holder}" if holder else "another process"
            raise ConfigError(
                f"results file {self.results} is in use by another run ({who} holds "
                f"{self.path.name}); wait for it to finish or stop it, or pass another "
                "--results_dir"
            ) from None
        try:
            os.ftruncate(fd, 0)
            data = f"{os.getpid()}\n".encode()
            if os.pwrite(fd, data, 0) != len(data):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        except OSError as exc:
            os.close(fd)
            raise ConfigError(
                f"cannot write {self.path}: {exc.strerror}; free some space or pass another "
                "--results_dir"
            ) from None
        return fd

    def release(self) -> None:
        if self._fd is not None:
            if _same_file(self._fd, self.path):
                # unlinked while still held, so no other run can lock this file and see it go
                with contextlib.suppress(OSError):
                    self.path.unlink()
            os.close(self._fd)  # closing the last descriptor drops the flock
            self._fd = None

    def __enter__(self) -> ResultsLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _same_file(fd: int, path: Path) -> bool:
    """Whether `path` still names the open file `fd` (not deleted, not replaced)."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    mine = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)


def _read_pid(fd: int) -> int | None:
    """The holder's PID as it wrote it (None if it has not yet, or the file is not ours)."""
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
