"""Does an answer address the question? A check apart from "is it supported by its passage".

A quote can be faithful to its passage and still answer another question: asked what a home
wind turbine costs, an on-topic sentence about turbine noise is supported, but it is no answer.
The offline check combines the similarity of the answer's best sentence to the question, the
share of the question's content words that the answer (or its passages' headings) covers, and
whether the answer carries what the question asks for (a number for "how much", a reason for
"why", a name for "which option"). A question asking for one typed value (a date, a duration, a
size, a port, a price, a count) that the answer does not give is marked ``missing_value``: the
assistant refuses it. Pure: the similarity is computed by the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rag.answer.question_kinds import asked_value, carries_answer, gives_value, question_kind
from rag.records import VALUE_NAMES, Relevance
from rag.text import content_words


@dataclass(frozen=True)
class RelevanceThresholds:
    """Calibrated on both eval sets (README "Answers that address the question")."""

    answers: float = 0.35


def judge_relevance(question: str, sentences: Sequence[str], similarity: float, headings: Sequence[str] = (),
                    thresholds: RelevanceThresholds | None = None) -> Relevance:
    """Score how well ``sentences`` (the answer) address ``question``.

    >>> judge_relevance("How much does a home wind turbine cost?",
    ...                 ["Small turbines are quiet enough for gardens."], similarity=0.55).answers
    False
    """
    thresholds = thresholds or RelevanceThresholds()
    kind = question_kind(question)
    text = " ".join(sentences)
    wanted = content_words(question)
    covered = content_words(text) | content_words(" ".join(headings))
    coverage = len(wanted & covered) / len(wanted) if wanted else 1.0
    score = round(0.6 * similarity + 0.4 * coverage, 4)
    reasons: list[str] = []
    has_kind = carries_answer(kind, text)
    value = asked_value(question)
    missing_value = value if value is not None and not gives_value(value, text) else None
    if missing_value is not None:
        reasons.append(f"the question asks for {VALUE_NAMES[missing_value]}; the answer gives none")
    elif not has_kind:
        reasons.append({"number": "the question asks for a number or a time; the answer gives none",
                        "reason": "the question asks why; the answer gives no reason",
                        "name": "the question asks for a name; the answer names nothing"}.get(kind, ""))
    if score < thresholds.answers:
        missing = sorted(wanted - covered)
        reasons.append("the answer is far from the question" + (f" (it does not mention {', '.join(missing[:4])})"
                                                                 if missing else ""))
    return Relevance(score, has_kind and missing_value is None and score >= thresholds.answers,
                     tuple(r for r in reasons if r), missing_value)

