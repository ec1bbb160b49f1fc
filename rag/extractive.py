"""The default answerer: quote the retrieved sentences that best answer the question.

Needs no language model, answers instantly, and cannot hallucinate: every sentence it returns
is a verbatim span of a retrieved passage, followed by that passage's ``[n]`` marker.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from index.embedding import Embedder
from rag.records import Hit
from rag.sentences import split_sentences
from rag.support import content_words


@dataclass(frozen=True)
class Candidate:
    """A passage sentence scored against the question; ``passage`` is the 1-based hit number."""

    passage: int
    start: int
    end: int
    text: str
    score: float
    similarity: float


@dataclass(frozen=True)
class ExtractiveConfig:
    max_sentences: int = 3
    relative_cutoff: float = 0.85  # keep extra sentences scoring at least this share of the best
    min_similarity: float = 0.25
    passages: int = 5


_LIST_MARKER = re.compile(r"^(?:[-*•+]|\d{1,2}[.)])\s+")


def _is_fragment(text: str) -> bool:
    """Headings, table header rows and scraps are not answers."""
    words = re.findall(r"\w+", text)
    if text.lstrip().startswith("#") or len(words) < 4:
        return True
    return not re.search(r"[.!?:;)\]\"”]$", text.strip()) and len(words) < 9


def candidate_sentences(question: str, question_vector: np.ndarray, hits: Sequence[Hit], embedder: Embedder,
                        passages: int = 5) -> list[Candidate]:
    """Score every sentence of the top passages: MiniLM similarity plus question-word overlap."""
    rows: list[tuple[int, int, int, str]] = []
    for number, hit in enumerate(hits[:passages], 1):
        for start, end, text in split_sentences(hit.chunk.text):
            marker = _LIST_MARKER.match(text)
            if marker:  # quote the item, not its bullet
                start, text = start + marker.end(), text[marker.end():]
            if _is_fragment(text):
                continue

            rows.append((number, start, end, text))
    if not rows:
        return []
    vectors = embedder.embed([r[3] for r in rows])
    similarities = vectors @ question_vector
    q_words = content_words(question)
    out = []
    for (number, start, end, text), sim in zip(rows, similarities, strict=True):
        overlap = len(q_words & content_words(text)) / len(q_words) if q_words else 0.0
        rank_prior = 0.03 * (1.0 / number)
        score = 0.75 * float(sim) + 0.25 * overlap + rank_prior
        out.append(Candidate(number, start, end, text, round(score, 4), round(float(sim), 4)))
    return sorted(out, key=lambda c: -c.score)


def select(candidates: Sequence[Candidate], config: ExtractiveConfig | None = None) -> list[Candidate]:
    """Best sentence first, then close runners-up (no near-duplicates) by score."""
    config = config or ExtractiveConfig()
    if not candidates or candidates[0].similarity < config.min_similarity:
        return []
    best = candidates[0].score
    chosen: list[Candidate] = []
    for cand in candidates:
        if len(chosen) >= config.max_sentences or cand.score < config.relative_cutoff * best:
            break
        if any(content_words(cand.text) == content_words(c.text) for c in chosen):
            continue
        chosen.append(cand)
    return chosen


def render(chosen: Sequence[Candidate]) -> str:
    """Quoted sentences, each followed by its passage marker, one per paragraph (a quote may lack
    final punctuation, and the blank line keeps the sentence splitter from joining quotes)."""
    return "\n\n".join(f"{c.text} [{c.passage}]" for c in chosen)
