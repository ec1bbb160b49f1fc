"""The Python API: ``Assistant`` indexes documents and answers questions with checked citations."""

from __future__ import annotations

import threading
import time
from collections import abc
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from index.embedding import Embedder, embed_query, load_embedder
from index.errors import UsageError
from index.ingest import IngestProgress, IngestReport, ingest
from index.lock import WriterLock
from index.questions_first import QUESTIONS
from index.repair import RepairReport, repair
from index.sentence_store import SentenceStore
from index.store import ChunkStore, make_client, rag_collections
from rag.answer.extractive import ExtractiveConfig
from rag.answer.generators import ExtractiveGenerator
from rag.check.checker import REFUSAL_TEXT, CheckedText, check_draft, checked_with, draft_from_text, support_pairs
from rag.check.relevance import judge_relevance
from rag.check.support import offline_judge
from rag.followup import FollowUp, resolve
from rag.llm.registry import check_llm_settings
from rag.llm.streaming import stoppable_call
from rag.protocols import Generator, Judge
from rag.records import Answer, Chunk, Draft, Hit, Relevance, Retrieval, Withdrawal
from rag.retrieve.embedding_cache import CachingEmbedder
from rag.retrieve.hybrid import HybridRetriever, RetrievalConfig, check_k
from rag.retrieve.refusal_gate import DEFAULT_REFUSAL_THRESHOLD, GateResult, gate, unanswered_names
from rag.sentence_vectors import UNITS_VERSION, sentence_units
from rag.settings import Settings
from rag.text import content_words

if TYPE_CHECKING:  # LangChain's retriever module takes ~0.5 s to import: only when asked for
    from rag.retrieve.langchain import RagRetriever


def default_embedder(settings: Settings | None = None) -> Embedder:
    """The packaged MiniLM at the settings' precision (loaded on first use): what ``Assistant`` uses
    unless given another. Share one between assistants to load the model once.

    >>> shared = default_embedder()                                     # doctest: +SKIP
    >>> a, b = Assistant("./a", embedder=shared), Assistant("./b", embedder=shared)  # doctest: +SKIP
    """
    settings = settings or Settings.load()
    local = load_embedder(settings.embed_model, precision=settings.embed_precision)
    if settings.embed_url:  # embedding server: vectors from it, chunk windows still from the local tokenizer
        from index.remote_embedding import RemoteEmbedder

        return RemoteEmbedder.connect(settings.embed_url, local, model=settings.embed_server_model,
                                      api_key=settings.embed_api_key, concurrency=settings.embed_concurrency)
    return local


class Assistant:
    """Question answering over your documents, every sentence cited and checked.

    The constructor is cheap: it opens the index and checks the settings. The heavy things (the
    embedding model, the keyword index, an LLM backend's server) load on first use, or all at
    once in ``warm_up()``, which a server calls before it takes requests.

    >>> from rag import Assistant
    >>> a = Assistant("./index")                       # doctest: +SKIP
    >>> report = a.add(["docs/"])                      # doctest: +SKIP
    >>> ans = a.ask("what did Zelenskyy reject?")      # doctest: +SKIP
    >>> ans.text, ans.citations[0].source, ans.refused  # doctest: +SKIP
    """

    def __init__(self, index_dir: str | Path | None = None, collection: str | None = None, *,
                 settings: Settings | None = None, embedder: Embedder | None = None,
                 generator: Generator | None = None, chroma_url: str | None = None, create: bool = True) -> None:
        base = settings or Settings.load()
        # ``~`` as RAG_INDEX and --index have it (not a folder named '~' in the current one).
        self.settings = base.replace(index_dir=Path(index_dir).expanduser() if index_dir else None,
                                     collection=collection, chroma_url=chroma_url)
        self.embedder: Embedder = embedder or default_embedder(self.settings)
        # Question-time embeddings go through a cache: the judge re-embeds the quoted sentences.
        self.query_embedder = CachingEmbedder(self.embedder)
        # ``create=False``: an index that does not exist is an error, not a new empty one (read-only commands).
        client = make_client(self.settings.index_dir, self.settings.chroma_url, create=create,
                             timeout=self.settings.chroma_timeout)
        self.store = ChunkStore(client, self.settings.collection, self.embedder.name, self.embedder.dimension,
                                create=create, fingerprint=getattr(self.embedder, "fingerprint", None))
        # Sentence vectors stored at ingest: a third retrieval list, and the answerer's sentence vectors.
        # The store's client: with a Chroma server it turns a server that stopped answering into one sentence.
        self.sentences = SentenceStore(self.store.client, self.settings.collection, self.embedder.name,
                                       self.embedder.dimension, sentence_units, UNITS_VERSION)
        self.store.follow_reopen(self.sentences.use_client)  # both see other processes' writes together
        self.retriever = HybridRetriever(self.store, self.query_embedder, RetrievalConfig(
            k=self.settings.k, fusion=self.settings.fusion, widen=self.settings.widen),  # type: ignore[arg-type]
            sentences=self.sentences)
        threshold = self.settings.refusal_threshold
        self.refusal_threshold = DEFAULT_REFUSAL_THRESHOLD if threshold is None else threshold
        if generator is None and self.settings.backend != "extractive":
            check_llm_settings(self.settings)  # a missing model or URL fails here, in one sentence
        if self.settings.judge == "nli":
            from rag.check.nli import NliModel

            NliModel.required()  # the opted-in judge without its package fails here too, not at the first answer
        self._generator = generator
        self._judge: Judge | None = None
        self._judge_given = False  # set through ``judge``: kept when the generator changes
        self._backend_lock = threading.Lock()
        self._write_lock = threading.Lock()  # add, remove and repair from several threads run one at a time

    @property
    def generator(self) -> Generator:
        """The answerer; an LLM backend is started on first use (or by ``warm_up``)."""
        if self._generator is None:
            with self._backend_lock:
                if self._generator is None:
                    self._generator = self._make_generator()
        return self._generator

    @generator.setter
    def generator(self, generator: Generator) -> None:
        self._generator = generator
        if not self._judge_given:
            self._judge = None  # an LLM judge reuses the generator's model: build it again for the new one

    @property
    def judge(self) -> Judge:
        """The support judge (the LLM judge reuses the generator's model when ``RAG_JUDGE=llm``)."""
        if self._judge is None:
            generator = self.generator
            with self._backend_lock:
                if self._judge is None:
                    self._judge = self._make_judge(generator)
        return self._judge

    @judge.setter
    def judge(self, judge: Judge) -> None:
        """A judge of your own: ``name``, ``check`` and ``check_many``, like ``LLMJudge``. One that
        also has an ``acheck_many`` coroutine is run where the answer's reader can stop it. It stays
        when ``generator`` is set later (the judge built from settings is built again then)."""
        self._judge = judge
        self._judge_given = True

    def warm_up(self) -> Assistant:
        """Load everything a first question would: the embedding model, the keyword index, Chroma's
        vector indexes and the answer backend (starting a GGUF model's server). Raises ``RagError``
        subclasses with one sentence when something cannot start. Returns the assistant, for chaining.

        >>> a = Assistant("./index").warm_up()  # doctest: +SKIP
        """
        # One retrieval loads what a question reads: the embedding model, the keyword index and
        # Chroma's vector indexes, which load on their first query (3.6 s for the 1.0 M sentence rows
        # of Debian's /usr/share/doc, which the first user's question paid).
        self.retriever.search("warm up", k=1)
        _ = self.judge  # builds the generator first
        return self

    def collections(self) -> list[str]:
        """The collections of this index folder (or Chroma server) that rag wrote."""
        return rag_collections(self.store.client)

    def chunks(self) -> Iterator[Chunk]:
        """Every indexed passage (paged from the store; order unspecified)."""
        return self.store.iter_chunks()

    def document_chunks(self, source: str) -> list[Chunk]:
        """The indexed passages of one file in document order (to show a citation in its context)."""
        return self.store.chunks_of(source)

    def _make_generator(self) -> Generator:
        if self.settings.backend == "extractive":
            return ExtractiveGenerator(self.query_embedder, ExtractiveConfig(max_words=self.settings.answer_words),
                                       stored=self.sentences.vectors_for)
        from rag.llm.backends import make_llm_generator

        return make_llm_generator(self.settings)

    def _make_judge(self, generator: Generator) -> Judge:
        heuristic = offline_judge(self._similarity, nli=self.settings.judge == "nli")
        if self.settings.judge != "llm":
            return heuristic
        from rag.llm.backends import make_llm_judge

        return make_llm_judge(self.settings, generator, fallback=heuristic)

    def _similarity(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        left = self.query_embedder.embed([a for a, _ in pairs])
        right = self.query_embedder.embed([b for _, b in pairs])
        return [float(x) for x in np.einsum("ij,ij->i", left, right)]

    # ---- documents ---------------------------------------------------------------------------

    def add(self, paths: str | Path | Sequence[str | Path], prune: bool = False,
            progress: IngestProgress | None = None) -> IngestReport:
        """Index files and folders (idempotent); holds the writer lock while writing.

        >>> report = a.add("docs/")  # doctest: +SKIP
        >>> report.chunks_added, [f.path for f in report.files_failed]  # doctest: +SKIP
        """
        items = [paths] if isinstance(paths, str | Path) else list(paths)
        with self._writer():
            report = ingest(self.store, self.embedder, items, prune=prune, max_bytes=self.settings.max_bytes,
                            progress=progress, sentences=self.sentences,
                            too_large_advice=f"raise RAG_MAX_FILE_MB (now {self.settings.max_file_mb:g}) to index it")
        with report.timing("keyword index"):
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
        with self._writer(), self.sentences.changing():
            removed = self.store.delete_source(name)
            self.sentences.delete_source(name)  # after the chunks: a chunk never lacks its sentences
            if removed:
                self.store.bump_generation()
        self.retriever.keyword.refresh()
        return removed

    def repair(self) -> RepairReport:
        """Rebuild unreadable vector segments from the stored chunks (their text embedded again; the
        source files are not read); nothing is done when every segment reads. Holds the writer lock.

        >>> a.repair().chunks_reembedded  # doctest: +SKIP
        0
        """
        with self._writer():
            report = repair(self.store, self.sentences, self.embedder)
        self.retriever.keyword.refresh()
        return report

    @contextmanager
    def _writer(self) -> Iterator[None]:
        """One write at a time: this process's threads wait for each other, through this object or
        another ``Assistant`` on the same index folder (``WriterLock`` takes a per-folder turn
        before the file lock); other processes are held off by the file lock."""
        with self._write_lock:
            if self.settings.chroma_url:  # the Chroma server serialises writes itself
                yield
                return
            with WriterLock(self.settings.index_dir):
                yield

    # ---- questions -----------------------------------------------------------------------------

    def retrieve(self, question: str, k: int | None = None, sources: str | Sequence[str] | None = None,
                 widen: int | None = None) -> list[Hit]:
        """The passages hybrid retrieval finds for ``question``, best first (``widen``: neighbouring
        chunks added on each side of a hit, default ``RAG_WIDEN``; 0 ranks the chunks themselves).
        ``k`` is at least 1; ``sources`` are indexed paths, as ``sources()`` lists them or as they
        were added."""
        return self.retriever.retrieve(question, k=self._k(k), sources=sources, widen=widen)

    def _k(self, k: int | None) -> int:
        """``k`` when it is a whole number of at least 1 (a 0 is an error, not the default). A ``k``
        above the collection's size is accepted here (retrieval returns what it finds); the CLI and
        the HTTP API, where it is typed by hand, refuse it."""
        return self.settings.k if k is None else check_k(k, 0)

    def ask(self, question: str, k: int | None = None, strict: bool | None = None,
            sources: str | Sequence[str] | None = None, history: Sequence[str] = ()) -> Answer:
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
                   sources: str | Sequence[str] | None = None, history: Sequence[str] = ()) -> Iterator[str | Answer]:
        """Yield answer text as it is generated, then the final checked ``Answer``.

        With an LLM backend, ``""`` comes every quarter second while the model writes nothing (it
        reads the whole prompt first: minutes for a large model on a CPU; it rewrites a follow-up;
        it pauses): closing the stream there, or at any piece, stops the model (``rag.llm.streaming``).

        >>> for piece in a.ask_stream("why do corals bleach?"):  # doctest: +SKIP
        ...     print(piece if isinstance(piece, str) else "\\n" + piece.text, end="", flush=True)

        Safe to call from many threads at once: everything one question needs travels in local
        values (``Retrieval``, ``Draft``, verdicts), never on this object.
        """
        if not isinstance(question, str):  # a script's missing value: one sentence, not an AttributeError
            raise UsageError(f"the question must be text, not {type(question).__name__}")
        question = question.strip()
        if not question:
            raise UsageError("the question is empty")
        if isinstance(history, str):  # one earlier question, not a sequence of its characters
            history = [history]
        # The extractive answerer reads the index from the first step to the last (its pieces are
        # quick), so the whole question counts as reading for an upload in this process: its next
        # write slice waits for it (index.questions_first). An LLM's words take seconds and leave
        # the GIL free: there only the retrieval counts. Any answer, while it streams, makes writes
        # pause between slices for the web server's thread that forwards it.
        with QUESTIONS.answering(), \
                QUESTIONS.reading() if isinstance(self.generator, ExtractiveGenerator) else nullcontext():
            yield from self._answer_stream(question, k, strict, sources, history)

    def _answer_stream(self, question: str, k: int | None, strict: bool | None,
                       sources: str | Sequence[str] | None, history: Sequence[str]) -> Iterator[str | Answer]:
        strict = self.settings.strict if strict is None else strict
        k = self._k(k)
        timings: dict[str, float] = {}
        started = time.perf_counter()
        follow_up = yield from self._follow_up(question, history)
        standalone = follow_up.standalone if follow_up else question
        timings["condense"] = time.perf_counter() - started
        t = time.perf_counter()
        # A follow-up searches with the earlier question's words too (the passages stay on the
        # conversation's topic); it is answered as its standalone form, its own words leading.
        search = follow_up.search if follow_up else question
        with QUESTIONS.reading():
            gated = gate(self.retriever, search, k, sources, self.refusal_threshold)
        retrieval = gated.retrieval
        hits = list(retrieval.hits)
        timings["retrieve"] = time.perf_counter() - t
        base = dict(question=question, standalone_question=standalone, hits=tuple(hits),
                    backend=self.generator.name, judge=self.judge.name)
        if gated.refusal_reason is not None:
            timings["total"] = time.perf_counter() - started
            yield Answer(text=REFUSAL_TEXT, sentences=(), citations=(), refused=True, related=tuple(hits[:3]),
                         timings=timings, refusal_reason=gated.refusal_reason, **base)  # type: ignore[arg-type]
            return
        t = time.perf_counter()
        pieces: list[str] = []
        draft: Draft | None = None
        for piece in self._generate(standalone, hits, retrieval, follow_up):
            if isinstance(piece, Draft):
                draft = piece
                continue
            pieces.append(piece)
            yield piece
        if draft is None:  # a generator that only streams text: parse its markers
            draft = draft_from_text("".join(pieces), len(hits))
        timings["generate"] = time.perf_counter() - t
        t = time.perf_counter()
        checked = yield from self._checked(draft, hits, strict)
        relevance = self._relevance(standalone, retrieval, draft, checked) if checked.sentences else None
        # Names the user typed in this turn, not those a follow-up's rewrite carried over from the
        # earlier one ("…encrypted with BitLocker?" then "and how many days a week…?").
        withdrawn = _refusal_reason(draft, checked, relevance) or self._unanswered_reason(question, gated, checked)
        timings["check"] = time.perf_counter() - t
        timings["total"] = time.perf_counter() - started
        if withdrawn is not None:
            reason, withdrawal = withdrawn
            # The answer as a whole is a refusal, but what the answerer wrote stays inspectable: its
            # sentences keep their verdicts (strict mode has already moved them to ``removed``).
            yield Answer(text=REFUSAL_TEXT, sentences=checked.sentences, citations=checked.citations, refused=True,
                         related=tuple(hits[:3]), removed=checked.removed, timings=timings, relevance=relevance,
                         refusal_reason=reason, withdrawal=withdrawal, **base)  # type: ignore[arg-type]
            return
        yield Answer(text=checked.text, sentences=checked.sentences, citations=checked.citations, refused=False,
                     removed=checked.removed, timings=timings, relevance=relevance, **base)  # type: ignore[arg-type]

    def _checked(self, draft: Draft, hits: Sequence[Hit], strict: bool) -> abc.Generator[str, None, CheckedText]:
        """``check_draft`` with this assistant's judge. An LLM judge's calls run on the background
        loop and ``""`` is yielded while they do, so that the answer's reader can stop them there
        (Stop in the web UI, a client of ``rag serve`` that left): a blocking ``batch`` held the
        answer until every verdict had come."""
        judging = getattr(self.judge, "acheck_many", None)
        if judging is None:
            return check_draft(draft, hits, self.judge, strict=strict)
        asked = support_pairs(draft, hits)
        verdicts = (yield from stoppable_call(judging([(sentence, passage) for _, _, sentence, passage in asked]))) \
            if asked else []
        return checked_with(draft, hits, asked, verdicts, strict)

    def _unanswered_reason(self, question: str, gated: GateResult, checked: CheckedText
                           ) -> tuple[str, Withdrawal] | None:
        """Why an answer is refused whose quoted passages never name what the question asks about
        (``unanswered_names``), or None. Only citations the judge found supported count: an
        unsupported sentence citing the passage that names it answers nothing."""
        by_id = {h.chunk.chunk_id: h.chunk for h in gated.retrieval.hits}
        cited = list({c.chunk_id: by_id[c.chunk_id] for c in checked.citations
                      if c.chunk_id in by_id and c.support == "supported"}.values())
        if not cited:
            return None

        def openings(sources: Collection[str]) -> Iterable[Chunk]:
            return self.retriever.chunks_at({source: {0} for source in sources}, gated.keyword).values()

        names = unanswered_names(question, cited, openings, gated.keyword)
        if not names:
            return None
        return f"the answer found quotes passages that never mention {', '.join(repr(n) for n in names)}", \
            "another_question"

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
                vector = embed_query(self.query_embedder, [question])[0]
            similarity = float(np.max(self.query_embedder.embed([s.text for s in checked.sentences]) @ vector))
        headings = [" ".join(h.chunk.heading) for h in retrieval.hits]
        return judge_relevance(question, [s.text for s in checked.sentences], similarity, headings)

    def _generate(self, question: str, hits: Sequence[Hit], retrieval: Retrieval, follow_up: FollowUp | None
                  ) -> Iterator[str | Draft]:
        """The generator's stream. A follow-up's sentences are scored with its own words leading
        (the search also carried the earlier question's), when the generator can use them."""
        answer_follow_up = getattr(self.generator, "stream_follow_up", None)
        if follow_up is None or answer_follow_up is None:
            return self.generator.stream(question, hits, retrieval.query_vector)
        words = frozenset(content_words(follow_up.question))
        return answer_follow_up(question, hits, retrieval.query_vector, words)

    def _follow_up(self, question: str, history: Sequence[str]
                   ) -> abc.Generator[str, None, FollowUp | None]:
        """The question resolved against the conversation: by the LLM backend's condense prompt
        when it has one, else by the heuristics of ``rag.followup``; None for a first question.
        Yields ``""`` while a model rewrites it, so that the answer's reader can stop it there."""
        rewrite = getattr(self.generator, "condense_stream", None)  # an LLM backend's (``LLMGenerator``)
        if not history or rewrite is None:
            return resolve(question, history)
        standalone = str((yield from rewrite(question, history)))
        return FollowUp(question, standalone, standalone, history[-1], True)

    def chat(self) -> ChatSession:
        """A conversation whose follow-up questions use the earlier turns.

        >>> chat = a.chat()                              # doctest: +SKIP
        >>> chat.ask("what did Zelenskyy reject?")       # doctest: +SKIP
        >>> chat.ask("and what did he offer instead?")   # doctest: +SKIP
        """
        return ChatSession(self)

    def as_langchain_retriever(self, k: int | None = None, sources: str | Sequence[str] | None = None
                               ) -> RagRetriever:
        """This index as a LangChain ``BaseRetriever`` (``invoke(query, k=…, sources=…)`` per call)."""
        from rag.retrieve.langchain import RagRetriever

        wanted = (sources,) if isinstance(sources, str) else tuple(sources or ())
        return RagRetriever(hybrid=self.retriever, k=self._k(k), sources=wanted or None)


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
        return [t.asked for t in self.turns]

    def reset(self) -> None:
        self.turns.clear()


def _refusal_reason(draft: Draft, checked: CheckedText, relevance: Relevance | None
                    ) -> tuple[str, Withdrawal | None] | None:
    """Why the drafted answer is refused as a whole, in words and as a ``Withdrawal`` (None when
    nothing was drafted), or None to show it.

    An answer that may not address the question is flagged (``relevance``), not refused: refusing it
    was measured and refused answerable questions (README "What an answer is"). The exception: asked
    for a date, a duration, a size…, the answer gives no value of that type (``missing_value``).
    """
    if not draft.text.strip():
        return "the answerer found nothing to quote", None
    if draft.declined:
        return "the model said the passages do not answer the question", "declined"
    if checked.refused:
        return "no sentence of the drafted answer is supported by the passage it cites", "unsupported"
    if relevance is not None and relevance.missing_value_name is not None:
        return f"the question asks for {relevance.missing_value_name} and the answer found gives none", "missing_value"
    return None
