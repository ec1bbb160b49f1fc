"""BM25 keyword index over the chunks in Chroma (English stopwords, no stemming).

Built from the store itself, so it cannot drift from it: it is rebuilt whenever the store's
write generation changes (including writes by other processes).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import bm25s
import numpy as np
from bm25s.tokenization import Tokenizer

from index.records import Chunk
from index.store import ChunkStore, chunk_from_record


class KeywordIndex:
    """In-memory BM25 over ``heading > text`` of every chunk, kept in step with the store."""

    def __init__(self, store: ChunkStore) -> None:
        self.store = store
        self._generation: int | None = None
        self._count = -1
        self._chunks: list[Chunk] = []
        self._retriever: bm25s.BM25 | None = None
        self._tokenizer: Tokenizer | None = None
        self._lock = threading.Lock()

    def refresh(self, force: bool = False) -> None:
        """Rebuild if any process wrote to the store since the last build."""
        generation = self.store.generation()
        count = self.store.count()
        if not force and generation == self._generation and count == self._count:
            return
        with self._lock:
            chunks = [chunk_from_record(cid, text, meta) for cid, text, meta in self.store.iter_records()]
            tokenizer = Tokenizer(stopwords="en", stemmer=None)
            retriever: bm25s.BM25 | None = None
            if chunks:
                tokens = tokenizer.tokenize([c.embed_text for c in chunks], update_vocab=True,
                                            return_as="ids", show_progress=False)
                retriever = bm25s.BM25()
                retriever.index(tokens, show_progress=False)
            self._chunks, self._retriever, self._tokenizer = chunks, retriever, tokenizer
            self._generation, self._count = generation, count

    def search(self, query: str, k: int, sources: Sequence[str] | None = None) -> list[tuple[Chunk, float]]:
        """Top ``k`` chunks by BM25 score (> 0), best first."""
        self.refresh()
        with self._lock:
            if self._retriever is None or self._tokenizer is None or not self._chunks:
                return []
            ids = self._tokenizer.tokenize([query], update_vocab=False, return_as="ids", show_progress=False)
            if not ids or not ids[0]:
                return []
            mask = None
            if sources:
                wanted = set(sources)
                mask = np.array([c.source in wanted for c in self._chunks], dtype=np.float32)
            n = min(len(self._chunks), k)
            docs, scores = self._retriever.retrieve(ids, k=n, show_progress=False, weight_mask=mask)
            return [(self._chunks[int(d)], float(s)) for d, s in zip(docs[0], scores[0], strict=True) if s > 0]
