"""Honest fakes shared by the tests: deterministic, checkable by eye, and still ranking.

``WordEmbedder`` is a hashed bag of words: a text's vector counts its words in hashed buckets,
so texts sharing words get similar vectors and unrelated texts nearly orthogonal ones. It never
returns constants, so a test that mixes up rows (or texts) sees different vectors.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Sequence

import numpy as np

_WORD = re.compile(r"[a-z0-9]+")


def word_bucket(word: str, dimension: int) -> int:
    """The bucket a word counts in (md5, so the same in every process)."""
    return int(hashlib.md5(word.encode()).hexdigest(), 16) % dimension


class WordEmbedder:
    """Hashed bag of words, unit length: similar texts get similar vectors (a fake that still ranks).

    ``calls`` records every batch it was asked to embed, in order, so a test can see what a
    wrapper (a cache) passed through.

    >>> e = WordEmbedder()
    >>> float(e.embed(["coral reefs bleach"])[0] @ e.embed(["reefs bleach"])[0]) > 0.5
    True
    """

    name = "fake-words"

    def __init__(self, dimension: int = 128) -> None:
        self.dimension = dimension
        self.calls: list[tuple[str, ...]] = []
        self._calls_lock = threading.Lock()

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def vector(self, text: str) -> np.ndarray:
        """One text's vector (what ``embed`` returns for it in any batch)."""
        out = np.zeros(self.dimension, dtype=np.float32)
        for word in _WORD.findall(text.lower()):
            out[word_bucket(word, self.dimension)] += 1.0
        norm = float(np.linalg.norm(out))
        if norm == 0.0:  # no words at all: a fixed, text-specific direction rather than zeros
            out[word_bucket(text or "<empty>", self.dimension)] = 1.0
            norm = 1.0
        return out / norm

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        with self._calls_lock:
            self.calls.append(tuple(texts))
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self.vector(t) for t in texts]).astype(np.float32)
