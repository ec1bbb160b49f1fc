"""Cheap what-if measurements that point at concrete speed-ups in ``index/``.

- ``chunking_speed``: ``chunk_document`` with the tokenizer as it is, with a memoised counter,
  the cost of tokenizing each document once (the floor of an offsets-based chunker), and the
  offsets-based chunker itself (``SpanCounter``, what ingest uses).
- ``chroma_writes``: the same records written one upsert per file (as ``write_file`` does) and in
  larger cross-file batches.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.ours import _assistant, _peak_rss_mb


def chunking_speed(files: Sequence[str]) -> dict[str, Any]:
    from index.chunking import chunk_document
    from index.embedding import MiniLMEmbedder, word_piece_tokenizer
    from index.loaders import load_bytes, read_bytes

    embedder = MiniLMEmbedder()
    docs = [load_bytes(Path(f), read_bytes(Path(f), 1 << 30)) for f in files]
    calls: list[int] = []

    def counting(text: str) -> int:
        calls.append(len(text))
        return embedder.count_tokens(text)

    t = time.perf_counter()
    base = [c for d in docs for c in chunk_document(d, counting)]
    plain_s = time.perf_counter() - t
    cached = functools.lru_cache(maxsize=1 << 16)(embedder.count_tokens)
    t = time.perf_counter()
    memo = [c for d in docs for c in chunk_document(d, cached)]
    memo_s = time.perf_counter() - t
    tokenizer = word_piece_tokenizer(str(embedder.model_path))
    t = time.perf_counter()
    for d in docs:
        tokenizer.encode(d.text, add_special_tokens=False)
    once_s = time.perf_counter() - t
    t = time.perf_counter()
    spans = [c for d in docs for c in chunk_document(d, embedder.count_tokens, offsets=embedder.token_offsets)]
    spans_s = time.perf_counter() - t
    chars = sum(len(d.text) for d in docs)
    return {"docs": len(docs), "chunks": len(base), "doc_chars": chars, "count_calls": len(calls),
            "chars_tokenized": sum(calls), "plain_s": round(plain_s, 3), "memoised_s": round(memo_s, 3),
            "memoised_same_chunks": memo == base, "tokenize_each_doc_once_s": round(once_s, 3),
            "offsets_s": round(spans_s, 3), "offsets_same_chunks": spans == base}


def chroma_writes(source_index: str, work: str, limit: int = 5000) -> dict[str, Any]:
    """Seconds to write the same ``limit`` records per file (one upsert each) vs cross-file batches."""
    import numpy as np

    src = _assistant(source_index).store.collection
    got = src.get(include=["embeddings", "metadatas", "documents"], limit=limit)
    ids, docs, metas = got["ids"], got["documents"] or [], got["metadatas"] or []
    vecs = np.asarray(got["embeddings"], dtype=np.float32)
    groups: dict[str, list[int]] = {}
    for i, meta in enumerate(metas):
        groups.setdefault(str(meta["source"]), []).append(i)
    out: dict[str, Any] = {"records": len(ids), "files": len(groups)}

    def write(name: str, batches: list[list[int]]) -> None:
        coll = _assistant(str(Path(work) / f"writes-{name}")).store.collection
        t = time.perf_counter()
        for b in batches:
            coll.upsert(ids=[ids[i] for i in b], embeddings=vecs[b], documents=[docs[i] for i in b],
                        metadatas=[metas[i] for i in b])
        out[name] = {"seconds": round(time.perf_counter() - t, 3), "calls": len(batches)}

    write("per file", list(groups.values()))
    order = [i for g in groups.values() for i in g]
    for size in (1000, 5000):
        write(f"batches of {size}", [order[i:i + size] for i in range(0, len(order), size)])
    out["peak_rss_mb"] = _peak_rss_mb()
    return out
