"""A Chroma server client whose every request has a deadline.

chromadb 1.x's Python client builds its httpx session with ``timeout=None`` and offers no setting
for it (``chromadb/api/fastapi.py``; ``Settings`` holds only the server's own timeouts), so a server
that accepts a connection and never answers hung a question or an ingest forever. So: one heartbeat
with our own deadline before the client is built (building it sends several requests with no
deadline), then the client's httpx session gets the same deadline (``httpx.Client.timeout`` is
settable). A server that hangs in the instant between the two is the one case left unbounded.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

import httpx

from index.errors import UsageError
from index.server_guard import StoreUnavailableError, timed_out

DEFAULT_TIMEOUT = 60.0
"""Seconds to wait for any one read or write of the Chroma server (httpx's per-phase deadline). A
batch write of 2,048 passages answers in seconds; a minute leaves a loaded server room."""


def http_client(chroma_url: str, settings: Any, timeout: float = DEFAULT_TIMEOUT) -> Any:
    """A ``chromadb.HttpClient`` for ``chroma_url`` whose requests give up after ``timeout`` seconds;
    a server that cannot be reached or does not answer in time is ``StoreUnavailableError``."""
    import chromadb

    url = urlparse(chroma_url)
    if url.scheme not in {"http", "https"} or not url.hostname:
        raise UsageError(f"bad Chroma URL {chroma_url!r}: expected http://HOST:PORT")
    port = url.port or (443 if url.scheme == "https" else 8000)
    base = f"{url.scheme}://{url.hostname}:{port}"
    try:
        httpx.get(f"{base}/api/v2/heartbeat", timeout=timeout)  # any answer will do: it is up
        client = chromadb.HttpClient(host=url.hostname, port=port, ssl=url.scheme == "https", settings=settings)
    except httpx.TimeoutException as exc:
        raise timed_out(chroma_url, timeout, exc) from None
    except Exception as exc:
        raise StoreUnavailableError(
            f"cannot reach the Chroma server at {chroma_url} ({exc}); start it with "
            f"'chroma run --host 127.0.0.1 --port {port}' or unset RAG_CHROMA_URL") from None
    session(client).timeout = httpx.Timeout(timeout)
    return client


def session(client: Any) -> httpx.Client:
    """The httpx session of a ``chromadb.HttpClient`` (private in chromadb: checked, so that a chromadb
    that moves it fails here and in ``tests/integration/test_chroma_timeout.py``, not by hanging)."""
    found = _session_of(client)
    if found is None:
        raise RuntimeError("chromadb no longer keeps its httpx session at client._server._session: "
                           "update index/chroma_http.py to set its timeout")
    return found


def request_timeout(client: Any) -> float | None:
    """The read deadline of a client made by ``http_client`` (None: another client, or none set)."""
    found = _session_of(client)
    return found.timeout.read if found is not None else None


def _session_of(client: Any) -> httpx.Client | None:
    found = getattr(getattr(client, "_server", None), "_session", None)
    return found if isinstance(found, httpx.Client) else None
