"""Big freed blocks go back to the system at once, so the resident peak is what is live.

glibc serves a block of 128 KiB or more with its own `mmap` and unmaps it when it is freed,
but it raises that threshold to the size of each such block freed (up to 32 MiB): after the
first 10 MB reply is freed, every later one comes from the heap, whose freed space stays
resident. With a 10 MB transcript per reply that retention, not live data, put the peak RSS
of one reply in flight near 5x the reply (bench/reply_memory.py); with blocks of 1 MiB or
more always mapped and unmapped, the peak is the copies that are really held at once.

The threshold is set once, at the start of a command, with `mallopt` (glibc only; other C
libraries, and a user's own `MALLOC_MMAP_THRESHOLD_`, are left as they are). A megabyte and
more is a long transcript, a decoded long recording or a parquet batch: one `mmap` and the
first touch of its pages each time cost far less than the request or decode that made it.
"""

from __future__ import annotations

import ctypes
import os
import sys

#: blocks this big or bigger are mapped for themselves and unmapped when freed
MMAP_THRESHOLD = 1 << 20
#: glibc's `M_MMAP_THRESHOLD` (malloc.h)
_M_MMAP_THRESHOLD = -3


def return_freed_blocks(threshold: int = MMAP_THRESHOLD) -> bool:
    """Fix glibc's mmap threshold at `threshold` bytes; whether it was set."""
    if not sys.platform.startswith("linux") or "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # pragma: no cover - not glibc (musl has no mallopt)
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, threshold))
