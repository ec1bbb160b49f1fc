"""A full or read-only disk and a damaged vector segment: said in one sentence, and ingest stops truthfully.

Chroma's messages below are the ones Chroma 1.5 gave on a full tmpfs, a read-only mount and a
truncated HNSW file (tests/integration/test_disk_full.py makes those for real)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from index import ingest as ingest_module
from index import storage
from index.ingest import IngestInterrupted, ingest
from index.lock import WriterLock
from index.server_guard import translated
from index.storage import (
    BYTES_PER_CHUNK,
    DiskFullError,
    IndexDamagedError,
    IndexFolderError,
    IndexReadOnlyError,
    check_space,
    reserve,
    translate,
)
from index.store import ChunkStore, make_client
from rag import cli
from tests.fakes import WordEmbedder

FULL = "InternalError: error returned from database: (code: 13) database or disk is full"
READ_ONLY = "InternalError: error returned from database: (code: 8) attempt to write a readonly database"
DAMAGED = ("Error executing plan: Error sending backfill request to compactor: Error constructing hnsw segment "
           "reader: Error creating hnsw segment reader: Error deserializing pickle file: eval error at offset 0: "
           "EOF while parsing")


def test_chromas_storage_messages_become_their_own_sentences(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    full = translate(RuntimeError(FULL), tmp_path, "docs")  # the test machine's disk has room: SQLite's temp folder
    assert isinstance(full, DiskFullError) and full.exit_code == 4
    assert "its temporary folder" in str(full) and "SQLITE_TMPDIR" in str(full) and "damaged" not in str(full)
    monkeypatch.setattr(storage, "free_bytes", lambda folder: 1000)
    full = translate(RuntimeError(FULL), tmp_path, "docs")
    assert str(full).startswith(f"the disk holding the index {tmp_path} is full (0.0 MB free)")
    monkeypatch.undo()
    read_only = translate(RuntimeError(READ_ONLY), tmp_path, "docs")
    assert isinstance(read_only, IndexReadOnlyError) and "not damaged" in str(read_only)
    damaged = translate(RuntimeError(DAMAGED), tmp_path, "docs")
    assert isinstance(damaged, IndexDamagedError) and damaged.exit_code == 5
    assert f"'rag repair --index {tmp_path} --collection docs'" in str(damaged)
    assert "Error deserializing pickle file" in str(damaged) and "backfill" not in str(damaged)  # the telling part


def test_other_errors_are_left_as_they_are(tmp_path: Path) -> None:
    assert translate(ValueError("Expected ids to be unique"), tmp_path, "docs") is None
    assert translate(DiskFullError("already said"), tmp_path, "docs") is None


def test_the_space_check_says_how_much_is_needed(tmp_path: Path) -> None:
    check_space(tmp_path, 0, "nothing")  # the test machine has a few MB free
    with pytest.raises(DiskFullError, match=r"has [\d.]+ MB free, but writing 3 files needs about [\d.]+ MB"):
        check_space(tmp_path, 10**15, "writing 3 files")


def _notes(folder: Path, n: int) -> list[Path]:
    folder.mkdir()
    paths = [folder / f"note-{i}.txt" for i in range(n)]
    for i, path in enumerate(paths):
        path.write_text(f"Note {i} says the lantern number is {i}.\n")  # one chunk each
    return paths


def test_ingest_writes_the_files_that_fit_then_stops_with_a_truthful_report(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _notes(tmp_path / "docs", 5)
    store = ChunkStore(make_client(tmp_path / "index"), "docs", WordEmbedder.name, 128)
    monkeypatch.setattr(ingest_module, "free_bytes", lambda folder: reserve(folder) + 2 * BYTES_PER_CHUNK + 1)
    with pytest.raises(IngestInterrupted) as info:
        ingest(store, WordEmbedder(), [tmp_path / "docs"])
    stopped = info.value
    assert stopped.exit_code == 4 and isinstance(stopped.cause, DiskFullError)
    assert "indexing the next 3 files (3 new passages) needs about" in str(stopped)
    assert "after 2 files were indexed; free some space" in str(stopped)
    assert stopped.report.files_added == 2 and stopped.report.chunks_total == 2 == store.count()
    assert all(store.file_state(source).complete for source in store.sources())

    monkeypatch.undo()
    again = ingest(store, WordEmbedder(), [tmp_path / "docs"])
    assert (again.files_unchanged, again.files_added, again.chunks_total) == (2, 3, 5)


class _FullDisk:
    """A collection whose writes fail as Chroma's do on a full disk; reads go to the real one."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.writes = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def upsert(self, **kwargs: Any) -> None:
        self.writes += 1
        raise RuntimeError(FULL)


def test_a_failed_write_on_a_full_disk_stops_ingest_at_once(tmp_path: Path) -> None:
    _notes(tmp_path / "docs", 4)
    store = ChunkStore(make_client(tmp_path / "index"), "docs", WordEmbedder.name, 128)
    failing = _FullDisk(store.collection)
    store.collection = translated(failing, lambda exc: translate(exc, tmp_path / "index", "docs"))
    with pytest.raises(IngestInterrupted) as info:
        ingest(store, WordEmbedder(), [tmp_path / "docs"])
    assert failing.writes == 1  # not retried file by file: every further write would fail the same way
    assert info.value.exit_code == 4 and "full disk" in str(info.value) and "0 files were indexed" in str(info.value)
    assert info.value.report.files_failed == [] and info.value.report.files_added == 0


def test_repair_rebuilds_unreadable_vectors_from_the_stored_passages(tmp_path: Path) -> None:
    from rag.assistant import Assistant
    from rag.settings import Settings

    _notes(tmp_path / "docs", 6)
    settings = Settings.load(env={}, config_file=tmp_path / "none.toml")
    assistant = Assistant(tmp_path / "index", embedder=WordEmbedder(), settings=settings)
    assistant.add(tmp_path / "docs")
    before = [(h.chunk.chunk_id, round(h.dense_score or 0.0, 5)) for h in assistant.retrieve("lantern number 4")]
    assert assistant.repair().chunks_reembedded == 0  # everything reads: nothing is done

    segments = [p for p in (tmp_path / "index").iterdir() if (p / "data_level0.bin").exists()]
    for segment in segments:  # what a compaction that ran out of space leaves
        (segment / "index_metadata.pickle").write_bytes(b"")
    assistant.store.reopen()  # drop Chroma's in-memory copy, as a new process would have none
    with pytest.raises(IndexDamagedError, match="rag repair"):
        assistant.store.count()

    report = assistant.repair()
    assert report.chunks_damaged and report.chunks_reembedded == 6 and report.sentences_written > 0
    after = [(h.chunk.chunk_id, round(h.dense_score or 0.0, 5)) for h in assistant.retrieve("lantern number 4")]
    assert after == before
    assert not [p for p in (tmp_path / "index").iterdir() if p.name.startswith("damaged-")]  # moved aside, then gone


def test_an_ingest_stopped_by_a_dead_server_is_still_a_store_unavailable_error() -> None:
    from index.ingest import IngestReport, interrupted
    from index.server_guard import StoreUnavailableError, unavailable

    stopped = interrupted(unavailable("http://127.0.0.1:9", OSError("refused")), IngestReport(files_added=1))
    assert isinstance(stopped, StoreUnavailableError) and stopped.exit_code == 3
    assert str(stopped).endswith("after 1 file was indexed; start it again and re-run 'rag ingest' to index the rest")
    full = interrupted(DiskFullError("the disk holding the index /i is full (0.0 MB free); free some space"),
                       IngestReport())
    assert not isinstance(full, StoreUnavailableError) and full.exit_code == 4


def test_an_index_folder_that_cannot_be_made_is_not_called_a_full_disk(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # /proc reports 0 bytes free, which made "the disk holding the index /proc/rag-test is full".
    (tmp_path / "a.txt").write_text("Solar panels turn sunlight into electricity.")
    code = cli.main(["ingest", str(tmp_path / "a.txt"), "--index", "/proc/rag-test"])
    said = capsys.readouterr().err.strip().splitlines()
    assert code == IndexFolderError.exit_code == 4
    assert said == ["rag ingest: cannot create the index folder /proc/rag-test: /proc is a virtual file system of the "
                    "kernel's, where folders cannot be made (as in /proc and /sys); give --index a folder on a disk"]
    for _ in range(2):  # the writer lock says the same, and a failed attempt leaves no turn taken
        with pytest.raises(IndexFolderError, match=r"^cannot create the index folder /proc/rag-test/x: /proc is a "):
            WriterLock("/proc/rag-test/x").acquire()


def test_a_lock_whose_holder_name_cannot_be_cleared_is_still_released(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``release`` cleared the holder's name before unlocking: on a disk that went read-only meanwhile
    (``ftruncate`` failing) it raised, and left the file lock held and its descriptor open for the
    life of the process, so every later writer was told the index is busy."""
    from index import lock

    held = WriterLock(tmp_path, timeout=0.1)
    held.acquire()

    def read_only(fd: int, length: int) -> None:
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(lock.os, "ftruncate", read_only)
    held.release()
    monkeypatch.undo()
    with WriterLock(tmp_path, timeout=0.1):  # IndexBusyError before: the first lock was never let go
        pass
