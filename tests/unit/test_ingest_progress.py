"""Ingest reports passages as they are embedded (a big file's progress moves), and embedding in
steps of similar length stores exactly the vectors one call would."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import index.ingest
from rag.assistant import Assistant
from rag.settings import Settings
from tests.fakes import WordEmbedder


def _stored(a: Assistant) -> dict[str, np.ndarray]:
    got = a.store.collection.get(include=["embeddings"])
    return {cid: np.asarray(vec) for cid, vec in zip(got["ids"], got["embeddings"], strict=True)}


def test_embedding_progress_moves_within_a_file_and_stores_the_same_vectors(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index.ingest, "_PROGRESS_STEP_CHUNKS", 4)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "big.md").write_text("# Rivers\n\n" + "".join(
        f"## Reach {n}\n\nOtters hunt fish in reach {n}" + " and rest under the bank" * (n % 5) + ".\n\n"
        for n in range(150)))
    (docs / "small.txt").write_text("Herons wait in the shallows at dawn.\n")
    settings = Settings.load(env={}, config_file=tmp_path / "none.toml")
    events: list[tuple[str, int, int]] = []
    watched = Assistant(tmp_path / "watched", embedder=WordEmbedder(), settings=settings)
    watched.add(docs, progress=lambda stage, path, done, total: events.append((stage, done, total)))
    plain = Assistant(tmp_path / "plain", embedder=WordEmbedder(), settings=settings)
    plain.add(docs)

    embedded = [(done, total) for stage, done, total in events if stage == "embedded"]
    total = embedded[-1][1]
    assert total == plain.store.count() > 8
    assert [d for d, _ in embedded] == sorted(d for d, _ in embedded) and embedded[-1][0] == total
    assert any(0 < d < total for d, _ in embedded)  # moves while the batch is being embedded
    assert [s for s, _, _ in events].count("done") == 2
    ours, theirs = _stored(watched), _stored(plain)
    assert ours.keys() == theirs.keys()
    for cid, vec in ours.items():  # each chunk keeps its own vector, whatever step embedded it
        assert np.allclose(vec, theirs[cid], atol=1e-6), cid
