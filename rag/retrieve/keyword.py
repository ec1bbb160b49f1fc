"""BM25 keyword index over the chunks in Chroma (English stopwords, no stemming; words of any
script, CJK as character bigrams: ``rag.words.index_terms``).

Built from the store itself, so it cannot drift from it: it is rebuilt whenever the store's
write generation changes (``ChunkStore`` bumps it around every write, including writes by other
processes). Checking that costs one read of the collection's metadata; a question takes one
``snapshot()`` and reads everything it needs from it, so all its checks see the same index.

In an index folder (embedded Chroma) the built index is also saved beside the store, as one
file written to a temporary name and renamed, keyed by the collection, its write generation
and chunk count. A new process loads it instead of reading every record back from Chroma and
tokenizing them again (1,540 chunks: 0.23 s; 17k chunks: ~2.5 s). A file is used only when its
key matches the store exactly; a file that is stale, half-written, damaged or from another
format is ignored (and replaced by the next consistent build). An index is saved only from a
snapshot known to be consistent: the generation was the same before and after reading every
record, and no writer held the lock when the read began (``ChunkStore`` bumps the generation
before every write call, so a write during the read, even one that crashes, changes it).
With a Chroma server there is no local folder, and every process builds its own index.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import bm25s
import numpy as np
from bm25s.tokenization import Tokenizer

from index.lock import writer_active
from index.records import Chunk
from index.store import ChunkStore, chunk_from_record
from rag.words import fold, index_terms

# 2: terms from rag.words.index_terms (folded, CJK bigrams); an index saved by format 1 holds
# other terms and is rebuilt, never used.
FORMAT = 2
_STOPWORDS = "en"


def _tokenizer() -> Tokenizer:
    """bm25s's tokenizer with our terms: its own lower-casing is off, ``index_terms`` folds."""
    return Tokenizer(lower=False, splitter=index_terms, stopwords=_STOPWORDS, stemmer=None)


def saved_path(folder: Path, collection: str) -> Path:
    """Where the keyword index of ``collection`` is saved inside an index folder."""
    return folder / f"rag-keyword-{collection}.npz"


@dataclass(frozen=True)
class _Built:
    """One consistent BM25 index: chunks, tokenizer and retriever, with the store state it reflects."""

    key: dict[str, Any]
    chunks: list[Chunk]
    records: list[tuple[str, str, dict[str, Any]]]
    tokenizer: Tokenizer
    retriever: bm25s.BM25 | None


@dataclass(frozen=True)
class Vocabulary:
    """The words of every indexed chunk (lower-cased), and their five-letter beginnings."""

    words: frozenset[str]
    prefixes: frozenset[str]

    @classmethod
    def of(cls, words: Iterable[str]) -> Vocabulary:
        words = frozenset(words)
        return cls(words, frozenset(w[:5] for w in words if len(w) >= 5))

    def knows(self, word: str) -> bool:
        """Whether any indexed chunk holds ``word`` (case-insensitive; a word of five or more
        letters also matches the words sharing its first five: "sortable" and "sorting";
        identifiers match exactly)."""
        word = fold(word)
        return word in self.words or (len(word) >= 5 and word.isalpha() and word[:5] in self.prefixes)


@dataclass(frozen=True)
class KeywordSnapshot:
    """The keyword index as it was at one moment: every check of one question reads the same one.
    It holds every chunk of the store as of write ``generation`` (None: never built)."""

    chunks: Sequence[Chunk]
    retriever: bm25s.BM25 | None
    tokenizer: Tokenizer | None
    vocabulary: Vocabulary
    generation: int | None = None
    # bm25s's tokenizer records words it meets even when asked not to grow the vocabulary: one
    # search at a time per tokenizer.
    lock: threading.Lock = field(default_factory=threading.Lock, compare=False)

    @cached_property
    def sources(self) -> frozenset[str]:
        """The indexed files it holds chunks of (built on first use: a question filtered by source)."""
        return frozenset(c.source for c in self.chunks)

    @cached_property
    def _document_of_chunk(self) -> np.ndarray:
        """For each chunk, a number for its document (built on first use, like ``sources``)."""
        numbers: dict[str, int] = {}
        return np.fromiter((numbers.setdefault(c.source, len(numbers)) for c in self.chunks), dtype=np.int64,
                           count=len(self.chunks))

    def documents_holding(self, word: str) -> int:
        """How many indexed documents hold ``word`` (one index term, as written: no other form).

        Read from the BM25 postings, without the search lock: a search over every chunk took up to
        0.44 s at 190,000 chunks and held up every other question's keyword search meanwhile.
        """
        terms = index_terms(word)
        if self.retriever is None or self.tokenizer is None or len(terms) != 1:
            return 0
        column = self.retriever.vocab_dict.get(self.tokenizer.word_to_id.get(terms[0], -1))
        if column is None:
            return 0
        indptr, rows = self.retriever.scores["indptr"], self.retriever.scores["indices"]
        return int(np.unique(self._document_of_chunk[rows[indptr[column]:indptr[column + 1]]]).size)

    @cached_property
    def _positions(self) -> dict[tuple[str, int], Chunk]:
        # Built on first use (a widened question); two threads building it at once build the same map.
        return {(c.source, c.index): c for c in self.chunks}

    @cached_property
    def _lowered(self) -> str:
        # Every chunk (heading path included) lower-cased in one string, built on first use: a
        # substring test is then one C scan, where lower-casing every chunk again for each question
        # cost ~10 ms a question at 10,000 chunks.
        return "\x00".join(c.embed_text.lower() for c in self.chunks)

    def contains(self, text: str) -> bool:
        """Whether any chunk it holds (heading path included) contains ``text``, ignoring case.

        >>> KeywordSnapshot((Chunk("a", "d", "f.txt", "Use http.server", 0, 15, 0),), None, None,
        ...                 Vocabulary.of(())).contains("HTTP.server")
        True
        """
        return "\x00" not in text and text.lower() in self._lowered

    def at_positions(self, positions: Mapping[str, Iterable[int]]) -> dict[tuple[str, int], Chunk]:
        """The chunks it holds at the given positions of each source, by (source, position).

        >>> a, b = Chunk("a", "d", "f.txt", "A.", 0, 2, 0), Chunk("b", "d", "f.txt", "B.", 3, 5, 1)
        >>> snapshot = KeywordSnapshot((a, b), None, None, Vocabulary.of(()), generation=1)
        >>> [c.chunk_id for c in snapshot.at_positions({"f.txt": [1, 2]}).values()]
        ['b']
        """
        positions_map = self._positions
        return {(source, i): positions_map[source, i] for source, indexes in positions.items()
                for i in indexes if (source, i) in positions_map}

    def search(self, query: str, k: int, sources: Sequence[str] | None = None) -> list[tuple[Chunk, float]]:
        """Top ``k`` chunks by BM25 score (> 0), best first."""
        if self.retriever is None or self.tokenizer is None or not self.chunks:
            return []
        mask = None
        if sources:
            wanted = set(sources)
            mask = np.array([c.source in wanted for c in self.chunks], dtype=np.float32)
        with self.lock:
            ids = self.tokenizer.tokenize([query], update_vocab=False, return_as="ids", show_progress=False)
            if not ids or not ids[0]:
                return []
            n = min(len(self.chunks), k)
            docs, scores = self.retriever.retrieve(ids, k=n, show_progress=False, weight_mask=mask)
        return [(self.chunks[int(d)], float(s)) for d, s in zip(docs[0], scores[0], strict=True) if s > 0]




class KeywordIndex:
    """In-memory BM25 over ``heading > text`` of every chunk, kept in step with the store."""

    def __init__(self, store: ChunkStore) -> None:
        self.store = store
        self._key: dict[str, Any] | None = None
        self._snapshot = KeywordSnapshot((), None, None, Vocabulary(frozenset(), frozenset()))
        self._lock = threading.Lock()
        self.loaded_from_file = False  # for tests and the bench: how the current index was obtained

    def _store_key(self) -> dict[str, Any]:
        return {"format": FORMAT, "bm25s": bm25s.__version__, "collection": self.store.name,
                "collection_id": self.store.collection_id, "generation": self.store.generation(),
                "count": self.store.count()}

    def _is_current(self, generation: int) -> bool:
        key = self._key
        return key is not None and key["generation"] == generation and key["collection_id"] == self.store.collection_id

    def refresh(self, force: bool = False) -> KeywordSnapshot:
        """Load or rebuild if any process wrote to the store since the last build; the index as it
        is now. One metadata read when nothing changed."""
        generation = self.store.generation()
        if not force and self._is_current(generation):
            return self._snapshot
        with self._lock:
            if not force and self._is_current(generation):
                return self._snapshot  # another thread loaded it while this one waited for the lock
            key = self._store_key()
            built = None if force else self._load(key)
            self.loaded_from_file = built is not None
            if built is None:
                built = self._build()
            self._snapshot = KeywordSnapshot(built.chunks, built.retriever, built.tokenizer,
                                             Vocabulary.of(built.tokenizer.word_to_id), int(built.key["generation"]))
            self._key = built.key
            return self._snapshot

    def snapshot(self) -> KeywordSnapshot:
        """The index as it is now (refreshed if the store changed): one per question."""
        return self.refresh()

    # ---- building ------------------------------------------------------------------------------

    def _build(self) -> _Built:
        folder = self.store.folder
        before = self._store_key()
        quiet = folder is not None and not writer_active(folder)
        records = list(self.store.iter_records())
        after = self._store_key()
        chunks = [chunk_from_record(cid, text, meta) for cid, text, meta in records]
        tokenizer = _tokenizer()
        retriever: bm25s.BM25 | None = None
        if chunks:
            tokens = tokenizer.tokenize([c.embed_text for c in chunks], update_vocab=True, return_as="ids",
                                        show_progress=False)
            retriever = bm25s.BM25()
            retriever.index(tokens, show_progress=False)
        # Keyed by the state before reading: if anything changed meanwhile, the next refresh rebuilds.
        built = _Built(before, chunks, records, tokenizer, retriever)
        if quiet and folder is not None and before == after and after["count"] == len(records):
            self._save(folder, built)
        return built

    # ---- the saved file ------------------------------------------------------------------------

    def _save(self, folder: Path, built: _Built) -> None:
        """Write ``built`` beside the store: a temporary file, then an atomic rename."""
        meta: dict[str, Any] = {"key": built.key, "records": built.records,
                                "tokenizer": {"word_to_stem": built.tokenizer.word_to_stem,
                                              "stem_to_sid": built.tokenizer.stem_to_sid,
                                              "word_to_id": built.tokenizer.word_to_id}}
        arrays: dict[str, np.ndarray] = {}
        r = built.retriever
        if r is not None:
            meta["bm25"] = {"params": {"k1": r.k1, "b": r.b, "delta": r.delta, "method": r.method,
                                       "idf_method": r.idf_method, "dtype": r.dtype, "int_dtype": r.int_dtype,
                                       "backend": r.backend},
                            "num_docs": int(r.scores["num_docs"])}
            arrays = {name: np.asarray(r.scores[name]) for name in ("data", "indices", "indptr")}
            arrays["vocab_keys"] = np.fromiter(r.vocab_dict.keys(), dtype=np.int64, count=len(r.vocab_dict))
            arrays["vocab_values"] = np.fromiter(r.vocab_dict.values(), dtype=np.int64, count=len(r.vocab_dict))
            if r.nonoccurrence_array is not None:
                arrays["nonoccurrence"] = np.asarray(r.nonoccurrence_array)
        blob = np.frombuffer(json.dumps(meta, ensure_ascii=False).encode("utf-8"), dtype=np.uint8)
        target = saved_path(folder, self.store.name)
        tmp = None
        try:
            fd, tmp = tempfile.mkstemp(prefix=target.name + ".", suffix=".tmp", dir=folder)
            with os.fdopen(fd, "wb") as f:
                fields: dict[str, Any] = {"meta": blob, **arrays}
                np.savez(f, **fields)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
            tmp = None
        except OSError:
            pass  # a read-only or full disk only costs the next process a rebuild
        finally:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)

    def _load(self, key: dict[str, Any]) -> _Built | None:
        """The saved index if its key matches ``key`` exactly; None when absent, stale or unreadable."""
        folder = self.store.folder
        if folder is None:
            return None
        path = saved_path(folder, self.store.name)
        try:
            with np.load(path, allow_pickle=False) as saved:
                meta = json.loads(saved["meta"].tobytes().decode("utf-8"))
                if meta.get("key") != key:
                    return None
                records = [(str(cid), str(text), dict(m)) for cid, text, m in meta["records"]]
                if len(records) != key["count"]:
                    return None
                tokenizer = _tokenizer()
                vocab = meta["tokenizer"]
                tokenizer.word_to_stem, tokenizer.stem_to_sid = vocab["word_to_stem"], vocab["stem_to_sid"]
                tokenizer.word_to_id = vocab["word_to_id"]
                retriever = None
                if records:
                    bm = meta["bm25"]
                    retriever = bm25s.BM25(**bm["params"])
                    retriever.vocab_dict = dict(zip(saved["vocab_keys"].tolist(), saved["vocab_values"].tolist(),
                                                    strict=True))
                    retriever.nonoccurrence_array = saved["nonoccurrence"] if "nonoccurrence" in saved.files else None
                    retriever.unique_token_ids_set = set(retriever.vocab_dict.values())
                    retriever.scores = {"data": saved["data"], "indices": saved["indices"],
                                        "indptr": saved["indptr"], "num_docs": int(bm["num_docs"])}
                    if len(retriever.scores["indptr"]) != len(retriever.vocab_dict) + 1:
                        return None
            chunks = [chunk_from_record(cid, text, m) for cid, text, m in records]
        except FileNotFoundError:
            return None
        except Exception:  # damaged, truncated or foreign: never trusted, rebuilt from the store
            return None
        return _Built(key, chunks, records, tokenizer, retriever)

    # ---- searching -----------------------------------------------------------------------------

    def vocabulary(self) -> Vocabulary:
        """The indexed words as they are now."""
        return self.snapshot().vocabulary

    def search(self, query: str, k: int, sources: Sequence[str] | None = None) -> list[tuple[Chunk, float]]:
        """Top ``k`` chunks by BM25 score (> 0), best first, on the index as it is now."""
        return self.snapshot().search(query, k, sources)
