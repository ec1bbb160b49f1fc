"""Bounded work: at most ``limit`` requests run at once, ``queue`` more wait, the rest get 503.

Answers run in threads (the answer stage is synchronous); a request that outlives its timeout
gets 504, but its slot is freed only when its thread really ends, so the bound stays true (an
answer told so through ``abandon`` stops at its next piece: ``ui.serve.abandoned``). A
request that waits in the queue longer than its timeout gets 503 and leaves the queue: it never
takes a slot later to run an answer that no one reads. The wait and the work each get the whole
timeout: sharing one deadline would start answers with seconds left, which would often end in 504
after holding a slot for most of the time allowed, slowing the queue behind.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool

from ui.serve.errors import ApiError

T = TypeVar("T")


class Gate:
    """One per kind of work (answers, writes) per worker.

    >>> gate = Gate("answers", limit=4, queue=64)
    >>> asyncio.run(gate.run(lambda: 6 * 7, timeout=5))
    42
    """

    def __init__(self, name: str, limit: int, queue: int) -> None:
        self.name = name
        self.limit = limit
        self.queue = queue
        self._slots = asyncio.Semaphore(limit)
        self._waiting = 0
        self._running = 0

    @property
    def running(self) -> int:
        """Slots taken: by work still running, a timed-out thread included."""
        return self._running

    @property
    def waiting(self) -> int:
        return self._waiting

    def _busy(self, why: str) -> ApiError:
        return ApiError(503, f"the server is busy ({why}); try again shortly", "server_busy",
                        headers={"Retry-After": "1"})

    def _reserve(self) -> None:
        """A place in the queue, or 503 now when it is full."""
        if self._slots.locked() and self._waiting >= self.queue:
            raise self._busy(f"{self.name} running: {self.limit}, waiting: {self._waiting}")
        self._waiting += 1

    async def _take_slot(self, patience: float | None = None) -> None:
        """A slot; after ``patience`` seconds without one, 503 (the semaphore drops the waiter, and
        hands on a slot that came free at that moment)."""
        try:
            await asyncio.wait_for(self._slots.acquire(), patience)
        except TimeoutError:
            raise self._busy(f"{self.name} running: {self.limit}; none ended within the {patience:g} s this "
                             "request may wait") from None
        finally:
            self._waiting -= 1
        self._running += 1

    async def enter(self, patience: float | None = None) -> None:
        """Take a slot, waiting in the queue at most ``patience`` seconds (None: until one is free);
        503 when the queue is full or the wait is over."""
        self._reserve()
        await self._take_slot(patience)

    def leave(self) -> None:
        self._running -= 1
        self._slots.release()

    async def run(self, work: Callable[[], T], timeout: float, entered: bool = False,
                  abandon: threading.Event | None = None) -> T:
        """``work()`` in a worker thread under this gate (``entered``: the caller already holds a slot);
        ``timeout`` bounds the wait for a slot (503) and, again, the work (504), which sets ``abandon``:
        work that watches it can stop instead of holding its slot for a reply nobody will get."""
        if not entered:
            await self.enter(timeout)
        task = asyncio.ensure_future(run_in_threadpool(work))
        task.add_done_callback(self._finished)
        try:
            return await asyncio.wait_for(asyncio.shield(task), timeout)
        except TimeoutError:
            if abandon is not None:
                abandon.set()
            raise ApiError(504, f"the request took longer than {timeout:g} s and was abandoned; try a shorter "
                           "question or ask the operator to raise --timeout", "timeout") from None

    def start(self, work: Callable[[], T]) -> asyncio.Future[T]:
        """``work()`` under this gate in the background (503 now when the queue is full): its future,
        which a caller may stop waiting for without stopping the work."""
        self._reserve()

        async def queued() -> T:
            await self._take_slot()
            task = asyncio.ensure_future(run_in_threadpool(work))
            task.add_done_callback(self._finished)
            return await asyncio.shield(task)

        future = asyncio.ensure_future(queued())
        future.add_done_callback(_retrieved)
        return future

    def _finished(self, task: asyncio.Future[Any]) -> None:
        self.leave()
        if not task.cancelled():
            task.exception()  # retrieved here, so an abandoned request's error is not logged as unhandled


def _retrieved(future: asyncio.Future[Any]) -> None:
    """Mark a background future's error as seen (its job reports it), so asyncio does not log it."""
    if not future.cancelled():
        future.exception()
