"""Answer generators behind one small interface.

A generator streams text pieces whose ``[n]`` markers refer to the passages it was given, then
yields one typed ``Draft``: each sentence with the passage numbers it cites and, for a quote,
the exact span it was taken from. The checker works on that draft; only text written by a
language model is parsed for markers (``rag.check.checker.draft_from_text``), and a quote the
answerer located is never searched for again. A generator keeps no per-call state: many
questions are answered at once on one ``Assistant``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet

import numpy as np

from index.embedding import Embedder, embed_query
from rag.answer.extractive import ExtractiveConfig, draft_excerpts, quoted_anchors, render
from rag.records import Draft, Hit
from rag.sentence_vectors import KnownVectors


class ExtractiveGenerator:
    """The default: verbatim excerpts from the passages (see ``rag.answer.extractive``).

    ``stored`` gives the sentence vectors stored at ingest for some chunk ids (by embedded text):
    with it, an answer embeds only the sentences the store lacks.
    """

    name = "extractive"

    def __init__(self, embedder: Embedder, config: ExtractiveConfig | None = None,
                 stored: Callable[[Sequence[str]], Mapping[str, np.ndarray]] | None = None) -> None:
        self.embedder = embedder
        self.config = config or ExtractiveConfig()
        self.stored = stored

    def stream(self, question: str, passages: Sequence[Hit], question_vector: np.ndarray | None = None
               ) -> Iterator[str | Draft]:
        return self.stream_follow_up(question, passages, question_vector)

    def stream_follow_up(self, question: str, passages: Sequence[Hit], question_vector: np.ndarray | None = None,
                         words: AbstractSet[str] = frozenset()) -> Iterator[str | Draft]:
        """``stream`` for a follow-up: ``question`` is its standalone form, ``words`` the follow-up's own
        words, which lead the sentences' question-word overlap (``draft_excerpts``' ``focus_words``)."""
        vector = question_vector if question_vector is not None else embed_query(self.embedder, [question])[0]
        embedder = self.embedder
        if self.stored is not None:
            ids = [a.chunk_id for _, a in quoted_anchors(passages, self.config.passages)] or \
                [h.chunk.chunk_id for h in passages[:self.config.passages]]
            embedder = KnownVectors(embedder, self.stored(ids))
        excerpts = draft_excerpts(question, vector, passages, embedder, self.config, words)
        text = render(excerpts)
        if text:
            yield text
        yield Draft(tuple(excerpts), text)
