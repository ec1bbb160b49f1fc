"""Ingest writes a batch in a background thread while it reads and parses the next one's files, never
while it embeds: writes still happen one at a time and in order, progress is reported from the
ingesting thread only, a write that stops ingest stops every later one, and nothing written goes
unreported."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import index.ingest
from index.ingest import IngestInterrupted
from index.server_guard import StoreUnavailableError
from rag.assistant import Assistant
from rag.settings import Settings
from tests.fakes import WordEmbedder


class Spans(WordEmbedder):
    """The word embedder, counting its calls (each is one batch: the pooled path embeds a batch at once)."""

    def __init__(self) -> None:
        super().__init__()
        self.batches = 0
        self.called = threading.Condition()

    def embed_spans(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
                    ) -> tuple[np.ndarray, list[np.ndarray]]:
        with self.called:
            self.batches += 1
            self.called.notify_all()
        return super().embed_spans(texts, spans)

    def wait_for_call(self, n: int, timeout: float) -> bool:
        with self.called:
            return self.called.wait_for(lambda: self.batches >= n, timeout)


def _docs(tmp_path: Path, n: int) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(n):
        (docs / f"f{i}.md").write_text(f"# Part {i}\n\nSea otters number {i} float in kelp beds at dusk.\n")
    return docs


def _assistant(tmp_path: Path, embedder: WordEmbedder) -> Assistant:
    return Assistant(tmp_path / "index", embedder=embedder, settings=Settings.load(env={}, config_file=tmp_path / "x"))


@pytest.fixture(autouse=True)
def one_file_per_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index.ingest, "_EMBED_BATCH_CHUNKS", 1)


def test_a_batch_is_written_while_the_next_files_are_read_never_while_embedding_and_progress_stays_here(
        tmp_path: Path) -> None:
    embedder = Spans()
    a = _assistant(tmp_path, embedder)
    real = a.store.write_files
    read = threading.Condition()
    files_read: list[str] = []
    writing = threading.Event()
    embedded_while_writing: list[int] = []
    seen: list[bool] = []

    def write_files(writes: Sequence[Any]) -> list[Exception | None]:
        writing.set()
        try:
            # The first batch's write holds until the next file is being read: with writes made in
            # the ingesting thread that never happens, and the wait times out.
            with read:
                seen.append(read.wait_for(lambda: len(files_read) >= 2, timeout=20) if not seen else True)
            return real(writes)
        finally:
            writing.clear()

    def spans(texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]) -> Any:
        if writing.is_set():
            embedded_while_writing.append(len(texts))
        return Spans.embed_spans(embedder, texts, spans)

    def progress(stage: str, path: str, done: int, total: int) -> None:
        threads.add(threading.current_thread().name)
        if stage == "read":
            with read:
                files_read.append(path)
                read.notify_all()

    a.store.write_files = write_files  # type: ignore[method-assign]
    embedder.embed_spans = spans  # type: ignore[method-assign]
    threads: set[str] = set()
    report = a.add(_docs(tmp_path, 3), progress=progress)
    assert seen == [True, True, True] and embedded_while_writing == []
    assert (report.files_added, report.chunks_total) == (3, a.store.count())
    assert threads == {threading.current_thread().name}
    assert "sea otters number 2" in a.ask("where do sea otters number 2 float?").text.lower()


def test_a_write_that_stops_ingest_stops_every_later_one_and_the_report_counts_what_was_written(
        tmp_path: Path) -> None:
    embedder = Spans()
    a = _assistant(tmp_path, embedder)
    real = a.store.write_files
    calls: list[int] = []

    def write_files(writes: Sequence[Any]) -> list[Exception | None]:
        calls.append(len(writes))
        if len(calls) == 2:  # what write_files returns when the Chroma server stopped answering
            return [StoreUnavailableError("the Chroma server stopped answering")] * len(writes)
        return real(writes)

    a.store.write_files = write_files  # type: ignore[method-assign]
    with pytest.raises(IngestInterrupted) as raised:
        a.add(_docs(tmp_path, 4))
    assert calls == [1, 1]  # the third batch may have been embedded, but it was never written
    assert raised.value.report.files_added == 1 == len(a.store.sources())
    again = _assistant(tmp_path, Spans()).add(tmp_path / "docs")
    assert (again.files_added, again.files_unchanged) == (3, 1)


def test_an_error_while_embedding_waits_for_the_write_in_flight_and_reports_it(tmp_path: Path) -> None:
    class DiesOnThird(Spans):
        def embed_spans(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
                        ) -> tuple[np.ndarray, list[np.ndarray]]:
            if self.batches == 2:
                raise KeyboardInterrupt  # Ctrl-C while the second batch is being written
            return super().embed_spans(texts, spans)

    a = _assistant(tmp_path, DiesOnThird())
    real = a.store.write_files
    finished: list[int] = []

    def slow_write_files(writes: Sequence[Any]) -> list[Exception | None]:
        threading.Event().wait(0.3)  # still writing when the ingesting thread is interrupted
        out = real(writes)
        finished.append(len(writes))
        return out

    a.store.write_files = slow_write_files  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        a.add(_docs(tmp_path, 4))
    assert finished == [1, 1]  # the write in flight finished before the interrupt came out
    assert not any(t.name.startswith("rag-ingest-write") for t in threading.enumerate())
    assert len(a.store.sources()) == 2
