"""Score one ``Answer`` against its ``EvalCase``, and sum the cases up (no I/O, no model).

>>> result = score_case(case, answer, k=5)                  # doctest: +SKIP
>>> result.metrics["hit_at_k"], result.problems              # doctest: +SKIP
(1.0, [])
>>> summarise([result], k=5)["mrr"]                          # doctest: +SKIP
1.0
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from evals.dataset import EvalCase
from evals.metrics import (
    EVIDENCE_ANSWERED,
    JudgedSentence,
    citation_precision,
    citation_recall,
    contains_span,
    evidence_word_share,
    faithfulness,
    hit_at,
    mean,
    ndcg,
    percentile,
    reciprocal_rank,
    relevance,
    token_f1,
)
from rag.records import Answer

STAGES = ("retrieve", "generate", "check", "total")
"""Timed stages of ``Answer.timings`` reported as latency percentiles."""

HIGHER_IS_BETTER = ("hit_at_1", "hit_at_k", "hit_at_k_strict", "mrr", "ndcg", "faithfulness", "draft_faithfulness",
                    "claim_faithfulness",
                    "citation_recall", "citation_precision", "answer_f1", "evidence_containment",
                    "evidence_containment_strict", "evidence_words", "evidence_answered", "refusal_accuracy")
LOWER_IS_BETTER = ("wrong_refusal_rate",)
QUALITY_METRICS = HIGHER_IS_BETTER + LOWER_IS_BETTER


@dataclass(frozen=True)
class PassageView:
    """A retrieved passage, whole, with what ranked it: enough to recompute every retrieval metric
    from ``results.json`` alone. ``rank`` is the order retrieval returned (fused score, ties broken
    by dense rank); ``relevant`` uses the evidence match on letters and digits, ``relevant_strict``
    the match with spaces and punctuation kept."""

    rank: int
    chunk_id: str
    source: str
    page: int | None
    text: str
    relevant: bool
    relevant_strict: bool
    score: float
    dense_score: float | None
    dense_rank: int
    keyword_score: float | None
    keyword_rank: int

    @property
    def where(self) -> str:
        return Path(self.source).name + (f" p.{self.page}" if self.page else "")


@dataclass(frozen=True)
class CitationView:
    n: int
    rank: int  # rank of the cited passage among the answer's hits (0: not among them)
    source: str
    page: int | None
    quote: str
    support: str
    score: float


@dataclass(frozen=True)
class SentenceView:
    text: str
    support: str
    score: float
    reasons: tuple[str, ...]
    citations: tuple[CitationView, ...]


@dataclass
class CaseResult:
    """Everything the report needs about one case; ``problems`` is empty when the case passed."""

    id: str
    question: str
    answerable: bool
    reference: str | None
    evidence: tuple[str, ...]
    source: str | None
    answer: str
    refused: bool
    sentences: list[SentenceView]
    retrieved: list[PassageView]
    top_dense: float
    timings_ms: dict[str, float]
    metrics: dict[str, float | None]
    n_relevant: int | None = None  # chunks in the whole index that hold an evidence span
    relevant_chunk_ids: tuple[str, ...] = ()  # those chunks (the qrels), retrieved or not
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    relevance: dict[str, Any] | None = None  # does the answer address the question (Answer.relevance)
    refusal_reason: str = ""
    line: int = 0  # the case's line in the dataset file
    # Faults of the dataset rather than of the system (an evidence span no indexed chunk holds, a
    # source file that is not there): listed for every case, passed or failed, so none goes unseen.
    dataset_problems: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.problems)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["failed"] = self.failed
        return data


def judged_sentences(answer: Answer) -> list[JudgedSentence]:
    """Each answer sentence with the verdicts the answer itself carries: its own and each citation's.
    Without a judge at hand, a sentence citing several passages counts its own verdict as the joint
    one (the checker judged it against them together) and no citation as superfluous; the runner
    uses ``evals.alce.judge_citations`` for the full ALCE check."""
    per_sentence: dict[int, list[str]] = {}
    for c in answer.citations:
        per_sentence.setdefault(c.sentence_index, []).append(c.support)
    return [JudgedSentence(s.support, tuple(per_sentence.get(i, ())),
                           s.support if len(per_sentence.get(i, ())) > 1 else None)
            for i, s in enumerate(answer.sentences)]


def draft_sentences(answer: Answer) -> list[str]:
    """The verdicts of every sentence the answerer drafted: those shown, those strict mode removed,
    and those of a withdrawn draft (``Answer.withdrawal`` says why)."""
    return [s.support for s in (*answer.sentences, *answer.removed)]


def _sentence_views(answer: Answer) -> list[SentenceView]:
    rank_of = {h.chunk.chunk_id: h.rank for h in answer.hits}
    views = []
    for i, s in enumerate(answer.sentences):
        cites = tuple(CitationView(c.n, rank_of.get(c.chunk_id, 0), c.source, c.page, c.quote, c.support, c.score)
                      for c in answer.citations if c.sentence_index == i)
        views.append(SentenceView(s.text, s.support, s.score, tuple(s.reasons), cites))
    return views


def top_dense_score(answer: Answer) -> float:
    """The refusal gate's input: the best dense cosine among the hits the answer used."""
    return max((h.dense_score for h in answer.hits if h.dense_score is not None), default=0.0)


def score_case(case: EvalCase, answer: Answer, k: int, n_relevant: int | None = None,
               refusal_threshold: float | None = None, judged: Sequence[JudgedSentence] | None = None,
               relevant_chunk_ids: Sequence[str] = (), claim_faithfulness: float | None = None) -> CaseResult:
    """Metrics of one answer; ``n_relevant`` = chunks in the whole index that hold the evidence
    (``relevant_chunk_ids``: which ones); ``judged`` = the shown sentences judged as ALCE does
    (``evals.alce.judge_citations``), else the verdicts the answer carries."""
    passages = [h.chunk.text for h in answer.hits]
    none = [False] * len(passages)
    relevant = relevance(passages, case.evidence) if case.evidence else none
    strict = relevance(passages, case.evidence, strict=True) if case.evidence else none
    retrieved = [PassageView(h.rank, h.chunk.chunk_id, h.chunk.source, h.chunk.page, h.chunk.text, rel, rel_strict,
                             h.score, h.dense_score, h.dense_rank, h.keyword_score, h.keyword_rank)
                 for h, rel, rel_strict in zip(answer.hits, relevant, strict, strict=True)]
    # A refusal presents no sentence as an answer; its withdrawn draft counts in draft_faithfulness.
    if answer.refused:
        judged = []
    elif judged is None:
        judged = judged_sentences(answer)
    drafted = draft_sentences(answer)
    answer_text = " ".join(s.text for s in answer.sentences)
    metrics: dict[str, float | None] = dict.fromkeys(
        ("hit_at_1", "hit_at_k", "hit_at_k_strict", "mrr", "ndcg", "answer_f1", "evidence_containment",
         "evidence_containment_strict", "evidence_words", "evidence_answered"))
    if case.answerable and case.evidence:
        metrics.update(hit_at_1=hit_at(relevant, 1), hit_at_k=hit_at(relevant, k), hit_at_k_strict=hit_at(strict, k),
                       mrr=reciprocal_rank(relevant, k), ndcg=ndcg(relevant, k, n_relevant))
        metrics["evidence_containment"] = 0.0 if answer.refused else float(contains_span(answer_text, case.evidence))
        metrics["evidence_containment_strict"] = 0.0 if answer.refused else \
            float(contains_span(answer_text, case.evidence, strict=True))
        share = 0.0 if answer.refused else evidence_word_share(answer_text, case.evidence)
        metrics["evidence_words"] = share
        metrics["evidence_answered"] = float(share >= EVIDENCE_ANSWERED)
    if case.answerable and case.answer:
        metrics["answer_f1"] = 0.0 if answer.refused else token_f1(answer_text, case.answer)
    metrics.update(faithfulness=faithfulness(judged), citation_recall=citation_recall(judged),
                   citation_precision=citation_precision(judged), refused=float(answer.refused),
                   draft_faithfulness=sum(v == "supported" for v in drafted) / len(drafted) if drafted else None,
                   withdrawn=float(answer.refused and bool(drafted)), claim_faithfulness=claim_faithfulness)
    result = CaseResult(
        id=case.id, question=case.question, answerable=case.answerable, reference=case.answer,
        evidence=case.evidence, source=case.source, answer=answer.text,
        refused=answer.refused, sentences=_sentence_views(answer), retrieved=retrieved,
        top_dense=round(top_dense_score(answer), 4),
        timings_ms={k_: round(v * 1000, 2) for k_, v in answer.timings.items()}, metrics=metrics,
        n_relevant=n_relevant, relevant_chunk_ids=tuple(relevant_chunk_ids),
        relevance=answer.relevance.to_dict() if answer.relevance else None, refusal_reason=answer.refusal_reason,
        line=case.line)
    result.problems.extend(diagnose(result, k, refusal_threshold))
    return result


def diagnose(result: CaseResult, k: int, refusal_threshold: float | None = None) -> list[str]:
    """What went wrong, most serious first, in words a developer can act on."""
    m = result.metrics
    problems: list[str] = []
    gate = "" if refusal_threshold is None else f" {'<' if result.top_dense < refusal_threshold else '>='} " \
        f"refusal threshold {refusal_threshold:g}"
    if not result.answerable:
        if not result.refused:
            problems.append(f"answered a question the documents do not answer (top dense score "
                            f"{result.top_dense:.3f}{gate or ' passed the refusal gate'})")
        return problems
    if result.refused:
        problems.append(f"refused an answerable question (top dense score {result.top_dense:.3f}{gate}"
                        f"{_refusal_cause(result, refusal_threshold)})")
    if m["hit_at_k"] == 0.0:
        problems.append(f"retrieval miss: no passage in the top {k} contains an evidence span")
    elif m["evidence_containment"] == 0.0 and not result.refused:
        held = [p.rank for p in result.retrieved if p.relevant]
        cited = {c.rank for s in result.sentences for c in s.citations if c.rank}
        same, others = sorted(cited & set(held)), sorted(cited - set(held))
        quoted = " and ".join(filter(None, [
            f"other sentences of passage {_numbers(same)}" if same else "",
            f"passage {_numbers(others)}" + ("" if same else " instead") if others else ""])) or "nothing it retrieved"
        problems.append(f"the evidence was retrieved (passage #{held[0]}) but the answer does not contain it: "
                        f"it quotes {quoted}")
    unsupported = [s for s in result.sentences if s.support != "supported"]
    if unsupported:
        problems.append(f"{len(unsupported)} of {len(result.sentences)} sentences not supported by their citations")
    if m["citation_precision"] is not None and m["citation_precision"] < 1.0:
        problems.append(f"citation precision {m['citation_precision']:.2f}: some citations support nothing")
    return problems


def _refusal_cause(result: CaseResult, refusal_threshold: float | None) -> str:
    """Why the Assistant refused when the dense gate alone does not explain it."""
    if result.refusal_reason:
        return f"; {result.refusal_reason}"
    if result.relevance and not result.relevance["answers"] and result.sentences:
        return "; the drafted answer did not address the question (" + "; ".join(result.relevance["reasons"]) + ")"
    if "generate" in result.timings_ms:
        return "; an answer was generated but no sentence of it passed the support check"
    if refusal_threshold is not None and result.top_dense >= refusal_threshold:
        return "; refused before generating by another retrieval gate (e.g. a name or number of the question " \
               "that no passage contains)"
    return ""


def _numbers(ranks: Sequence[int]) -> str:
    return ", ".join(f"#{r}" for r in ranks)


def _latency(results: Sequence[CaseResult]) -> dict[str, dict[str, float | None]]:
    out: dict[str, dict[str, float | None]] = {}
    for stage in STAGES:
        values = [r.timings_ms[stage] for r in results if stage in r.timings_ms]
        p50, p95 = percentile(values, 50), percentile(values, 95)
        out[stage] = {"p50": None if p50 is None else round(p50, 1), "p95": None if p95 is None else round(p95, 1),
                      "n": len(values)}
    return out


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def summarise(results: Sequence[CaseResult], k: int, backend: str = "", judge: str = "") -> dict[str, Any]:
    """The summary object (``rag eval --json``): means over the cases each metric applies to.

    Retrieval and correctness average over answerable cases with evidence (or a reference);
    faithfulness and citation scores over answers that were given, draft faithfulness over every
    case whose answerer drafted something (withdrawn drafts included); refusal scores over
    unanswerable (refusal_accuracy) and answerable (wrong_refusal_rate) cases. None = no case.
    ``n_withdrawn`` counts refusals that withdrew a draft (``Answer.withdrawal`` says why).
    """
    answerable = [r for r in results if r.answerable]
    unanswerable = [r for r in results if not r.answerable]

    def avg(name: str, rows: Sequence[CaseResult] = results) -> float | None:
        return _rounded(mean(r.metrics.get(name) for r in rows))

    return {
        "n_cases": len(results),
        "n_answerable": len(answerable),
        "n_unanswerable": len(unanswerable),
        "n_failed": sum(r.failed for r in results),
        "n_refused": sum(bool(r.metrics.get("refused")) for r in results),
        "n_withdrawn": sum(bool(r.metrics.get("withdrawn")) for r in results),
        "k": k,
        "backend": backend,
        "judge": judge,
        "hit_at_1": avg("hit_at_1"),
        "hit_at_k": avg("hit_at_k"),
        "hit_at_k_strict": avg("hit_at_k_strict"),
        "mrr": avg("mrr"),
        "ndcg": avg("ndcg"),
        "faithfulness": avg("faithfulness"),
        "draft_faithfulness": avg("draft_faithfulness"),
        "claim_faithfulness": avg("claim_faithfulness"),
        "citation_recall": avg("citation_recall"),
        "citation_precision": avg("citation_precision"),
        "answer_f1": avg("answer_f1"),
        "evidence_containment": avg("evidence_containment"),
        "evidence_containment_strict": avg("evidence_containment_strict"),
        "evidence_words": avg("evidence_words"),
        "evidence_answered": avg("evidence_answered"),
        "refusal_accuracy": avg("refused", unanswerable),
        "wrong_refusal_rate": avg("refused", answerable),
        "latency_ms": _latency(results),
        # How many cases each mean is over (a metric applies to some cases only: see the docstring).
        "n_scored": {**{m: sum(r.metrics.get(m) is not None for r in results) for m in QUALITY_METRICS},
                     "refusal_accuracy": len(unanswerable), "wrong_refusal_rate": len(answerable)},
    }
