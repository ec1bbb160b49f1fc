"""Sentence vectors made at ingest and stored beside the chunks, in a second Chroma collection.

Why: a question is matched against single sentences as well as whole chunks (a chunk scores by its
best sentence: one sentence that answers is diluted in a 250-token chunk vector), and the
extractive answerer finds its passages' sentence vectors here instead of embedding ~30 sentences
per question (README "Speed").

A sentence's vector costs nothing extra at ingest: it is pooled from the forward pass that embeds
its chunk (late chunking: the mean of the last hidden states of the sentence's word pieces inside
the chunk's ``embed_text``, then unit length; ``SpanEmbedder``), so ingest embeds exactly the
chunks. Embedding every sentence again on its own, with its heading, doubled the word pieces
embedded at ingest for a retrieval gain the pooled vectors nearly match (README "Sentence vectors").
An embedder that cannot pool (a remote embedding server) writes no sentence vectors: the writer
drops the collection, and readers do without.

One record per sentence: id ``<chunk_id>:<n>``, its vector and metadata ``chunk_id`` and ``source``
(for the sources filter). Neither the text it is looked up by nor its offsets are stored (a Chroma
document costs a quarter of a sentence write, two integer fields another fifth: README "Speed"):
readers rebuild both from the chunk with ``units``, which ``units_version`` pins; rows written with
a document or offsets (before) still answer with them. Which
sentences are stored and the lookup text of each are the caller's choice (``SentenceUnits``), so
this package needs nothing from ``rag``; readers look vectors up by that exact text, so a unit that
changed since ingest is simply embedded at question time.

Crash safety, the same rule as the chunks': a chunk's sentences are written before the chunk and
deleted after it, so a chunk in the store always has its sentences; a crash can only leave orphans
(sentences whose chunk is gone), which readers skip: writes and deletions run under a ``clean:
False`` mark, and a writer that finds the mark (its predecessor died meanwhile) sweeps the orphans. An
index written before sentence vectors existed has no such collection: readers work without it, and
the next writer (``rag ingest``, ``Assistant.add``) fills it and only then marks it ``complete``.
Readers use the collection only once it is complete.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from index.embedding import SpanEmbedder
from index.errors import UsageError
from index.records import Chunk
from index.store import (
    HNSW_CONFIGURATION,
    SENTENCE_ROWS_PER_WRITE,
    chunk_from_record,
    source_filter,
    widen_search_beam,
    write_slices,
)

SENTENCE_HNSW: dict[str, Any] = {**HNSW_CONFIGURATION, "ef_construction": 50}
"""The sentence collection's graph: built with half Chroma's default construction beam (100).
Sentences are five times as many rows as chunks, and building their graph was most of an ingest's
write time; searches still use the wide ``SEARCH_EF`` beam, and the eval sets answered the same
(README "Speed"). A collection made before keeps its own graph settings (Chroma fixes them at
creation)."""


@dataclass(frozen=True)
class SentenceRow:
    """One stored sentence: its chunk, its number in the chunk, offsets into the chunk text, the
    text it is looked up by, and its unit vector."""

    chunk_id: str
    n: int
    source: str
    start: int
    end: int
    text: str
    vector: np.ndarray


SentenceUnits = Callable[[Chunk], Sequence[tuple[int, int, str]]]
"""The sentences of a chunk to store: (start, end) in the chunk text and the text to look it up by."""

FORMAT = 1
_PAGE_SIZE = 2000
_FILL_BATCH = 2048  # chunks embedded per call while filling an older index (as ingest batches them)


def is_sentence_collection(meta: dict[str, Any]) -> bool:
    """Whether a collection with this metadata holds sentence vectors (every version wrote ``units``)."""
    return "units" in meta


def sentences_collection(collection: str) -> str:
    """The name of the sentence collection that belongs to chunk collection ``collection``."""
    return f"{collection}-sentences"


class SentenceStore:
    """The sentence vectors of one chunk collection.

    ``units_version`` names how ``units`` splits and phrases sentences: a stored collection made
    with another version (or model) is rebuilt by the next writer.

    >>> sentences = SentenceStore(client, "docs", "all-MiniLM-L6-v2", 384, units, "v1")  # doctest: +SKIP
    >>> sentences.best_chunks(question_vector, 100)  # doctest: +SKIP
    {'3f2a…': 0.71, ...}
    """

    def __init__(self, client: Any, collection: str, model_name: str, dimension: int, units: SentenceUnits,
                 units_version: str) -> None:
        self.client = client
        self.name = sentences_collection(collection)
        self.units = units
        # ``units`` also tells ``index.store.rag_collections`` this is no chunk collection.
        self._expected = {"embedding_model": model_name, "dimension": dimension, "format": FORMAT,
                          "units": units_version, "sentences_of": collection}
        self._ready: Any = None  # the collection once seen complete (it stays so for this version)

    def use_client(self, client: Any) -> None:
        """Read and write through ``client`` from now on (the chunk store reopened its client to see
        another process's writes: ``ChunkStore.follow_reopen``)."""
        self.client = client
        self._ready = None

    # ---- reads ---------------------------------------------------------------------------------

    def _matches(self, meta: dict[str, Any]) -> bool:
        return all(meta.get(key) == value for key, value in self._expected.items())

    def ready(self) -> Any:
        """The collection when it is complete and of this version, else None (readers do without)."""
        if self._ready is not None:
            return self._ready
        try:
            collection = self.client.get_collection(self.name, embedding_function=None)
        except Exception:  # absent: an index from before sentence vectors, not filled yet
            return None
        meta = dict(collection.metadata or {})
        if meta.get("complete") and self._matches(meta):
            self._ready = collection
            return collection
        return None

    def best_chunks(self, vector: np.ndarray, n_sentences: int, sources: Sequence[str] | None = None
                    ) -> dict[str, float]:
        """Each chunk's best sentence cosine among the ``n_sentences`` sentences nearest to
        ``vector``, best first; empty when the collection is not ready."""
        collection = self.ready()
        if collection is None:
            return {}
        try:  # one round trip: Chroma 1.x returns what it has when asked for more than it holds
            got = collection.query(query_embeddings=[vector.tolist()], n_results=n_sentences,
                                   where=source_filter(sources), include=["metadatas", "distances"])
        except Exception:  # deleted by a writer rebuilding it: do without, look again next time
            self._ready = None
            return {}
        best: dict[str, float] = {}
        for meta, dist in zip((got["metadatas"] or [[]])[0], (got["distances"] or [[]])[0], strict=True):
            best.setdefault(str(meta["chunk_id"]), 1.0 - float(dist))  # nearest first, so the first is the best
        return best

    def vectors_for(self, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored vectors of the sentences of ``chunk_ids``, by the exact text embedded.

        Read by id: the chunks first (their ``units`` say how many sentences each has), then exactly
        their sentence ids. Filtering the sentence rows by ``chunk_id`` instead cost ~17 ms a
        question at 10,000 chunks (a metadata-filtered Chroma read), the two reads by id ~4 ms."""
        collection = self.ready()
        if collection is None or not chunk_ids:
            return {}
        try:
            units = self._chunk_units(chunk_ids)
            ids = [f"{cid}:{n}" for cid, unit in units.items() for n in range(len(unit))]
            if not ids:
                return {}
            got = collection.get(ids=ids, include=["documents", "embeddings"])
            embeddings = got.get("embeddings")
            if embeddings is None:
                return {}
            texts = [text for _, _, text in self._units(got["ids"], got.get("documents"), None, units)]
        except Exception:
            self._ready = None
            return {}
        return {text: np.asarray(vec, dtype=np.float32) for text, vec in zip(texts, embeddings, strict=True) if text}

    def _chunk_units(self, chunk_ids: Sequence[str]) -> dict[str, Sequence[tuple[int, int, str]]]:
        """The sentence units of each chunk that is still stored (read from the chunk collection)."""
        chunks = self.client.get_collection(self._expected["sentences_of"], embedding_function=None).get(
            ids=list(chunk_ids), include=["documents", "metadatas"])
        return {cid: self.units(chunk_from_record(cid, text or "", dict(meta)))
                for cid, text, meta in zip(chunks["ids"], chunks["documents"] or [], chunks["metadatas"] or [],
                                           strict=True)}

    def _units(self, ids: Sequence[str], documents: Sequence[str | None] | None,
               metadatas: Sequence[Any] | None,
               known: dict[str, Sequence[tuple[int, int, str]]] | None = None) -> list[tuple[int, int, str]]:
        """(start, end, lookup text) of each sentence id: a row of the first layout stored its text and
        offsets (offsets read as 0 when ``metadatas`` is not given); any other is rebuilt from its
        chunk by ``units`` (from ``known`` or read from the chunk collection; (0, 0, "") when it is gone)."""
        stored = list(documents) if documents is not None else [None] * len(ids)
        metas = [dict(m or {}) for m in metadatas] if metadatas is not None else [{}] * len(ids)
        units: dict[str, Sequence[tuple[int, int, str]]] = dict(known or {})
        need = sorted({sid.rsplit(":", 1)[0] for sid, text in zip(ids, stored, strict=True) if not text} - set(units))
        if need:
            units.update(self._chunk_units(need))
        out = []
        for sid, text, meta in zip(ids, stored, metas, strict=True):
            if text:
                out.append((int(meta.get("start", 0)), int(meta.get("end", 0)), text))
                continue
            cid, n = sid.rsplit(":", 1)
            unit = units.get(cid, ())
            start, end, text = unit[int(n)] if int(n) < len(unit) else (0, 0, "")
            out.append((start, end, text))
        return out

    # ---- writes (callers hold the writer lock) ---------------------------------------------------

    def _collection(self) -> Any:
        """The collection for writing, created (empty, not complete) if need be; one of another
        version or model is dropped first: its vectors cannot be mixed with these."""
        try:
            existing = self.client.get_collection(self.name, embedding_function=None)
        except Exception:
            existing = None
        if existing is not None and not self._matches(dict(existing.metadata or {})):
            self._check_ours(dict(existing.metadata or {}))
            self.client.delete_collection(self.name)
            self._ready = None
        collection = self.client.get_or_create_collection(
            name=self.name, embedding_function=None, configuration={"hnsw": SENTENCE_HNSW},
            metadata={**self._expected, "complete": False})
        widen_search_beam(collection)  # one made before the wider beam gets it from its next writer
        return collection

    def fill(self, records: Iterable[tuple[str, str, dict[str, Any]]], embedder: SpanEmbedder) -> int:
        """Make the collection complete and clean for the chunks in ``records`` (all the store's):
        for an index written without (or with other) sentence vectors, run every chunk that has
        none through the model again for its sentences (its stored chunk vector is kept), then mark
        it complete (a run killed half-way leaves it incomplete, and the next goes on from there);
        after a writer died while writing, remove the orphans. ``records`` is read only when there
        is work. Returns the number of sentences stored."""
        collection = self._collection()
        meta = dict(collection.metadata or {})
        if meta.get("complete") and meta.get("clean", True):
            return 0
        covered = self._chunk_ids(collection)
        if meta.get("complete"):
            orphans = list(covered - {cid for cid, _, _ in records})
            for i in range(0, len(orphans), 1000):
                collection.delete(where={"chunk_id": {"$in": orphans[i:i + 1000]}})
            self._set(collection, clean=True)
            return 0
        done = 0
        todo: list[Chunk] = []
        for cid, text, meta in records:
            if cid in covered:
                continue
            todo.append(chunk_from_record(cid, text, meta))
            if len(todo) >= _FILL_BATCH:
                done += self._upsert(collection, self.embed(todo, embedder)[1])
                todo = []
        done += self._upsert(collection, self.embed(todo, embedder)[1])
        self._set(collection, complete=True, clean=True)  # orphans are harmless: readers skip them
        return done

    def rows(self) -> Iterator[SentenceRow]:
        """Every stored sentence with its vector, paged (order: Chroma's); nothing when not ready."""
        collection = self.ready()
        if collection is None:
            return
        offset = 0
        while True:
            got = collection.get(include=["metadatas", "documents", "embeddings"], limit=_PAGE_SIZE, offset=offset)
            if not got["ids"]:
                return
            units = self._units(got["ids"], got.get("documents"), got["metadatas"])
            for sid, meta, (start, end, text), vector in zip(got["ids"], got["metadatas"] or [], units,
                                                             got["embeddings"], strict=True):
                yield SentenceRow(str(meta["chunk_id"]), int(sid.rsplit(":", 1)[1]), str(meta["source"]),
                                  start, end, text, np.asarray(vector, np.float32))
            offset += len(got["ids"])

    def drop(self) -> None:
        """Delete the sentence vectors (a writer that cannot make them for new chunks): readers do
        without until a writer that can fills them again."""
        self._ready = None
        try:
            existing = self.client.get_collection(self.name, embedding_function=None)
        except Exception:  # absent already
            return
        self._check_ours(dict(existing.metadata or {}))
        self.client.delete_collection(self.name)

    def _check_ours(self, meta: dict[str, Any]) -> None:
        """Refuse to touch a collection of that name that holds no sentence vectors (a user's own
        collection called ``docs-sentences`` beside ``docs``): it is never deleted."""
        if not is_sentence_collection(meta):
            raise UsageError(f"the collection {self.name!r} holds passages, so it cannot keep the sentence vectors "
                             f"of {self._expected['sentences_of']!r}: use another collection name for one of them")

    def mark_complete(self) -> None:
        """Mark the collection complete and clean: readers use it from now on."""
        self._set(self._collection(), complete=True, clean=True)

    def _set(self, collection: Any, **marks: bool) -> None:
        meta = dict(self.client.get_collection(self.name, embedding_function=None).metadata or {})
        collection.modify(metadata={**meta, **marks})

    @contextmanager
    def changing(self) -> Iterator[None]:
        """Around writing sentences then their chunks, or deleting chunks then their sentences: if
        the writer dies inside, the mark stays and the next writer's ``fill`` removes the sentences
        left without a chunk."""
        collection = self._collection()
        self._set(collection, clean=False)
        yield
        self._set(collection, clean=True)

    def embed(self, chunks: Sequence[Chunk], embedder: SpanEmbedder) -> tuple[np.ndarray, list[SentenceRow]]:
        """The chunks' vectors (``embedder.embed`` of their ``embed_text``) and their sentences' rows,
        pooled from the same forward pass: ingest embeds nothing beyond the chunks."""
        units = [self.units(chunk) for chunk in chunks]
        # ``embed_text`` is the heading path, a line break, then the chunk text: offsets shift by the prefix.
        shift = [len(chunk.embed_text) - len(chunk.text) for chunk in chunks]
        spans = [[(start + d, end + d) for start, end, _ in u] for u, d in zip(units, shift, strict=True)]
        if not chunks:
            return np.zeros((0, embedder.dimension), dtype=np.float32), []
        vectors, pooled = embedder.embed_spans([chunk.embed_text for chunk in chunks], spans)
        rows = [SentenceRow(chunk.chunk_id, n, chunk.source, start, end, text, pooled[i][n])
                for i, (chunk, u) in enumerate(zip(chunks, units, strict=True))
                for n, (start, end, text) in enumerate(u)]
        return vectors, rows

    def write(self, rows: Sequence[SentenceRow]) -> int:
        """Store sentence rows (from ``embed``); call before writing their chunks, inside
        ``changing``, and ``mark_complete`` after copying a whole index's rows. Returns the count."""
        return self._upsert(self._collection(), rows)

    def _upsert(self, collection: Any, rows: Sequence[SentenceRow]) -> int:
        for part in write_slices(self.client, rows, SENTENCE_ROWS_PER_WRITE):
            collection.upsert(
                ids=[f"{r.chunk_id}:{r.n}" for r in part],
                embeddings=np.stack([r.vector for r in part]),
                metadatas=[{"chunk_id": r.chunk_id, "source": r.source} for r in part],
            )
        return len(rows)

    def keep_only(self, source: str, chunk_ids: Sequence[str]) -> None:
        """Delete the sentences of ``source`` whose chunk is not one of ``chunk_ids`` (after the
        file's stale chunks were deleted; also removes orphans a crash left)."""
        collection = self._collection()
        where: dict[str, Any] = {"source": source}
        if chunk_ids:
            where = {"$and": [where, {"chunk_id": {"$nin": list(chunk_ids)}}]}
        collection.delete(where=where)

    def delete_source(self, source: str) -> None:
        """Delete every sentence of ``source`` (after its chunks)."""
        self.keep_only(source, ())

    def _chunk_ids(self, collection: Any) -> set[str]:
        ids: set[str] = set()
        offset = 0
        while True:
            got = collection.get(include=["metadatas"], limit=_PAGE_SIZE, offset=offset)
            if not got["ids"]:
                return ids
            ids.update(str(m["chunk_id"]) for m in got["metadatas"] or [])
            offset += len(got["ids"])
