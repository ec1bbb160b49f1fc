"""Idempotent ingestion: files in, exactly their current chunks in the store.

Unchanged files are skipped by content hash (read from the store itself: one source of
truth); changed files have only their stale chunks replaced; chunks already embedded are
never embedded again. Files are embedded in batches across files for throughput, but each
file is written and completed on its own, so one bad file costs only itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from index.chunking import ChunkingConfig, chunk_document
from index.embedding import Embedder, SpanEmbedder
from index.errors import RagError
from index.loaders import DEFAULT_MAX_BYTES, content_hash, discover, load_bytes, read_bytes
from index.records import Chunk, Document, LoadError
from index.remote_embedding import EmbeddingServerError
from index.sentence_store import SentenceRow, SentenceStore
from index.store import ChunkStore, FileWrite, StoreUnavailableError

IngestProgress = Callable[[str, str, int, int], None]
"""progress(stage, path, files_done, files_total); stage is "read", then "done" or "failed" per file."""

# Chunks embedded per call across files: the embedder sorts each call by length, so big
# calls pad less (in the full bench, 32 calls of 512 took 1.5x the one-call encode floor).
_EMBED_BATCH_CHUNKS = 2048


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
    chunks_added: int = 0
    chunks_removed: int = 0
    chunks_total: int | None = 0  # None when the store stopped answering before it could be counted
    tokens_embedded: int = 0
    seconds: float = 0.0
    # Seconds per stage (discover, read, lookup, parse, chunk, embed, write, prune), so callers and
    # the bench can see where the time went without wrapping our functions.
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


class IngestInterrupted(StoreUnavailableError):
    """The store or the embedding server stopped answering mid-ingest; ``report`` is what was written
    before (the next run finishes)."""

    def __init__(self, cause: RagError, report: IngestReport) -> None:
        done = report.files_added + report.files_updated
        what = str(cause).rsplit("; ", 1)[0]  # the cause without its advice, which is replaced here
        super().__init__(f"{what} after {done} {'file was' if done == 1 else 'files were'} indexed; "
                         "start it again and re-run 'rag ingest' to index the rest")
        self.report = report


def _count_if_up(store: ChunkStore) -> int | None:
    """The store's chunk count for the report when only the embedding server is gone (None if it is too)."""
    try:
        return store.count()
    except StoreUnavailableError:
        return None


@dataclass
class _Pending:
    doc: Document
    chunks: list[Chunk]
    stale: list[str]
    new: list[Chunk]
    is_update: bool


def ingest(store: ChunkStore, embedder: Embedder, paths: Iterable[str | Path], *, prune: bool = False,
           max_bytes: int = DEFAULT_MAX_BYTES, chunking: ChunkingConfig | None = None,
           progress: IngestProgress | None = None, sentences: SentenceStore | None = None) -> IngestReport:
    """Bring ``store`` up to date with the files under ``paths``. The caller holds the writer lock.

    With ``sentences``, every chunk's sentence vectors are kept beside it (written before the chunk,
    deleted after it), and an index that lacks them gets them first. They are pooled from the
    chunks' own forward pass (``index.sentence_store``); an embedder that cannot pool drops them.
    Raises ``IngestInterrupted`` (with the report of what was written) if the store or the embedding
    server stops answering (a batch that could not be embedded was not written: the next run does it)."""
    started = time.perf_counter()
    report = IngestReport()
    try:
        return _ingest(store, embedder, paths, report, started, prune, max_bytes, chunking, progress, sentences)
    except (StoreUnavailableError, EmbeddingServerError) as exc:
        report.chunks_total = _count_if_up(store) if isinstance(exc, EmbeddingServerError) else None
        report.seconds = time.perf_counter() - started
        raise IngestInterrupted(exc, report) from None


def _ingest(store: ChunkStore, embedder: Embedder, paths: Iterable[str | Path], report: IngestReport,
            started: float, prune: bool, max_bytes: int, chunking: ChunkingConfig | None,
            progress: IngestProgress | None, sentences: SentenceStore | None) -> IngestReport:
    if sentences is not None and not isinstance(embedder, SpanEmbedder):
        sentences.drop()  # it cannot make vectors for new chunks: readers do without rather than miss some
        sentences = None
    if sentences is not None:
        with report.timing("sentences"):
            sentences.fill(store.iter_records(), embedder)  # type: ignore[arg-type]
    paths = list(paths)
    with report.timing("discover"):
        files, errors = discover(paths)
    report.files_failed.extend(FileError(e.path, e.reason) for e in errors)
    pending: list[_Pending] = []
    pending_new = 0

    def flush() -> None:
        nonlocal pending, pending_new
        _embed_and_write(store, embedder, pending, report, progress, len(files), sentences)
        pending, pending_new = [], 0

    for done, path in enumerate(files, 1):
        if progress:
            progress("read", str(path), done, len(files))
        try:
            with report.timing("read"):
                data = read_bytes(path, max_bytes)
                digest = content_hash(data)
            with report.timing("lookup"):
                state = store.file_state(str(path))
            if state.complete and state.content_hash == digest:
                report.files_unchanged += 1
                continue
            with report.timing("parse"):
                doc = load_bytes(path, data)
            with report.timing("chunk"):
                # The offsets tokenizer is optional in the Embedder protocol: it only makes chunking faster.
                chunks = chunk_document(doc, embedder.count_tokens, chunking,
                                        offsets=getattr(embedder, "token_offsets", None))
        except LoadError as exc:
            report.files_failed.append(FileError(exc.path, exc.reason))
            if progress:
                progress("failed", f"{exc.path}: {exc.reason}", done, len(files))
            continue
        wanted = {c.chunk_id for c in chunks}
        with report.timing("lookup"):
            existing = store.existing_ids(list(wanted))
        new = [c for c in chunks if c.chunk_id not in existing]
        pending.append(_Pending(doc, chunks, [i for i in state.chunk_ids if i not in wanted], new,
                                is_update=bool(state.chunk_ids)))
        pending_new += len(new)
        if pending_new >= _EMBED_BATCH_CHUNKS:
            flush()
    flush()

    if prune:
        with report.timing("prune"):
            report.files_removed, report.chunks_removed = _prune(store, paths, {str(f) for f in files},
                                                                 report.chunks_removed, sentences)
    if report.files_added or report.files_updated or report.files_removed:
        store.bump_generation()
    report.chunks_total = store.count()
    report.seconds = time.perf_counter() - started
    return report


def _embed_and_write(store: ChunkStore, embedder: Embedder, pending: Sequence[_Pending], report: IngestReport,
                     progress: IngestProgress | None, total: int, sentences: SentenceStore | None = None) -> None:
    if not pending:
        return
    new = [c for p in pending for c in p.new]
    rows: list[SentenceRow] = []
    with report.timing("embed"):
        if sentences is not None:  # one forward pass gives the chunks' vectors and their sentences'
            vectors, rows = sentences.embed(new, embedder)  # type: ignore[arg-type]
        else:
            vectors = embedder.embed([c.embed_text for c in new]) if new else np.zeros((0, embedder.dimension))
    by_id = {c.chunk_id: vectors[i] for i, c in enumerate(new)}
    with sentences.changing() if sentences is not None else nullcontext():
        if sentences is not None:
            with report.timing("write"):
                sentences.write(rows)  # before the chunks: a stored chunk always has its sentences
        _write_pending(store, pending, by_id, report, progress, total, sentences)


def _write_pending(store: ChunkStore, pending: Sequence[_Pending], by_id: dict[str, Any], report: IngestReport,
                   progress: IngestProgress | None, total: int, sentences: SentenceStore | None) -> None:
    with report.timing("write"):
        outcomes = store.write_files([
            FileWrite(item.chunks, {c.chunk_id: by_id[c.chunk_id] for c in item.new}, item.doc.content_hash,
                      item.doc.title, item.stale) for item in pending])
    for item, error in zip(pending, outcomes, strict=True):
        if isinstance(error, StoreUnavailableError):
            continue  # not a bad file: the store is gone (raised below, once the written files are counted)
        if error is not None:  # a store error on one file must not lose the others
            report.files_failed.append(FileError(item.doc.source, f"could not write to the index: {error}"))
            if progress:
                progress("failed", f"{item.doc.source}: could not write to the index: {error}", 0, total)
            continue
        if sentences is not None and (item.is_update or item.stale):
            sentences.keep_only(item.doc.source, [c.chunk_id for c in item.chunks])
        if progress:
            progress("done", item.doc.source, 0, total)
        report.chunks_added += len(item.new)
        report.chunks_removed += len(item.stale)
        report.tokens_embedded += sum(c.n_tokens for c in item.new)
        if item.is_update:
            report.files_updated += 1
        else:
            report.files_added += 1
    gone = next((e for e in outcomes if isinstance(e, StoreUnavailableError)), None)
    if gone is not None:
        raise gone


def _prune(store: ChunkStore, paths: Sequence[str | Path], present: set[str], removed: int,
           sentences: SentenceStore | None = None) -> tuple[int, int]:
    """Delete the chunks of indexed files under ``paths`` that no longer exist there."""
    roots = [Path(p).expanduser().resolve() for p in paths]
    files_removed = 0
    for source in store.sources():
        src = Path(source)
        under = any(src == root or root in src.parents for root in roots)
        if under and source not in present and not src.exists():
            with sentences.changing() if sentences is not None else nullcontext():
                removed += store.delete_source(source)
                if sentences is not None:
                    sentences.delete_source(source)  # after the chunks, as every deletion
            files_removed += 1
    return files_removed, removed
