"""Hybrid retrieval: dense (Chroma) + keyword (BM25), fused, optionally diversified and widened."""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np

from index.embedding import Embedder, embed_query
from index.errors import UsageError
from index.records import Chunk
from index.sentence_store import SentenceStore
from index.store import ChunkStore
from rag.records import Anchor, Hit, Retrieval
from rag.retrieve.fusion import distinct_texts, minmax_fusion, mmr, rrf
from rag.retrieve.keyword import KeywordIndex, KeywordSnapshot
from rag.settings import MAX_K, SettingsError


@dataclass(frozen=True)
class RetrievalConfig:
    """``candidates`` per retriever before fusion; ``sentences`` nearest stored sentences looked at
    (a chunk scores by its best one; 0 turns the sentence list off); ``widen`` neighbours on each
    side of a hit. The lists are fused with equal weights (other weights measured: README)."""

    k: int = 5
    candidates: int = MAX_K
    sentences: int = 100
    fusion: Literal["rrf", "minmax"] = "minmax"
    mmr: bool = False
    mmr_lambda: float = 0.7
    widen: int = 0


class HybridRetriever:
    """Dense + BM25 retrieval over one ``ChunkStore``, and a third list from the sentence vectors
    stored at ingest when the index has them (README "Retrieval").

    Shared by every request: it keeps no per-call state; ``search`` returns all a caller needs.

    >>> retriever = HybridRetriever(store, embedder)  # doctest: +SKIP
    >>> [h.chunk.source for h in retriever.retrieve("what did Zelenskyy reject?", k=3)]  # doctest: +SKIP
    """

    def __init__(self, store: ChunkStore, embedder: Embedder, config: RetrievalConfig | None = None,
                 sentences: SentenceStore | None = None) -> None:
        self.store = store
        self.sentences = sentences
        self.embedder = embedder
        self.keyword = KeywordIndex(store)
        self.config = config or RetrievalConfig()

    def retrieve(self, question: str, k: int | None = None, sources: str | Sequence[str] | None = None,
                 use_mmr: bool | None = None, widen: int | None = None) -> list[Hit]:
        """The hits for ``question``, best first (``search`` also returns the question's vector);
        ``sources`` are checked (``check_sources``)."""
        if not question.strip():
            raise UsageError("the question is empty")  # as ``ask`` says: no hits for nothing asked
        keyword = self.keyword.snapshot()
        wanted = check_sources(sources, keyword.sources)
        return list(self.search(question, k=k, sources=wanted, use_mmr=use_mmr, widen=widen, keyword=keyword).hits)

    def search(self, question: str, k: int | None = None, sources: Sequence[str] | None = None,
               use_mmr: bool | None = None, widen: int | None = None, keyword_query: str | None = None,
               query_vector: np.ndarray | None = None, keyword: KeywordSnapshot | None = None) -> Retrieval:
        """Hybrid retrieval for ``question``. ``keyword_query`` replaces the question on the BM25 side
        (a keyword-led second pass for a name the first pass missed); ``query_vector`` skips
        re-embedding a question embedded before; ``keyword`` is the keyword index as the caller
        already read it (one freshness check per question)."""
        cfg = self.config
        k = k or cfg.k
        vector = query_vector if query_vector is not None else embed_query(self.embedder, [question])[0]
        keyword = keyword or self.keyword.snapshot()  # first: its generation read also freshens the dense side
        dense = self.store.query(vector, cfg.candidates, sources)
        keyword_hits = keyword.search(keyword_query or question, cfg.candidates, sources)
        chunks: dict[str, Chunk] = {c.chunk_id: c for c, _ in dense + keyword_hits}
        dense_scores = {c.chunk_id: s for c, s in dense}
        keyword_scores = {c.chunk_id: s for c, s in keyword_hits}
        dense_rank = {c.chunk_id: i for i, (c, _) in enumerate(dense, 1)}
        keyword_rank = {c.chunk_id: i for i, (c, _) in enumerate(keyword_hits, 1)}
        sentence_scores = self._sentence_scores(vector, cfg, sources, chunks)
        sentence_rank = {cid: i for i, cid in enumerate(sentence_scores, 1)}
        lists = [dense_scores, keyword_scores] + ([sentence_scores] if sentence_scores else [])
        # Each list is ordered best first, as RRF needs.
        fused = minmax_fusion(lists) if cfg.fusion == "minmax" else rrf([list(scores) for scores in lists])
        order = sorted(fused, key=lambda cid: (-fused[cid], dense_rank.get(cid, 10**9)))
        order = distinct_texts(order, lambda cid: chunks[cid].text)  # identical files: their passage once
        if use_mmr if use_mmr is not None else cfg.mmr:
            pool = order[: max(k * 4, 20)]
            vectors = self.store.vectors(pool)
            order = mmr(pool, {c: fused[c] / (max(fused.values()) or 1.0) for c in pool},
                        lambda a, b: float(vectors[a] @ vectors[b]) if a in vectors and b in vectors else 0.0,
                        k=k, lambda_=cfg.mmr_lambda)
        width = cfg.widen if widen is None else widen
        # Widened passages can merge: look further down the ranking so k passages are returned.
        # the first k*(2*width+1) may extend passages; as many again may only start new ones.
        reach = k * (2 * width + 1)
        top = order[:2 * reach] if width > 0 else order[:k]
        cosines = self._cosines(vector, [cid for cid in top if cid not in dense_scores])
        hits = [Hit(chunk=chunks[cid], score=round(fused[cid], 6), rank=i,
                    dense_score=dense_scores.get(cid, cosines.get(cid)), dense_rank=dense_rank.get(cid, 0),
                    keyword_score=keyword_scores.get(cid), keyword_rank=keyword_rank.get(cid, 0),
                    sentence_score=sentence_scores.get(cid), sentence_rank=sentence_rank.get(cid, 0))
                for i, cid in enumerate(top, 1)]
        return Retrieval(question, tuple(self._widen(hits, width, k, reach, keyword) if width > 0 else hits), vector)

    def _cosines(self, vector: np.ndarray, ids: Sequence[str]) -> dict[str, float]:
        """The dense cosine of hits that only the keyword or sentence list found, from their stored
        vectors: the refusal gate weighs every passage it is shown, not only the dense candidates."""
        stored = self.store.vectors(ids)
        return {cid: round(float(v @ vector), 6) for cid, v in stored.items()}

    def _sentence_scores(self, vector: np.ndarray, cfg: RetrievalConfig, sources: Sequence[str] | None,
                         chunks: dict[str, Chunk]) -> dict[str, float]:
        """Chunks by their best stored sentence, best first (empty without sentence vectors). Chunks
        not among the dense and keyword candidates are added to ``chunks``; a sentence whose chunk
        is gone (left by a crash) is skipped."""
        if self.sentences is None or cfg.sentences <= 0:
            return {}
        best = dict(list(self.sentences.best_chunks(vector, cfg.sentences, sources).items())[:cfg.candidates])
        chunks.update((c.chunk_id, c) for c in self.store.get([cid for cid in best if cid not in chunks]))
        return {cid: score for cid, score in best.items() if cid in chunks}

    def chunks_at(self, wanted: Mapping[str, set[int]], keyword: KeywordSnapshot | None
                  ) -> dict[tuple[str, int], Chunk]:
        """The chunks at the ``wanted`` positions, by (source, position): from the keyword snapshot
        when no process wrote to the store since it was taken (it holds every chunk; one metadata
        read instead of a filtered Chroma read, which took ~20 ms a question at 10,000 chunks:
        bench "retrieval at 10000 chunks"), else from the store."""
        if keyword is not None and keyword.generation is not None and keyword.generation == self.store.generation():
            return keyword.at_positions(wanted)
        return {(n.source, n.index): n for n in self.store.at_positions({s: sorted(i) for s, i in wanted.items()})}

    def _widen(self, hits: list[Hit], width: int, k: int, reach: int | None = None,
               keyword: KeywordSnapshot | None = None) -> list[Hit]:
        """Grow hits by their neighbours, best first, into at most ``k`` passages (best rank kept).
        Among the first ``reach`` hits (all by default), one whose grown passage overlaps or adjoins
        a passage already taken, or that only one chunk keeps apart from it (joined through that
        chunk), extends that passage, also once ``k`` passages are found: text the ranking finds
        next to a passage is read with it, since the evidence often sits beside or between matching
        chunks (measured: README "Evaluations"). Hits after ``reach`` only start new passages
        that overlap none taken, until there are ``k``."""
        reach = len(hits) if reach is None else reach
        wanted: dict[str, set[int]] = {}
        for position, hit in enumerate(hits):
            c = hit.chunk
            reach_out = width + 1 if position < reach else width  # one more for a bridge: only hits that may join
            wanted.setdefault(c.source, set()).update(i for i in range(c.index - reach_out, c.index + reach_out + 1)
                                                      if i >= 0 and i != c.index)
        # One read for every neighbour a widened hit may need (a few more than those used).
        stored = self.chunks_at(wanted, keyword)
        merged: list[Hit] = []
        spans: list[tuple[int, int]] = []  # chunk indices each merged passage covers
        for position, hit in enumerate(hits):
            deep = position >= reach
            if deep and len(merged) >= k:
                break
            c = hit.chunk
            overlap = next((m for m in merged if m.chunk.source == c.source
                            and c.start <= m.chunk.end and m.chunk.start <= c.end), None)
            if deep and overlap is not None:
                continue
            anchor = Anchor(c.chunk_id, c.start, c.end, hit.rank, c.heading)
            if overlap is not None and overlap.chunk.start <= c.start and c.end <= overlap.chunk.end:
                merged[merged.index(overlap)] = replace(_fold_scores(overlap, hit), anchors=(*overlap.anchors, anchor))
                continue  # already inside a passage taken
            around = [stored[c.source, i] for i in range(c.index - width, c.index + width + 1)
                      if (c.source, i) in stored and i != c.index]
            parts = sorted([c, *around], key=lambda x: x.start)
            grown = replace(hit, chunk=merge_chunks(parts, c, self.embedder.count_tokens), anchors=(anchor,))
            span = (min(p.index for p in parts), max(p.index for p in parts))
            joined = [n for n, m in enumerate(merged) if m.chunk.source == c.source and (
                (grown.chunk.start <= m.chunk.end and m.chunk.start <= grown.chunk.end)
                or (not deep and (_next_to(spans[n], span) or _bridge(spans[n], span, c.source, stored) is not None)))]
            if deep and joined:
                continue  # it would repeat text of a passage taken
            if not joined:
                if len(merged) >= k:
                    continue  # no new passage, but a hit further down may still extend one taken
                merged.append(grown)
                spans.append(span)
                continue
            # The grown hit joins every passage it reaches (it may close the gap between two).
            first = merged[joined[0]]
            gaps = [g for n in joined if (g := _bridge(spans[n], span, c.source, stored)) is not None]
            parts = sorted([*(merged[n].chunk for n in joined), grown.chunk, *gaps], key=lambda x: x.start)
            passage = first
            for n in joined[1:]:
                passage = replace(_fold_scores(passage, merged[n]), anchors=passage.anchors + merged[n].anchors)
            passage_chunk = merge_chunks(parts, first.chunk, self.embedder.count_tokens)
            merged[joined[0]] = replace(_fold_scores(passage, grown), chunk=passage_chunk,
                                        anchors=passage.anchors + grown.anchors)
            covered = [span, *(spans[n] for n in joined)]
            spans[joined[0]] = (min(r[0] for r in covered), max(r[1] for r in covered))
            for n in reversed(joined[1:]):
                del merged[n], spans[n]
        return [replace(h, rank=i) for i, h in enumerate(merged, 1)]


def _next_to(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Whether chunk ranges ``a`` and ``b`` of one document are adjacent (no chunk between them)."""
    return a[1] + 1 == b[0] or b[1] + 1 == a[0]


def _bridge(a: tuple[int, int], b: tuple[int, int], source: str, stored: dict[tuple[str, int], Chunk]) -> Chunk | None:
    """The one chunk between two passages' chunk ranges ``a`` and ``b`` of ``source``, if exactly one
    lies between them and it was read."""
    gap = b[0] - 1 if a[1] + 2 == b[0] else a[0] - 1 if b[1] + 2 == a[0] else None
    return stored.get((source, gap)) if gap is not None else None


def _fold_scores(passage: Hit, found: Hit) -> Hit:
    """``passage`` (its fused score and rank kept) with the best list scores and ranks of a hit merged
    into it: the refusal gate reads them ("the keyword list's first passage holds the question",
    the best dense cosine), and a merged hit must not take its evidence away."""
    def best_rank(a: int, b: int) -> int:
        return min(r for r in (a, b) if r) if a or b else 0

    def best_score(a: float | None, b: float | None) -> float | None:
        return max(x for x in (a, b) if x is not None) if a is not None or b is not None else None

    return replace(passage,
                   dense_score=best_score(passage.dense_score, found.dense_score),
                   dense_rank=best_rank(passage.dense_rank, found.dense_rank),
                   keyword_score=best_score(passage.keyword_score, found.keyword_score),
                   keyword_rank=best_rank(passage.keyword_rank, found.keyword_rank),
                   sentence_score=best_score(passage.sentence_score, found.sentence_score),
                   sentence_rank=best_rank(passage.sentence_rank, found.sentence_rank))


def check_k(k: int, size: int) -> int:
    """``k`` when it is a whole number from 1 to ``size`` (the collection's passage count; ignored
    while 0) and at most ``MAX_K`` (the candidates each retriever gives fusion: more passages than
    that cannot be found, so a larger k is refused rather than quietly cut), else
    ``SettingsError`` in one sentence. The Python API, the CLI, the HTTP API and the LangChain
    retriever all validate ``k`` here.

    >>> check_k(3, 22)
    3
    >>> check_k(0, 22)
    Traceback (most recent call last):
    ...
    rag.settings.SettingsError: k must be at least 1, not 0
    >>> check_k(60, 0)
    Traceback (most recent call last):
    ...
    rag.settings.SettingsError: k must be at most 50 (retrieval ranks the best 50 candidates of each list), not 60
    """
    if isinstance(k, bool) or not isinstance(k, int):
        raise SettingsError(f"k must be a whole number, not {k!r}")
    if k < 1:
        raise SettingsError(f"k must be at least 1, not {k}")
    if size and k > size and size <= MAX_K:
        raise SettingsError(f"k must be at most {size}, the number of passages in the collection, not {k}")
    if k > MAX_K:
        raise SettingsError(f"k must be at most {MAX_K} (retrieval ranks the best {MAX_K} candidates of each list), "
                            f"not {k}")
    return k


def check_sources(sources: str | Path | Sequence[str | Path] | None, indexed: Collection[str]
                  ) -> tuple[str, ...] | None:
    """The indexed paths ``sources`` names (None: every file), else ``SettingsError`` in one
    sentence. A source is a path as indexed or one that resolves to it (``docs/a.txt`` as it was
    added), or a folder, which names every indexed file under it; one path may come as a string.
    An unknown path is an error: filtering by it would silently leave nothing to answer from and
    the question would be refused for the wrong reason.

    >>> check_sources(["/docs/a.txt"], {"/docs/a.txt", "/docs/b.txt"})
    ('/docs/a.txt',)
    >>> check_sources("/docs/a.txt", {"/docs/a.txt"})
    ('/docs/a.txt',)
    >>> check_sources("/docs/py/", {"/docs/py/json.html", "/docs/py/os.html", "/docs/pyx.html"})
    ('/docs/py/json.html', '/docs/py/os.html')
    >>> check_sources(["/docs/c.txt"], {"/docs/a.txt"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    rag.settings.SettingsError: '/docs/c.txt' is not an indexed file, nor a folder holding one; give sources as ...
    """
    if sources is None:
        return None
    named = [sources] if isinstance(sources, str | Path) else list(sources)
    wanted: list[str] = []
    for source in named:
        path = str(source)
        if path in indexed:
            wanted.append(path)
            continue
        resolved = str(Path(path).expanduser().resolve())
        if resolved in indexed:
            wanted.append(resolved)
            continue
        under = sorted(p for p in indexed if p.startswith(resolved.rstrip(os.sep) + os.sep))
        if not under:
            raise SettingsError(f"{path!r} is not an indexed file, nor a folder holding one; give sources as "
                                "'rag sources' or GET /v1/documents list them")
        wanted.extend(under)
    return tuple(dict.fromkeys(wanted)) or None


def merge_chunks(parts: Sequence[Chunk], anchor: Chunk, count: Callable[[str], int]) -> Chunk:
    """One chunk spanning ``parts`` (sorted by start); the text between them is restored from
    ``gap_before``, so the merged text is the document's text at [start:end]. The result's own
    ``gap_before`` is its first part's (a passage merged again is restored exactly too).

    Its ``n_tokens`` counts the merged text's word pieces once. No word piece spans whitespace, so
    a part that whitespace separates from the text before it adds its own count; a part that
    overlaps it (the splitter's overlap, a passage and a hit grown into it) adds only the tokens of
    its new tail, found by ``count`` (the embedding model's tokenizer) on the tail or on the shared
    text, whichever is shorter (measured: ~1 ms a question instead of ~4 ms counting whole
    passages). Parts that touch without whitespace are counted whole."""
    text = parts[0].text
    start, end = parts[0].start, parts[0].end
    tokens, additive = parts[0].n_tokens, True
    for part in parts[1:]:
        if part.end <= end:
            continue  # inside the text already: nothing new
        if part.start >= end:
            gap = part.gap_before if len(part.gap_before) == part.start - end else " " * (part.start - end)
            text += gap + part.text
            tokens += part.n_tokens
            additive = additive and gap != "" and gap.isspace()
        else:
            shared, tail = part.text[:end - part.start], part.text[end - part.start:]
            text += tail
            if tail[:1].isspace():  # the shared text ends between words: its tokens are the part's first ones
                tokens += count(tail) if len(tail) < len(shared) else part.n_tokens - count(shared)
            else:
                additive = False
        end = part.end
    n_tokens = tokens if additive else count(text)
    # Where each page begins, merged passages' own page starts included (a bridge merges merged ones).
    pages = sorted((s, n) for p in parts for s, n in (p.page_starts or ((p.start, p.page),)) if n is not None)
    page_starts = tuple((s, n) for i, (s, n) in enumerate(pages) if i == 0 or n != pages[i - 1][1])
    return replace(anchor, text=text, start=start, end=end, n_tokens=n_tokens,
                   page_starts=page_starts if len(page_starts) > 1 else (), gap_before=parts[0].gap_before)
