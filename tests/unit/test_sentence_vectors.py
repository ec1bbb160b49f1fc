"""Sentence vectors stored at ingest: the units are what the answerer scores, an answer made with
them is the answer made by embedding with only the unknown sentences embedded, and ingest pools them
from the chunks' own pass, embedding nothing beyond the chunks."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from index.errors import RagError
from index.minilm import token_ranges
from index.records import Chunk
from rag.answer.extractive import passage_sentences
from rag.answer.generators import ExtractiveGenerator
from rag.assistant import Assistant
from rag.records import Draft, Hit
from rag.sentence_vectors import KnownVectors, sentence_units
from rag.settings import Settings
from tests.fakes import RecordingEmbedder, WordEmbedder

BACKUPS = ("Backups run every night at two. Make sure the disk is mounted with the nofail option. "
           "Without this option, boot hangs when the USB disk is unplugged. Old snapshots are pruned weekly.")


class Recording(WordEmbedder):
    """The word embedder, recording what it is asked to embed."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[str] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.asked.extend(texts)
        return super().embed(texts)


def chunk(text: str, heading: tuple[str, ...] = ("Backups",), chunk_id: str = "c1") -> Chunk:
    return Chunk(chunk_id, "d", "/docs/a.md", text, 0, len(text), 0, heading=heading)


def test_units_are_the_quotable_sentences_with_their_section_and_offsets() -> None:
    c = chunk("## Backups\n\n" + BACKUPS)
    units = sentence_units(c)
    quotable = [s for s in passage_sentences(c.text) if not s.fragment]
    assert [(start, end) for start, end, _ in units] == [(s.start, s.end) for s in quotable]
    assert all(text == f"Backups: {c.text[start:end]}" for start, end, text in units)
    assert not any("## Backups" in text for *_, text in units)  # the heading line is a fragment
    assert sentence_units(chunk(BACKUPS, heading=()))[0][2] == "Backups run every night at two."


def test_known_vectors_embed_only_what_is_unknown() -> None:
    inner = Recording()
    known = {"alpha beta": np.ones(inner.dimension, dtype=np.float32)}
    view = KnownVectors(inner, known)
    out = view.embed(["alpha beta", "gamma", "gamma"])
    assert inner.asked == ["gamma"]
    assert out.shape == (3, inner.dimension) and np.array_equal(out[0], known["alpha beta"])
    assert np.array_equal(out[1], inner.embed(["gamma"])[0]) and np.array_equal(out[1], out[2])
    assert view.embed([]).shape == (0, inner.dimension)


def test_stored_vectors_give_the_same_answer_without_embedding_a_sentence() -> None:
    question = "which option stops boot hanging when the usb disk is unplugged?"
    c = chunk(BACKUPS)
    hits = [Hit(c, 1.0, 1, dense_score=0.8)]
    plain = Recording()
    vector = plain.embed([question])[0]
    plain.asked.clear()
    alone = list(ExtractiveGenerator(plain).stream(question, hits, vector))

    stored = {text: WordEmbedder().embed([text])[0] for *_, text in sentence_units(c)}
    asked_for: list[list[str]] = []

    def lookup(chunk_ids: Sequence[str]) -> dict[str, np.ndarray]:
        asked_for.append(list(chunk_ids))
        return stored

    recording = Recording()
    with_store = list(ExtractiveGenerator(recording, stored=lookup).stream(question, hits, vector))
    assert plain.asked and recording.asked == []  # every sentence vector came from the store
    assert asked_for == [["c1"]]
    assert isinstance(with_store[-1], Draft) and with_store == alone


def testtoken_ranges_cover_exactly_the_word_pieces_inside_each_span() -> None:
    text = "Disks > Backups\nRun nightly. Use nofail."
    # [CLS], then word pieces with their character offsets, then [SEP] (special, offsets 0,0)
    offsets = [(0, 0), (0, 5), (6, 7), (8, 15), (16, 19), (20, 27), (27, 28), (29, 32), (33, 35), (35, 39),
               (39, 40), (0, 0)]
    special = [1] + [0] * 10 + [1]
    first, second = text.index("Run"), text.index("Use")
    ranges = token_ranges(offsets, special, [(first, first + 12), (second, len(text)), (len(text), len(text))])
    assert ranges[0] == (4, 7)  # "Run", "nightly", "."
    assert ranges[1] == (7, 11)  # "Use", "no", "##fail", "."
    assert ranges[2] == (0, 0)  # nothing inside: the caller uses the whole text's vector


class SpanRecording(WordEmbedder):
    """The word embedder, recording every text it runs through the model, by either method."""

    def __init__(self) -> None:
        super().__init__()
        self.ran: list[str] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.ran.extend(texts)
        return super().embed(texts)


def test_ingest_embeds_each_chunk_once_and_stores_its_sentences_pooled_from_that_pass(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "backups.md").write_text("# Backups\n\n" + BACKUPS + "\n\n# Disks\n\nExternal disks need the nofail "
                                     "option in fstab. Internal disks are mounted at boot by systemd.\n")
    embedder = SpanRecording()
    settings = Settings.load(env={"RAG_REFUSAL_THRESHOLD": "0.0"}, config_file=tmp_path / "x")
    a = Assistant(tmp_path / "index", embedder=embedder, settings=settings)
    a.add(docs)
    chunks = list(a.chunks())
    assert sorted(embedder.ran) == sorted(c.embed_text for c in chunks)  # nothing embedded beyond the chunks
    rows = {(r.chunk_id, r.n): r for r in a.sentences.rows()}
    expected = {(c.chunk_id, n): (c, unit) for c in chunks for n, unit in enumerate(sentence_units(c))}
    assert rows.keys() == expected.keys()
    for key, row in rows.items():
        chunk, (start, end, text) = expected[key]
        assert (row.start, row.end, row.text) == (start, end, text)
        # pooled over the sentence's own span of the chunk's pass (the fake pools the span's words)
        assert np.allclose(row.vector, embedder.vector(chunk.text[start:end]))
    embedder.ran.clear()
    answer = a.ask("without which option does boot hang when the usb disk is unplugged?")
    assert "nofail" in answer.text and embedder.ran == [answer.asked]  # the answer embedded only the question
    assert any(h.sentence_rank for h in answer.hits)


def test_rows_store_only_their_chunk_and_source_and_rows_of_earlier_layouts_still_read(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "backups.md").write_text("# Backups\n\n" + BACKUPS + "\n")
    settings = Settings.load(env={}, config_file=tmp_path / "x")
    a = Assistant(tmp_path / "index", embedder=WordEmbedder(), settings=settings)
    a.add(docs)
    collection = a.sentences.ready()
    stored = collection.get(include=["metadatas", "documents", "embeddings"])
    assert {tuple(sorted(m)) for m in stored["metadatas"]} == {("chunk_id", "source")}
    assert not any(stored["documents"])
    expected = {(r.chunk_id, r.n): (r.start, r.end, r.text) for r in a.sentences.rows()}
    assert all(text for _, _, text in expected.values())
    # Rewrite the rows as earlier builds wrote them: half with the text and offsets (the first
    # layout), half with offsets only (the second); readers answer the same for each.
    ids = stored["ids"]
    units = [expected[(m["chunk_id"], int(i.rsplit(":", 1)[1]))] for i, m in zip(ids, stored["metadatas"], strict=True)]
    metas = [{**m, "start": start, "end": end} for m, (start, end, _) in zip(stored["metadatas"], units, strict=True)]
    documents = [text if n % 2 else "" for n, (_, _, text) in enumerate(units)]
    collection.upsert(ids=ids, embeddings=stored["embeddings"], metadatas=metas, documents=documents)
    assert {(r.chunk_id, r.n): (r.start, r.end, r.text) for r in a.sentences.rows()} == expected
    by_text = a.sentences.vectors_for([c.chunk_id for c in a.chunks()])
    assert sorted(by_text) == sorted(text for _, _, text in expected.values())


def test_an_embedder_that_cannot_pool_drops_the_sentence_vectors_and_retrieval_does_without(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "backups.md").write_text("# Backups\n\n" + BACKUPS + "\n")
    settings = Settings.load(env={}, config_file=tmp_path / "x")
    Assistant(tmp_path / "index", embedder=WordEmbedder(), settings=settings).add(docs)
    (docs / "more.md").write_text("# Restores\n\nRestores are tested every month on a spare machine.\n")
    plain = Assistant(tmp_path / "index", embedder=RecordingEmbedder(WordEmbedder()), settings=settings)  # no spans
    plain.add(docs)
    assert list(plain.sentences.rows()) == [] and plain.sentences.ready() is None
    hits = plain.retrieve("how often are restores tested?")
    assert hits[0].chunk.source.endswith("more.md") and all(h.sentence_rank == 0 for h in hits)
    again = Assistant(tmp_path / "index", embedder=WordEmbedder(), settings=settings)
    again.add(docs)  # a writer that can pool fills them again for every chunk
    assert {r.chunk_id for r in again.sentences.rows()} == {c.chunk_id for c in again.chunks()}


def test_a_users_collection_named_like_the_sentence_vectors_is_never_deleted(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "backups.md").write_text("# Backups\n\n" + BACKUPS + "\n")
    settings = Settings.load(env={}, config_file=tmp_path / "x")
    theirs = Assistant(tmp_path / "index", "docs-sentences", embedder=WordEmbedder(), settings=settings)
    theirs.add(docs)
    ours = Assistant(tmp_path / "index", "docs", embedder=WordEmbedder(), settings=settings)
    with pytest.raises(RagError, match="docs-sentences"):
        ours.add(docs)
    assert theirs.store.count() > 0 and set(ours.collections()) >= {"docs-sentences"}
    assert "docs-sentences-sentences" not in ours.collections()  # its own sentence vectors are not listed
