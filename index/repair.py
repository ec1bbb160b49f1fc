"""Rebuild an embedded index's vector segments from the chunks stored beside them (``rag repair``).

Chroma keeps each collection's vectors in an HNSW segment folder (``<index>/<segment id>/``), and
the chunks' text and metadata in ``chroma.sqlite3``. A write that fails half-way (a full disk) can
leave a segment file truncated, and then Chroma 1.5 fails every read of that collection, ``get``
included ("Error deserializing pickle file"). The text and metadata are intact in sqlite, so the
repair moves the unreadable segment folder aside (Chroma then starts an empty one and can read
the chunks again), embeds every stored chunk's text again (the vectors lived only in the damaged
files: re-embedding is the one way back, and the same model on the same text gives the same
vectors), writes them back under the same ids, and only then deletes the old folder. The source
files are never read. A damaged sentence-vector collection is rebuilt from the same pass.

Finding a collection's segment folder reads Chroma's ``segments`` table: Chroma has no API for it.
A repair stopped half-way leaves the ``repairing`` mark on the collection; readers and ``rag
doctor`` say so, and running the repair again finishes it. It may also leave the moved-aside
``damaged-<collection>-<time>`` folders: ``rag doctor`` lists them, and the next repair deletes them
once every vector index of the collection reads. That loses nothing: they hold only vectors that
could not be read, and those have been embedded again from the stored text by then.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from index.embedding import Embedder, SpanEmbedder
from index.errors import UsageError
from index.sentence_store import SentenceStore
from index.storage import BYTES_PER_CHUNK, BYTES_PER_SENTENCE, IndexDamagedError, check_space, short_detail
from index.store import ChunkStore, chunk_from_record

REPAIRING = "repairing"  # collection metadata mark while a repair runs
_BATCH = 256


@dataclass(frozen=True)
class RepairReport:
    """What ``repair`` found and did; ``to_dict()`` is what ``rag repair --json`` prints."""

    chunks_damaged: bool
    sentences_damaged: bool
    chunks_reembedded: int
    sentences_written: int
    seconds: float
    leftovers_removed: tuple[str, ...] = ()  # folders an earlier, stopped repair left (names)
    leftover_bytes: int = 0  # what they took on disk

    def to_dict(self) -> dict[str, Any]:
        return {"chunks_damaged": self.chunks_damaged, "sentences_damaged": self.sentences_damaged,
                "chunks_reembedded": self.chunks_reembedded, "sentences_written": self.sentences_written,
                "leftovers_removed": list(self.leftovers_removed), "leftover_bytes": self.leftover_bytes,
                "seconds": round(self.seconds, 3)}


def leftovers(index_dir: Path, collections: tuple[str, ...]) -> list[Path]:
    """The ``damaged-<collection>-<time>`` folders a stopped repair of ``collections`` left in
    ``index_dir`` (exactly that pattern: any other folder is the user's and never touched)."""
    pattern = re.compile(r"damaged-(?:" + "|".join(map(re.escape, collections)) + r")-\d+")
    return sorted(p for p in index_dir.iterdir() if p.is_dir() and not p.is_symlink() and pattern.fullmatch(p.name))


def folder_bytes(folder: Path) -> int:
    """Bytes of the files under ``folder``."""
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file() and not f.is_symlink())


def segment_folder(index_dir: Path, collection: str) -> Path | None:
    """The HNSW segment folder of ``collection`` (read from Chroma's sqlite, opened read-only)."""
    uri = f"file:{index_dir / 'chroma.sqlite3'}?mode=ro"
    with sqlite3.connect(uri, uri=True) as db:
        row = db.execute("SELECT s.id FROM segments s JOIN collections c ON s.collection = c.id "
                         "WHERE c.name = ? AND s.scope = 'VECTOR'", (collection,)).fetchone()
    return index_dir / str(row[0]) if row else None


def stored_count(index_dir: Path, collection: str) -> int:
    """The number of records of ``collection`` in Chroma's sqlite (``count()`` fails while its vectors
    cannot be read)."""
    uri = f"file:{index_dir / 'chroma.sqlite3'}?mode=ro"
    with sqlite3.connect(uri, uri=True) as db:
        row = db.execute("SELECT count(*) FROM embeddings e JOIN segments s ON e.segment_id = s.id "
                         "JOIN collections c ON s.collection = c.id WHERE c.name = ? AND s.scope = 'METADATA'",
                         (collection,)).fetchone()
    return int(row[0])


def vector_problem(client: Any, name: str) -> str | None:
    """Why the vectors of collection ``name`` cannot be read (None: they can, or there is no such
    collection). A count and a one-result query load the segment as every reader does."""
    try:
        collection = client.get_collection(name, embedding_function=None)
    except Exception:
        return None
    if (collection.metadata or {}).get(REPAIRING):
        return "a repair was stopped before it finished"
    try:
        if collection.count():
            dimension = int((collection.metadata or {}).get("dimension") or 384)
            collection.query(query_embeddings=[[1.0] + [0.0] * (dimension - 1)], n_results=1, include=[])
    except IndexDamagedError as exc:
        return short_detail(exc.detail)
    except Exception as exc:  # whatever Chroma says: this collection's vectors cannot be read
        return short_detail(f"{type(exc).__name__}: {exc}")
    return None


def repair(store: ChunkStore, sentences: SentenceStore, embedder: Embedder) -> RepairReport:
    """Rebuild the damaged vector segments of ``store``'s collection and its sentence vectors (which
    must follow the store's reopening: ``ChunkStore.follow_reopen``). The caller holds the writer
    lock. Returns what was done; nothing when all is readable."""
    started = time.perf_counter()
    if store.folder is None:
        raise UsageError("'rag repair' rebuilds an index folder; a Chroma server keeps its own storage")
    left = leftovers(store.folder, (store.name, sentences.name))  # before this run moves anything aside
    chunks_bad = vector_problem(store.client, store.name) is not None
    sentences_bad = vector_problem(store.client, sentences.name) is not None
    if not (chunks_bad or sentences_bad):
        removed, freed = _remove(left)
        return RepairReport(False, False, 0, 0, time.perf_counter() - started, removed, freed)
    n = stored_count(store.folder, store.name)
    rebuild_sentences = sentences_bad and isinstance(embedder, SpanEmbedder)
    # A passage has ~12 sentences in the measured corpus; the sentences cannot be counted while unreadable.
    check_space(store.folder, n * BYTES_PER_CHUNK + (n * 12 * BYTES_PER_SENTENCE if rebuild_sentences else 0),
                f"rebuilding the vectors of {n} passages")
    if chunks_bad:
        _mark(store, True)  # before the folder goes: a stop from here on is seen by doctor and finished by repair
    aside = [_move_aside(store.folder, name) for name, bad in ((store.name, chunks_bad),
                                                                (sentences.name, sentences_bad)) if bad]
    store.reopen()  # a fresh client: the old one may hold the moved folder's files
    if sentences_bad:
        sentences.drop()  # rebuilt whole below; readers do without meanwhile
    done, written = 0, 0
    if chunks_bad:
        done, written = _reembed(store, sentences if rebuild_sentences else None, embedder)
        _mark(store, False)
    elif rebuild_sentences:
        written = sentences.fill(store.iter_records(), embedder)  # type: ignore[arg-type]
    if rebuild_sentences:
        sentences.mark_complete()
    store.bump_generation()  # readers reload their segment
    for folder in aside:
        shutil.rmtree(folder, ignore_errors=True)
    removed, freed = _remove(left)  # every vector index reads again: what they held is rebuilt
    return RepairReport(chunks_bad, sentences_bad, done, written, time.perf_counter() - started, removed, freed)


def _remove(folders: list[Path]) -> tuple[tuple[str, ...], int]:
    """Delete ``folders``; their names and the bytes they took."""
    freed = 0
    for folder in folders:
        freed += folder_bytes(folder)
        shutil.rmtree(folder)
    return tuple(f.name for f in folders), freed


def _move_aside(index_dir: Path, name: str) -> Path:
    """Rename the collection's segment folder (no disk space needed); Chroma starts an empty one."""
    folder = segment_folder(index_dir, name)
    target = index_dir / f"damaged-{name}-{time.time_ns()}"  # unique: an earlier run's may still be there
    if folder is not None and folder.exists():
        folder.rename(target)
    return target


def _mark(store: ChunkStore, repairing: bool) -> None:
    meta = dict(store.client.get_collection(store.name, embedding_function=None).metadata or {})
    meta[REPAIRING] = repairing
    store.collection.modify(metadata=meta)


def _reembed(store: ChunkStore, sentences: SentenceStore | None, embedder: Embedder) -> tuple[int, int]:
    """Embed every stored chunk again and write its vector back (and its sentences' when given)."""
    done = written = 0
    records = list(store.iter_records())  # read whole first: the writes below must not shift the pages
    for i in range(0, len(records), _BATCH):
        part = records[i:i + _BATCH]
        chunks = [chunk_from_record(cid, text, meta) for cid, text, meta in part]
        if sentences is not None:
            vectors, rows = sentences.embed(chunks, embedder)  # type: ignore[arg-type]
            written += sentences.write(rows)  # before the chunks, as ingest writes them
        else:
            vectors = embedder.embed([c.embed_text for c in chunks])
        store.collection.upsert(ids=[cid for cid, _, _ in part], embeddings=np.asarray(vectors),
                                documents=[text for _, text, _ in part], metadatas=[meta for _, _, meta in part])
        done += len(part)
    return done, written
