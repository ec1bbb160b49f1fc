"""A Chroma server that stops answering is one sentence, not a transport traceback.

Chroma's HTTP client lets ``httpx`` errors through from every call (a server killed mid-ingest gave
a 28-frame ``httpx.ConnectError``). ``guarded`` wraps the client and the collection objects of a
server-mode store so that every call turns those errors into ``StoreUnavailableError``; ``translated``
does the same with any translation (an embedded store's disk errors, see ``index.storage``). Both
run a call again, after a short pause, while SQLite says the database is locked (``is_busy``).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

import httpx

from index.errors import RagError


class StoreUnavailableError(RagError, RuntimeError):
    """The Chroma server cannot be reached (exit code 3: start it again and re-run)."""

    exit_code = 3


def server_url(settings: Any) -> str:
    """``http://host:port`` of an HTTP client's settings."""
    scheme = "https" if settings.chroma_server_ssl_enabled else "http"
    return f"{scheme}://{settings.chroma_server_host}:{settings.chroma_server_http_port}"


class StoreTimeoutError(StoreUnavailableError):
    """The Chroma server took a connection but did not answer in time (hung or overloaded; exit code 3)."""


def timed_out(url: str, timeout: float | None, exc: BaseException) -> StoreTimeoutError:
    within = f"within {timeout:g} s" if timeout is not None else "in time"
    return StoreTimeoutError(f"the Chroma server at {url} did not answer {within} ({type(exc).__name__}); check "
                             "that it is running and not overloaded (or raise RAG_CHROMA_TIMEOUT) and re-run "
                             "the command")


def unavailable(url: str, exc: BaseException) -> StoreUnavailableError:
    reason = str(exc) or type(exc).__name__
    return StoreUnavailableError(f"the Chroma server at {url} stopped answering ({reason}); start it again "
                                 "and re-run the command")


BUSY_RETRY_DELAYS: tuple[float, ...] = (0.02, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6)
"""Pauses before each retry of a call SQLite refused as busy (about 3 s in all)."""


def is_busy(exc: BaseException) -> bool:
    """Whether Chroma's SQLite refused the call because another connection held its lock (SQLITE_BUSY).

    Chroma 1.5.9 says so as ``InternalError: ... (code: 5) database is locked``, even inside one
    process: right after a collection is created, modifying it failed this way about 1 time in 120
    with the other core busy. The statement did not run, so running it again is safe."""
    text = str(exc)
    return "database is locked" in text or "database table is locked" in text


Translate = Callable[[Exception], "RagError | None"]
"""The one-sentence error for a failed call, or None to let the exception through as it is."""


class _Guarded:
    """Forwards attribute access to ``target``; a call that fails is re-raised as ``translate`` says."""

    def __init__(self, target: Any, translate: Translate) -> None:
        self._target = target
        self._translate = translate

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if not callable(value):
            return value
        return self._wrap(value)

    def _wrap(self, call: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(call)
        def guarded_call(*args: Any, **kwargs: Any) -> Any:
            try:
                result = _retry_when_busy(call, args, kwargs)
            except Exception as exc:
                error = self._translate(exc)
                if error is None:
                    raise
                raise error from None
            # A collection handed out by the client is stored in the same place.
            return _Guarded(result, self._translate) if type(result).__name__ == "Collection" else result

        return guarded_call


def _retry_when_busy(call: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``call(*args, **kwargs)``, run again after a pause while SQLite says it is busy (``is_busy``);
    every call rag makes through a store is idempotent (upsert, update, delete, modify, reads)."""
    for delay in BUSY_RETRY_DELAYS:
        try:
            return call(*args, **kwargs)
        except Exception as exc:
            if not is_busy(exc):
                raise
        time.sleep(delay)
    return call(*args, **kwargs)


def guarded(target: Any, url: str, timeout: float | None = None) -> Any:
    """``target`` with every call's transport errors turned into ``StoreUnavailableError`` (a request
    that ran past its ``timeout`` seconds into ``StoreTimeoutError``)."""

    def transport(exc: Exception) -> RagError | None:
        if isinstance(exc, httpx.TimeoutException):  # hung: it took the request and said nothing
            return timed_out(url, timeout, exc)
        return unavailable(url, exc) if isinstance(exc, httpx.TransportError) else None  # refused, reset

    return _Guarded(target, transport)


def translated(target: Any, translate: Translate) -> Any:
    """``target`` (a client or collection) with every call's failures re-raised as ``translate`` says
    (an embedded store: a full or read-only disk, a damaged vector segment; ``index.storage``)."""
    return _Guarded(target, translate)
