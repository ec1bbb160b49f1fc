"""Folders a stopped ``rag repair`` leaves beside the index: doctor lists them, and the next repair
deletes them once every vector index reads; nothing stored is lost, and no other folder is touched."""

from __future__ import annotations

from pathlib import Path

import pytest

from index import repair as repair_module
from rag.assistant import Assistant
from rag.doctor import _leftovers_check
from rag.settings import Settings
from tests.fakes import WordEmbedder


class Stopped(BaseException):
    """A repair killed half-way (Ctrl-C, a power cut)."""


def _indexed(tmp_path: Path) -> Assistant:
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(6):
        (docs / f"note-{i}.txt").write_text(f"Note {i} says the lantern number is {i}.\n")
    assistant = Assistant(tmp_path / "index", embedder=WordEmbedder(),
                          settings=Settings.load(env={}, config_file=tmp_path / "none.toml"))
    assistant.add(docs)
    return assistant


def _damage(assistant: Assistant) -> None:
    index = assistant.settings.index_dir
    for segment in [p for p in index.iterdir() if (p / "data_level0.bin").exists()]:
        (segment / "index_metadata.pickle").write_bytes(b"")  # what a compaction out of space leaves
    assistant.store.reopen()


def _stored(assistant: Assistant) -> list[tuple[str, str]]:
    return sorted((c.chunk_id, c.text) for c in assistant.chunks())


def _damaged_folders(index: Path) -> list[str]:
    return sorted(p.name for p in index.iterdir() if p.name.startswith("damaged-"))


def test_a_repair_stopped_half_way_leaves_folders_doctor_lists_and_the_next_repair_deletes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assistant = _indexed(tmp_path)
    index = assistant.settings.index_dir
    stored = _stored(assistant)
    ranking = [(h.chunk.chunk_id, round(h.dense_score or 0.0, 5)) for h in assistant.retrieve("lantern number 4")]
    for name in ("damaged-notes", "damaged-docs-keep"):  # the user's own folders: never touched
        (index / name).mkdir()
        (index / name / "mine.txt").write_text("mine")
    _damage(assistant)

    def stop(*args: object) -> tuple[int, int]:
        raise Stopped

    with monkeypatch.context() as patch:
        patch.setattr(repair_module, "_reembed", stop)
        with pytest.raises(Stopped):
            assistant.repair()
    left = [n for n in _damaged_folders(index) if n not in ("damaged-notes", "damaged-docs-keep")]
    assert left  # the unreadable segments, moved aside

    [check] = _leftovers_check(index, "docs")
    assert not check.ok
    assert all(name in check.detail for name in left) and "damaged-notes" not in check.detail
    assert f"'rag repair --index {index} --collection docs'" in check.detail

    report = assistant.repair()
    assert report.chunks_damaged and report.chunks_reembedded == 6
    assert sorted(report.leftovers_removed) == left and report.leftover_bytes > 0
    assert _damaged_folders(index) == ["damaged-docs-keep", "damaged-notes"]
    assert (index / "damaged-notes" / "mine.txt").read_text() == "mine"
    assert _leftovers_check(index, "docs") == []
    assert _stored(assistant) == stored  # nothing stored was lost
    assert [(h.chunk.chunk_id, round(h.dense_score or 0.0, 5)) for h in assistant.retrieve("lantern number 4")] \
        == ranking


def test_folders_left_after_the_rebuild_are_deleted_by_the_next_repair(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assistant = _indexed(tmp_path)
    index = assistant.settings.index_dir
    _damage(assistant)

    def stop(*args: object, **kwargs: object) -> None:
        raise Stopped

    with monkeypatch.context() as patch:  # stopped after the rebuild, as it deletes the old folders
        patch.setattr(repair_module.shutil, "rmtree", stop)
        with pytest.raises(Stopped):
            assistant.repair()
    left = _damaged_folders(index)
    assert left and assistant.store.count() == 6  # the index reads; only the folders remain

    report = assistant.repair()
    assert not report.chunks_damaged and report.chunks_reembedded == 0  # nothing to rebuild
    assert list(report.leftovers_removed) == left and report.to_dict()["leftovers_removed"] == left
    assert _damaged_folders(index) == []
