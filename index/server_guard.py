"""A Chroma server that stops answering is one sentence, not a transport traceback.

Chroma's HTTP client lets ``httpx`` errors through from every call (a server killed mid-ingest gave
a 28-frame ``httpx.ConnectError``). ``guarded`` wraps the client and the collection objects of a
server-mode store so that every call turns those errors into ``StoreUnavailableError``; embedded
stores are left as they are.
"""

from __future__ import annotations

import functools
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


def unavailable(url: str, exc: BaseException) -> StoreUnavailableError:
    reason = str(exc) or type(exc).__name__
    return StoreUnavailableError(f"the Chroma server at {url} stopped answering ({reason}); start it again "
                                 "and re-run the command")


class _Guarded:
    """Forwards attribute access to ``target``; calls that fail in transport raise ``StoreUnavailableError``."""

    def __init__(self, target: Any, url: str) -> None:
        self._target = target
        self._url = url

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if not callable(value):
            return value
        return self._wrap(value)

    def _wrap(self, call: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(call)
        def guarded_call(*args: Any, **kwargs: Any) -> Any:
            try:
                result = call(*args, **kwargs)
            except httpx.TransportError as exc:  # refused, reset, timed out: the server is gone
                raise unavailable(self._url, exc) from None
            # A collection handed out by the client talks to the same server.
            return _Guarded(result, self._url) if type(result).__name__ == "Collection" else result

        return guarded_call


def guarded(target: Any, url: str) -> Any:
    """``target`` with every call's transport errors turned into ``StoreUnavailableError``."""
    return _Guarded(target, url)
