"""A small LRU cache in front of the embedder for question time.

Answering embeds the same texts several times: the extractive answerer embeds each passage
sentence, and the support judge then embeds the quoted sentence and its best passage sentence,
which are the very same texts. Popular passages also recur across questions. Ingest does not go
through this cache (each chunk is embedded once anyway).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

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

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            vectors = self.inner.embed(missing)
            with self._lock:
                for text, vector in zip(missing, vectors, strict=True):
                    self._cache[text] = vector
                    self._cache.move_to_end(text)
                while len(self._cache) > self.size:
                    self._cache.popitem(last=False)
                # A text evicted again right away (tiny cache, huge batch) comes from this batch.
                fresh = dict(zip(missing, vectors, strict=True))
                rows: list[np.ndarray] = [fresh[t] if t in fresh else self._cache[t] for t in texts]
        else:
            with self._lock:
                rows = [self._cache[t] for t in texts]
                for t in texts:
                    self._cache.move_to_end(t)
        if not rows:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack(rows).astype(np.float32, copy=False)
