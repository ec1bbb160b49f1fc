"""Answer generators behind one small interface: stream text whose ``[n]`` refer to the passages."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

import numpy as np

from index.embedding import Embedder
from rag.extractive import ExtractiveConfig, candidate_sentences, render, select
from rag.records import Hit


class Generator(Protocol):
    """Produces answer text for ``question`` from numbered ``passages`` (``[1]`` = passages[0])."""

    name: str

    def stream(self, question: str, passages: Sequence[Hit], question_vector: np.ndarray | None = None
               ) -> Iterator[str]: ...


class ExtractiveGenerator:
    """The default: verbatim sentences from the passages (see ``rag.extractive``)."""

    name = "extractive"

    def __init__(self, embedder: Embedder, config: ExtractiveConfig | None = None) -> None:
        self.embedder = embedder
        self.config = config or ExtractiveConfig()

    def stream(self, question: str, passages: Sequence[Hit], question_vector: np.ndarray | None = None
               ) -> Iterator[str]:
        vector = question_vector if question_vector is not None else self.embedder.embed([question])[0]
        chosen = select(candidate_sentences(question, vector, passages, self.embedder, self.config.passages),
                        self.config)
        if chosen:
            yield render(chosen)
