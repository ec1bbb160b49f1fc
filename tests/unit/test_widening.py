"""Neighbour widening (``RAG_WIDEN``): k passages even when hits merge, and quotes from the chunks found."""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path

import pytest

from index.records import Chunk
from rag.assistant import Assistant
from rag.records import Hit
from rag.retrieve.hybrid import merge_chunks
from rag.settings import Settings
from tests.fakes import WordEmbedder


def _section(i: int, fact: str = "") -> str:
    filler = " ".join(f"term{i}x{j}" for j in range(160))  # words no other section has
    return f"# Section {i}\n\nSection {i} covers {filler}. {fact}\n\n"


def _words(text: str) -> int:
    """A tokenizer whose pieces never span whitespace, as word pieces do."""
    return len(text.split())


@pytest.fixture
def widened(tmp_path: Path) -> Assistant:
    docs = tmp_path / "docs"
    docs.mkdir()
    sections = [_section(i) for i in range(8)]
    sections[3] = _section(3, "Glacier melt rates doubled in the northern valley.")
    sections[4] = _section(4, "Glacier melt rates were measured by drones every spring.")
    (docs / "manual.md").write_text("".join(sections))
    (docs / "other.md").write_text(_section(9, "Glacier tours leave the river towns at noon."))
    settings = Settings.load(env={"RAG_WIDEN": "1", "RAG_REFUSAL_THRESHOLD": "0.0"}, config_file=tmp_path / "none")
    helper = Assistant(tmp_path / "index", embedder=WordEmbedder(), settings=settings)
    helper.add(docs)
    return helper


def test_merged_neighbours_leave_room_for_k_passages(widened: Assistant) -> None:
    question = "glacier melt rates?"
    plain = widened.retriever.search(question, k=3, widen=0).hits
    assert {Path(h.chunk.source).name for h in plain[:2]} == {"manual.md"}  # the two best are neighbours
    hits = widened.retriever.search(question, k=2).hits
    assert len(hits) == 2  # the neighbours merged into one passage; the next hit fills the second place
    first, second = hits
    # Every chunk found inside a passage is one of its anchors, with its place in the ranking.
    assert [a.chunk_id for a in first.anchors][:2] == [plain[0].chunk.chunk_id, plain[1].chunk.chunk_id]
    assert [a.rank for a in first.anchors][:2] == [1, 2]
    assert Path(second.chunk.source).name == "other.md"
    assert {a.rank for a in first.anchors + second.anchors} == set(range(1, len(first.anchors) + 2))
    text = Path(first.chunk.source).read_text()
    assert first.chunk.text == text[first.chunk.start:first.chunk.end]  # verbatim, neighbours included
    assert "Section 2" in first.chunk.text and "Section 5" in first.chunk.text


def test_the_answer_quotes_the_chunks_retrieval_found(widened: Assistant) -> None:
    answer = widened.ask("glacier melt rates?", k=2)
    assert not answer.refused and answer.citations
    for citation in answer.citations:
        hit = answer.hits[citation.n - 1]
        assert citation.focus_start is not None and citation.focus_end is not None
        assert any(a.start <= citation.focus_start and citation.focus_end <= a.end for a in hit.anchors)



def test_a_widened_passage_keeps_the_best_evidence_of_every_chunk_merged_into_it(widened: Assistant) -> None:
    first, second, *_ = widened.retriever.search("glacier melt rates?", k=3, widen=0).hits
    assert first.chunk.source == second.chunk.source  # neighbours: widening merges them
    # The passage's representative is weak on both lists; the chunk merged into it is the keyword
    # list's first and the best dense match. The refusal gate must still see that evidence.
    weak = replace(first, dense_score=0.1, dense_rank=7, keyword_score=None, keyword_rank=0)
    strong = replace(second, dense_score=0.5, dense_rank=1, keyword_score=3.0, keyword_rank=1)
    passage = widened.retriever._widen([weak, strong], 1, 2)[0]
    assert {a.chunk_id for a in passage.anchors} >= {first.chunk.chunk_id, second.chunk.chunk_id}
    assert (passage.dense_score, passage.dense_rank, passage.keyword_rank) == (0.5, 1, 1)
    assert passage.rank == 1 and passage.chunk.chunk_id == first.chunk.chunk_id


def test_two_passages_one_chunk_apart_are_joined_through_it(widened: Assistant) -> None:
    plain = widened.retriever.search("glacier melt rates?", k=1, widen=0).hits[0]
    chunks = widened.document_chunks(plain.chunk.source)
    assert len(chunks) >= 8

    def found(*indices: int) -> list[Hit]:
        return [replace(plain, chunk=chunks[i], rank=r) for r, i in enumerate(indices, 1)]

    # Chunks 1 and 5 widen to 0-2 and 4-6: only chunk 3 keeps them apart, so it joins them.
    (passage,) = widened.retriever._widen(found(1, 5), 1, 2)
    assert (passage.chunk.start, passage.chunk.end) == (chunks[0].start, chunks[6].end)
    assert chunks[3].text in passage.chunk.text
    assert [a.chunk_id for a in passage.anchors] == [chunks[1].chunk_id, chunks[5].chunk_id]
    # Two chunks apart (0-2 and 5-7): two passages.
    apart = widened.retriever._widen(found(1, 6), 1, 2)
    assert [(p.chunk.start, p.chunk.end) for p in apart] == [(chunks[0].start, chunks[2].end),
                                                             (chunks[5].start, chunks[7].end)]


def test_a_hit_next_to_a_passage_extends_it_after_k_passages_are_found(widened: Assistant) -> None:
    plain = widened.retriever.search("glacier melt rates?", k=1, widen=0).hits[0]
    chunks = widened.document_chunks(plain.chunk.source)

    def found(*indices: int) -> list[Hit]:
        return [replace(plain, chunk=chunks[i], rank=r) for r, i in enumerate(indices, 1)]

    assert len(chunks) == 8
    # k=1: chunk 1 gives the passage 0-2; chunk 4 (3-5) adjoins it and is read with it, and chunk 7
    # (6-7) then adjoins that; a hit further away would need a second passage and is left out.
    (passage,) = widened.retriever._widen(found(1, 4, 7), 1, 1)
    assert (passage.chunk.start, passage.chunk.end) == (chunks[0].start, chunks[7].end)
    assert [a.rank for a in passage.anchors] == [1, 2, 3]
    assert widened.retriever._widen(found(1, 7), 1, 1)[0].chunk.end == chunks[2].end  # 3 chunks from 0-2


def test_a_hit_between_two_passages_joins_them_into_one(widened: Assistant) -> None:
    plain = widened.retriever.search("glacier melt rates?", k=1, widen=0).hits[0]
    chunks = widened.document_chunks(plain.chunk.source)
    hits = [replace(plain, chunk=chunks[i], rank=r) for r, i in enumerate((1, 7, 4), 1)]
    # 0-2 and 6-7 are two passages; chunk 4 grows to 3-5, which adjoins both: one passage.
    (passage,) = widened.retriever._widen(hits, 1, 2)
    assert (passage.chunk.start, passage.chunk.end) == (chunks[0].start, chunks[7].end)
    assert sorted(a.rank for a in passage.anchors) == [1, 2, 3]
    text = Path(passage.chunk.source).read_text()
    assert passage.chunk.text == text[passage.chunk.start:passage.chunk.end]


def test_a_passage_merged_across_pdf_pages_cites_the_page_of_the_quote() -> None:
    text = "Pumps need oil. " * 3 + "Valves open at dawn. " * 3 + "Filters last a year. " * 3
    cuts = [0, 48, 111, len(text)]
    parts = [Chunk(f"c{i}", "d", "manual.pdf", text[a:b], a, b, i, page=i + 2)
             for i, (a, b) in enumerate(itertools.pairwise(cuts))]
    passage = merge_chunks(parts[:2], parts[0], _words)
    assert passage.text == text[0:111] and passage.page == 2
    assert (passage.page_at(10), passage.page_at(60)) == (2, 3)
    bridged = merge_chunks([passage, parts[2]], passage, _words)  # a merged passage merged again keeps its pages
    assert [bridged.page_at(x) for x in (10, 60, 120)] == [2, 3, 4]
    pageless = [replace(p, page=None) for p in parts]  # not a PDF
    assert merge_chunks(pageless, pageless[0], _words).page_at(60) is None


def test_a_merged_passage_counts_each_token_once() -> None:
    names = [f"w{i}" for i in range(30)]
    text = " ".join(names)
    words = [len(" ".join(names[:i])) + (1 if i else 0) for i in range(30)] + [len(text) + 1]

    def part(i: int, first: int, last: int) -> Chunk:  # words first..last-1, one space before each
        a, b = words[first], words[last] - 1
        return Chunk(f"c{i}", "d", "doc.md", text[a:b], a, b, i, n_tokens=last - first,
                     gap_before=" " if first else "")

    # Disjoint parts, whitespace between: the counts add up.
    separate = [part(0, 0, 10), part(1, 10, 20), part(2, 20, 30)]
    assert merge_chunks(separate, separate[0], _words).n_tokens == 30
    # The splitter's overlap: words 8-9 are in both parts.
    overlapping = [part(0, 0, 10), part(1, 8, 20)]
    merged = merge_chunks(overlapping, overlapping[0], _words)
    assert merged.text == text[words[0]:words[20] - 1] and merged.n_tokens == 20
    # A passage merged again with a hit grown into it (parts 1-2 in both), and a part inside it.
    passage = merge_chunks(separate[:2], separate[0], _words)
    grown = merge_chunks(separate[1:], separate[1], _words)
    again = merge_chunks([passage, separate[1], grown], passage, _words)
    assert again.text == text and again.n_tokens == _words(text) == 30
    # Parts that touch without whitespace may split a word: the merged text is counted whole.
    touching = [Chunk("a", "d", "doc.md", "abc", 0, 3, 0, n_tokens=1),
                Chunk("b", "d", "doc.md", "def", 3, 6, 1, n_tokens=1)]
    assert merge_chunks(touching, touching[0], _words).n_tokens == 1


def test_widened_passages_count_their_tokens_once(widened: Assistant) -> None:
    plain = widened.retriever.search("glacier melt rates?", k=1, widen=0).hits[0]
    chunks = widened.document_chunks(plain.chunk.source)
    hits = [replace(plain, chunk=chunks[i], rank=r) for r, i in enumerate((2, 4), 1)]
    (passage,) = widened.retriever._widen(hits, 1, 2)  # 1-3 and 3-5 share chunk 3
    assert (passage.chunk.start, passage.chunk.end) == (chunks[1].start, chunks[5].end)
    assert passage.chunk.n_tokens == sum(c.n_tokens for c in chunks[1:6])
    assert passage.chunk.n_tokens == widened.embedder.count_tokens(passage.chunk.text)


def test_neighbours_come_from_the_keyword_snapshot_until_the_store_is_written(
        widened: Assistant, monkeypatch: pytest.MonkeyPatch) -> None:
    # A filtered Chroma read per question cost ~20 ms at 10,000 chunks: the snapshot holds every
    # chunk, so widening reads none while no process wrote since it was taken.
    question = "glacier melt rates?"
    store = widened.retriever.store
    reads: list[object] = []
    real = store.at_positions
    monkeypatch.setattr(store, "at_positions", lambda positions: reads.append(positions) or real(positions))
    snapshot = widened.retriever.keyword.snapshot()
    via_snapshot = widened.retriever.search(question, k=2).hits
    assert reads == []
    assert "Section 2" in via_snapshot[0].chunk.text and "Section 5" in via_snapshot[0].chunk.text
    # A snapshot older than the store's last write is not trusted: the store is read, with the same result.
    older = replace(snapshot, generation=(snapshot.generation or 0) - 1)
    via_store = widened.retriever.search(question, k=2, keyword=older).hits
    assert len(reads) == 1
    assert [(h.chunk.chunk_id, h.chunk.start, h.chunk.end, h.chunk.text) for h in via_snapshot] == [
        (h.chunk.chunk_id, h.chunk.start, h.chunk.end, h.chunk.text) for h in via_store]
