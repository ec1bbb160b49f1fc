"""Packing passages into an LLM's window: the chunks retrieval found come first, widened passages are
sent whole only where the window allows. Packing whole widened passages alone left the evidence out of
a 2,048-token window for over half of the Python-docs questions (one or two passages of ~1,000+ tokens
filled it)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from index.records import Chunk
from rag.answer.prompting import pack_sources, prompt_source_block
from rag.records import Anchor, Hit


def count(text: str) -> int:
    return len(text.split())


def _document(n_chunks: int, words: int = 20) -> list[tuple[int, int, str]]:
    """Chunks of one document as (start, end, text), one space apart, ``words`` words each."""
    chunks, start = [], 0
    for i in range(n_chunks):
        text = " ".join(f"c{i}w{j}" for j in range(words))
        chunks.append((start, start + len(text), text))
        start += len(text) + 1
    return chunks


def _widened(doc: list[tuple[int, int, str]], first: int, last: int, found: dict[int, int], rank: int) -> Hit:
    """The passage of chunks ``first``..``last`` of ``doc``, with ``found`` (chunk: fused rank) inside it."""
    text = " ".join(t for _, _, t in doc[first:last + 1])
    chunk = Chunk(f"p{first}", "d", "/docs/guide.txt", text, doc[first][0], doc[last][1], first)
    anchors = tuple(Anchor(f"c{i}", doc[i][0], doc[i][1], r) for i, r in sorted(found.items(), key=lambda x: x[1]))
    return Hit(chunk, 1.0 / rank, rank, anchors=anchors)


def _cost(i: int, hit: Hit) -> int:
    return count(prompt_source_block(i + 1, hit)) + 1


def test_widened_passages_that_do_not_fit_whole_send_the_chunks_found_best_first() -> None:
    doc = _document(12)
    passages = [_widened(doc, 0, 6, {2: 1, 5: 4}, 1), _widened(doc, 8, 11, {9: 2}, 2)]
    # Room for three chunks' blocks, not for the first passage whole (7 chunks).
    sent = dict(pack_sources(passages, 3 * 30, count))
    assert sorted(sent) == [0, 1]
    assert "c2w0" in sent[0].chunk.text and "c9w0" in sent[1].chunk.text  # the best two found
    assert "c0w0" not in sent[0].chunk.text  # the neighbours wait for room
    assert sum(_cost(i, hit) for i, hit in sent.items()) <= 90


def test_a_passage_the_refusal_gate_adds_last_waits_for_the_first_searchs_chunks() -> None:
    """The gate's second search adds passages in the last places; their chunks keep that search's
    ranks (1, 2…), which must not put them before the first search's second and third chunks."""
    doc = _document(20)
    passages = [_widened(doc, 0, 2, {1: 1}, 1), _widened(doc, 4, 6, {5: 2}, 2), _widened(doc, 8, 10, {9: 3}, 3),
                _widened(doc, 12, 14, {13: 1}, 4)]
    sent = pack_sources(passages, 2 * 30, count)  # room for two chunks
    assert [i for i, _ in sent] == [0, 1]


def test_with_room_for_everything_every_passage_is_sent_whole() -> None:
    doc = _document(12)
    passages = [_widened(doc, 0, 6, {2: 1, 5: 4}, 1), _widened(doc, 8, 11, {9: 2}, 2)]
    sent = pack_sources(passages, 10_000, count)
    assert [(i, hit) for i, hit in sent] == list(enumerate(passages))


@settings(max_examples=80, deadline=None)
@given(data=st.data(), available=st.integers(min_value=0, max_value=600))
def test_packing_never_overflows_and_sends_only_text_of_the_passages(data: st.DataObject, available: int) -> None:
    doc = _document(30, words=data.draw(st.integers(min_value=1, max_value=40)))
    passages, start, rank = [], 0, 1
    while start < 27 and len(passages) < 5:
        last = data.draw(st.integers(min_value=start, max_value=min(start + 6, 29)))
        inside = data.draw(st.lists(st.integers(min_value=start, max_value=last), min_size=1, max_size=3, unique=True))
        found = {i: rank + n for n, i in enumerate(inside)}
        rank += len(inside)
        passages.append(_widened(doc, start, last, found, len(passages) + 1))
        start = last + 2
    sent = pack_sources(passages, available, count)
    assert [i for i, _ in sent] == sorted({i for i, _ in sent})  # rank order, each once
    assert sum(_cost(i, hit) for i, hit in sent) <= available
    for i, hit in sent:
        for piece in hit.chunk.text.split(" … "):
            assert piece in passages[i].chunk.text
    best = min((a.rank, i, a) for i, p in enumerate(passages) for a in p.anchors)
    alone = Hit(Chunk("x", "d", "/docs/guide.txt", doc[int(best[2].chunk_id[1:])][2], 0, 1, 0), 1.0, 1)
    if _cost(best[1], alone) <= available:  # the best chunk found is sent whenever it fits alone
        assert any(alone.chunk.text in hit.chunk.text for i, hit in sent if i == best[1])
    if sum(_cost(i, p) for i, p in enumerate(passages)) <= available:
        assert [hit for _, hit in sent] == passages
