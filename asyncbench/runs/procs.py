"""`--processes N`: shards in child processes on this machine, lines back over a pipe.

One event loop saturates one core at a few thousand requests a second against fast local
endpoints; N processes, each running the engine on its id-hash slice, use N cores. Children
are started with `spawn` (a fresh interpreter: the parent holds threads and a datasets heap
that `fork` would copy half-done). A child sends b"L" + lines as it finishes them (b"P" + a
long recording's parts) and b"E" + its pickled `ShardEnd` last; a pipe that closes before the
end means the child died, and the driver starts its shard again (runs/sharded.py).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import signal
import threading
from collections.abc import Callable
from typing import Any

from asyncbench.runs.shard_worker import ShardTask, run_shard

#: the first byte of a message from a child: its results lines, or its long recordings' parts
_TAGS = {"lines": b"L", "parts": b"P"}
_KINDS = {tag: kind for kind, tag in _TAGS.items()}


def _child(conn: Any, task: ShardTask) -> None:
    """The child's whole life: run the shard, send its lines and then its end."""
    # the parent stops the children itself (a terminal's Ctrl-C reaches the whole process
    # group): SIGTERM from it, which the shard's engine takes as a run of its own takes SIGINT
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    lock = threading.Lock()

    def emit(kind: str, data: bytes) -> None:
        with lock:
            conn.send_bytes(_TAGS[kind] + data)

    end = run_shard(task, emit)
    with lock:
        conn.send_bytes(b"E" + pickle.dumps(end))
    conn.close()


class ProcessExecutor:
    """Runs each shard in a child process; a reader thread per child posts its events."""

    def __init__(self) -> None:
        self.ctx = multiprocessing.get_context("spawn")
        self.children: list[Any] = []
        self.parallelism: int | None = None  # a process per shard: every shard runs at once

    def submit(self, task: ShardTask, post: Callable[[Any], None]) -> None:
        parent, child = self.ctx.Pipe(duplex=False)
        proc = self.ctx.Process(target=_child, args=(child, task), daemon=True)
        proc.start()
        child.close()
        self.children.append(proc)

        def read() -> None:
            while True:
                try:
                    data = parent.recv_bytes()
                except (EOFError, OSError):
                    proc.join()
                    post(("lost", task.key, f"process exited with code {proc.exitcode}"))
                    return
                kind = _KINDS.get(data[:1])
                if kind is not None:
                    post((kind, task.key, data[1:]))
                else:
                    post(("end", task.key, pickle.loads(data[1:])))
                    parent.close()
                    proc.join()
                    return

        threading.Thread(target=read, name=f"shard-{task.key}", daemon=True).start()

    def interrupt(self) -> None:
        """SIGTERM to every child: a shard whose engine runs finishes its requests in flight,
        sends their lines and ends (shard_worker); one still starting simply exits."""
        for proc in self.children:
            if proc.is_alive():
                with contextlib.suppress(OSError):
                    os.kill(proc.pid, signal.SIGTERM)

    def stop(self) -> None:
        """End every child now (SIGKILL: a child's SIGTERM is its gentle stop)."""
        for proc in self.children:
            if proc.is_alive():
                proc.kill()
        for proc in self.children:
            with contextlib.suppress(Exception):
                proc.join(5)
