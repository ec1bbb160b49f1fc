"""Garbage collection for a command line process that answers once and exits (``rag ask``).

CPython's cyclic collector re-traverses every tracked object at each full collection. Importing
torch and chromadb creates a few hundred thousand objects that live until the process ends, so
while they load the collector runs again and again over a growing heap, and at exit the final
collection traverses all of them once more, only for the OS to free the memory a moment later.
Measured on the examples index (2 cores, interleaved runs): that was ~0.5-0.7 s of the ~3.2 s of
CPU time of a cold ``rag ask``. Reference counting still frees what one question discards; only
reference cycles wait for the process to end.

Used by ``rag.cli`` only: a library must not change its caller's collector, and long-running
commands (``rag chat``, ``rag ui``, ``rag serve``, ``rag ingest``) keep the default.
"""

from __future__ import annotations

import atexit
import gc
from collections.abc import Iterator
from contextlib import contextmanager

_exit_hook_registered = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run the block without the cyclic collector; it is switched back on afterwards (for callers
    of ``rag.cli.main`` in a long-lived process, such as tests)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def skip_final_collection() -> None:
    """At interpreter exit, freeze every object before CPython's final full collection, which then
    has nothing to traverse. Idempotent.

    Registered before torch and chromadb are imported, so their own exit handlers run first (atexit
    runs handlers last-registered first). Objects in reference cycles then keep their memory until
    the OS reclaims it and their ``__del__`` does not run, which Python never promises at exit
    anyway (the ``object.__del__`` documentation): nothing of ours relies on it (files are closed
    by ``with``, Chroma commits each write before returning).
    """
    global _exit_hook_registered
    if not _exit_hook_registered:
        atexit.register(gc.freeze)
        _exit_hook_registered = True
