"""The Python API: ``Assistant`` indexes documents and answers questions with checked citations."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from index.embedding import Embedder, MiniLMEmbedder, is_common_word
from index.ingest import IngestReport, ProgressFn, ingest
from index.lock import WriterLock
from index.store import ChunkStore, make_client
from rag.checking import REFUSAL_TEXT, CheckedText, check_draft, draft_from_text
from rag.embedding_cache import CachingEmbedder
from rag.followup import condense
from rag.generators import ExtractiveGenerator, Generator
from rag.records import Answer, Draft, Hit, Relevance, Retrieval
from rag.relevance import judge_relevance
from rag.retrieval import HybridRetriever, RetrievalConfig
from rag.settings import Settings
from rag.support import HeuristicJudge, Judge, absent_words, names_in, unknown_terms, unmatched_terms

if TYPE_CHECKING:  # LangChain's retriever module takes ~0.5 s to import: only when asked for
    from rag.langchain_retriever import RagRetriever

# Calibrated on evals/datasets/examples.jsonl: the top hit's dense cosine below this means the
# documents do not cover the question (see README "Refusal threshold").
DEFAULT_REFUSAL_THRESHOLD = 0.3
# Two or more of the question's words absent from every document ("wind turbine" asked of solar
# guides) refuse unless retrieval is this confident; measured on both eval sets (README).
# A question naming something the best keyword match holds may score this much under the threshold.
NAMED_MARGIN = 0.1
ABSENT_WORDS_LIMIT = 2
ABSENT_WORDS_TOP_DENSE = 0.6


class Assistant:
    """Question answering over your documents, every sentence cited and checked.

    >>> from rag import Assistant
    >>> a = Assistant("./index")                       # doctest: +SKIP
    >>> report = a.add(["docs/"])                      # doctest: +SKIP
    >>> ans = a.ask("what did Zelenskyy reject?")      # doctest: +SKIP
    >>> ans.text, ans.citations[0].source, ans.refused  # doctest: +SKIP
    """

    def __init__(self, index_dir: str | Path | None = None, collection: str | None = None, *,
                 settings: Settings | None = None, embedder: Embedder | None = None,
                 generator: Generator | None = None, chroma_url: str | None = None) -> None:
        base = settings or Settings.load()
        self.settings = base.replace(index_dir=Path(index_dir) if index_dir else None, collection=collection,
                                     chroma_url=chroma_url)
        self.embedder: Embedder = embedder or MiniLMEmbedder(precision=self.settings.embed_precision)
        # Question-time embeddings go through a cache: the judge re-embeds the quoted sentences.
        self.query_embedder = CachingEmbedder(self.embedder)
        client = make_client(self.settings.index_dir, self.settings.chroma_url)
        self.store = ChunkStore(client, self.settings.collection, self.embedder.name, self.embedder.dimension)
        self.retriever = HybridRetriever(self.store, self.query_embedder, RetrievalConfig(
            k=self.settings.k, fusion=self.settings.fusion, widen=self.settings.widen))  # type: ignore[arg-type]
        self.generator: Generator = generator or self._make_generator()
        self.judge: Judge = self._make_judge()
        threshold = self.settings.refusal_threshold
        self.refusal_threshold = DEFAULT_REFUSAL_THRESHOLD if threshold is None else threshold

    def _make_generator(self) -> Generator:
        if self.settings.backend == "extractive":
            return ExtractiveGenerator(self.query_embedder)
        from rag.backends import make_llm_generator

        return make_llm_generator(self.settings)

    def _make_judge(self) -> Judge:
        heuristic = HeuristicJudge(self._similarity)
        if self.settings.judge != "llm":
            return heuristic
        from rag.backends import make_llm_judge

        return make_llm_judge(self.settings, self.generator, fallback=heuristic)

    def _similarity(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        left = self.query_embedder.embed([a for a, _ in pairs])
        right = self.query_embedder.embed([b for _, b in pairs])
        return [float(x) for x in np.einsum("ij,ij->i", left, right)]

    # ---- documents ---------------------------------------------------------------------------

    def add(self, paths: str | Path | Sequence[str | Path], prune: bool = False,
            progress: ProgressFn | None = None) -> IngestReport:
        """Index files and folders (idempotent); holds the writer lock while writing.

        >>> report = a.add("docs/")  # doctest: +SKIP
        >>> report.chunks_added, [f.path for f in report.files_failed]  # doctest: +SKIP
        """
        items = [paths] if isinstance(paths, str | Path) else list(paths)
        with self._writer():
            report = ingest(self.store, self.embedder, items, prune=prune, max_bytes=self.settings.max_bytes,
                            progress=progress)
        self.retriever.keyword.refresh()
        return report

    def sources(self) -> dict[str, int]:
        """Indexed files with their chunk counts."""
        return self.store.sources()

    def remove(self, source: str | Path) -> int:
        """Remove one indexed file (by its path as listed in ``sources()``); returns chunks removed."""
        name = str(source)
        if name not in self.store.sources():
            resolved = str(Path(name).expanduser().resolve())
            name = resolved if resolved in self.store.sources() else name
        with self._writer():
            removed = self.store.delete_source(name)
            if removed:
                self.store.bump_generation()
        self.retriever.keyword.refresh()
        return removed

    def _writer(self) -> WriterLock | _NoLock:
        if self.settings.chroma_url:
            return _NoLock()  # the Chroma server serialises writes itself
        return WriterLock(self.settings.index_dir)

    # ---- questions -----------------------------------------------------------------------------

    def retrieve(self, question: str, k: int | None = None, sources: Sequence[str] | None = None) -> list[Hit]:
        """The passages hybrid retrieval finds for ``question``, best first."""
        return self.retriever.retrieve(question, k=k or self.settings.k, sources=sources)

    def ask(self, question: str, k: int | None = None, strict: bool | None = None,
            sources: Sequence[str] | None = None, history: Sequence[str] = ()) -> Answer:
        """Answer ``question``; every sentence carries ``[n]`` citations with a support verdict.

        >>> ans = a.ask("what did Zelenskyy reject?")  # doctest: +SKIP
        >>> ans.sentences[0].support, ans.citations[0].quote  # doctest: +SKIP
        """
        answer: Answer | None = None
        for item in self.ask_stream(question, k=k, strict=strict, sources=sources, history=history):
            if isinstance(item, Answer):
                answer = item
        assert answer is not None
        return answer

    def ask_stream(self, question: str, k: int | None = None, strict: bool | None = None,
                   sources: Sequence[str] | None = None, history: Sequence[str] = ()) -> Iterator[str | Answer]:
        """Yield answer text as it is generated, then the final checked ``Answer``.

        Safe to call from many threads at once: everything one question needs travels in local
        values (``Retrieval``, ``Draft``, verdicts), never on this object.
        """
        question = question.strip()
        if not question:
            raise ValueError("the question is empty")
        strict = self.settings.strict if strict is None else strict
        timings: dict[str, float] = {}
        started = time.perf_counter()
        standalone = self._condense(question, history)
        timings["condense"] = time.perf_counter() - started
        t = time.perf_counter()
        retrieval, missing = self._retrieve_for_answer(standalone, k or self.settings.k, sources)
        hits = list(retrieval.hits)
        timings["retrieve"] = time.perf_counter() - t
        top_dense = max((h.dense_score or 0.0 for h in hits), default=0.0)
        base = dict(question=question, standalone_question=standalone, hits=tuple(hits),
                    backend=self.generator.name, judge=self.judge.name)
        named = top_dense >= self.refusal_threshold - NAMED_MARGIN and self._names_a_match(standalone, hits)
        if (top_dense < self.refusal_threshold and not named) or missing:
            timings["total"] = time.perf_counter() - started
            reason = (f"your documents never mention {', '.join(repr(m) for m in missing)}" if missing else
                      "no passage of your documents is close enough to the question")
            yield Answer(text=REFUSAL_TEXT, sentences=(), citations=(), refused=True, related=tuple(hits[:3]),
                         timings=timings, refusal_reason=reason, **base)  # type: ignore[arg-type]
            return
        t = time.perf_counter()
        pieces: list[str] = []
        draft: Draft | None = None
        for piece in self.generator.stream(standalone, hits, retrieval.query_vector):
            if isinstance(piece, Draft):
                draft = piece
                continue
            pieces.append(piece)
            yield piece
        if draft is None:  # a generator that only streams text: parse its markers
            draft = draft_from_text("".join(pieces), len(hits))
        timings["generate"] = time.perf_counter() - t
        t = time.perf_counter()
        checked = check_draft(draft, hits, self.judge, strict=strict)
        relevance = self._relevance(standalone, retrieval, draft, checked) if checked.sentences else None
        timings["check"] = time.perf_counter() - t
        timings["total"] = time.perf_counter() - started
        # An answer that may not address the question is flagged (``relevance``), not refused: refusing
        # it was measured and refused answerable questions (README "What an answer is").
        if not draft.text.strip() or checked.refused or draft.declined:
            # The answer as a whole is a refusal, but what the answerer wrote stays inspectable: its
            # sentences keep their verdicts (strict mode has already moved them to ``removed``).
            reason = ("the answerer found nothing to quote" if not draft.text.strip() else
                      "the model said the passages do not answer the question" if draft.declined else
                      "no sentence of the drafted answer is supported by the passage it cites")
            yield Answer(text=REFUSAL_TEXT, sentences=checked.sentences, citations=checked.citations, refused=True,
                         related=tuple(hits[:3]), removed=checked.removed, timings=timings, relevance=relevance,
                         refusal_reason=reason, **base)  # type: ignore[arg-type]
            return
        yield Answer(text=checked.text, sentences=checked.sentences, citations=checked.citations, refused=False,
                     removed=checked.removed, timings=timings, relevance=relevance, **base)  # type: ignore[arg-type]

    def _retrieve_for_answer(self, question: str, k: int, sources: Sequence[str] | None
                             ) -> tuple[Retrieval, list[str]]:
        """Hybrid retrieval, and the question's terms that rule an answer out: names and numbers no
        retrieved passage holds, and technical terms no indexed document holds.

        A name the first pass missed but some document holds (say "TLS") gets a second, keyword-led
        pass: BM25 searches for the question with the missing names stressed, and never refuses. A
        name or number no indexed document contains is returned, and the question is refused.
        """
        keyword = self.retriever.keyword
        retrieval = self.retriever.search(question, k=k, sources=sources)
        vocabulary = keyword.vocabulary()
        unknown = unknown_terms(question, vocabulary.knows, is_common_word)
        if unknown:
            return retrieval, unknown
        absent = absent_words(question, vocabulary.knows)
        top_dense = max((h.dense_score or 0.0 for h in retrieval.hits), default=0.0)
        if len(absent) >= ABSENT_WORDS_LIMIT and top_dense < ABSENT_WORDS_TOP_DENSE:
            return retrieval, absent
        missing = unmatched_terms(question, [h.chunk.text for h in retrieval.hits])
        nowhere = [term for term in missing if not keyword.search(term, 1, sources)]
        if nowhere or not missing:
            return retrieval, nowhere
        # Every missing term is in some document: look again, led by those terms, and let the best
        # passages holding them take the last places (the answerer and the relevance check judge them).
        second = self.retriever.search(question, k=4 * k, sources=sources, keyword_query=" ".join(missing),
                                       query_vector=retrieval.query_vector)
        taken = {h.chunk.chunk_id for h in retrieval.hits}
        holding = [h for h in second.hits if h.chunk.chunk_id not in taken
                   and any(term in h.chunk.text.lower() for term in missing)][:max(1, k // 2)]
        hits = [*retrieval.hits[:max(0, k - len(holding))], *holding]
        merged = tuple(replace(h, rank=i) for i, h in enumerate(hits, 1))
        return Retrieval(question, merged, retrieval.query_vector), []

    def _names_a_match(self, question: str, hits: Sequence[Hit]) -> bool:
        """The question names something specific (a name, a rare word) that the best keyword match
        holds: "Who is Jared Kushner?". MiniLM gives such short questions low cosines (0.28 here), so
        these are answered a little under the dense threshold (``NAMED_MARGIN``)."""
        top = next((h for h in hits if h.keyword_rank == 1), None)
        if top is None:
            return False
        text = top.chunk.text.lower()
        words = {w.lower() for w in re.findall(r"[A-Za-z][\w-]+", question)}
        specific = {w for w in words if len(w) >= 4 and not is_common_word(w)} | \
            {n for n in names_in(question) if len(n) >= 4}
        return any(w in text for w in specific)

    def _relevance(self, question: str, retrieval: Retrieval, draft: Draft, checked: CheckedText) -> Relevance:
        """Does the answer address the question? Similarity of its best sentence to the question
        (as the answerer measured it, else embedded here), the question's words it covers, and
        whether it carries what the question asks for."""
        measured = [d.similarity for d in draft.sentences if d.similarity is not None]
        if measured:
            similarity = max(measured)
        else:
            vector = retrieval.query_vector
            if vector is None:
                vector = self.query_embedder.embed([question])[0]
            similarity = float(np.max(self.query_embedder.embed([s.text for s in checked.sentences]) @ vector))
        headings = [" ".join(h.chunk.heading) for h in retrieval.hits]
        return judge_relevance(question, [s.text for s in checked.sentences], similarity, headings)

    def _condense(self, question: str, history: Sequence[str]) -> str:
        condenser = getattr(self.generator, "condense", None)
        if history and condenser is not None:
            return str(condenser(question, history))
        return condense(question, history)

    def chat(self) -> ChatSession:
        """A conversation whose follow-up questions use the earlier turns.

        >>> chat = a.chat()                              # doctest: +SKIP
        >>> chat.ask("what did Zelenskyy reject?")       # doctest: +SKIP
        >>> chat.ask("and what did he offer instead?")   # doctest: +SKIP
        """
        return ChatSession(self)

    def as_langchain_retriever(self, k: int | None = None, sources: Sequence[str] | None = None) -> RagRetriever:
        """This index as a LangChain ``BaseRetriever`` (``invoke(query, k=…, sources=…)`` per call)."""
        from rag.langchain_retriever import RagRetriever

        return RagRetriever(hybrid=self.retriever, k=k or self.settings.k, sources=tuple(sources) if sources else None)


@dataclass
class ChatSession:
    """History of one conversation; ``ask`` resolves follow-ups against earlier questions."""

    assistant: Assistant
    turns: list[Answer] = field(default_factory=list)

    def ask(self, question: str, **kwargs: object) -> Answer:
        answer = self.assistant.ask(question, history=self.history, **kwargs)  # type: ignore[arg-type]
        self.turns.append(answer)
        return answer

    def ask_stream(self, question: str, **kwargs: object) -> Iterator[str | Answer]:
        for item in self.assistant.ask_stream(question, history=self.history, **kwargs):  # type: ignore[arg-type]
            if isinstance(item, Answer):
                self.turns.append(item)
            yield item

    @property
    def history(self) -> list[str]:
        return [t.standalone_question or t.question for t in self.turns]

    def reset(self) -> None:
        self.turns.clear()


class _NoLock:
    def __enter__(self) -> _NoLock:
        return self

    def __exit__(self, *exc: object) -> None:
        return None
