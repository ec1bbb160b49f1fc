"""Sentence vectors stored at ingest: the units are what the answerer embeds, and an answer made
with them is the answer made by embedding, with only the unknown sentences embedded."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from index.records import Chunk
from rag.answer.extractive import passage_sentences
from rag.answer.generators import ExtractiveGenerator
from rag.records import Draft, Hit
from rag.sentence_vectors import KnownVectors, sentence_units
from tests.fakes import WordEmbedder

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
