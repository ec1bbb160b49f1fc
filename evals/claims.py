"""Claim-level faithfulness as RAGAS defines it (Es et al., 2023, "RAGAS: Automated Evaluation of
Retrieval Augmented Generation", §3): the answer is split into atomic statements, each statement
is checked against *all* retrieved passages, and faithfulness is the share of statements they
support. Unlike the sentence-level figure it does not depend on which passage a sentence cites.

Splitting needs a language model, so it is measured only with the LLM judge (``RAG_JUDGE=llm``);
with the heuristic judge the figure is not available (None), never estimated.

>>> claim_faithfulness(answer, assistant.judge)  # doctest: +SKIP
0.75
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from rag.check.checker import joined_passages
from rag.check.citations import strip_markers
from rag.records import Answer, Support

UNAVAILABLE = "claim faithfulness needs an LLM judge to split answers into statements (RAG_JUDGE=llm)"


@runtime_checkable
class ClaimJudge(Protocol):
    """A judge that can also split an answer into statements (``rag.check.llm_judge.LLMJudge``)."""

    name: str

    def claims(self, answer: str) -> list[str]: ...

    def check_many(self, pairs: list[tuple[str, str]]) -> list[Support]: ...


def claim_faithfulness(answer: Answer, judge: object) -> float | None:
    """Share of the answer's statements that the retrieved passages together support; None for a
    refusal, an answer without statements, or a judge that cannot split answers."""
    if answer.refused or not isinstance(judge, ClaimJudge):
        return None
    text = " ".join(strip_markers(s.text) for s in answer.sentences)
    statements = judge.claims(text) if text.strip() else []
    if not statements:
        return None
    context = joined_passages([h.chunk.text for h in answer.hits])
    verdicts = judge.check_many([(statement, context) for statement in statements])
    return sum(v.verdict == "supported" for v in verdicts) / len(verdicts)
