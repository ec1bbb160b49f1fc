"""Typed records of the answering side: hits, citations, checked sentences, answers."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from index.records import Chunk

Verdict = Literal["supported", "weak", "unsupported"]


@dataclass(frozen=True)
class Anchor:
    """A chunk retrieval found, inside a widened passage: its id, its offsets into the document, its
    place in the fused ranking (1 = best) and its own heading path (the passage carries the first's)."""

    chunk_id: str
    start: int
    end: int
    rank: int
    heading: tuple[str, ...] = ()


@dataclass(frozen=True)
class Hit:
    """A retrieved passage with its scores and ranks (rank 0 = absent from that list); the dense
    score is the chunk's cosine to the question (also for a chunk only another list found); the
    sentence score is the cosine of the chunk's best sentence among those nearest to the question."""

    chunk: Chunk
    score: float
    rank: int
    dense_score: float | None = None
    dense_rank: int = 0
    keyword_score: float | None = None
    keyword_rank: int = 0
    sentence_score: float | None = None
    sentence_rank: int = 0
    # A widened passage (``RAG_WIDEN``): the chunks retrieval found inside it; empty when the
    # passage is the chunk found.
    anchors: tuple[Anchor, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["chunk"] = _chunk_dict(self.chunk)
        return data


@dataclass(frozen=True)
class Retrieval:
    """What one retrieval returns: the hits (best first) and the question's vector.

    Everything a request needs travels in values like this one, never on the shared retriever:
    the UI and scripts answer many questions at once on one ``Assistant``.
    """

    question: str
    hits: tuple[Hit, ...]
    query_vector: np.ndarray | None = None


@dataclass(frozen=True)
class QuoteSpan:
    """A verbatim span the answerer located in a passage: offsets into that passage's text.

    ``focus_start``/``focus_end`` mark the sentence that answers best inside a longer excerpt.
    """

    start: int
    end: int
    focus_start: int
    focus_end: int


@dataclass(frozen=True)
class DraftSentence:
    """One unit of a drafted answer: its text (without markers), the passage numbers it cites
    (1-based, into the passages the answerer was given) and, for a quote, where it was taken from."""

    text: str
    passages: tuple[int, ...]
    quote: QuoteSpan | None = None
    problems: tuple[str, ...] = ()
    similarity: float | None = None  # to the question, when the answerer measured it (extractive)


@dataclass(frozen=True)
class Draft:
    """What an answerer produced, before checking. ``declined`` is set when the answerer itself
    said the passages do not answer the question."""

    sentences: tuple[DraftSentence, ...]
    text: str
    declined: bool = False


@dataclass(frozen=True)
class Relevance:
    """Does the answer address the question (a separate check from support by its passages)?"""

    score: float
    answers: bool
    reasons: tuple[str, ...] = ()
    missing_value: str | None = None
    """The typed value the question asks for ("date", "duration", "size", "port", "money", "count")
    when the answer gives none of that type (``rag.answer.question_kinds.gives_value``): such an
    answer is refused."""

    @property
    def missing_value_name(self) -> str | None:
        """``missing_value`` in words: "a date", "a port number", "an amount of money"…"""
        return VALUE_NAMES.get(self.missing_value, self.missing_value) if self.missing_value else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


VALUE_NAMES: dict[str, str] = {"date": "a date", "duration": "a duration", "size": "a size", "port": "a port number",
                               "money": "an amount of money",
                               "count": "a count"}


@dataclass(frozen=True)
class Support:
    """A judge's verdict on whether a passage supports a sentence."""

    verdict: Verdict
    score: float
    judge: str
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class Citation:
    """One ``[n]`` marker on one answer sentence, resolved to the exact quoted span.

    ``start``/``end`` are character offsets of ``quote`` in the source document's text.
    """

    n: int
    sentence_index: int
    chunk_id: str
    source: str
    page: int | None
    quote: str
    start: int
    end: int
    support: Verdict
    score: float
    passage: str = ""
    passage_start: int = 0
    focus_start: int | None = None
    focus_end: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class AnswerSentence:
    """A sentence of the answer with the numbers it cites and the combined verdict."""

    text: str
    citations: tuple[int, ...]
    support: Verdict
    score: float
    reasons: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


Withdrawal = Literal["unsupported", "declined", "missing_value", "another_question"]


@dataclass(frozen=True)
class Answer:
    """The checked answer to one question.

    >>> ans = assistant.ask("what did Zelenskyy reject?")  # doctest: +SKIP
    >>> ans.refused, ans.citations[0].source  # doctest: +SKIP
    (False, '/.../examples/ukraine-security-talks.md')

    ``sentences`` are the generated sentences with their verdicts. When ``refused`` is true,
    ``text`` is the refusal and ``sentences`` (possibly empty) are the draft that was withdrawn;
    ``withdrawal`` says why, for presenters: ``"unsupported"`` (none of it was supported),
    ``"declined"`` (the model itself said the sources do not answer), ``"missing_value"`` (a date,
    a size… was asked for and none given) or ``"another_question"`` (the passages it quotes never
    name what was asked); ``refusal_reason`` says it in words. ``removed`` holds what strict mode
    dropped. ``relevance`` says whether the answer addresses
    the question at all (a quote can be faithful to its passage and still answer another question).
    """

    question: str
    text: str
    sentences: tuple[AnswerSentence, ...]
    citations: tuple[Citation, ...]
    refused: bool
    hits: tuple[Hit, ...]
    backend: str
    judge: str
    timings: dict[str, float] = field(default_factory=dict)
    related: tuple[Hit, ...] = ()
    standalone_question: str = ""
    removed: tuple[AnswerSentence, ...] = ()
    relevance: Relevance | None = None
    refusal_reason: str = ""  # why a refused answer was refused, in words for the user
    withdrawal: Withdrawal | None = None  # why a drafted answer was withdrawn (None: nothing was)

    @property
    def understood_as(self) -> str | None:
        """The question as it was answered when that is not what was typed (a follow-up rewritten,
        or joined to the one before: "can they recover?" → "can corals recover?"), else None.

        >>> Answer("can they recover?", "", (), (), False, (), "x", "y",
        ...        standalone_question="can corals recover?").understood_as
        'can corals recover?'
        """
        def plain(text: str) -> str:  # a model's rewrite may change only case or the question mark
            return " ".join(text.split()).rstrip(" ?.!").casefold()

        asked = " ".join(self.standalone_question.split())
        return asked if asked and plain(asked) != plain(self.question) else None

    @property
    def withdrawal_reason(self) -> str | None:
        """Why a drafted answer was withdrawn, as a clause for presenters (the CLI and the web UI say it
        the same way), or None when nothing was withdrawn.

        >>> Answer("when?", "", (), (), True, (), "x", "y", withdrawal="another_question").withdrawal_reason
        'it answers another question'
        >>> Answer("when?", "", (), (), True, (), "x", "y", withdrawal="missing_value").withdrawal_reason
        'it does not give the value, which the question asks for'
        """
        missing = self.relevance.missing_value_name if self.relevance is not None else None
        if self.withdrawal == "missing_value":
            return f"it does not give {missing or 'the value'}, which the question asks for"
        return {"another_question": "it answers another question",
                "declined": "the model said its sources do not answer the question",
                "unsupported": "its sources did not support it"}.get(self.withdrawal or "")

    @property
    def asked(self) -> str:
        """The question as it was answered: a follow-up's standalone form, else the question itself.
        What later follow-ups of the conversation resolve against (``history=``)."""
        return self.standalone_question or self.question

    @property
    def supported(self) -> bool:
        """True when every sentence is supported by what it cites."""
        return not self.refused and all(s.support == "supported" for s in self.sentences)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (``json.dumps(answer.to_dict())`` works)."""
        return {
            "question": self.question,
            "standalone_question": self.standalone_question,
            "text": self.text,
            "refused": self.refused,
            "backend": self.backend,
            "judge": self.judge,
            "sentences": [s.to_dict() for s in self.sentences],
            "removed_sentences": [s.to_dict() for s in self.removed],
            "citations": [c.to_dict() for c in self.citations],
            "hits": [h.to_dict() for h in self.hits],
            "related": [h.to_dict() for h in self.related],
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
            "relevance": self.relevance.to_dict() if self.relevance else None,
            "refusal_reason": self.refusal_reason,
            "withdrawal": self.withdrawal,
        }


def _chunk_dict(chunk: Chunk) -> dict[str, Any]:
    data = asdict(chunk)
    data["heading"] = list(chunk.heading)
    return data
