"""The sentences stored with their vectors at ingest, and the answerer's view of them.

The units are exactly what the extractive answerer scores (``rag.answer.extractive``: the
passage's non-fragment sentences, looked up as "section: sentence"), so at question time it finds
every vector it needs in the store and embeds nothing; retrieval uses the same vectors to score a
chunk by its best sentence (``index.sentence_store``). The vectors are pooled from the chunk's own
forward pass at ingest, so a sentence's vector carries its section and neighbours as context.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from index.embedding import Embedder
from index.records import Chunk
from rag.answer.extractive import heading_context, passage_sentences

UNITS_VERSION = "pooled-sentence-1"
"""Names how ``sentence_units`` splits and how the vectors are made; change it to have writers
rebuild the vectors. (A stale unit is harmless meanwhile: vectors are looked up by their exact text.)"""


def sentence_units(chunk: Chunk) -> list[tuple[int, int, str]]:
    """(start, end, lookup text) of each sentence of ``chunk`` the answerer may quote.

    >>> from index.records import Chunk
    >>> sentence_units(Chunk("c", "d", "f.md", "Reefs grow slowly over many years.", 0, 34, 0, heading=("Reefs",)))
    [(0, 34, 'Reefs: Reefs grow slowly over many years.')]
    """
    heading = chunk.heading[-1] if chunk.heading else ""
    return [(s.start, s.end, heading_context(heading, s.text)) for s in passage_sentences(chunk.text)
            if not s.fragment]


class KnownVectors:
    """An ``Embedder`` that answers from vectors already known (stored at ingest) and embeds only
    the rest with ``inner``. Made per question, so nothing is shared between requests."""

    def __init__(self, inner: Embedder, known: Mapping[str, np.ndarray]) -> None:
        self.inner = inner
        self.known = known
        self.name = inner.name
        self.dimension = inner.dimension

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self.known]
        fresh = dict(zip(missing, self.inner.embed(missing), strict=True)) if missing else {}
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self.known[t] if t in self.known else fresh[t] for t in texts]).astype(np.float32, copy=False)
