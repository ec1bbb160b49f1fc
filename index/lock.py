"""One writer per index: an advisory file lock beside the Chroma files.

Chroma's embedded client is not safe with several writing processes. ``fcntl.flock`` is
released by the kernel when the holder dies, so a killed ingest never leaves a stale lock.

Within one process, writers of one index folder take turns on a thread lock first (keyed by the
resolved folder): two flocks of one process on two file descriptors exclude each other, so a
second ``Assistant`` on the same index (or any second ``WriterLock``) in another thread would be
told after ``timeout`` that its own process is writing. Only other processes get ``IndexBusyError``.
"""

from __future__ import annotations

import fcntl
import os
import sys
import threading
import time
from pathlib import Path
from types import TracebackType

from index.errors import RagError
from index.storage import cannot_create

LOCK_NAME = "rag-writer.lock"

_TURNS: dict[str, threading.Lock] = {}  # one per index folder written by this process (a few, never freed)
_TURNS_LOCK = threading.Lock()


def process_turn(index_dir: str | Path) -> threading.Lock:
    """The thread lock this process's writers of ``index_dir`` take turns on; ``./index`` and its
    absolute path (or a symlink to it) name the same one.

    >>> process_turn("/tmp/index") is process_turn("/tmp/../tmp/index")
    True
    """
    key = os.path.realpath(Path(index_dir).expanduser())
    with _TURNS_LOCK:
        return _TURNS.setdefault(key, threading.Lock())


class IndexBusyError(RagError, RuntimeError):
    """Another process is writing to the same index."""


def writer_active(index_dir: str | Path) -> bool:
    """True while some process holds the writer lock on ``index_dir`` (a check, never a wait)."""
    path = Path(index_dir) / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops the shared lock, if taken
    return False


class WriterLock:
    """Exclusive writer lock on ``index_dir``: waits for this process's other writers of the folder,
    then raises ``IndexBusyError`` when another process still holds it after ``timeout`` seconds.

    >>> with WriterLock("./index"):  # doctest: +SKIP
    ...     pass
    """

    def __init__(self, index_dir: str | Path, timeout: float = 1.0) -> None:
        self.index_dir = Path(index_dir)
        self.path = self.index_dir / LOCK_NAME
        self.timeout = timeout
        self._fd: int | None = None
        self._turn = process_turn(self.index_dir)

    def acquire(self) -> None:
        self._turn.acquire()  # as long as it takes, as one Assistant's threads wait for each other
        try:
            self._acquire_file()
        except BaseException:
            self._turn.release()
            raise

    def _acquire_file(self) -> None:
        try:
            self.index_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:  # a read-only or full disk, /proc: said in one sentence, as Chroma's own failures are
            raise cannot_create(exc, self.index_dir) from None
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 512, 0).decode(errors="replace").strip() or "unknown process"
                    os.close(fd)
                    raise IndexBusyError(
                        f"the index {self.index_dir} is being written by {holder}; "
                        "wait for it to finish, or stop it, then try again") from None
                time.sleep(0.05)
        try:  # who holds it, for the message above; a full disk only loses that courtesy
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"process {os.getpid()} ({' '.join(sys.argv)[:200]})".encode(), 0)
        except OSError:
            pass
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                os.ftruncate(fd, 0)  # the holder's name, a courtesy: a disk gone read-only must not keep the lock
            except OSError:
                pass
            finally:
                os.close(fd)  # releases the flock (the last descriptor of its open file)
                self._turn.release()

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
