"""Embeddings from an OpenAI-compatible embedding server (``POST {base}/embeddings``).

Text Embeddings Inference, vLLM, Infinity and Ollama all speak this route, so one client covers
them. It is a plain ``httpx`` client, not the ``openai`` package or LangChain's
``OpenAIEmbeddings``: the latter sends tiktoken token ids by default (``check_embedding_ctx_length``),
which servers other than OpenAI's reject; ``openai`` is only an optional extra of ours, asks for
base64 vectors by default, and we would still write the bounded concurrency and a retry policy
that ends in our own one-sentence error. The route is one POST; ``httpx`` is already a dependency
(Chroma's client) and its ``MockTransport`` lets the unit tests fake a server without a socket.

Chunking stays local: word pieces are counted by a local tokenizer (``counter``, the local model's),
so the chunk windows, and therefore the chunk ids, are the same as with the local embedder. The
server only turns texts into vectors. It cannot pool sentence spans from a chunk's forward pass,
so this embedder is not a ``SpanEmbedder`` and ingest through it keeps no sentence vectors
(README "Embedding server").
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

import httpx
import numpy as np

from index.errors import RagError, UsageError

DEFAULT_BATCH = 32  # texts per request: Infinity, TEI and vLLM all take this many in one request
DEFAULT_CONCURRENCY = 4  # requests in flight at once, per embedder
DEFAULT_RETRIES = 4  # further attempts after a 429, a 5xx or a lost connection
_RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_BACKOFF_FIRST, _BACKOFF_CAP, _RETRY_AFTER_CAP = 0.5, 8.0, 30.0


class EmbeddingServerError(RagError, RuntimeError):
    """The embedding server cannot be reached or keeps failing (exit code 3: start it again and re-run)."""

    exit_code = 3


class TokenCounter(Protocol):
    """The local tokenizer's part of an embedder: what chunking needs."""

    def count_tokens(self, text: str) -> int: ...


def model_label(model_id: str) -> str:
    """The name a collection pins for a server's model id: its last path segment, so a Hub id
    (TEI's ``sentence-transformers/all-MiniLM-L6-v2``) pins the same name as the local model.

    >>> model_label("sentence-transformers/all-MiniLM-L6-v2"), model_label("all-MiniLM-L6-v2")
    ('all-MiniLM-L6-v2', 'all-MiniLM-L6-v2')
    """
    return model_id.rstrip("/").rsplit("/", 1)[-1] or model_id


def backoff_delay(attempt: int, retry_after: str | None = None) -> float:
    """Seconds to wait before retry number ``attempt`` (0-based): the server's ``Retry-After`` when it
    gives one in seconds (capped at 30), else exponential from 0.5 s, capped at 8 s, with jitter
    so concurrent requests do not come back in step.

    >>> backoff_delay(0, "2"), 0.25 <= backoff_delay(0) <= 0.5, backoff_delay(10) <= 8.0
    (2.0, True, True)
    """
    if retry_after is not None:
        try:
            return min(max(float(retry_after), 0.0), _RETRY_AFTER_CAP)
        except ValueError:
            pass  # an HTTP date: rare from embedding servers, use our own schedule
    ceiling = min(_BACKOFF_CAP, _BACKOFF_FIRST * 2 ** attempt)
    return ceiling * (0.5 + random.random() / 2)


class RemoteEmbedder:
    """Unit vectors from an OpenAI-compatible server; ``name`` and ``dimension`` are what it reports.

    Build it with ``connect`` (one probe request: the model's name and dimension are needed to open
    a collection). Batches of ``batch_size`` texts go out ``concurrency`` at a time; a 429, 5xx or
    lost connection is retried ``retries`` times with backoff, then raises ``EmbeddingServerError``.
    Thread-safe: one ``httpx.Client``, no state per call.

    >>> e = RemoteEmbedder.connect("http://127.0.0.1:7997/v1", counter=MiniLMEmbedder())  # doctest: +SKIP
    >>> e.name, e.dimension  # doctest: +SKIP
    ('all-MiniLM-L6-v2', 384)
    """

    token_offsets: Callable[[str], tuple[list[tuple[int, int]], list[int | None]]]  # only if ``counter`` has it
    window: int  # only if ``counter`` has it

    def __init__(self, base_url: str, model: str, counter: TokenCounter, *, api_key: str | None = None,
                 batch_size: int = DEFAULT_BATCH, concurrency: int = DEFAULT_CONCURRENCY,
                 retries: int = DEFAULT_RETRIES, timeout: float = 120.0,
                 transport: httpx.BaseTransport | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
        if batch_size < 1 or concurrency < 1 or retries < 0:
            raise UsageError("the embedding server's batch size and concurrency must be at least 1")
        self.base_url = check_url(base_url)
        self.model = model
        self.name = model_label(model)
        self.dimension = 0  # set by ``connect``'s probe; 0 accepts any
        self.counter = counter
        # The local model's window and prefixes (e5's "query: "/"passage: ", bge's instruction): the
        # server embeds exactly the texts we send, so chunks and vectors match a local index's.
        window = getattr(counter, "window", None)
        if window:  # MiniLM has none: ``chunking_for`` takes its default window
            self.window = int(window)
        info = getattr(counter, "info", None)
        self.passage_prefix = str(getattr(info, "passage_prefix", "") or "")
        self.query_prefix = str(getattr(info, "query_prefix", "") or "")
        offsets = getattr(counter, "token_offsets", None)
        if offsets is not None:  # the local tokenizer's offsets make chunking faster (``SpanCounter``)
            self.token_offsets = offsets
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.retries = retries
        self._sleep = sleep
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        # The connection limit bounds the requests in flight across threads too (``rag serve``, the UI).
        self._client = httpx.Client(base_url=self.base_url, headers=headers, transport=transport,
                                    timeout=httpx.Timeout(timeout, connect=10.0),
                                    limits=httpx.Limits(max_connections=concurrency))

    @classmethod
    def connect(cls, base_url: str, counter: TokenCounter, *, model: str | None = None, **options: Any
                ) -> RemoteEmbedder:
        """An embedder for the server at ``base_url`` (e.g. ``http://127.0.0.1:7997/v1``): the model is
        ``model`` or the only one the server lists, and one probe text gives its dimension."""
        probe = cls(base_url, model or "", counter, **options)
        if not model:
            probe.model = probe._only_model()
            probe.name = model_label(probe.model)
        probe.dimension = int(probe._request(["dimension probe"]).shape[1])
        return probe

    # ---- the Embedder protocol ---------------------------------------------------------------

    def count_tokens(self, text: str) -> int:
        return self.counter.count_tokens(text)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text, in order. Stops at the first batch that
        fails for good: the batches still queued are not sent, and the error names the server.
        Passages get the model's passage prefix, as local embedding does."""
        return self._embed([self.passage_prefix + t for t in texts] if self.passage_prefix else texts)

    def embed_query(self, texts: Sequence[str]) -> np.ndarray:
        """Questions, with the model's query prefix."""
        return self._embed([self.query_prefix + t for t in texts] if self.query_prefix else texts)

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        batches = [list(texts[i:i + self.batch_size]) for i in range(0, len(texts), self.batch_size)]
        if len(batches) == 1:
            return self._request(batches[0])
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(batches)),
                                thread_name_prefix="embed-request") as pool:
            futures: list[Future[np.ndarray]] = [pool.submit(self._request, batch) for batch in batches]
            try:
                parts = [future.result() for future in futures]
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
        return np.concatenate(parts)

    # ---- HTTP ----------------------------------------------------------------------------------

    def _only_model(self) -> str:
        reply = self._send("GET", "models", None)
        names = [str(m.get("id")) for m in _json(reply, self.base_url).get("data", []) if m.get("id")]
        if len(names) != 1:
            raise UsageError(f"the embedding server at {self.base_url} serves {len(names)} models "
                             f"({', '.join(names) or 'none listed'}); name one with RAG_EMBED_SERVER_MODEL")
        return names[0]

    def _request(self, batch: list[str]) -> np.ndarray:
        body = {"model": self.model, "input": batch, "encoding_format": "float"}
        data = _json(self._send("POST", "embeddings", body), self.base_url).get("data")
        try:
            rows = sorted(data, key=lambda item: int(item.get("index", 0)))  # type: ignore[arg-type]
            vectors = np.asarray([row["embedding"] for row in rows], dtype=np.float32)
        except (TypeError, ValueError, KeyError, AttributeError):
            raise EmbeddingServerError(f"the embedding server at {self.base_url} answered without a list of "
                                       "float vectors; is it an OpenAI-compatible /embeddings route?") from None
        if vectors.ndim != 2 or len(vectors) != len(batch) or (self.dimension and vectors.shape[1] != self.dimension):
            raise EmbeddingServerError(
                f"the embedding server at {self.base_url} returned {vectors.shape} vectors for {len(batch)} texts "
                f"of dimension {self.dimension or 'any'}; did its model change mid-run?")
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1.0, norms)  # servers differ on normalising: we always do

    def _send(self, method: str, path: str, body: dict[str, Any] | None) -> httpx.Response:
        """One request, retried on 408/429/5xx and lost connections with backoff; any other failure
        is one sentence at once (a wrong URL, key or model will not get better by waiting)."""
        failure, retry_after = "", None
        for attempt in range(self.retries + 1):
            if attempt:
                self._sleep(backoff_delay(attempt - 1, retry_after))
                retry_after = None
            try:
                reply = self._client.request(method, path, json=body)
            except httpx.TransportError as exc:  # refused, reset, timed out: maybe restarting
                failure = str(exc) or type(exc).__name__
                continue
            if reply.status_code < 400:
                return reply
            if reply.status_code not in _RETRY_STATUS:
                raise _rejected(self.base_url, path, reply)
            failure = f"HTTP {reply.status_code}"
            retry_after = reply.headers.get("retry-after")
        raise EmbeddingServerError(f"the embedding server at {self.base_url} stopped answering ({failure}, "
                                   f"{self.retries + 1} attempts); start it again and re-run the command")

    def close(self) -> None:
        self._client.close()


def check_url(url: str) -> str:
    """The server's base URL without a trailing slash (``http(s)://host[:port][/prefix]``).

    >>> check_url("http://127.0.0.1:7997/v1/")
    'http://127.0.0.1:7997/v1'
    """
    parsed = httpx.URL(url) if "://" in url else None
    if parsed is None or parsed.scheme not in {"http", "https"} or not parsed.host:
        raise UsageError(f"bad embedding server URL {url!r}: expected http://HOST:PORT/v1 (RAG_EMBED_URL)")
    return url.rstrip("/")


def _json(reply: httpx.Response, base_url: str) -> dict[str, Any]:
    try:
        data = reply.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise EmbeddingServerError(f"the embedding server at {base_url} answered {reply.request.url} with "
                                   "something other than a JSON object; check RAG_EMBED_URL")
    return data


def _rejected(base_url: str, path: str, reply: httpx.Response) -> RagError:
    status = reply.status_code
    if status in (401, 403):
        return UsageError(f"the embedding server at {base_url} refused the request (HTTP {status}); "
                          "set RAG_EMBED_API_KEY to a key it accepts")
    if status == 404:
        return UsageError(f"the embedding server at {base_url} has no /{path} route (HTTP 404); give "
                          "RAG_EMBED_URL as the base the OpenAI client would use, e.g. http://HOST:PORT/v1")
    detail = " ".join(reply.text.split())[:200]
    return EmbeddingServerError(f"the embedding server at {base_url} rejected the request (HTTP {status}: "
                                f"{detail})")
