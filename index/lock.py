"""One writer per index: an advisory file lock beside the Chroma files.

Chroma's embedded client is not safe with several writing processes. ``fcntl.flock`` is
released by the kernel when the holder dies, so a killed ingest never leaves a stale lock.
"""

from __future__ import annotations

import fcntl
import os
import sys
import time
from pathlib import Path
from types import TracebackType

from index.errors import RagError
from index.storage import translate

LOCK_NAME = "rag-writer.lock"


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
    """Exclusive writer lock on ``index_dir``; raises ``IndexBusyError`` after ``timeout`` seconds.

    >>> with WriterLock("./index"):  # doctest: +SKIP
    ...     pass
    """

    def __init__(self, index_dir: str | Path, timeout: float = 1.0) -> None:
        self.index_dir = Path(index_dir)
        self.path = self.index_dir / LOCK_NAME
        self.timeout = timeout
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            self.index_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:  # a read-only or full disk: said in one sentence, as Chroma's own failures are
            error = translate(exc, self.index_dir, "")
            if error is None:
                raise
            raise error from None
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
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
