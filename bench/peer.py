"""The peer: a RAG index built the way the LangChain tutorials build one.

BeautifulSoup ``get_text()`` per HTML file (what ``BSHTMLLoader`` does), then
``RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)``, ``HuggingFaceEmbeddings``
with the same MiniLM model, ``Chroma.from_documents`` and ``similarity_search(k=5)``; all
defaults left as the tutorials leave them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.corpus import Question
from bench.ours import StageTimer, _peak_rss_mb
from bench.stats import rnd
from evals.metrics import percentile

COLLECTION = "peer"


def _embeddings() -> Any:
    from langchain_huggingface import HuggingFaceEmbeddings

    from index.embedding import minilm_path

    return HuggingFaceEmbeddings(model_name=str(minilm_path()))


def load_html(path: Path) -> Any:
    """One LangChain ``Document`` of the page's text (``BSHTMLLoader``'s recipe: lxml, ``get_text()``)."""
    from bs4 import BeautifulSoup
    from langchain_core.documents import Document

    soup = BeautifulSoup(path.read_bytes(), "lxml")
    title = soup.title.string if soup.title and soup.title.string else ""
    return Document(page_content=soup.get_text(), metadata={"source": str(path), "title": title})


def ingest(files: Sequence[str], persist_dir: str) -> dict[str, Any]:
    """Files to a searchable Chroma index, with the embedding model loaded beforehand."""
    from langchain_chroma import Chroma
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    t = time.perf_counter()
    embeddings = _embeddings()
    load_s = time.perf_counter() - t
    timer = StageTimer()
    embed_documents = timer.wrap("embed", embeddings.embed_documents)
    object.__setattr__(embeddings, "embed_documents", embed_documents)
    t = time.perf_counter()
    docs = [timer.wrap("parse (HTML to text)", load_html)(Path(f)) for f in files]
    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    chunks = timer.wrap("chunk", splitter.split_documents)(docs)
    Chroma.from_documents(chunks, embeddings, persist_directory=persist_dir, collection_name=COLLECTION)
    ingest_s = time.perf_counter() - t
    stages = timer.to_dict()
    stages["chroma write + other"] = {"seconds": round(ingest_s - sum(timer.seconds.values()), 3), "calls": 0}
    peak = _peak_rss_mb()
    # Word pieces the model actually sees (it truncates at 256 with [CLS]/[SEP]); counted after timing.
    from index.embedding import MiniLMEmbedder

    counts = [MiniLMEmbedder().count_tokens(c.page_content) for c in chunks]
    return {"ingest_s": round(ingest_s, 3), "model_load_s": round(load_s, 3), "files": len(docs),
            "chunks": len(chunks), "tokens_embedded": sum(min(n, 254) for n in counts),
            "chunks_truncated": sum(n > 254 for n in counts), "stages": stages, "peak_rss_mb": peak}


def query(persist_dir: str, questions: list[dict[str, str]], rounds: int = 1) -> dict[str, Any]:
    """hit@5 and ``similarity_search(k=5)`` latency on the bench questions."""
    from langchain_chroma import Chroma

    qs = [Question(**q) for q in questions]
    store = Chroma(collection_name=COLLECTION, embedding_function=_embeddings(), persist_directory=persist_dir)
    store.similarity_search("warm up", k=5)
    ms: list[float] = []
    hits: dict[str, bool] = {}
    for _ in range(rounds):
        for q in qs:
            t = time.perf_counter()
            docs = store.similarity_search(q.question, k=5)
            ms.append((time.perf_counter() - t) * 1000)
            hits[q.id] = any(q.hit(str(d.metadata.get("source", ""))) for d in docs)
    return {"hit_at_5": rnd(sum(hits.values()) / len(hits)), "hits": hits,
            "retrieval_p50_ms": rnd(percentile(ms, 50), 1), "retrieval_p95_ms": rnd(percentile(ms, 95), 1),
            "peak_rss_mb": _peak_rss_mb()}
