"""Sentence vectors stored at ingest, with the real model and real Chroma: they follow their chunks
through adds, updates, prunes and removals; an index from before them still answers and is filled
by the next writer; orphans a crash leaves are never returned and are swept; and an answer embeds
only the question."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from index.embedding import MiniLMEmbedder
from index.sentence_store import sentences_collection
from index.store import chunk_from_record
from rag.assistant import Assistant
from rag.sentence_vectors import sentence_units
from tests.fakes import RecordingEmbedder

OpenAssistant = Callable[..., Assistant]


def expected_sentences(a: Assistant) -> dict[str, str]:
    """Sentence id -> embedded text, computed from the chunks the store holds now."""
    out = {}
    for cid, text, meta in a.store.iter_records():
        for n, (_, _, unit) in enumerate(sentence_units(chunk_from_record(cid, text, meta))):
            out[f"{cid}:{n}"] = unit
    return out


def sentence_collection(a: Assistant) -> Any:
    """The sentence collection, opened as rag opens it (no embedding function of Chroma's)."""
    return a.store.client.get_collection(sentences_collection(a.store.name), embedding_function=None)


def stored_sentences(a: Assistant) -> dict[str, str]:
    """Sentence id -> lookup text as readers see it (rebuilt from the chunk: no document is stored;
    "" for a sentence whose chunk is gone)."""
    got = sentence_collection(a).get(include=["documents", "metadatas"])
    units = a.sentences._units(got["ids"], got["documents"], got["metadatas"])
    return dict(zip(got["ids"], [text for _, _, text in units], strict=True))


def collection_meta(a: Assistant) -> dict[str, object]:
    return dict(sentence_collection(a).metadata or {})


def test_sentences_follow_their_chunks(tmp_path: Path, examples_copy: Path, open_assistant: OpenAssistant) -> None:
    a = open_assistant(tmp_path / "index")
    a.add(examples_copy)
    first = stored_sentences(a)
    assert len(first) > a.store.count() and first == expected_sentences(a)
    assert collection_meta(a)["complete"] and collection_meta(a)["clean"]

    talks = examples_copy / "ukraine-security-talks.md"
    talks.write_text(talks.read_text().replace("Zelenskyy", "The president", 1)
                     + "\n## Addendum\n\nNegotiators will meet again in Geneva next spring.\n")
    report = a.add(examples_copy)
    assert report.files_updated == 1 and report.chunks_removed > 0
    after = stored_sentences(a)
    assert after == expected_sentences(a) and after != first
    assert any("Geneva" in text for text in after.values())

    (examples_copy / "coral-reefs.txt").unlink()
    a.add(examples_copy, prune=True)
    assert stored_sentences(a) == expected_sentences(a)
    assert not any("coral" in meta["source"] for meta in  # type: ignore[operator]
                   sentence_collection(a).get(include=["metadatas"])["metadatas"])
    a.remove(str((examples_copy / "remote-work-policy.docx").resolve()))
    assert stored_sentences(a) == expected_sentences(a)


def test_an_index_from_before_sentence_vectors_answers_and_is_filled_by_the_next_writer(
        index_copy: Path, examples_dir: Path, open_assistant: OpenAssistant) -> None:
    question = "what did Zelenskyy reject?"
    current = open_assistant(index_copy)
    with_sentences = current.ask(question)
    current.store.client.delete_collection(sentences_collection("docs"))  # as an older rag wrote it

    old = open_assistant(index_copy)
    answer = old.ask(question)
    assert not answer.refused and all(h.sentence_rank == 0 for h in answer.hits)  # works without them

    old.add(examples_dir)  # nothing changed on disk: only the sentence vectors are made
    assert stored_sentences(old) == expected_sentences(old) and collection_meta(old)["complete"]
    again = open_assistant(index_copy).ask(question)
    assert any(h.sentence_rank for h in again.hits)
    assert again.text == with_sentences.text and [h.chunk.chunk_id for h in again.hits] == \
        [h.chunk.chunk_id for h in with_sentences.hits]


def test_orphan_sentences_are_never_returned_and_are_swept(index_copy: Path, examples_dir: Path,
                                                           open_assistant: OpenAssistant) -> None:
    a = open_assistant(index_copy)
    ghost = next(iter(a.store.get([next(iter(expected_sentences(a))).split(":")[0]])))
    from dataclasses import replace

    orphan = replace(ghost, chunk_id="gone", text="Glaciers on Mars are made of frozen lemonade.", heading=())
    a.sentences.write(a.sentences.embed([orphan], a.embedder)[1])  # a sentence whose chunk was never written (a crash)
    hits = a.retrieve("what are the glaciers on Mars made of?", k=50)
    assert "gone" not in {h.chunk.chunk_id for h in hits}

    collection = sentence_collection(a)
    collection.modify(metadata={**(collection.metadata or {}), "clean": False})  # died while writing
    a.add(examples_dir)
    assert stored_sentences(a) == expected_sentences(a) and collection_meta(a)["clean"]


def test_an_answer_embeds_only_the_question(examples_index: Path, embedder: MiniLMEmbedder,
                                            settings_for: Callable[..., object]) -> None:
    counting = RecordingEmbedder(embedder)
    a = Assistant(examples_index, embedder=counting, settings=settings_for(examples_index.parent))  # type: ignore[arg-type]
    for question in ("what did Zelenskyy reject?", "how long should sourdough rise?"):
        counting.embedded.clear()
        answer = a.ask(question)
        assert not answer.refused and counting.embedded == [question]


def test_pooled_sentence_vectors_come_from_the_chunk_pass_and_stand_for_their_sentence(
        embedder: MiniLMEmbedder) -> None:
    text = ("Backups > Disks\nBackups run every night at two. Make sure the disk is mounted with the nofail "
            "option. Without this option, boot hangs when the USB disk is unplugged. Old snapshots are pruned "
            "weekly.")
    sentences = ["Backups run every night at two.", "Make sure the disk is mounted with the nofail option.",
                 "Without this option, boot hangs when the USB disk is unplugged.", "Old snapshots are pruned weekly."]
    spans = [(text.index(s), text.index(s) + len(s)) for s in sentences]
    vectors, pooled = embedder.embed_spans([text, "A second, shorter text."], [[*spans, (len(text), len(text))], []])
    assert np.allclose(vectors, embedder.embed([text, "A second, shorter text."]), atol=1e-5)  # the chunk vectors
    assert pooled[1].shape == (0, embedder.dimension)
    assert np.allclose(np.linalg.norm(pooled[0], axis=1), 1.0, atol=1e-5)
    assert np.allclose(pooled[0][-1], vectors[0])  # a span holding no word piece stands for the whole text
    alone = embedder.embed(sentences)
    similar = pooled[0][:-1] @ alone.T
    # Each stands for its own sentence better than the chunk's vector does (it carries the context
    # too, so a neighbour it points to, "this option", may come close).
    assert all(similar[i, i] > float(vectors[0] @ alone[i]) + 0.05 for i in range(len(sentences)))
    assert np.trace(similar) / len(sentences) > similar[~np.eye(len(sentences), dtype=bool)].mean() + 0.2


def test_each_served_collection_answers_from_its_own_sentence_vectors(
        tmp_path: Path, examples_copy: Path, embedder: MiniLMEmbedder,
        settings_for: Callable[..., object]) -> None:
    """`rag serve` opens one Assistant per collection: each must look up its own collection's
    stored sentence vectors (sharing the first one's extractive generator embedded every passage
    sentence of the other collections again)."""
    from ui.serve.collections import Collections

    index = tmp_path / "index"
    settings = settings_for(tmp_path)
    Assistant(index, embedder=embedder, settings=settings).add(examples_copy / "coral-reefs.txt")  # type: ignore[arg-type]
    talks = settings.replace(collection="talks")  # type: ignore[attr-defined]
    Assistant(index, embedder=embedder, settings=talks).add(examples_copy / "ukraine-security-talks.md")
    counting = RecordingEmbedder(embedder)  # ingest needs the model's own span pooling; asking does not
    served = Collections(Assistant(index, embedder=counting, settings=settings))  # type: ignore[arg-type]
    for name, question in (("docs", "why do corals bleach?"), ("talks", "what did Zelenskyy reject?")):
        counting.embedded.clear()
        answer = served.get(name).ask(question)
        assert not answer.refused and counting.embedded == [question], name
