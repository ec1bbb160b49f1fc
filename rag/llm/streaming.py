"""A chat model's answer as a stream its reader can stop at any moment, even before the first word.

A model on a CPU reads a long prompt for seconds to minutes before it writes a word. A synchronous
stream (``model.stream``) is blocked inside its HTTP read all that time, and a blocked generator
cannot be closed from another thread: Python raises "generator already executing". Gradio's Stop
retries that close for 60 s and then gives up, so Stop during the prompt's reading left the page on
"Searching your documents…" for a minute while the model read on and then wrote the whole answer
(measured: a server taking 90 s to its first word saw the client stay to the end).

So the model's async stream runs on one background event loop, and ``stoppable_pieces`` hands its
text to the caller's thread, yielding ``""`` every ``heartbeat`` seconds while the model is silent
(reading the prompt, or pausing between words). At each piece, empty or not, the caller may close
the generator; closing cancels the async stream (on the loop's thread, a moment later), which
closes its HTTP connection, and the server stops reading the prompt or writing. The model is read
at the caller's pace, one chunk ahead at most, as the synchronous stream was. A chat model without
an async stream of its own gets LangChain's default, its sync stream in a worker thread, which a
cancel does not interrupt (every backend here is ``ChatOpenAI``, which has one).

Written by hand: LangChain's runnables offer no cancellation of a blocked synchronous stream, and
their async streams need the caller to run an event loop (the UI's answer runs in a worker thread).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import queue
import threading
from collections.abc import AsyncIterator, Coroutine, Generator
from contextlib import aclosing
from typing import Any, Protocol, TypeVar

T = TypeVar("T")

HEARTBEAT_S = 0.25  # how long Stop, or a client that left, waits at most while the model is silent

_END = object()
_loop: asyncio.AbstractEventLoop | None = None
_loop_thread: threading.Thread | None = None
_loop_lock = threading.Lock()
# The pumps running now: asyncio keeps only weak references to tasks, and a stream dropped inside a
# reference cycle would otherwise lose its pump to the garbage collector mid-request.
_pumps: set[concurrent.futures.Future[Any]] = set()


class TextChunk(Protocol):
    @property
    def text(self) -> str: ...


def _forget_loop() -> None:
    """In a forked child: the parent's loop thread was not copied, so start a new one when needed."""
    global _loop, _loop_thread, _loop_lock
    _loop, _loop_thread, _loop_lock = None, None, threading.Lock()
    _pumps.clear()


os.register_at_fork(after_in_child=_forget_loop)


def background_loop() -> asyncio.AbstractEventLoop:
    """The event loop every model stream of this process runs on, in a daemon thread started on
    first use (streams wait on the network: one loop serves any number of them at once)."""
    global _loop, _loop_thread
    with _loop_lock:
        if _loop is None or _loop_thread is None or not _loop_thread.is_alive():
            loop = asyncio.new_event_loop()
            _loop_thread = threading.Thread(target=loop.run_forever, name="rag-model-streams", daemon=True)
            _loop_thread.start()
            _loop = loop
        return _loop


def stoppable_pieces(chunks: AsyncIterator[TextChunk], heartbeat: float = HEARTBEAT_S) -> Generator[str, None, None]:
    """The text of ``chunks`` (a chat model's ``astream``) in the caller's thread, and ``""`` every
    ``heartbeat`` seconds while none comes. Closing the generator cancels the stream wherever it
    waits; whatever ended the stream other than its end (an error, a cancel from elsewhere) is raised
    here.

    >>> from langchain_core.language_models import GenericFakeChatModel
    >>> model = GenericFakeChatModel(messages=iter(["Tides follow the Moon."]))
    >>> "".join(stoppable_pieces(model.astream("why tides?")))
    'Tides follow the Moon.'
    """
    out: queue.SimpleQueue[object] = queue.SimpleQueue()
    wanted = asyncio.Event()  # the caller asked for the next piece (binds to the loop on first wait)
    loop = background_loop()

    async def pump() -> None:
        try:
            async with aclosing(chunks) as stream:  # type: ignore[type-var]  # an async generator in practice
                async for chunk in stream:
                    text = str(chunk.text)
                    if text:
                        wanted.clear()
                        out.put(text)
                        await wanted.wait()
            out.put(_END)
        except asyncio.CancelledError as exc:  # ours (nobody reads it then), or the library's own
            out.put(exc)
            raise
        except BaseException as exc:  # raised in the caller's thread (SystemExit too); the loop lives on
            out.put(exc)

    running = asyncio.run_coroutine_threadsafe(pump(), loop)
    _pumps.add(running)
    running.add_done_callback(_pumps.discard)
    try:
        while True:
            try:
                item = out.get(timeout=heartbeat)
            except queue.Empty:
                if running.done() and out.empty():  # ended without a word to say so (never expected)
                    raise RuntimeError("the model's stream ended without an end or an error") from None
                yield ""
                continue
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield str(item)
            loop.call_soon_threadsafe(wanted.set)
    finally:
        running.cancel()  # a stream read to its end is done already; otherwise its connection closes now


def stoppable_call(call: Coroutine[Any, Any, T], heartbeat: float = HEARTBEAT_S) -> Generator[str, None, T]:
    """Run ``call`` (a model request: an LLM judge's batch) on the background loop; yield ``""``
    every ``heartbeat`` seconds while it runs and return its result. Closing the generator cancels
    it, which closes its HTTP connections; its error is raised here.

    >>> async def verdicts() -> list[str]:
    ...     return ["yes", "no"]
    >>> def checked():
    ...     return (yield from stoppable_call(verdicts()))
    >>> list(checked())  # the result came before the first heartbeat: nothing to yield
    []
    """
    async def guarded() -> T | _Raised:
        try:
            return await call
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # SystemExit too: raised in the caller's thread; the loop lives on
            return _Raised(exc)

    running = asyncio.run_coroutine_threadsafe(guarded(), background_loop())
    _pumps.add(running)  # kept referenced, as the streams' pumps are
    running.add_done_callback(_pumps.discard)
    try:
        # ``wait``, not ``result(timeout=…)``: a TimeoutError the call raises is its error, not a heartbeat.
        while not concurrent.futures.wait([running], timeout=heartbeat).done:
            yield ""
        result = running.result()
        if isinstance(result, _Raised):
            raise result.exc
        return result
    finally:
        running.cancel()  # done already after a result; otherwise its requests are cancelled now


class _Raised:
    """An exception a call ended with, carried to the caller's thread (not raised on the loop)."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc
