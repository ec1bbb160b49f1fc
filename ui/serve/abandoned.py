"""Answers that nobody will read are stopped: the client disconnected, or its 504 was sent.

An LLM answer holds an answer slot and the CPU for as long as the model writes (10 s and more on
a CPU). Once a client has given up (its own timeout, a closed tab, Ctrl-C), or once it has been
told 504, nobody reads the rest. ``final_answer`` closes the answer's stream at its next piece once
``gone`` is set; closing it closes the model's HTTP stream, and llama.cpp's server and vLLM stop
generating at once. A request still waiting in the queue when its client leaves never takes a slot.

Starlette offers ``Request.is_disconnected()``, a poll; a waiting ``receive()`` (``until_disconnected``)
learns it the moment the connection closes, without a loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Generator
from typing import Any, TypeVar

from starlette.types import Receive

from rag.records import Answer
from ui.serve.errors import ClientGone
from ui.serve.gate import Gate

T = TypeVar("T")


def final_answer(stream: Generator[Any, None, None], gone: threading.Event) -> Any:
    """The checked ``Answer`` at the end of ``Assistant.ask_stream``'s ``stream``; once ``gone`` is
    set, the stream is closed at its next piece (``ClientGone``), which stops an LLM generating for a
    client that left (its answer slot and the CPU go to the next question). ``gone`` already set (the
    client left as the answer's slot came free): the stream is never started, so nothing is retrieved
    or sent to a model (``ask_stream`` is a generator: it does nothing until iterated)."""
    try:
        if gone.is_set():
            raise ClientGone()
        for item in stream:
            if gone.is_set():
                raise ClientGone()
            if isinstance(item, Answer):
                return item
    finally:
        stream.close()
    raise RuntimeError("the answer stream ended without an answer")


async def until_disconnected(receive: Receive) -> None:
    """Returns when the client closes the connection (the request's body has been read already:
    the server's next message for this request is its disconnect)."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def run_for_client(gate: Gate, work: Callable[[], T], timeout: float, receive: Receive,
                         gone: threading.Event) -> T:
    """``gate.run(work, timeout)`` for a client that waits for the whole reply: ``gone`` is set when
    the client disconnects or the answer outlives ``timeout`` (504), and ``work`` is expected to stop
    at its next piece then (``final_answer``). A client that left raises ``ClientGone``."""
    job = asyncio.ensure_future(gate.run(work, timeout, abandon=gone))
    job.add_done_callback(mark_retrieved)
    watch = asyncio.ensure_future(until_disconnected(receive))
    done: set[asyncio.Future[Any]] = set()
    try:
        done, _ = await asyncio.wait({job, watch}, return_when=asyncio.FIRST_COMPLETED)
    finally:  # a client that left, or this request cancelled (the server stops): its answer stops too
        watch.cancel()
        if job not in done:
            gone.set()
            job.cancel()  # out of the queue; a running thread stops at its next piece (the gate frees its slot)
    if job in done:
        return job.result()
    raise ClientGone()


async def enter_for_client(gate: Gate, patience: float, receive: Receive) -> None:
    """``gate.enter(patience)`` for a streamed answer (its slot is taken before its stream starts),
    given up with ``ClientGone`` when the client disconnects first: it never runs."""
    entering = asyncio.ensure_future(gate.enter(patience))
    watch = asyncio.ensure_future(until_disconnected(receive))
    try:
        await asyncio.wait({entering, watch}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watch.cancel()
        if not entering.done():
            entering.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await entering  # a slot granted as it was cancelled ends it normally: given back below
    if entering.cancelled():
        raise ClientGone()
    entering.result()  # 503: the queue was full, or no slot came free in time
    if watch.done() and not watch.cancelled():  # the client left as the slot came free
        gate.leave()
        raise ClientGone()


def mark_retrieved(job: asyncio.Future[Any]) -> None:
    """A done callback: an abandoned answer's end (``ClientGone``, a 504) is expected, so its error is
    marked as seen and asyncio does not log "Task exception was never retrieved" with a traceback."""
    if not job.cancelled():
        job.exception()
