"""Cite and check: turn answer text with ``[n]`` markers into checked sentences and citations.

The same path serves the extractive answerer and every LLM backend, so a model's sentences
are judged exactly like our own quotes. Answerers hand over a typed ``Draft``; only a language
model's text is parsed for markers (``draft_from_text``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.check.citations import parse_markers
from rag.check.support import best_passage_sentence
from rag.protocols import Judge
from rag.records import AnswerSentence, Citation, Draft, DraftSentence, Hit, Support, Verdict
from rag.text import split_sentences

REFUSAL_TEXT = "The documents do not say."
JOINT = 0  # stands for "all the sentence's cited passages together" where a passage number goes
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


def draft_from_text(raw: str, n_passages: int) -> Draft:
    """A language model's answer as a draft: its sentences with the ``[n]`` markers parsed out."""
    parsed = [parse_markers(text, n_passages) for _, _, text in split_sentences(raw.strip())]
    sentences = tuple(DraftSentence(p.clean, p.numbers, None, p.problems) for p in parsed if p.clean)
    return Draft(sentences, raw, declined=not raw.strip() or looks_like_refusal(raw))


def check_text(raw: str, passages: Sequence[Hit], judge: Judge, strict: bool = False) -> CheckedText:
    """Parse ``raw`` (markers refer to ``passages``, 1-based), then ``check_draft`` it."""
    return check_draft(draft_from_text(raw, len(passages)), passages, judge, strict)


def support_pairs(draft: Draft, passages: Sequence[Hit]) -> list[tuple[int, int, str, str]]:
    """What the judge is asked, in order: (sentence index, passage number or ``JOINT``, sentence,
    passage text) for each citation, and the cited passages joined for a sentence citing several."""
    pairs: list[tuple[int, int, str, str]] = []
    for i, drafted in enumerate(draft.sentences):
        for n in drafted.passages:
            pairs.append((i, n, drafted.text, passages[n - 1].chunk.text))
        if len(drafted.passages) > 1:
            joined = joined_passages([passages[n - 1].chunk.text for n in drafted.passages])
            pairs.append((i, JOINT, drafted.text, joined))
    return pairs


def check_draft(draft: Draft, passages: Sequence[Hit], judge: Judge, strict: bool = False) -> CheckedText:
    """Judge every sentence of ``draft`` against the passages it cites.

    Each citation is judged alone; a sentence citing several passages is also judged against them
    together (ALCE's joint support: "X in 2019 [1] and Y for 5 euros [2]" needs both), and its
    verdict is the better of the two. Cited passages are renumbered 1..m in order of first
    citation. A quote keeps the span its answerer located; other sentences are matched to the
    passage sentence sharing most words.
    In ``strict`` mode sentences that are not supported are removed. An answer left with no
    supported sentence is a refusal.
    """
    asked = support_pairs(draft, passages)
    verdicts = judge.check_many([(sentence, passage) for _, _, sentence, passage in asked]) if asked else []
    return checked_with(draft, passages, asked, verdicts, strict)


def checked_with(draft: Draft, passages: Sequence[Hit], asked: Sequence[tuple[int, int, str, str]],
                 verdicts: Sequence[Support], strict: bool = False) -> CheckedText:
    """``check_draft`` given the judge's ``verdicts`` on ``asked`` (``support_pairs``), for a caller
    that asked the judge itself (an LLM judge's calls, run where they can be stopped)."""
    per_sentence: dict[int, list[tuple[int, Support]]] = {}
    joint: dict[int, Support] = {}
    for (i, n, _, _), support in zip(asked, verdicts, strict=True):
        if n == JOINT:
            joint[i] = support
        else:
            per_sentence.setdefault(i, []).append((n, support))

    kept: list[tuple[int, AnswerSentence]] = []
    removed: list[AnswerSentence] = []
    for i, draft_sentence in enumerate(draft.sentences):
        sentence = _sentence_verdict(draft_sentence.text, draft_sentence.passages, per_sentence.get(i, []),
                                     draft_sentence.problems, joint.get(i))
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
        located = draft.sentences[i].quote
        for place, n in enumerate(sentence.citations):
            hit = passages[n - 1]
            passage = hit.chunk.text
            if located is not None and place == 0:
                start, end = located.start, located.end
                focus: tuple[int, int] | None = (located.focus_start, located.focus_end)
            else:
                start, end, _ = best_passage_sentence(sentence.text, passage)
                focus = None
            support = supports[n]
            base = hit.chunk.start
            citations.append(Citation(
                n=mapping[n], sentence_index=index, chunk_id=hit.chunk.chunk_id, source=hit.chunk.source,
                page=hit.chunk.page_at(base + start), quote=passage[start:end], start=base + start, end=base + end,
                support=support.verdict, score=support.score, passage=passage, passage_start=base,
                focus_start=base + focus[0] if focus else None, focus_end=base + focus[1] if focus else None))
        sentences.append(AnswerSentence(sentence.text, tuple(mapping[n] for n in sentence.citations),
                                        sentence.support, sentence.score, sentence.reasons))
    text = " ".join(_with_markers(s) for s in sentences)
    refused = not any(s.support == "supported" for s in sentences)
    return CheckedText(text, tuple(sentences), tuple(citations), tuple(removed), refused)


def _with_markers(sentence: AnswerSentence) -> str:
    return sentence.text + "".join(f" [{n}]" for n in sentence.citations)


def joined_passages(texts: Sequence[str]) -> str:
    """Several cited passages as one text, for judging a sentence against them together."""
    return "\n\n".join(texts)


def _sentence_verdict(text: str, numbers: Sequence[int], supports: Sequence[tuple[int, Support]],
                      problems: Sequence[str], joint: Support | None = None) -> AnswerSentence:
    if not numbers:
        return AnswerSentence(text, (), "unsupported", 0.0, ("no citation", *problems))
    _best_n, best = max(supports, key=lambda item: item[1].score)
    if joint is not None and joint.score > best.score:
        best = joint
    verdict: Verdict = best.verdict
    return AnswerSentence(text, tuple(numbers), verdict, best.score, tuple(best.reasons) + tuple(problems))
