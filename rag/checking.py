"""Cite and check: turn answer text with ``[n]`` markers into checked sentences and citations.

The same path serves the extractive answerer and every LLM backend, so a model's sentences
are judged exactly like our own quotes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.citations import parse_markers
from rag.records import AnswerSentence, Citation, Hit, Support, Verdict
from rag.sentences import split_sentences
from rag.support import Judge, best_passage_sentence

REFUSAL_TEXT = "The documents do not say."
_REFUSAL_PATTERNS = re.compile(
    r"\b(the (provided |given )?(sources?|documents?|passages?|context|text|information)( provided| given)? "
    r"(do not|don't|does not|doesn't) (contain|say|mention|answer|provide|include|state|specify)"
    r"|i (do not|don't|cannot|can't) (know|find|answer)"
    r"|there is no (information|mention)\b[^.]{0,40}\b(sources?|documents?|passages?|context)"
    r"|not (mentioned|stated|covered|specified) in the (provided |given )?(sources?|documents?|passages?|context))",
    re.IGNORECASE)


@dataclass(frozen=True)
class CheckedText:
    text: str
    sentences: tuple[AnswerSentence, ...]
    citations: tuple[Citation, ...]
    removed: tuple[AnswerSentence, ...]
    refused: bool


def looks_like_refusal(text: str) -> bool:
    """A model's own "the sources do not say" answer."""
    return bool(_REFUSAL_PATTERNS.search(text[:400]))


def check_text(raw: str, passages: Sequence[Hit], judge: Judge, strict: bool = False) -> CheckedText:
    """Parse, resolve and judge every sentence of ``raw``; markers refer to ``passages`` (1-based).

    Cited passages are renumbered 1..m in order of first citation. In ``strict`` mode sentences
    that are not supported are removed. An answer left with no supported sentence is a refusal.
    """
    parsed = [parse_markers(text, len(passages)) for _, _, text in split_sentences(raw.strip())]
    parsed = [p for p in parsed if p.clean]
    pairs: list[tuple[str, str]] = []
    where: list[tuple[int, int]] = []
    for i, p in enumerate(parsed):
        for n in p.numbers:
            pairs.append((p.clean, passages[n - 1].chunk.text))
            where.append((i, n))
    verdicts = judge.check_many(pairs) if pairs else []
    per_sentence: dict[int, list[tuple[int, Support]]] = {}
    for (i, n), support in zip(where, verdicts, strict=True):
        per_sentence.setdefault(i, []).append((n, support))

    kept: list[tuple[int, AnswerSentence]] = []
    removed: list[AnswerSentence] = []
    for i, p in enumerate(parsed):
        sentence = _sentence_verdict(p.clean, p.numbers, per_sentence.get(i, []), p.problems)
        if strict and sentence.support != "supported":
            removed.append(sentence)
        else:
            kept.append((i, sentence))

    # Renumber cited passages in order of first use, then build citations and the final text.
    mapping: dict[int, int] = {}
    for _, sentence in kept:
        for n in sentence.citations:
            mapping.setdefault(n, len(mapping) + 1)
    sentences: list[AnswerSentence] = []
    citations: list[Citation] = []
    for index, (i, sentence) in enumerate(kept):
        supports = dict(per_sentence.get(i, []))
        for n in sentence.citations:
            hit = passages[n - 1]
            start, end, quote = best_passage_sentence(sentence.text, hit.chunk.text)
            support = supports[n]
            citations.append(Citation(
                n=mapping[n], sentence_index=index, chunk_id=hit.chunk.chunk_id, source=hit.chunk.source,
                page=hit.chunk.page, quote=quote, start=hit.chunk.start + start, end=hit.chunk.start + end,
                support=support.verdict, score=support.score, passage=hit.chunk.text,
                passage_start=hit.chunk.start))
        sentences.append(AnswerSentence(sentence.text, tuple(mapping[n] for n in sentence.citations),
                                        sentence.support, sentence.score, sentence.reasons))
    text = " ".join(_with_markers(s) for s in sentences)
    refused = not any(s.support == "supported" for s in sentences)
    return CheckedText(text, tuple(sentences), tuple(citations), tuple(removed), refused)


def _with_markers(sentence: AnswerSentence) -> str:
    return sentence.text + "".join(f" [{n}]" for n in sentence.citations)


def _sentence_verdict(text: str, numbers: Sequence[int], supports: Sequence[tuple[int, Support]],
                      problems: Sequence[str]) -> AnswerSentence:
    if not numbers:
        return AnswerSentence(text, (), "unsupported", 0.0, ("no citation", *problems))
    _best_n, best = max(supports, key=lambda item: item[1].score)
    verdict: Verdict = best.verdict
    return AnswerSentence(text, tuple(numbers), verdict, best.score, tuple(best.reasons) + tuple(problems))
