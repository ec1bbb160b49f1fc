"""Idempotent ingestion: files in, exactly their current chunks in the store.

Unchanged files are skipped by content hash (read from the store itself: one source of
truth); changed files have only their stale chunks replaced; chunks already embedded are
never embedded again. Files are embedded in batches across files for throughput, but each
file is written and completed on its own, so one bad file costs only itself. A batch is
written in a background thread while the next one's files are read, parsed and chunked
(``_Writer``), never while one is embedded.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from index.chunking import ChunkingConfig, chunk_document
from index.embedding import Embedder, SpanEmbedder, chunking_for
from index.errors import RagError
from index.heap import release_freed_memory
from index.loaders import DEFAULT_MAX_BYTES, content_hash, discover_all, load_bytes, read_bytes, reader_kind
from index.records import Chunk, Document, LoadError, TooLargeError
from index.remote_embedding import EmbeddingServerError
from index.sentence_store import SentenceRow, SentenceStore
from index.storage import (
    BYTES_PER_CHUNK,
    BYTES_PER_SENTENCE,
    DiskFullError,
    IndexDamagedError,
    IndexReadOnlyError,
    free_bytes,
    reserve,
    short_of_space,
)
from index.store import STOPPING_ERRORS, ChunkStore, FileWrite, StoreUnavailableError

IngestProgress = Callable[[str, str, int, int], None]
"""progress(stage, path, done, total): "read", then "done" or "failed" per file (``done``/``total``
count files); "embedded" as passages are embedded (``path`` empty, ``done``/``total`` count the
passages of the batch being embedded, which may cover several files)."""

# Chunks embedded per call across files: the embedder sorts each call by length, so big
# calls pad less (in the full bench, 32 calls of 512 took 1.5x the one-call encode floor).
_EMBED_BATCH_CHUNKS = 2048
# With someone watching progress, a batch is embedded in steps of this many passages of similar
# length (sorted first, so a step pads about as little as the whole batch would).
_PROGRESS_STEP_CHUNKS = 128


@dataclass
class FileError:
    path: str
    error: str


@dataclass
class IngestReport:
    """What one ingest did; ``to_dict()`` is the JSON that ``rag ingest --json`` prints."""

    files_added: int = 0
    files_updated: int = 0
    files_unchanged: int = 0
    files_failed: list[FileError] = field(default_factory=list)
    files_removed: int = 0
    # Files a folder walk passed over because no loader reads them, counted by type (".gz": 9).
    files_skipped: dict[str, int] = field(default_factory=dict)
    # Indexed files under the given paths that no longer exist, left in place without ``prune``
    # (a renamed file is indexed twice, its old name still cited); looked for when files were added.
    files_missing: list[str] = field(default_factory=list)
    chunks_added: int = 0
    chunks_removed: int = 0
    chunks_total: int | None = 0  # None when the store stopped answering before it could be counted
    tokens_embedded: int = 0
    seconds: float = 0.0
    # Seconds per stage (discover, read, lookup, parse, chunk, embed, write, prune, missing), so callers and
    # the bench can see where the time went without wrapping our functions. "write" runs beside the
    # next batch's reading and parsing, so the stages may add up to more than ``seconds``.
    stages: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["seconds"] = round(self.seconds, 3)
        data["stages"] = {stage: round(seconds, 3) for stage, seconds in self.stages.items()}
        return data

    @contextmanager
    def timing(self, stage: str) -> Iterator[None]:
        """Add the time spent inside the block to ``stages[stage]``."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.stages[stage] = self.stages.get(stage, 0.0) + time.perf_counter() - started

    @property
    def ok(self) -> bool:
        return not self.files_failed


class IngestInterrupted(RagError, RuntimeError):
    """Ingest stopped at a failure no further write could pass (the Chroma server stopped answering, the
    disk is full or read-only, a vector segment cannot be read); ``report`` is what was written before,
    ``cause`` the failure, whose exit code this keeps. The next run, once the cause is fixed, finishes."""

    def __init__(self, cause: RagError, report: IngestReport) -> None:
        done = report.files_added + report.files_updated
        what, advice = _what_and_advice(cause)
        super().__init__(f"{what} after {done} {'file was' if done == 1 else 'files were'} indexed; {advice}")
        self.cause = cause
        self.exit_code = cause.exit_code
        self.report = report


class ServerStoppedIngest(IngestInterrupted, StoreUnavailableError):
    """Ingest stopped because the Chroma server stopped answering (still a ``StoreUnavailableError``,
    as callers such as ``rag serve`` map it)."""


def interrupted(cause: RagError, report: IngestReport) -> IngestInterrupted:
    """The ``IngestInterrupted`` for ``cause``, of the server kind when the server stopped answering."""
    kind = ServerStoppedIngest if isinstance(cause, StoreUnavailableError) else IngestInterrupted
    return kind(cause, report)


def _what_and_advice(cause: RagError) -> tuple[str, str]:
    """The cause's sentence without its advice, and the advice for an ingest that stopped there."""
    what, _, own = str(cause).rpartition("; ")
    if isinstance(cause, (StoreUnavailableError, EmbeddingServerError)):
        return what, "start it again and re-run 'rag ingest' to index the rest"
    if isinstance(cause, DiskFullError):
        return what, "free some space (or use a folder on a larger disk) and re-run 'rag ingest' to index the rest"
    if isinstance(cause, IndexReadOnlyError):
        return what, "make it writable and re-run 'rag ingest'"
    if isinstance(cause, IndexDamagedError):
        return what, f"{own}, then re-run 'rag ingest'"
    return what or own, "re-run 'rag ingest' to index the rest"


@dataclass
class _Pending:
    doc: Document
    chunks: list[Chunk]
    stale: list[str]
    new: list[Chunk]
    is_update: bool


def ingest(store: ChunkStore, embedder: Embedder, paths: Iterable[str | Path], *, prune: bool = False,
           max_bytes: int = DEFAULT_MAX_BYTES, chunking: ChunkingConfig | None = None,
           progress: IngestProgress | None = None, sentences: SentenceStore | None = None,
           too_large_advice: str = "") -> IngestReport:
    """Bring ``store`` up to date with the files under ``paths``. The caller holds the writer lock.

    ``too_large_advice`` is added to the error of a file over ``max_bytes`` (as read or once
    inflated): the caller knows which setting sets the limit ("raise RAG_MAX_FILE_MB …"), this layer
    only the byte count.

    With ``sentences``, every chunk's sentence vectors are kept beside it (written before the chunk,
    deleted after it), and an index that lacks them gets them first. They are pooled from the
    chunks' own forward pass (``index.sentence_store``); an embedder that cannot pool drops them.
    Before each batch is written, the disk must have room for it (an estimate, said in the error).
    Raises ``IngestInterrupted`` (with the report of what was written) at the first failure that stops
    every write: the store or the embedding server stopped answering (a batch that could not be
    embedded was not written: the next run does it), the disk is full or read-only, a vector segment
    is damaged."""
    started = time.perf_counter()
    report = IngestReport()
    try:
        return _ingest(store, embedder, paths, report, started, prune, max_bytes, chunking, progress, sentences,
                       too_large_advice)
    except (*STOPPING_ERRORS, EmbeddingServerError) as exc:
        report.chunks_total = None if isinstance(exc, StoreUnavailableError) else _count(store)
        report.seconds = time.perf_counter() - started
        raise interrupted(exc, report) from None
    finally:
        release_freed_memory()  # the batches' buffers, kept for the next batch (index.heap)


def _count(store: ChunkStore) -> int | None:
    """The store's chunk count, or None when it cannot be read either."""
    try:
        return store.count()
    except STOPPING_ERRORS:
        return None


def _ingest(store: ChunkStore, embedder: Embedder, paths: Iterable[str | Path], report: IngestReport,
            started: float, prune: bool, max_bytes: int, chunking: ChunkingConfig | None,
            progress: IngestProgress | None, sentences: SentenceStore | None, too_large_advice: str) -> IngestReport:
    if sentences is not None and not isinstance(embedder, SpanEmbedder):
        sentences.drop()  # it cannot make vectors for new chunks: readers do without rather than miss some
        sentences = None
    if sentences is not None:
        with report.timing("sentences"):
            sentences.fill(store.iter_records(), embedder)  # type: ignore[arg-type]
    chunking = chunking or chunking_for(embedder)  # chunks fit the model's own window
    paths = list(paths)
    # An index that held nothing before this run cannot hold a file that went missing since: its
    # first ingest skips the scan of every stored chunk's source (0.15-0.2 s of the bench's 66 pages).
    with report.timing("lookup"):
        was_empty = not prune and store.count() == 0
    with report.timing("discover"):
        found = discover_all(paths)
    files = found.files
    report.files_failed.extend(FileError(e.path, e.reason) for e in found.errors)
    report.files_skipped = dict(sorted(found.skipped.items(), key=lambda kind: (-kind[1], kind[0])))
    with _Writer() as writer:
        _read_embed_write(store, embedder, files, report, max_bytes, chunking, progress, sentences, writer,
                          too_large_advice)
    if prune:
        with report.timing("prune"):
            report.files_removed, report.chunks_removed = _prune(store, paths, {str(f) for f in files},
                                                                 report.chunks_removed, sentences)
    elif report.files_added and not was_empty:  # one added may be renamed: its old name is still indexed
        with report.timing("missing"):
            report.files_missing = _missing(store, paths, {str(f) for f in files})
    if report.files_added or report.files_updated or report.files_removed:
        store.bump_generation()
    report.chunks_total = store.count()
    report.seconds = time.perf_counter() - started
    return report


def _read_embed_write(store: ChunkStore, embedder: Embedder, files: Sequence[Path], report: IngestReport,
                      max_bytes: int, chunking: ChunkingConfig, progress: IngestProgress | None,
                      sentences: SentenceStore | None, writer: _Writer, too_large_advice: str) -> None:
    """Read, parse and chunk the files in order; embed their new chunks in batches, each written by
    ``writer`` while the next is prepared."""
    pending: list[_Pending] = []
    pending_new = 0

    def flush() -> None:
        nonlocal pending, pending_new
        _embed_and_write(store, embedder, pending, report, progress, len(files), sentences, writer)
        pending, pending_new = [], 0

    for done, path in enumerate(files, 1):
        if progress:
            progress("read", str(path), done, len(files))
        try:
            with report.timing("read"):
                data = read_bytes(path, max_bytes)
                digest = content_hash(data, reader_kind(path) or path.suffix)
            with report.timing("lookup"):
                state = store.file_state(str(path))
            if state.complete and state.content_hash == digest:
                report.files_unchanged += 1
                continue
            with report.timing("parse"):
                doc = load_bytes(path, data, max_bytes)
            with report.timing("chunk"):
                # The offsets tokenizer is optional in the Embedder protocol: it only makes chunking faster.
                chunks = chunk_document(doc, embedder.count_tokens, chunking,
                                        offsets=getattr(embedder, "token_offsets", None))
        except LoadError as exc:
            reason = f"{exc.reason}; {too_large_advice}" if isinstance(exc, TooLargeError) and too_large_advice \
                else exc.reason
            report.files_failed.append(FileError(exc.path, reason))
            if progress:
                progress("failed", f"{exc.path}: {reason}", done, len(files))
            continue
        wanted = {c.chunk_id for c in chunks}
        # A chunk's id hashes its file's path, which its row stores as ``source``: a file with no rows
        # has none of its chunks stored, so a new file (every file of a first ingest) needs no look-up.
        with report.timing("lookup"):
            existing = store.existing_ids(list(wanted)) if state.chunk_ids else set()
        new = [c for c in chunks if c.chunk_id not in existing]
        pending.append(_Pending(doc, chunks, [i for i in state.chunk_ids if i not in wanted], new,
                                is_update=bool(state.chunk_ids)))
        pending_new += len(new)
        if pending_new >= _EMBED_BATCH_CHUNKS:
            flush()
    flush()



def _embed_and_write(store: ChunkStore, embedder: Embedder, pending: Sequence[_Pending], report: IngestReport,
                     progress: IngestProgress | None, total: int, sentences: SentenceStore | None,
                     writer: _Writer) -> None:
    """Embed the batch here, then hand its write to ``writer``. The previous batch's write is waited
    for (and accounted) first: batches are written in order, and never while the model runs."""
    if not pending:
        return
    writer.wait()
    new = [c for p in pending for c in p.new]
    with report.timing("embed"):
        vectors, rows = _embed_new(new, embedder, sentences, progress)
    by_id = {c.chunk_id: vectors[i] for i, c in enumerate(new)}
    writer.submit(lambda: _write_batch(store, pending, by_id, rows, sentences),
                  lambda written: _account(written, pending, rows, store, report, progress, total))


@dataclass(frozen=True)
class _Written:
    """What writing one batch did: how many of its files (in order) there was room for, the outcome
    of each of those (None: written), the free bytes it measured, and the seconds it took."""

    fits: int
    outcomes: list[Exception | None]
    free: int
    seconds: float


def _write_batch(store: ChunkStore, pending: Sequence[_Pending], by_id: dict[str, Any], rows: Sequence[SentenceRow],
                 sentences: SentenceStore | None) -> _Written:
    """Write the files of ``pending`` that the disk has room for, each sentence before its chunk;
    runs in the writer thread, so it only writes (``_account`` reports)."""
    started = time.perf_counter()
    free = free_bytes(store.folder) if store.folder is not None else 0  # a Chroma server minds its own disk
    fits = _files_that_fit(store, pending, rows, free)
    outcomes: list[Exception | None] = []
    if fits:
        written = {c.chunk_id for p in pending[:fits] for c in p.new}
        with sentences.changing() if sentences is not None else nullcontext():
            if sentences is not None:  # before the chunks: a stored chunk always has its sentences
                sentences.write([r for r in rows if r.chunk_id in written])
            outcomes = store.write_files([
                FileWrite(item.chunks, {c.chunk_id: by_id[c.chunk_id] for c in item.new}, item.doc.content_hash,
                          item.doc.title, item.stale) for item in pending[:fits]])
            for item, error in zip(pending, outcomes, strict=False):
                if error is None and sentences is not None and (item.is_update or item.stale):
                    sentences.keep_only(item.doc.source, [c.chunk_id for c in item.chunks])
    return _Written(fits, outcomes, free, time.perf_counter() - started)


def _account(written: _Written, pending: Sequence[_Pending], rows: Sequence[SentenceRow], store: ChunkStore,
             report: IngestReport, progress: IngestProgress | None, total: int) -> None:
    """Report a written batch (in the ingesting thread, so ``progress`` is never called from two);
    raise what stops every later write: a store that stopped answering, a disk without room."""
    report.stages["write"] = report.stages.get("write", 0.0) + written.seconds
    for item, error in zip(pending, written.outcomes, strict=False):
        if isinstance(error, STOPPING_ERRORS):
            continue  # not a bad file: no write can pass (raised below, once the written files are counted)
        if error is not None:  # a store error on one file must not lose the others
            report.files_failed.append(FileError(item.doc.source, f"could not write to the index: {error}"))
            if progress:
                progress("failed", f"{item.doc.source}: could not write to the index: {error}", 0, total)
            continue
        if progress:
            progress("done", item.doc.source, 0, total)
        report.chunks_added += len(item.new)
        report.chunks_removed += len(item.stale)
        report.tokens_embedded += sum(c.n_tokens for c in item.new)
        if item.is_update:
            report.files_updated += 1
        else:
            report.files_added += 1
    gone = next((e for e in written.outcomes if isinstance(e, STOPPING_ERRORS)), None)
    if gone is not None:
        raise gone
    if written.fits < len(pending):  # says how much the rest needs; the report counts what was written
        rest = pending[written.fits:]
        raise short_of_space(store.folder or Path("."), written.free, _bytes_needed(rest, rows), f"indexing the "
                             f"next {len(rest)} {'file' if len(rest) == 1 else 'files'} "
                             f"({sum(len(p.new) for p in rest)} new passages)")


class _Writer:
    """Writes batches in one background thread, one at a time and in order, while the ingesting
    thread reads, parses and chunks the next batch's files.

    Why a thread: Chroma builds its vector graph on threads of its own, so parsing goes on beside
    it, though only between write calls: the embedded client holds the GIL through each call
    (``index.questions_first``; writes go in slices). Not beside the model: its OpenMP threads take
    every core, and a write beside them stalled them far beyond the write's own time (README
    "Speed"), so the ingesting thread waits for the write before it embeds. Each batch's write is
    crash-safe on its own, as before. ``submit`` and leaving the ``with`` block wait for the write in
    flight and run its ``then`` here, in the ingesting thread; an error raised by the write comes out
    there too (so the next batch is never written after a write that stopped ingest). Leaving by an
    error (the embedding server died, Ctrl-C) still waits for the write in flight and reports it, so
    no write outlives the ingest or goes uncounted.
    """

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rag-ingest-write")
        self._in_flight: tuple[Future[_Written], Callable[[_Written], None]] | None = None

    def submit(self, write: Callable[[], _Written], then: Callable[[_Written], None]) -> None:
        self.wait()
        self._in_flight = (self._pool.submit(write), then)

    def wait(self) -> None:
        """Wait for the write in flight, then account it (or raise its error)."""
        if self._in_flight is None:
            return
        future, then = self._in_flight
        self._in_flight = None
        then(future.result())

    def __enter__(self) -> _Writer:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        try:
            if kind is None:
                self.wait()
            else:  # leaving by an error: the write in flight finishes and is reported; the first error wins
                with suppress(Exception):
                    self.wait()
        finally:
            self._pool.shutdown(wait=True)


def _embed_new(new: Sequence[Chunk], embedder: Embedder, sentences: SentenceStore | None,
               progress: IngestProgress | None) -> tuple[np.ndarray, list[SentenceRow]]:
    """The new chunks' vectors (in their order) and their sentence rows; in steps of similar length
    that report "embedded" when ``progress`` is given, in one call otherwise."""
    def embed(batch: Sequence[Chunk]) -> tuple[np.ndarray, list[SentenceRow]]:
        if sentences is not None:  # one forward pass gives the chunks' vectors and their sentences'
            return sentences.embed(batch, embedder)  # type: ignore[arg-type]
        if not batch:
            return np.zeros((0, embedder.dimension), dtype=np.float32), []
        return np.asarray(embedder.embed([c.embed_text for c in batch])), []

    if progress is None or len(new) <= _PROGRESS_STEP_CHUNKS:
        vectors, rows = embed(new)
        if progress is not None and new:
            progress("embedded", "", len(new), len(new))
        return vectors, rows
    order = sorted(range(len(new)), key=lambda i: len(new[i].embed_text))
    vectors = np.zeros((len(new), embedder.dimension), dtype=np.float32)
    rows = []
    for start in range(0, len(order), _PROGRESS_STEP_CHUNKS):
        step = order[start:start + _PROGRESS_STEP_CHUNKS]
        step_vectors, step_rows = embed([new[i] for i in step])
        vectors[step] = step_vectors
        rows.extend(step_rows)
        progress("embedded", "", start + len(step), len(new))
    return vectors, rows


def _bytes_needed(pending: Sequence[_Pending], rows: Sequence[SentenceRow]) -> int:
    """Estimated bytes the new chunks of ``pending`` and their sentence rows take on disk."""
    ids = {c.chunk_id for p in pending for c in p.new}
    return len(ids) * BYTES_PER_CHUNK + sum(r.chunk_id in ids for r in rows) * BYTES_PER_SENTENCE


def _files_that_fit(store: ChunkStore, pending: Sequence[_Pending], rows: Sequence[SentenceRow], free: int) -> int:
    """How many of ``pending`` (in order) fit in ``free`` bytes with the reserve kept free: a write the
    disk cannot hold is not started, so Chroma never runs out half-way through its files."""
    if store.folder is None:
        return len(pending)
    room = free - reserve(store.folder)
    per_chunk = Counter(r.chunk_id for r in rows)
    for n, item in enumerate(pending):
        room -= sum(BYTES_PER_CHUNK + per_chunk[c.chunk_id] * BYTES_PER_SENTENCE for c in item.new)
        if room < 0:
            return n
    return len(pending)


def _prune(store: ChunkStore, paths: Sequence[str | Path], present: set[str], removed: int,
           sentences: SentenceStore | None = None) -> tuple[int, int]:
    """Delete the chunks of indexed files under ``paths`` that no longer exist there."""
    files_removed = 0
    for source in _missing(store, paths, present):
        with sentences.changing() if sentences is not None else nullcontext():
            removed += store.delete_source(source)
            if sentences is not None:
                sentences.delete_source(source)  # after the chunks, as every deletion
        files_removed += 1
    return files_removed, removed


def _missing(store: ChunkStore, paths: Sequence[str | Path], present: set[str]) -> list[str]:
    """Indexed files under ``paths`` that no longer exist there."""
    roots = [Path(p).expanduser().resolve() for p in paths if not (isinstance(p, str) and not p.strip())]
    missing = []
    for source in store.sources():
        src = Path(source)
        under = any(src == root or root in src.parents for root in roots)
        if under and source not in present and not src.exists():
            missing.append(source)
    return missing
