"""Dense recall (issue 18 item 9): with many near-duplicate chunks, Chroma's HNSW search must still
return the true nearest chunk. Real Chroma (embedded), bounded size; vectors are made here so the
exact answer is known (brute-force cosine over every stored vector)."""

from __future__ import annotations

from pathlib import Path

import chromadb
import numpy as np
import pytest

from index.records import Chunk
from index.store import SEARCH_EF, ChunkStore, make_client

pytestmark = pytest.mark.integration

N_CHUNKS = 1000  # at most SEARCH_EF: the beam holds every vector, so search is exact
N_QUESTIONS = 300
DIMENSION = 384


def _near_duplicates(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Chunk and question vectors scattered around one direction: neighbours everywhere, the case
    where a narrow HNSW beam stops at a near miss (Chroma's default beam 100 missed 1-3 of 200)."""
    rng = np.random.default_rng(seed)
    centre = rng.normal(size=DIMENSION)
    chunks = centre + 3.0 * rng.normal(size=(N_CHUNKS, DIMENSION))
    questions = centre + 3.0 * rng.normal(size=(N_QUESTIONS, DIMENSION))
    return (chunks / np.linalg.norm(chunks, axis=1, keepdims=True)).astype(np.float32), \
        (questions / np.linalg.norm(questions, axis=1, keepdims=True)).astype(np.float32)


def test_the_true_nearest_chunk_is_found_among_near_duplicates(tmp_path: Path) -> None:
    store = ChunkStore(make_client(tmp_path / "index"), "dupes", "synthetic", DIMENSION)
    assert store.collection.configuration["hnsw"]["ef_search"] >= N_CHUNKS
    vectors, questions = _near_duplicates(seed=0)
    chunks = [Chunk(f"c{i:04d}", "d", "dupes.txt", f"Near-duplicate passage {i}.", 30 * i, 30 * i + 26, i)
              for i in range(N_CHUNKS)]
    store.write_file(chunks, {c.chunk_id: v for c, v in zip(chunks, vectors, strict=True)}, "h", "Dupes", ())
    exact = np.argmax(questions @ vectors.T, axis=1)
    wrong = [i for i, q in enumerate(questions) if store.query(q, 1)[0][0].chunk_id != chunks[exact[i]].chunk_id]
    assert wrong == []
    top50 = [store.query(q, 50) for q in questions[:20]]
    for found, q in zip(top50, questions[:20], strict=True):  # the 50 dense candidates are the exact 50
        assert {c.chunk_id for c, _ in found} == {chunks[j].chunk_id for j in np.argsort(-(vectors @ q))[:50]}


def test_an_older_collection_gets_the_wider_beam_from_its_next_writer(tmp_path: Path) -> None:
    client = make_client(tmp_path / "index")
    client.create_collection("older", embedding_function=None, configuration={"hnsw": {"space": "cosine"}},
                             metadata={"embedding_model": "synthetic", "dimension": DIMENSION, "rag_schema": 1,
                                       "chroma_major": int(chromadb.__version__.split(".")[0]), "generation": 0})
    assert client.get_collection("older").configuration["hnsw"]["ef_search"] < SEARCH_EF
    ChunkStore(client, "older", "synthetic", DIMENSION, create=False)  # a reader leaves it as it is
    assert client.get_collection("older").configuration["hnsw"]["ef_search"] < SEARCH_EF
    ChunkStore(client, "older", "synthetic", DIMENSION)
    assert client.get_collection("older").configuration["hnsw"]["ef_search"] == SEARCH_EF
