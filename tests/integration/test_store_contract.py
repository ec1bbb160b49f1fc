"""The store contract: what every ``ChunkStore`` backend must do, run against the embedded store and
a real Chroma server (``chroma run``) alike. Retrieval, ingest and the keyword index rely on
exactly these behaviours, so a backend that passes here can replace the other.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from index.records import Chunk
from index.store import ChunkStore, FileWrite, IndexMismatchError, make_client
from tests.fakes import WordEmbedder

pytestmark = pytest.mark.integration

EMBEDDER = WordEmbedder(dimension=64)
OpenStore = Callable[..., ChunkStore]


@pytest.fixture(params=["embedded", "server"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OpenStore]:
    """Opens (and reopens) one fresh collection on the backend under test."""
    collection = f"contract-{uuid.uuid4().hex[:12]}"
    url = request.getfixturevalue("shared_chroma_server") if request.param == "server" else None

    def make(model_name: str = EMBEDDER.name, dimension: int = EMBEDDER.dimension) -> ChunkStore:
        client = make_client(None if url else tmp_path / "index", url)
        return ChunkStore(client, collection, model_name, dimension)

    yield make


def chunks_of(source: str, texts: list[str], heading: tuple[str, ...] = ("Guide", "Setup")) -> list[Chunk]:
    out, start = [], 0
    for i, text in enumerate(texts):
        out.append(Chunk(chunk_id=f"{source}#{i}:{uuid.uuid5(uuid.NAMESPACE_URL, text).hex[:8]}",
                         doc_id=f"doc-{source}", source=source, text=text, start=start, end=start + len(text),
                         index=i, page=i + 1 if source.endswith(".pdf") else None, heading=heading,
                         n_tokens=len(text.split()), gap_before="" if i == 0 else "\n\n"))
        start += len(text) + 2
    return out


def write(store: ChunkStore, chunks: list[Chunk], content_hash: str = "h1", stale: tuple[str, ...] = ()) -> None:
    vectors = dict(zip([c.chunk_id for c in chunks], EMBEDDER.embed([c.text for c in chunks]), strict=True))
    store.write_file(chunks, vectors, content_hash, "A title", stale)


REEFS = ["Coral reefs bleach when the water is too warm.", "Bleached corals can recover if the heat passes.",
         "Reefs shelter a quarter of all sea species."]
SOLAR = ["Solar panels turn sunlight into electricity.", "An inverter changes direct current to alternating."]


def test_an_empty_store_holds_nothing(open_store: OpenStore) -> None:
    store = open_store()
    assert store.count() == 0 and store.sources() == {} and list(store.iter_chunks()) == []
    assert store.query(EMBEDDER.embed(["coral"])[0], 5) == []
    assert store.file_state("nowhere.txt").chunk_ids == ()


def test_written_chunks_come_back_exactly(open_store: OpenStore) -> None:
    store = open_store()
    reefs, solar = chunks_of("reefs.txt", REEFS), chunks_of("solar.pdf", SOLAR)
    write(store, reefs)
    write(store, solar, "h2")
    assert store.count() == 5
    assert store.sources() == {"reefs.txt": 3, "solar.pdf": 2}
    assert sorted(store.iter_chunks(), key=lambda c: c.chunk_id) == sorted(reefs + solar, key=lambda c: c.chunk_id)
    assert store.get([solar[1].chunk_id, reefs[0].chunk_id]) == [solar[1], reefs[0]]  # in the order asked
    assert store.chunks_of("reefs.txt") == reefs
    assert store.neighbours("reefs.txt", [0, 2]) == [reefs[0], reefs[2]]
    # Widening reads every hit's neighbours at once: positions of several files in one call.
    assert store.at_positions({"solar.pdf": [1, 5], "reefs.txt": [1]}) == [reefs[1], solar[1]]
    state = store.file_state("solar.pdf")
    assert state.complete and state.content_hash == "h2" and set(state.chunk_ids) == {c.chunk_id for c in solar}
    vectors = store.vectors([reefs[1].chunk_id])
    np.testing.assert_allclose(vectors[reefs[1].chunk_id], EMBEDDER.embed([REEFS[1]])[0], atol=1e-6)


def test_query_ranks_by_cosine_and_filters_by_source(open_store: OpenStore) -> None:
    store = open_store()
    write(store, chunks_of("reefs.txt", REEFS))
    write(store, chunks_of("solar.pdf", SOLAR), "h2")
    hits = store.query(EMBEDDER.embed([SOLAR[1]])[0], 10)
    assert len(hits) == 5  # more asked than held: what there is
    assert hits[0][0].text == SOLAR[1] and hits[0][1] == pytest.approx(1.0, abs=1e-5)
    assert [score for _, score in hits] == sorted((score for _, score in hits), reverse=True)
    only_reefs = store.query(EMBEDDER.embed([SOLAR[1]])[0], 10, sources=["reefs.txt"])
    assert {c.source for c, _ in only_reefs} == {"reefs.txt"} and len(only_reefs) == 3
    both = store.query(EMBEDDER.embed(["coral"])[0], 10, sources=["reefs.txt", "solar.pdf"])
    assert len(both) == 5


def test_rewriting_a_file_keeps_unchanged_chunks_and_drops_stale_ones(open_store: OpenStore) -> None:
    store = open_store()
    old = chunks_of("reefs.txt", REEFS)
    write(store, old)
    new = chunks_of("reefs.txt", [REEFS[0], "Reefs recover over a decade or more."])
    kept = [c for c in new if c.chunk_id in {o.chunk_id for o in old}]
    assert store.existing_ids([c.chunk_id for c in new]) == {c.chunk_id for c in kept}
    fresh = [c for c in new if c not in kept]
    vectors = dict(zip([c.chunk_id for c in fresh], EMBEDDER.embed([c.text for c in fresh]), strict=True))
    stale = tuple(o.chunk_id for o in old if o.chunk_id not in {c.chunk_id for c in new})
    store.write_file(new, vectors, "h3", "A title", stale)
    state = store.file_state("reefs.txt")
    assert state.complete and state.content_hash == "h3"
    assert store.chunks_of("reefs.txt") == new and store.count() == 2


def test_removing_a_file_removes_all_its_chunks(open_store: OpenStore) -> None:
    store = open_store()
    write(store, chunks_of("reefs.txt", REEFS))
    write(store, chunks_of("solar.pdf", SOLAR), "h2")
    assert store.delete_source("reefs.txt") == 3
    assert store.sources() == {"solar.pdf": 2} and store.file_state("reefs.txt").chunk_ids == ()
    assert store.delete_source("reefs.txt") == 0


def test_one_bad_file_in_a_batch_costs_only_itself(open_store: OpenStore) -> None:
    store = open_store()
    good, bad = chunks_of("reefs.txt", REEFS), chunks_of("solar.pdf", SOLAR)
    good_vectors = dict(zip([c.chunk_id for c in good], EMBEDDER.embed(REEFS), strict=True))
    wrong_width = {c.chunk_id: np.ones(EMBEDDER.dimension + 3, dtype=np.float32) for c in bad}
    outcomes = store.write_files([FileWrite(good, good_vectors, "h1", "t", ()),
                                  FileWrite(bad, wrong_width, "h2", "t", ())])
    assert outcomes[0] is None and outcomes[1] is not None
    assert store.sources() == {"reefs.txt": 3}


def test_every_write_moves_the_generation_that_other_readers_see(open_store: OpenStore) -> None:
    writer, reader = open_store(), open_store()
    before = reader.generation()
    write(writer, chunks_of("reefs.txt", REEFS))
    after_write = reader.generation()
    writer.delete_source("reefs.txt")
    assert before < after_write < reader.generation()


def test_another_embedding_model_cannot_open_the_collection(open_store: OpenStore) -> None:
    write(open_store(), chunks_of("reefs.txt", REEFS))
    with pytest.raises(IndexMismatchError):
        open_store(model_name="another-model", dimension=EMBEDDER.dimension)
