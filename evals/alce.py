"""Judge an answer's citations the way ALCE defines its citation metrics (Gao et al., 2023).

For every sentence: its cited passages together (recall), and, for a sentence with several
citations, each citation alone and the other citations together (precision: a citation is
irrelevant when it alone does not support the sentence and the others still do). One batched
call to the judge per answer. The metrics themselves are pure functions in ``evals.metrics``.

>>> sentences = judge_citations(answer, assistant.judge)  # doctest: +SKIP
>>> citation_recall(sentences), citation_precision(sentences)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from evals.metrics import SUPPORTED, JudgedSentence
from rag.check.checker import joined_passages
from rag.protocols import Judge
from rag.records import Answer, AnswerSentence


def cited_passages(answer: Answer) -> dict[int, list[str]]:
    """The texts of the passages each shown sentence cites (by sentence index), in citation order."""
    out: dict[int, list[str]] = {}
    for citation in answer.citations:
        out.setdefault(citation.sentence_index, []).append(citation.passage)
    return out


def judge_citations(answer: Answer, judge: Judge) -> list[JudgedSentence]:
    """Every shown sentence of ``answer`` with ALCE's verdicts (none for a refusal)."""
    if answer.refused:
        return []
    passages = cited_passages(answer)
    verdicts = {i: tuple(c.support for c in answer.citations if c.sentence_index == i)
                for i in range(len(answer.sentences))}
    pairs: list[tuple[str, str]] = []
    keys: list[tuple[int, int]] = []  # (sentence, -1 for all together, else the citation left out)
    for i, sentence in enumerate(answer.sentences):
        cited = passages.get(i, [])
        if len(cited) < 2:
            continue
        pairs.append((sentence.text, joined_passages(cited)))
        keys.append((i, -1))
        for place, alone in enumerate(verdicts[i]):
            if alone != SUPPORTED:  # only a citation that does not stand alone can be superfluous
                pairs.append((sentence.text, joined_passages(cited[:place] + cited[place + 1:])))
                keys.append((i, place))
    judged = dict(zip(keys, (v.verdict for v in judge.check_many(pairs)), strict=True)) if pairs else {}
    return [_judged(i, sentence, verdicts[i], judged) for i, sentence in enumerate(answer.sentences)]


def _judged(i: int, sentence: AnswerSentence, alone: Sequence[str], judged: Mapping[tuple[int, int], str]
            ) -> JudgedSentence:
    if len(alone) < 2:
        return JudgedSentence(sentence.support, tuple(alone))
    without = tuple(judged.get((i, place)) for place in range(len(alone)))
    return JudgedSentence(sentence.support, tuple(alone), judged[(i, -1)], without)
