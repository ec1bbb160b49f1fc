"""Honest fakes shared by the tests: deterministic, checkable by eye, and still ranking.

``ScriptedGenerator`` streams a fixed answer text (with its ``[n]`` markers) as an LLM would, so the
checker's path for model-written text is tested without a model. ``RecordingEmbedder`` wraps any
embedder and keeps every text it was asked to embed.

``word_assistant`` is an ``Assistant`` over a few files with ``WordEmbedder`` and no dense refusal
threshold, for tests of what happens after retrieval.

``WordEmbedder`` is a hashed bag of words: a text's vector counts its words in hashed buckets,
so texts sharing words get similar vectors and unrelated texts nearly orthogonal ones. It never
returns constants, so a test that mixes up rows (or texts) sees different vectors.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from rag.assistant import Assistant

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

    def embed_spans(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
                    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """``embed(texts)`` and each span's vector from the same call (recorded as one call of
        ``texts``): the words of the span, as the model's pooled span vectors mostly are."""
        pooled = [np.stack([self.vector(text[a:b]) for a, b in s]).astype(np.float32) if s
                  else np.zeros((0, self.dimension), dtype=np.float32) for text, s in zip(texts, spans, strict=True)]
        return self.embed(texts), pooled


class RecordingEmbedder:
    """Any embedder, recording every text it is asked to embed (in order)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name
        self.dimension = inner.dimension
        self.embedded: list[str] = []

    def count_tokens(self, text: str) -> int:
        return int(self.inner.count_tokens(text))

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.embedded.extend(texts)
        return np.asarray(self.inner.embed(texts))


class ScriptedGenerator:
    """Streams ``text`` in two pieces, as a model would, and counts its calls."""

    name = "scripted"

    def __init__(self, text: str) -> None:
        self.text = text
        self.calls = 0

    def stream(self, question: str, passages: Sequence[Any], question_vector: np.ndarray | None = None
               ) -> Iterator[str]:
        self.calls += 1
        first = self.text.split(" ")[0]
        yield first
        yield self.text[len(first):]


def word_assistant(folder: Path, files: Mapping[str, str]) -> Assistant:
    """An ``Assistant`` in ``folder``/index over ``files`` (name -> text, written to ``folder``/docs),
    embedding with ``WordEmbedder``, its refusal threshold 0 (every question reaches the answerer)."""
    from rag.assistant import Assistant
    from rag.settings import Settings

    docs = folder / "docs"
    docs.mkdir(exist_ok=True)
    for name, text in files.items():
        (docs / name).write_text(text)
    settings = Settings.load(env={"RAG_REFUSAL_THRESHOLD": "0.0"}, config_file=folder / "none.toml")
    assistant = Assistant(folder / "index", embedder=WordEmbedder(), settings=settings)
    assistant.add(docs)
    return assistant
