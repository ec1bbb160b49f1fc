"""The Chroma collection that holds every chunk: the single source of truth.

Vectors are computed by us and passed in; Chroma's default embedding function (which
downloads a model) is never used. The collection records which embedding model wrote it,
and a ``generation`` counter that readers use to notice writes from other processes: it goes up
before every write call and once more after a batch of writes, so content seen under one
generation value while no writer held the lock cannot change without the value changing, even
when a writer crashes half-way (the persisted keyword index relies on this).
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from index.chroma_http import DEFAULT_TIMEOUT, http_client, request_timeout
from index.errors import RagError, UsageError
from index.questions_first import QUESTIONS
from index.records import Chunk
from index.server_guard import StoreUnavailableError, guarded, server_url, translated
from index.storage import IndexDamagedError, IndexWriteError, cannot_create
from index.storage import translate as storage_error

T = TypeVar("T")
SCHEMA_VERSION = 1
_PAGE_SIZE = 2000
# After one of these no further write can succeed: a writer stops instead of trying each file.
STOPPING_ERRORS = (StoreUnavailableError, IndexWriteError, IndexDamagedError)
SEARCH_EF = 1000
"""HNSW's search beam (Chroma's ``ef_search``; its default is 100). With 3,000 near-duplicate chunks
the default beam left the true nearest chunk out of the 50 dense candidates for about a quarter of
the questions (issue 18); a beam at least as wide as the collection visits every vector, so search
is exact up to this many chunks and far wider above it. On the Python-docs eval index (1,561
chunks) a query took about a millisecond with either beam (README "Reliability")."""
HNSW_CONFIGURATION: dict[str, Any] = {"space": "cosine", "ef_search": SEARCH_EF}
"""The configuration both rag collections (chunks and their sentence vectors) are created with."""
CHUNK_ROWS_PER_WRITE = 256
"""Chunks sent to Chroma per write call, not Chroma's maximum (5,461): its embedded client holds
Python's GIL through a whole call, so one call of 1,704 chunks stopped every other thread of the
process for 1.3-1.5 s; a call of 256 holds it ~0.25 s, and the total took no longer. Before each
call the writer lets the questions in flight finish (``index.questions_first``)."""
SENTENCE_ROWS_PER_WRITE = 512
"""Sentence vectors per write call (``CHUNK_ROWS_PER_WRITE``'s reason): a sentence row has no text
to index, so 512 of them take about as long as 256 chunks (9,000 rows: 0.2-0.3 s per call, the
total no slower than in calls of 5,000)."""


def rows_per_write(client: Any, wanted: int) -> int:
    """``wanted``, or fewer where the client takes fewer rows per call (``get_max_batch_size``)."""
    return max(1, min(wanted, int(client.get_max_batch_size())))


def write_slices(client: Any, items: Sequence[T], wanted: int, *, wait: bool = True) -> Iterator[Sequence[T]]:
    """``items`` in slices, one write call each. With the embedded client, slices of ``wanted`` rows
    (``rows_per_write``), each yielded once this process's questions already reading have finished,
    and followed by a pause while people are asking (``index.questions_first``; ``wait=False`` for
    quick metadata-only calls). A Chroma server's client waits on the network with the GIL released:
    its slices are as large as it takes."""
    embedded = bool(client.get_settings().is_persistent)
    size = rows_per_write(client, wanted if embedded else len(items) or 1)
    for start in range(0, len(items), size):
        if embedded and wait:
            QUESTIONS.wait_for_earlier()
        began = time.monotonic()
        yield items[start:start + size]
        if embedded and wait and start + size < len(items):  # the last slice's caller goes on to other work
            QUESTIONS.give_back(time.monotonic() - began)


class IndexMismatchError(RagError, RuntimeError):
    """The index was written by another embedding model or an incompatible version."""


@dataclass(frozen=True)
class FileState:
    """What the store holds for one source file."""

    content_hash: str | None
    complete: bool
    chunk_ids: tuple[str, ...]


class IndexMissingError(RagError, FileNotFoundError):
    """A command that only reads was pointed at an index (folder or collection) that does not exist."""


def require_index(index_dir: str | Path) -> None:
    """``IndexMissingError`` unless ``index_dir`` holds an embedded index: a command that would
    otherwise make an empty one there (a typo in ``--index``) says how to build it instead."""
    folder = Path(index_dir)
    if not (folder / "chroma.sqlite3").is_file():
        raise IndexMissingError(f"there is no index in {folder}; build one with 'rag ingest PATH --index {folder}'")


def make_client(index_dir: str | Path | None = None, chroma_url: str | None = None, *, create: bool = True,
                timeout: float = DEFAULT_TIMEOUT) -> Any:
    """An embedded ``PersistentClient`` in ``index_dir``, or an ``HttpClient`` for ``chroma_url`` whose
    requests give up after ``timeout`` seconds (``index.chroma_http``).

    ``create=False`` (commands that only read) refuses a folder that holds no index instead of
    making one there."""
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    import chromadb
    from chromadb.config import Settings

    settings = Settings(anonymized_telemetry=False, allow_reset=False)
    if chroma_url:
        return http_client(chroma_url, settings, timeout)
    if index_dir is None:
        raise UsageError("give an index folder or a Chroma URL")
    folder = Path(index_dir)
    if any(p.exists() and not p.is_dir() for p in (folder, *folder.parents)):
        raise UsageError(f"the index folder {folder} is a file (or inside one): give --index a folder")
    if not create:
        require_index(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # not allowed here, a read-only mount, /proc …: one sentence, not a traceback
        raise cannot_create(exc, folder) from None
    try:
        return chromadb.PersistentClient(path=str(index_dir), settings=settings)
    except Exception as exc:  # Chroma raises many types for a damaged or foreign folder
        storage = storage_error(exc, folder, "")
        if isinstance(storage, IndexWriteError):  # a full or read-only disk is not a damaged index
            raise storage from None
        raise IndexMismatchError(
            f"Chroma {chromadb.__version__} cannot open the index {index_dir} ({type(exc).__name__}: {exc}); "
            "it may be damaged or written by an incompatible Chroma version: move it aside and run "
            "'rag ingest' again") from None


def widen_search_beam(collection: Any) -> None:
    """Give a collection made before ``SEARCH_EF`` (Chroma's default beam) the wider one. Chroma
    stores it, so later opens use it; best effort: an index that cannot be written keeps its own."""
    hnsw = (getattr(collection, "configuration", None) or {}).get("hnsw") or {}
    if int(hnsw.get("ef_search") or 0) >= SEARCH_EF:
        return
    try:
        collection.modify(configuration={"hnsw": {"ef_search": SEARCH_EF}})
    except Exception:  # read-only folder, a server that refuses: searching still works, less exactly
        return


def _chroma_major() -> int:
    import chromadb

    return int(chromadb.__version__.split(".")[0])


def _chunk_metadata(chunk: Chunk, content_hash: str, n_chunks: int, title: str) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "source": chunk.source, "doc_id": chunk.doc_id, "start": chunk.start, "end": chunk.end,
        "index": chunk.index, "heading": " > ".join(chunk.heading), "n_tokens": chunk.n_tokens,
        "content_hash": content_hash, "n_chunks": n_chunks, "title": title,
    }
    if chunk.page is not None:
        meta["page"] = chunk.page
    if chunk.gap_before:
        meta["gap_before"] = chunk.gap_before
    return meta


def chunk_from_record(chunk_id: str, text: str, meta: dict[str, Any]) -> Chunk:
    heading = tuple(h for h in str(meta.get("heading") or "").split(" > ") if h)
    page = meta.get("page")
    return Chunk(chunk_id=chunk_id, doc_id=str(meta["doc_id"]), source=str(meta["source"]), text=text,
                 start=int(meta["start"]), end=int(meta["end"]), index=int(meta["index"]),
                 page=int(page) if page is not None else None, heading=heading,
                 n_tokens=int(meta.get("n_tokens") or 0), gap_before=str(meta.get("gap_before") or ""))


@dataclass(frozen=True)
class FileWrite:
    """One file's part of a write: all its current chunks, vectors for the new ones, what to delete."""

    chunks: Sequence[Chunk]
    vectors: dict[str, np.ndarray]
    content_hash: str
    title: str
    stale_ids: Sequence[str]


def _attempt(action: Callable[[FileWrite], None], write: FileWrite) -> Exception | None:
    try:
        action(write)
    except Exception as exc:  # reported per file by the caller
        return exc
    return None


def _each(action: Callable[[FileWrite], None], writes: Sequence[FileWrite]) -> list[Exception | None]:
    """``action`` on each write in turn, until one fails in a way that stops every write (the rest get that)."""
    outcomes: list[Exception | None] = []
    for write in writes:
        outcomes.append(_attempt(action, write))
        if isinstance(outcomes[-1], STOPPING_ERRORS):  # the rest are not done either
            return outcomes + [outcomes[-1]] * (len(writes) - len(outcomes))
    return outcomes


_COLLECTION_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{1,510})[A-Za-z0-9]")


def rag_collections(client: Any) -> list[str]:
    """Names of the collections rag wrote with this client (others on a shared Chroma server, and the
    sentence vectors kept beside a collection, whose metadata names their ``units``, are left out)."""
    return sorted(c.name for c in client.list_collections()
                  if (c.metadata or {}).get("embedding_model") and "units" not in (c.metadata or {}))


def valid_collection_name(name: str) -> bool:
    """Chroma's rule for collection names, checked before Chroma is asked.

    >>> valid_collection_name("docs"), valid_collection_name("my docs")
    (True, False)
    """
    return _COLLECTION_NAME.fullmatch(name) is not None


class ChunkStore:
    """One Chroma collection of chunks, with the model check and the write generation.

    >>> store = ChunkStore(make_client("./index"), "docs", "all-MiniLM-L6-v2", 384)  # doctest: +SKIP
    """

    def __init__(self, client: Any, collection: str, model_name: str, dimension: int, *, create: bool = True,
                 fingerprint: str | None = None) -> None:
        settings = client.get_settings()
        # Local files (embedded mode) live here; None for a Chroma server.
        self.folder: Path | None = Path(settings.persist_directory) if settings.is_persistent else None
        self.name = collection
        self.client = self._guard(client)
        self.model_name = model_name
        self.dimension = dimension
        self.fingerprint = fingerprint  # of the model's weights (``index.models.weights_fingerprint``)
        if not valid_collection_name(collection):
            raise UsageError(f"bad collection name {collection!r}: use 3-512 letters, digits, '.', '_' or '-', "
                             "starting and ending with a letter or digit")
        if not create and collection not in {c.name for c in self.client.list_collections()}:
            have = ", ".join(rag_collections(self.client)) or "none"
            raise IndexMissingError(f"the index has no collection {collection!r} (it has: {have}); build it with "
                                    f"'rag ingest PATH --collection {collection}'")
        try:
            self.collection = self.client.get_or_create_collection(
                name=collection,
                embedding_function=None,
                configuration={"hnsw": HNSW_CONFIGURATION},
                metadata={"embedding_model": model_name, "dimension": dimension,
                          **({"embedding_fingerprint": fingerprint} if fingerprint else {}),
                          "rag_schema": SCHEMA_VERSION, "chroma_major": _chroma_major(), "generation": 0},
            )
        except StoreUnavailableError:
            raise
        except Exception as exc:
            if "connect" in str(exc).lower():
                raise StoreUnavailableError(f"cannot reach the Chroma server ({exc})") from None
            raise
        self._check_compatible()
        if create:  # commands that only read leave an older index's beam as it is
            widen_search_beam(self.collection)
        # The write generation the vector segment in memory reflects (embedded mode; see ``_see_other_writers``).
        self._generation_seen = 0
        self._vectors_at = self.generation() if self.folder is not None else 0
        self._reopen_lock = threading.Lock()
        self._on_reopen: list[Callable[[Any], None]] = []

    def _guard(self, client: Any) -> Any:
        """``client`` with its failures said in one sentence: a server that stopped answering, or (embedded)
        a full or read-only disk and a damaged vector segment."""
        if self.folder is None:
            return guarded(client, server_url(client.get_settings()), request_timeout(client))
        folder, name = self.folder, self.name
        return translated(client, lambda exc: storage_error(exc, folder, name))

    @property
    def collection_id(self) -> str:
        return str(self.collection.id)

    def _check_compatible(self) -> None:
        meta = self.collection.metadata or {}
        model = meta.get("embedding_model")
        if model is None:
            raise IndexMismatchError(
                f"collection {self.name!r} was not written by rag (no embedding model recorded); "
                "use another --collection or index folder")
        if model != self.model_name or int(meta.get("dimension", 0)) != self.dimension:
            raise IndexMismatchError(
                f"collection {self.name!r} was built with the embedding model {model!r} "
                f"({meta.get('dimension')} dimensions), but this run uses {self.model_name!r} "
                f"({self.dimension}); pass that model with --embed-model (RAG_EMBED_MODEL) or rebuild it: delete "
                "the index folder (or choose a new --collection) and run 'rag ingest' again")
        pinned = meta.get("embedding_fingerprint")
        if pinned and self.fingerprint and pinned != self.fingerprint:  # same name, other weights (a fine-tune)
            raise IndexMismatchError(
                f"collection {self.name!r} was built with other weights of the embedding model {model!r} "
                f"(fingerprint {pinned}, this run's {self.fingerprint}); use the model folder that built it "
                "(--embed-model) or rebuild: delete the index folder (or choose a new --collection) and run "
                "'rag ingest' again")
        written_by = meta.get("chroma_major")
        if written_by is not None and int(written_by) != _chroma_major():
            raise IndexMismatchError(
                f"collection {self.name!r} was written by Chroma {written_by}.x, this is Chroma {_chroma_major()}.x; "
                "rebuild it: delete the index folder and run 'rag ingest' again (or install the Chroma version "
                "that wrote it)")
        schema = int(meta.get("rag_schema", 0))
        if schema != SCHEMA_VERSION:
            raise IndexMismatchError(
                f"collection {self.name!r} has index format {schema}, this rag reads format {SCHEMA_VERSION}; "
                "rebuild it: delete the index folder and run 'rag ingest' again")

    # ---- reads ---------------------------------------------------------------------------

    def generation(self) -> int:
        """Write counter; changes whenever any process wrote to this collection. The next ``query``
        reflects the state this read saw (one read per question: the keyword snapshot's)."""
        fresh = self.client.get_collection(self.name, embedding_function=None)
        self._generation_seen = int((fresh.metadata or {}).get("generation", 0))
        return self._generation_seen

    def count(self) -> int:
        return int(self.collection.count())

    def _see_other_writers(self) -> None:
        """Reload the vector segment when the last generation read shows another process wrote since
        it was loaded.

        Embedded Chroma (measured with 1.5) keeps one in-memory HNSW segment per folder and process
        and never reloads it: after another process's write, ``get()`` and ``count()`` see the new
        rows but ``query()`` does not, and returns ids of deleted rows without their records. A new
        client for the same path reuses that segment, so the cached system is dropped first. The old
        one is not stopped: another thread may still be querying it (each reload costs a few MB
        until it is collected, only after another process wrote)."""
        if self.folder is None:
            return  # a Chroma server serves every client the same state
        generation = self._generation_seen
        if generation == self._vectors_at:
            return
        with self._reopen_lock:
            if generation == self._vectors_at:
                return
            self.reopen()
            self._vectors_at = generation

    def reopen(self) -> None:
        """Open the folder with a new Chroma client (embedded mode), dropping the one Chroma caches per
        path with its in-memory vector segments; followers (``follow_reopen``) get the new client."""
        from chromadb.api.shared_system_client import SharedSystemClient

        path = self.client.get_settings().persist_directory
        with SharedSystemClient._refcount_lock:
            SharedSystemClient._identifier_to_system.pop(path, None)
        self.client = self._guard(make_client(path))
        self.collection = self.client.get_collection(self.name, embedding_function=None)
        for follow in self._on_reopen:
            follow(self.client)

    def follow_reopen(self, callback: Callable[[Any], None]) -> None:
        """Call ``callback(client)`` whenever this store reopens its client to see other processes'
        writes, so another collection of the same folder (the sentence vectors) sees them too."""
        self._on_reopen.append(callback)

    def file_state(self, source: str) -> FileState:
        """Hash and completeness of one file's chunks (complete = all n_chunks present, one hash)."""
        got = self.collection.get(where={"source": source}, include=["metadatas"])
        ids = tuple(got["ids"])
        if not ids:
            return FileState(None, False, ())
        metas = got["metadatas"] or []
        hashes = {m.get("content_hash") for m in metas}
        expected = {m.get("n_chunks") for m in metas}
        complete = len(hashes) == 1 and expected == {len(ids)}
        return FileState(str(next(iter(hashes))) if len(hashes) == 1 else None, complete, ids)

    def sources(self) -> dict[str, int]:
        """Indexed source files with their chunk counts."""
        counts: dict[str, int] = {}
        for _, _, meta in self.iter_records(include_documents=False):
            counts[str(meta["source"])] = counts.get(str(meta["source"]), 0) + 1
        return dict(sorted(counts.items()))

    def iter_records(self, include_documents: bool = True) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """All (id, text, metadata) triples, paged so memory stays flat."""
        offset = 0
        include = ["metadatas", "documents"] if include_documents else ["metadatas"]
        while True:
            got = self.collection.get(include=include, limit=_PAGE_SIZE, offset=offset)
            ids = got["ids"]
            if not ids:
                return
            docs = got.get("documents") or [""] * len(ids)
            for cid, text, meta in zip(ids, docs, got["metadatas"] or [], strict=True):
                yield cid, text or "", dict(meta)
            offset += len(ids)

    def iter_chunks(self) -> Iterator[Chunk]:
        """Every stored chunk, paged so memory stays flat (order: Chroma's)."""
        for chunk_id, text, meta in self.iter_records():
            yield chunk_from_record(chunk_id, text, meta)

    def get(self, ids: Sequence[str]) -> list[Chunk]:
        if not ids:
            return []
        got = self.collection.get(ids=list(ids), include=["metadatas", "documents"])
        by_id = {cid: chunk_from_record(cid, text or "", dict(meta))
                 for cid, text, meta in zip(got["ids"], got["documents"] or [], got["metadatas"] or [], strict=True)}
        return [by_id[i] for i in ids if i in by_id]

    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored embedding of each id (for MMR without re-embedding)."""
        if not ids:
            return {}
        got = self.collection.get(ids=list(ids), include=["embeddings"])
        embeddings = got.get("embeddings")
        if embeddings is None:
            return {}
        return {cid: np.asarray(vec, dtype=np.float32) for cid, vec in zip(got["ids"], embeddings, strict=True)}

    def neighbours(self, source: str, indexes: Sequence[int]) -> list[Chunk]:
        """Chunks of ``source`` at the given positions (for widening a hit)."""
        return self.at_positions({source: indexes})

    def at_positions(self, positions: Mapping[str, Sequence[int]]) -> list[Chunk]:
        """Chunks at the given positions of several sources, in one round trip (widening every hit
        of a question at once); sorted by source and position."""
        clauses = [{"$and": [{"source": source}, {"index": {"$in": list(indexes)}}]}
                   for source, indexes in positions.items() if indexes]
        if not clauses:
            return []
        got = self.collection.get(where=clauses[0] if len(clauses) == 1 else {"$or": clauses},
                                  include=["metadatas", "documents"])
        return sorted((chunk_from_record(cid, text or "", dict(meta)) for cid, text, meta in
                       zip(got["ids"], got["documents"] or [], got["metadatas"] or [], strict=True)),
                      key=lambda c: (c.source, c.index))

    def chunks_of(self, source: str) -> list[Chunk]:
        got = self.collection.get(where={"source": source}, include=["metadatas", "documents"])
        chunks = [chunk_from_record(cid, text or "", dict(meta))
                  for cid, text, meta in zip(got["ids"], got["documents"] or [], got["metadatas"] or [], strict=True)]
        return sorted(chunks, key=lambda c: c.index)

    def query(self, vector: np.ndarray, k: int, sources: Sequence[str] | None = None) -> list[tuple[Chunk, float]]:
        """Nearest chunks by cosine similarity (1 - Chroma's cosine distance), best first.

        One round trip: Chroma 1.x returns what it has when asked for more than it holds. Embedded,
        it first reloads the vectors if the last ``generation()`` read saw another process's write;
        a row deleted under a stale segment comes back without its record and is skipped."""
        self._see_other_writers()
        where = source_filter(sources)
        got = self.collection.query(query_embeddings=[vector.tolist()], n_results=k, where=where,
                                    include=["metadatas", "documents", "distances"])
        out = []
        for cid, text, meta, dist in zip(got["ids"][0], (got["documents"] or [[]])[0],
                                         (got["metadatas"] or [[]])[0], (got["distances"] or [[]])[0], strict=True):
            if meta is not None:
                out.append((chunk_from_record(cid, text or "", dict(meta)), 1.0 - float(dist)))
        return out

    # ---- writes (callers hold the writer lock) ---------------------------------------------

    def existing_ids(self, ids: Sequence[str]) -> set[str]:
        if not ids:
            return set()
        return set(self.collection.get(ids=list(ids), include=[])["ids"])

    def write_file(self, chunks: Sequence[Chunk], vectors: dict[str, np.ndarray], content_hash: str, title: str,
                   stale_ids: Sequence[str]) -> None:
        """Make the store hold exactly ``chunks`` for their file.

        New chunks are written (with vectors) first, kept ones get the new file hash, and only
        then are stale chunks deleted: a crash at any point leaves the file marked incomplete
        (mixed hashes or a short count), so the next run redoes it, and never duplicates ids.
        """
        self._write_one(FileWrite(chunks, vectors, content_hash, title, stale_ids))

    def write_files(self, writes: Sequence[FileWrite]) -> list[Exception | None]:
        """``write_file`` for many files, their new chunks sent together in slices (``write_slices``).

        Returns one entry per file: ``None`` when written, else the error. Chroma spends much of a
        write per call, so slices across files instead of one upsert per file halve write time
        (bench/README.md). If that shared upsert fails, every file is retried on its own, so a
        bad file costs only itself. Each file's crash-safety is that of ``write_file``.
        """
        self.bump_generation()  # before writing: see the module docstring
        try:
            self._upsert_new(writes)
        except STOPPING_ERRORS as exc:  # no file can be written: retrying each would only repeat it
            return [exc] * len(writes)
        except Exception:
            return _each(self._write_one, writes)
        return _each(self._finish, writes)

    def _write_one(self, write: FileWrite) -> None:
        self.bump_generation()
        self._upsert_new([write])
        self._finish(write)

    def _upsert_new(self, writes: Sequence[FileWrite]) -> None:
        records = [(c, w) for w in writes for c in w.chunks if c.chunk_id in w.vectors]
        for part in write_slices(self.client, records, CHUNK_ROWS_PER_WRITE):
            self.collection.upsert(
                ids=[c.chunk_id for c, _ in part],
                embeddings=np.stack([w.vectors[c.chunk_id] for c, w in part]),
                documents=[c.text for c, _ in part],
                metadatas=[_chunk_metadata(c, w.content_hash, len(w.chunks), w.title) for c, w in part],
            )

    def _finish(self, write: FileWrite) -> None:
        """Stamp the file's kept chunks with its new hash, then delete its stale ones."""
        n = len(write.chunks)
        kept = [c for c in write.chunks if c.chunk_id not in write.vectors]
        # Metadata only, once per file: quick, so no wait for questions.
        for part in write_slices(self.client, kept, CHUNK_ROWS_PER_WRITE, wait=False):
            self.collection.update(ids=[c.chunk_id for c in part],
                                   metadatas=[_chunk_metadata(c, write.content_hash, n, write.title) for c in part])
        self.delete_ids(write.stale_ids)

    def delete_ids(self, ids: Sequence[str]) -> None:
        ids = list(ids)
        if ids:
            self.bump_generation()
        for i in range(0, len(ids), 1000):
            self.collection.delete(ids=ids[i:i + 1000])

    def delete_source(self, source: str) -> int:
        state = self.file_state(source)
        self.delete_ids(state.chunk_ids)
        return len(state.chunk_ids)

    def bump_generation(self) -> None:
        """Tell readers the content changed (callers hold the writer lock)."""
        meta = dict(self.client.get_collection(self.name, embedding_function=None).metadata or {})
        seen = int(meta.get("generation", 0))
        meta["generation"] = seen + 1
        self.collection.modify(metadata=meta)
        if seen == self._vectors_at:  # our own write: this process's segment already holds it
            self._vectors_at = seen + 1


def source_filter(sources: Sequence[str] | None) -> dict[str, Any] | None:
    """Chroma's ``where`` for chunks (or sentences) of the given source files; None: all."""
    if not sources:
        return None
    if len(sources) == 1:
        return {"source": sources[0]}
    return {"source": {"$in": list(sources)}}
