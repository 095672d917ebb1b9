"""`batch --ray [ADDRESS]`: shards as Ray tasks on a cluster, lines streamed back to the driver.

Each shard is one Ray task (a streaming generator): it runs the engine on its node with its
share of the provider's budget (runs/sharded.py hands out the shares) and yields its finished
lines in batches as they come, then its `ShardEnd`. The driver appends them to the results
files it holds locked, so no node but the driver needs the results folder. Ray's own retry
is off (`max_retries=0`): a task whose worker or node dies surfaces here as an error on its
generator, and the driver starts the shard again leaving out every id written so far, so the
samples finished before the loss are kept and the rest are done once.

Ray is imported only here, and only when `--ray` is given; the workers need asyncbench (and the
dataset's local copy, for a folder `--dataset_path`) importable on every node.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
from collections.abc import Callable
from typing import Any

from asyncbench.core.errors import ConfigError
from asyncbench.runs.shard_worker import ShardEnd, ShardTask, run_shard

INSTALL_HINT = "--ray needs Ray, which is not installed: pip install 'asyncbench[ray]'"


def _reachable(address: str, timeout: float = 3.0) -> str | None:
    """None if the head's GCS port accepts a TCP connection, else why not (so an unreachable
    address is one clear line at once, not Ray's minute of retries)."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        return f"not HOST:PORT, 'auto' or 'local' (got {address!r})"
    try:
        with socket.create_connection((host, int(port)), timeout):
            return None
    except OSError as exc:
        return exc.strerror or type(exc).__name__


def connect(address: str) -> int:
    """Join (or, with `local`, start) the Ray cluster; the number of CPUs it has. Every
    failure is a `ConfigError`, raised before any run is prepared or any request sent."""
    try:
        import ray
    except ImportError:
        raise ConfigError(INSTALL_HINT) from None
    address = address.removeprefix("ray://") if address.startswith("ray://") else address
    kwargs: dict[str, Any] = {"logging_level": "ERROR", "log_to_driver": False}
    if address == "local":
        kwargs["include_dashboard"] = False
    elif address != "auto":
        why = _reachable(address)
        if why is not None:
            raise ConfigError(f"cannot reach the Ray cluster at {address}: {why}")
        kwargs["address"] = address
    else:
        kwargs["address"] = "auto"
    try:
        ray.init(**kwargs)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConfigError(f"cannot reach the Ray cluster at {address}: {first}") from None
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


_REMOTE: list[Any] = []


def _shard_remote() -> Any:
    """The Ray task, defined once ray is imported."""
    if _REMOTE:
        return _REMOTE[0]
    import ray

    @ray.remote(max_retries=0, num_cpus=1, scheduling_strategy="SPREAD")
    def shard(task: ShardTask):  # type: ignore[no-untyped-def]
        lines: queue.Queue[tuple[str, Any]] = queue.Queue()

        def work() -> None:
            try:
                end = run_shard(task, lambda kind, data: lines.put((kind, data)))
            except Exception as exc:  # reported to the driver as the shard's error
                end = ShardEnd(1, f"{type(exc).__name__}: {exc}")
            lines.put(("E", end))

        threading.Thread(target=work, name="shard", daemon=True).start()
        while True:
            kind, value = lines.get()
            yield kind, value
            if kind == "E":
                return

    _REMOTE.append(shard)
    return shard


def _ledger_host() -> str:
    """The address the shard tasks reach the driver's ledger server on: loopback when every
    node of the cluster is on this machine's loopback, else the driver's node address."""
    import ray

    if not ray.is_initialized():
        return "127.0.0.1"
    nodes = {n.get("NodeManagerAddress") for n in ray.nodes() if n.get("Alive")}
    if nodes <= {"127.0.0.1", "localhost"}:
        return "127.0.0.1"
    return str(ray.util.get_node_ip_address())


class RayExecutor:
    """Runs each shard as a Ray task; a thread per task turns its stream into events."""

    def __init__(self, parallelism: int | None = None) -> None:
        self.running: list[Any] = []
        #: shard tasks the cluster runs at once (one CPU each); the budget is cut for these
        self.parallelism = parallelism
        #: where the tasks reach the driver's ledger (runs/ledger_wire.py)
        self.ledger_host = _ledger_host()

    def submit(self, task: ShardTask, post: Callable[[Any], None]) -> None:
        import ray

        gen = _shard_remote().remote(task)
        self.running.append(gen)

        def read() -> None:
            try:
                for ref in gen:
                    kind, value = ray.get(ref)
                    if kind in ("lines", "parts"):
                        post((kind, task.key, value))
                    else:
                        post(("end", task.key, value))
                        return
            except Exception as exc:  # the worker or its node is gone
                first = (str(exc).strip().splitlines() or [""])[0]
                post(("lost", task.key, f"{type(exc).__name__}: {first}"[:200]))
                return
            post(("lost", task.key, "the task ended without its last message"))

        threading.Thread(target=read, name=f"ray-shard-{task.key}", daemon=True).start()

    def interrupt(self) -> None:
        """A Ray task cannot be signalled into a graceful stop: it is cancelled (its requests
        in flight are sent again by a rerun)."""
        self.stop()

    def stop(self) -> None:
        import ray

        for gen in self.running:
            with contextlib.suppress(Exception):
                ray.cancel(gen, force=True)
        self.running.clear()
