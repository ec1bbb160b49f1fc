"""How this process's C heap treats the model's large, short-lived buffers (glibc only).

Why: every forward pass allocates and frees activation buffers of several megabytes. glibc serves
a block that large with a fresh ``mmap`` and gives it back with ``munmap`` when freed, so every
batch faults its pages in again: on a 2-core Xeon, 17% of an ingest's CPU time was the kernel
(page faults, clearing pages), and encoding the quick bench corpus took 10.9 s against 8.6–8.8 s
with freed blocks kept in the heap for the next batch (README "Speed"). Intel's and AMD's tuning
guides get the same by preloading tcmalloc or jemalloc; two ``mallopt`` calls do it without a
library to install. The cost is memory: freed blocks stay in the process (~+40-90 MB peak on the
bench corpora) until ``release_freed_memory`` hands them back, which ingest does when it ends; that
also returns free pages glibc's own trimming never reaches, so a process between ingests now holds
about half what it did (README "Speed").

A user who tunes glibc's heap themselves (``GLIBC_TUNABLES``, ``MALLOC_*_`` variables) is left alone,
and so are other C libraries (musl, macOS), where these calls do not exist.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import platform
import threading
from typing import Any

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
KEEP_BLOCKS_UP_TO = 1 << 30
"""Blocks up to this size come from the heap rather than their own ``mmap`` (a batch's largest
activation is tens of megabytes; anything near a gigabyte is no batch buffer)."""
_MAX_TRIM_THRESHOLD = (1 << 31) - 1  # glibc takes an int: freed memory is returned only when asked

_lock = threading.Lock()
_kept = False


@functools.cache
def _glibc() -> Any:
    """glibc's handle, or None on another C library."""
    if platform.libc_ver()[0] != "glibc":
        return None
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


def _user_tuned() -> bool:
    return "malloc" in os.environ.get("GLIBC_TUNABLES", "") or any(
        name.startswith("MALLOC_") and name.endswith("_") for name in os.environ)


def keep_freed_blocks() -> bool:
    """Have freed large blocks stay in the heap for the next batch; True when it is in effect.

    Idempotent and safe from any thread. A process-wide setting, made once, when the model loads
    (``index.embedding.import_torch``).

    >>> keep_freed_blocks() in (True, False)
    True
    """
    global _kept
    with _lock:
        if _kept:
            return True
        libc = _glibc()
        if libc is None or _user_tuned():
            return False
        # The mmap threshold first: setting either one turns glibc's own adaptive threshold off, and a
        # fixed threshold at its 128 KiB default made encoding 45% slower than the adaptive one.
        _kept = bool(libc.mallopt(_M_MMAP_THRESHOLD, KEEP_BLOCKS_UP_TO)) and bool(
            libc.mallopt(_M_TRIM_THRESHOLD, _MAX_TRIM_THRESHOLD))
        return _kept


def release_freed_memory() -> None:
    """Hand the heap's free pages back to the system (after a long job, such as an ingest, whose
    buffers the process keeps otherwise). Cheap; does nothing unless ``keep_freed_blocks`` is in
    effect."""
    libc = _glibc()
    if _kept and libc is not None:
        libc.malloc_trim(0)
