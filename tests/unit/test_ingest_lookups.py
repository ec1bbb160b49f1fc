"""Ingest asks the store which chunks it holds only for files it holds rows of: a chunk's id hashes
its file's path, so a new file's chunks cannot be stored yet, and a changed file's unchanged chunks
are still found and kept (not embedded again)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from index.chunking import chunk_document
from index.embedding import chunking_for
from index.loaders import load_bytes
from index.store import ChunkStore
from rag.assistant import Assistant
from rag.settings import Settings
from tests.fakes import WordEmbedder


def _prose(word: str, n: int) -> str:
    # Longer than half a chunk, so the next section is never merged into this one's last chunk.
    return " ".join(f"{word} number {i} floats in the kelp." for i in range(n))


def test_a_new_file_needs_no_chunk_id_look_up_and_a_changed_file_keeps_its_stored_chunks(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    looked_up: list[list[str]] = []
    real = ChunkStore.existing_ids

    def recording(self: ChunkStore, ids: Sequence[str]) -> set[str]:
        looked_up.append(list(ids))
        return real(self, ids)

    monkeypatch.setattr(ChunkStore, "existing_ids", recording)
    docs = tmp_path / "docs"
    docs.mkdir()
    changed = docs / "a.md"
    changed.write_text(f"# Otters\n\n{_prose('Otter', 60)}\n")
    (docs / "b.md").write_text(f"# Seals\n\n{_prose('Seal', 10)}\n")
    embedder = WordEmbedder()
    assistant = Assistant(tmp_path / "index", embedder=embedder,
                          settings=Settings.load(env={}, config_file=tmp_path / "x"))

    first = assistant.add(docs)
    assert looked_up == []
    assert first.files_added == 2 and first.chunks_added == assistant.store.count()
    before = {c.chunk_id for c in assistant.store.chunks_of(str(changed))}

    changed.write_text(f"# Otters\n\n{_prose('Otter', 60)}\n\n# Whales\n\n{_prose('Whale', 60)}\n")
    second = assistant.add(docs)
    doc = load_bytes(changed, changed.read_bytes())
    expected = {c.chunk_id for c in chunk_document(doc, embedder.count_tokens, chunking_for(embedder))}
    kept = before & expected
    assert looked_up and kept  # the unchanged section's chunks were looked up and found
    assert {c.chunk_id for c in assistant.store.chunks_of(str(changed))} == expected
    assert second.files_updated == 1 and second.chunks_added == len(expected - kept)
