"""Is `--dataset_path` a folder or a hub id, and can it be read at all? Answered at once.

`demo_data/esbb` (a typo of the folder `demo_data/esb`) has the shape of a hub id
(`owner/name`), so it used to be sent to the Hub: 70 s of retries on a machine with no route,
then "cannot reach the Hugging Face Hub ... check the network", never "no such folder". Here:

- a reference is a **folder** when it exists, starts with `/`, `./`, `../` or `~`, has more
  than one `/`, or its first part is a folder here (`demo_data/...` when `demo_data/` exists:
  no hub owner is shadowed by accident, since a run reads what is on disk first);
- a folder that does not exist is refused in one line naming the nearest folder that does,
  and the entries in it that look most like what was asked for;
- a **hub id** is only tried when the Hub answers a TCP connection within a few seconds
  (`HF_ENDPOINT`, else huggingface.co; skipped with `HF_HUB_OFFLINE`/`HF_DATASETS_OFFLINE`,
  where `datasets` reads its cache): otherwise one line says whether the machine looks
  offline (the name does not resolve) or the Hub is unreachable from it.
"""

from __future__ import annotations

import difflib
import functools
import os
import socket
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from urllib.parse import urlsplit

from asyncbench.core.errors import ConfigError

#: seconds the Hub gets to accept a connection before the run is refused
HUB_CONNECT_S = 5.0
DEFAULT_HUB = "https://huggingface.co"


def looks_local(path: str) -> bool:
    """Whether `path` names a folder rather than a hub id (see the module's rules)."""
    if os.path.exists(path) or path.startswith((".", "/", "~")) or path.count("/") >= 2:
        return True
    head = path.split("/", 1)[0]
    return "/" in path and bool(head) and os.path.isdir(head)


def nearest_existing(path: str) -> tuple[Path, list[str]]:
    """The deepest existing folder on the way to `path`, and up to 3 of its entries that look
    most like the missing part (for "did you mean")."""
    target = Path(path).expanduser()
    probe = target if target.is_absolute() else Path.cwd() / target
    missing = probe.name
    while not probe.is_dir() and probe != probe.parent:
        missing = probe.name
        probe = probe.parent
    try:
        entries = sorted(p.name for p in probe.iterdir() if p.is_dir())
    except OSError:
        entries = []
    close = difflib.get_close_matches(missing, entries, n=3, cutoff=0.6)
    return probe, close


def _shown(folder: Path) -> str:
    """`folder` relative to the working directory when under it (as the user typed paths)."""
    try:
        rel = folder.relative_to(Path.cwd())
    except ValueError:
        return str(folder)
    return "./" if str(rel) == "." else f"{rel}/"


def check_local_folder(path: str, what: str = "dataset folder") -> None:
    """ConfigError when the folder `path` names is not there, naming the nearest one that is."""
    folder = Path(path).expanduser()
    if folder.exists():
        return
    near, close = nearest_existing(path)
    base = _shown(near)
    hint = f"; did you mean {' or '.join(base + c for c in close)}?" if close else ""
    raise ConfigError(
        f"{what} {path!r} does not exist; the nearest existing folder is {base}{hint}"
    )


def _hub_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "").strip() or DEFAULT_HUB


def _offline_mode() -> bool:
    return any(
        os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on")
        for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
    )


@functools.lru_cache(maxsize=8)
def _hub_problem(endpoint: str, timeout: float) -> str | None:
    """None when `endpoint` accepts a TCP connection, else what went wrong, in words."""
    parts = urlsplit(endpoint)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    pool = ThreadPoolExecutor(1, thread_name_prefix="hub-dns")
    try:
        infos = pool.submit(socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM).result(timeout)
    except FutureTimeout:
        return f"the machine looks offline: resolving {host} took over {timeout:g} s"
    except OSError as exc:
        return f"the machine looks offline: cannot resolve {host} ({exc.strerror or exc})"
    finally:
        pool.shutdown(wait=False)
    last: str = "no address"
    for family, kind, proto, _, addr in infos:
        with socket.socket(family, kind, proto) as sock:
            sock.settimeout(timeout)
            try:
                sock.connect(addr)
                return None
            except TimeoutError:
                last = f"no answer within {timeout:g} s"
            except OSError as exc:
                last = exc.strerror or str(exc)
    return f"cannot connect to {host}:{port} ({last})"


def check_hub_reachable(path: str, timeout: float = HUB_CONNECT_S) -> None:
    """ConfigError in seconds, not after a minute of retries, when the Hub cannot be reached
    for the hub id `path` (nothing to check in offline mode, where the cache is read)."""
    if _offline_mode():
        return
    endpoint = _hub_endpoint()
    problem = _hub_problem(endpoint, timeout)
    if problem is None:
        return
    raise ConfigError(
        f"cannot reach the Hugging Face Hub ({endpoint}) for the hub id {path!r}: {problem}; "
        "if it is a local folder pass it as ./PATH, or read a cached copy with HF_HUB_OFFLINE=1"
    )
