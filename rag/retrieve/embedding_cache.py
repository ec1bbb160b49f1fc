"""A small LRU cache in front of the embedder for question time.

Answering embeds the same texts several times: the extractive answerer embeds each passage
sentence, and the support judge then embeds the quoted sentence and its best passage sentence,
which are the very same texts. Popular passages also recur across questions. Ingest does not go
through this cache (each chunk is embedded once anyway).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np

from index.embedding import Embedder


class CachingEmbedder:
    """Wraps an ``Embedder``; identical texts are embedded once (up to ``size`` remembered).

    >>> cached = CachingEmbedder(MiniLMEmbedder())  # doctest: +SKIP
    """

    def __init__(self, inner: Embedder, size: int = 8192) -> None:
        self.inner = inner
        self.name = inner.name
        self.dimension = inner.dimension
        self.size = size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def embed_query(self, texts: Sequence[str]) -> np.ndarray:
        """Question vectors (the model's query prefix, ``index.embedding.embed_query``), cached apart
        from passages' when the model has such a prefix."""
        query = getattr(self.inner, "embed_query", None)
        if not callable(query):
            return self.embed(texts)
        return self._cached(texts, query, "query\x00")

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for ``texts``; safe from many threads at once."""
        return self._cached(texts, self.inner.embed, "")

    def _cached(self, texts: Sequence[str], embed: Callable[[Sequence[str]], np.ndarray], tag: str) -> np.ndarray:
        """``embed(texts)`` through the cache, keys tagged by ``tag``.

        Every vector a call returns is taken into local values before anything is evicted, so a
        batch that pushes older entries out (a small cache, or another thread's batch) can never
        lose a row this call already counted on.
        """
        texts = [tag + t for t in texts] if tag else texts
        with self._lock:
            known = {t: self._cache[t] for t in texts if t in self._cache}
            for t in known:
                self._cache.move_to_end(t)
        missing = [t for t in dict.fromkeys(texts) if t not in known]
        if missing:
            vectors = embed([t.removeprefix(tag) for t in missing] if tag else missing)
            fresh = dict(zip(missing, vectors, strict=True))
            known.update(fresh)
            with self._lock:
                for text, vector in fresh.items():
                    self._cache[text] = vector
                    self._cache.move_to_end(text)
                while len(self._cache) > self.size:
                    self._cache.popitem(last=False)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([known[t] for t in texts]).astype(np.float32, copy=False)
