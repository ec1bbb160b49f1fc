"""rag's hybrid retrieval as a LangChain ``BaseRetriever`` (passes ``langchain-tests``' standard suite).

>>> from rag import Assistant
>>> retriever = Assistant("./index").as_langchain_retriever(k=3)   # doctest: +SKIP
>>> docs = retriever.invoke("what did Zelenskyy reject?", k=1)      # doctest: +SKIP
>>> docs[0].metadata["source"], docs[0].metadata["dense_score"]      # doctest: +SKIP
('/.../ukraine-security-talks.md', 0.61)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, field_validator

from rag.records import Hit
from rag.retrieve.hybrid import HybridRetriever, check_k


class RagRetriever(BaseRetriever):
    """LangChain view of a ``HybridRetriever``: dense + BM25, fused.

    ``k`` (at least 1; capped at the collection's passage count) and ``sources`` (indexed paths,
    as ``Assistant.sources()`` lists them or as they were added) are defaults that
    ``invoke(query, k=…, sources=…)`` overrides per call (there ``k`` must be 1 … the passage
    count). Each document's metadata holds where the passage is (``source``, ``page``,
    ``start``, ``end``, ``heading``, ``chunk_id``) and how it was found: the fused
    ``score`` and ``rank``, ``dense_score`` (cosine) and ``dense_rank``, ``keyword_score`` (BM25)
    and ``keyword_rank``, ``sentence_score`` (its best sentence's cosine) and ``sentence_rank`` (a
    score of None and rank 0 mean that list did not return it).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    hybrid: HybridRetriever
    k: int = 5
    sources: tuple[str, ...] | None = None

    @field_validator("k")
    @classmethod
    def _positive_k(cls, k: int) -> int:
        return check_k(k, 0)  # the upper bound needs the collection: checked on each call

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun,
                                k: int | None = None, sources: str | Sequence[str] | None = None) -> list[Document]:
        size = self.hybrid.store.count()
        # A k asked for in this call is checked; the default (RAG_K, or the k it was made with) is
        # capped at a small collection's size rather than failing a call that named no k.
        k = min(self.k, size or self.k) if k is None else check_k(k, size)
        wanted = self.sources if sources is None else sources  # checked by ``retrieve``: indexed paths
        return [to_document(hit) for hit in self.hybrid.retrieve(query, k=k, sources=wanted or None)]


def to_document(hit: Hit) -> Document:
    """One hit as a LangChain ``Document`` (the passage text, its place and its scores)."""
    c = hit.chunk
    metadata: dict[str, Any] = {
        "source": c.source, "page": c.page, "start": c.start, "end": c.end, "heading": " > ".join(c.heading),
        "chunk_id": c.chunk_id, "score": hit.score, "rank": hit.rank, "dense_score": hit.dense_score,
        "dense_rank": hit.dense_rank, "keyword_score": hit.keyword_score, "keyword_rank": hit.keyword_rank,
        "sentence_score": hit.sentence_score, "sentence_rank": hit.sentence_rank}
    return Document(page_content=c.text, id=c.chunk_id, metadata=metadata)
