"""A real two-node Ray cluster on 127.0.0.1 for the `--ray` tests: `ray start --head` and
`ray start --address`, one CPU and a small object store each.

Its processes are found by what only they carry on their command lines (the cluster's own
temp folder, each node's own worker-port range) and their children, and are stopped by
process id: nothing else on the machine that runs Ray is touched.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .loopback import free_port

RAY = str(Path(sys.executable).with_name("ray"))
OBJECT_STORE = str(80 * 1024 * 1024)


def _procs() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) of every process we can read."""
    out: dict[int, tuple[int, str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        out[int(entry)] = (ppid, cmd)
    return out


def _with_children(roots: set[int], procs: dict[int, tuple[int, str]]) -> set[int]:
    found = set(roots)
    grew = True
    while grew:
        grew = False
        for pid, (ppid, _) in procs.items():
            if ppid in found and pid not in found:
                found.add(pid)
                grew = True
    return found


def _kill(pids: set[int]) -> None:
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


class RayCluster:
    """`cluster = RayCluster.start()`; `cluster.address`; `cluster.kill_worker_node()`;
    `cluster.stop()`. `start` raises RuntimeError (with Ray's words) if Ray cannot start."""

    def __init__(self) -> None:
        self.temp = Path(tempfile.mkdtemp(prefix="abray-", dir="/tmp"))
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        base = 40000 + (os.getpid() % 200) * 100
        self.head_ports = (base, base + 40)
        self.worker_ports = (base + 50, base + 90)
        self.env = {
            **os.environ,
            "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
            "RAY_USAGE_STATS_ENABLED": "0",
            "HF_HUB_OFFLINE": "1",
            "HF_DATASETS_OFFLINE": "1",
        }

    @classmethod
    def start(cls) -> RayCluster:
        cluster = cls()
        try:
            cluster._ray(
                "start",
                "--head",
                "--port",
                str(cluster.port),
                "--temp-dir",
                str(cluster.temp),
                *cluster._node_args(cluster.head_ports),
            )
            cluster.add_worker_node()
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def add_worker_node(self) -> None:
        self._ray("start", "--address", self.address, *self._node_args(self.worker_ports))

    def _node_args(self, ports: tuple[int, int]) -> list[str]:
        return [
            "--num-cpus",
            "1",
            "--object-store-memory",
            OBJECT_STORE,
            "--node-ip-address",
            "127.0.0.1",
            "--include-dashboard=false",
            "--disable-usage-stats",
            "--min-worker-port",
            str(ports[0]),
            "--max-worker-port",
            str(ports[1]),
        ]

    def _ray(self, *args: str) -> None:
        args_list = list(args)
        if args[1] != "--head":  # the dashboard flag is the head's only
            args_list.remove("--include-dashboard=false")
        done = subprocess.run(
            [RAY, *args_list], capture_output=True, text=True, env=self.env, timeout=120
        )
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise RuntimeError(f"ray {args[0]} failed: {' | '.join(tail)}")

    def kill_worker_node(self) -> None:
        """SIGKILL the second node's raylet and everything under it (its task workers)."""
        procs = _procs()
        mark = f"--min_worker_port={self.worker_ports[0]}"
        roots = {pid for pid, (_, cmd) in procs.items() if mark in cmd}
        _kill(_with_children(roots, procs))

    def stop(self) -> None:
        """Kill every process of this cluster, by id; remove its temp folder."""
        procs = _procs()
        marks = (
            str(self.temp),
            f"--min_worker_port={self.head_ports[0]}",
            f"--min_worker_port={self.worker_ports[0]}",
            f":{self.port}",
        )
        roots = {pid for pid, (_, cmd) in procs.items() if any(m in cmd for m in marks)}
        roots.discard(os.getpid())
        _kill(_with_children(roots, procs))
        time.sleep(0.5)
        shutil.rmtree(self.temp, ignore_errors=True)
