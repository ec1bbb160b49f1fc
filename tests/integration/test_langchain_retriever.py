"""The LangChain retriever passes LangChain's own standard suite (no xfail), honours ``k`` and
source filters per call, validates ``k``, and reports the dense and keyword scores."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_tests.integration_tests import RetrieversIntegrationTests

from rag.assistant import Assistant
from rag.retrieve.hybrid import HybridRetriever
from rag.retrieve.langchain import RagRetriever
from rag.settings import SettingsError

# The suite's one async test is a plain ``async def``: anyio (a pytest plugin here already) runs it.
pytestmark = pytest.mark.anyio

QUESTION = "how many panels does a 6 kW system need?"


class TestRagRetrieverStandard(RetrieversIntegrationTests):
    """LangChain's ``RetrieversIntegrationTests`` against the examples index."""

    hybrid: HybridRetriever | None = None

    @pytest.fixture(autouse=True)
    def _examples(self, examples_assistant: Assistant) -> None:
        type(self).hybrid = examples_assistant.retriever  # the suite builds retrievers from properties

    @pytest.fixture(scope="module")
    def anyio_backend(self) -> str:
        return "asyncio"

    @property
    def retriever_constructor(self) -> type[RagRetriever]:
        return RagRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"hybrid": self.hybrid}

    @property
    def retriever_query_example(self) -> str:
        return QUESTION


def test_k_per_call_and_validation(examples_assistant: Assistant) -> None:
    retriever = examples_assistant.as_langchain_retriever()
    size = examples_assistant.store.count()
    assert [len(retriever.invoke(QUESTION, k=k)) for k in (1, 3)] == [1, 3]
    # k passages, or fewer when fewer hold every chunk: a hit beside a passage extends it (22 chunks
    # here, so seven widened passages may join into whole documents).
    seven = [d.page_content for d in retriever.invoke(QUESTION, k=7)]
    assert len(seven) == 7 or (len(seven) < 7 and all(any(c.text in text for text in seven)
                                                       for c in examples_assistant.chunks()))
    # k = every chunk: the widened passages (RAG_WIDEN=1, merged where they overlap) hold them all.
    everything = [d.page_content for d in retriever.invoke(QUESTION, k=size)]
    assert all(any(c.text in text for text in everything) for c in examples_assistant.chunks())
    for bad in (0, -1, size + 1):
        with pytest.raises(SettingsError, match="k must be"):
            retriever.invoke(QUESTION, k=bad)
    with pytest.raises(ValueError, match="k must be at least 1"):
        RagRetriever(hybrid=examples_assistant.retriever, k=0)


def test_metadata_has_dense_and_keyword_scores(examples_assistant: Assistant) -> None:
    docs = examples_assistant.as_langchain_retriever(k=3).invoke(QUESTION)
    hits = examples_assistant.retrieve(QUESTION, k=3)
    assert [d.id for d in docs] == [h.chunk.chunk_id for h in hits]
    for doc, hit in zip(docs, hits, strict=True):
        assert isinstance(doc, Document)
        assert doc.metadata["dense_score"] == hit.dense_score and doc.metadata["keyword_score"] == hit.keyword_score
        assert doc.metadata["sentence_score"] == hit.sentence_score
        assert doc.metadata["score"] == hit.score and doc.metadata["rank"] == hit.rank
    top = docs[0].metadata
    assert top["dense_rank"] >= 1 and 0.3 < top["dense_score"] <= 1.0 and top["keyword_score"] > 0


def test_source_filter_per_call_and_by_default(examples_assistant: Assistant) -> None:
    coral = next(s for s in examples_assistant.sources() if s.endswith("coral-reefs.txt"))
    retriever = examples_assistant.as_langchain_retriever(k=2)
    assert {Path(d.metadata["source"]).name for d in retriever.invoke(QUESTION, sources=[coral])} == {
        "coral-reefs.txt"}
    fixed = examples_assistant.as_langchain_retriever(k=2, sources=[coral])
    assert all(d.metadata["source"] == coral for d in fixed.invoke(QUESTION))
