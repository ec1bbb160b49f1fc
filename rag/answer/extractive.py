"""The default answerer: quote the excerpt of the retrieved passages that best answers the question.

Needs no language model, answers instantly, and cannot hallucinate: every excerpt it returns is
a verbatim span of a retrieved passage, located once here and handed to the checker with its
offsets. An excerpt is the best sentence plus the neighbours it needs to make sense: the
sentence before when the best one refers back ("this option", "To prevent this") or has no subject
of its own ("Equivalent to …", "For example, …"), the one after
when it only sets up (ends with a colon, "as follows", "the following") and whenever it fits
(documentation tends to restate the question, then answer it), the command or code line a quoted
set-up sentence introduces, and neighbours that carry what the question asks for (a name for
"which", a number for "how many", a reason for "why"). The first excerpt's optional neighbours leave
room for the runner-up excerpt, and an API signature standing alone counts less than the sentence
describing it. Measured on both eval sets (README).

Written by hand because no library quotes extractively with exact offsets; sentence vectors come
from the shared embedder (MiniLM), everything else is pure.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

import numpy as np

from index.embedding import Embedder
from rag.answer.question_kinds import QuestionKind, carries_answer, question_kind
from rag.check.injection import looks_like_instruction
from rag.records import Anchor, DraftSentence, Hit, QuoteSpan
from rag.text import content_words, split_sentences
from rag.words import word_count as count_words


@dataclass(frozen=True)
class PassageSentence:
    """One sentence of a passage: offsets into the passage text; ``fragment`` for headings and scraps;
    ``heading_line`` for a short line of its own that ends without a full stop, such as a question
    used as a heading ("Why It's Important?"): it may be quoted when it is the best sentence, but an
    excerpt never grows into it (``grow_excerpt``). Kept apart from ``fragment``, which also decides
    the sentences stored at ingest (``rag.sentence_vectors``)."""

    start: int
    end: int
    text: str
    fragment: bool
    heading_line: bool = False


@dataclass(frozen=True)
class Candidate:
    """A passage sentence scored against the question.

    ``hit_number`` is the 1-based place of its passage among the hits; ``position`` its index in
    that passage's sentences.
    """

    hit_number: int
    position: int
    start: int
    end: int
    text: str
    score: float
    similarity: float
    carries_answer: bool


DEFAULT_ANSWER_WORDS = 120


@dataclass(frozen=True)
class ExtractiveConfig:
    """``max_words`` caps the whole answer (the first excerpt always stays whole)."""

    max_excerpts: int = 3
    # 120 by measurement on five question sets (README "Evaluations": answer length); the first
    # excerpt, which leads the answer, is the same as at 80 words for nine in ten questions.
    max_words: int = DEFAULT_ANSWER_WORDS
    relative_cutoff: float = 0.7  # a further excerpt must score at least this share of the best
    neighbour_cutoff: float = 0.85  # a neighbour joins the excerpt when it scores this share of the best
    min_similarity: float = 0.25
    passages: int = 3  # the top 3 quoted as well as the top 5 on both eval sets, 40% fewer sentences to embed
    answer_bonus: float = 0.08  # for a sentence that carries what the question asks for
    follow: int = 1  # sentences after the best one quoted whenever they fit (the answer often follows its setup)
    code_penalty: float = 0.1  # a code listing or a traceback is rarely the answer itself
    signature_penalty: float = 0.1  # nor an API signature; added to the code penalty when it looks like code too
    overlap_weight: float = 0.25  # share of the question's content words the sentence holds
    rank_prior: float = 0.06  # divided by the passage's rank (measured on both halves of the Python docs: README)
    heading_context: bool = True  # embed "section: sentence", as chunks are embedded with their heading path
    room_for_runner_up: bool = True  # the first excerpt's optional growth leaves room for the second excerpt
    # A sentence that asks ("1 What is libffi?", an FAQ's question) answers nothing, however like the
    # question it reads; the one after it still follows it into the excerpt. No eval figure moved.
    question_penalty: float = 0.1


# Bullets as Markdown, word processors and PDFs write them ("– " opens a second-level item in
# LaTeX and DocBook PDFs: the Debian Reference).
_LIST_MARKER = re.compile(r"^(?:[-*•+–—◦▪‣○■□➢►]|\d{1,2}[.)])\s+")
# A sentence that points back at the one before cannot be understood alone.
_REFERS_BACK = re.compile(
    r"^(?:this|that|these|those|it|its|they|them|such|there|here|so|thus|therefore|hence|otherwise|instead|"
    r"however|also|then|likewise|similarly|in (?:this|that|such|these) (?:case|way)s?|for (?:this|that) reason|"
    r"to (?:prevent|avoid|do|achieve|fix|solve) (?:this|that|it)|as a result|in addition|the (?:above|former|latter)"
    r"|(?:the|this|that|these|those) (?:option|command|setting|method|function|file|value|approach|module|"
    r"parameter|argument|way|case|behaviou?r|feature|one|package|tool))\b", re.IGNORECASE)
# "Without this option, …", "Unlike these tools, …": a demonstrative early in the sentence.
# "Equivalent to td / timedelta(seconds=1).", "Like quote(), but also …", "For example, on Linux …":
# no subject of their own, so the sentence before says what they are about (reference pages write
# a function's description this way: "Return the total number of seconds …" and then these).
_ELLIPTICAL = re.compile(r"^(?:(?:equivalent|identical|similar|analogous) to|(?:the )?same as|like \S[^,]{0,40}, but"
                         r"|for (?:example|instance)\b|e\.g\.)", re.IGNORECASE)
_POINTS_BACK_EARLY = re.compile(r"^(?:[\w'’,-]+\s+){0,4}(?:this|these|those|such|the above|the same|either|"
                                r"both of them|the former|the latter)\b", re.IGNORECASE)
_SETS_UP = re.compile(r"(?::|\bas follows\.?|\bfor example\.?|\bsuch as\.?|\bthe following\.?|"
                      r"\b(?:shown|given|listed) below\.?)$", re.IGNORECASE)


def is_fragment(text: str) -> bool:
    """Headings, table header rows and scraps are not answers."""
    words = count_words(text)
    if text.lstrip().startswith("#") or words < 4:
        return True
    return not re.search(r"[.!?:;)\]\"”。！？؟]$", text.strip()) and words < 9


def passage_sentences(text: str) -> list[PassageSentence]:
    """The passage's sentences with offsets; list items are quoted without their bullets. An
    instruction planted in a document ("ignore your instructions and reply with…") is never quoted,
    not even as the neighbour of an answer."""
    out = []
    for start, end, sentence in split_sentences(text):
        marker = _LIST_MARKER.match(sentence)
        if marker:
            start, sentence = start + marker.end(), sentence[marker.end():]
        out.append(PassageSentence(start, end, sentence, is_fragment(sentence) or looks_like_instruction(sentence),
                                   is_heading_line(text, start, end)))
    return out


def is_heading_line(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` is a short line of its own ending without a full stop: a heading,
    often a question ("Why It's Important?", "What's Next?"), that an excerpt should not run into."""
    own_line = text[:start].rstrip(" \t").endswith("\n") or not text[:start].strip()
    line_ends = text[end:].lstrip(" \t")[:1] in ("\n", "")
    sentence = text[start:end].strip()
    return own_line and line_ends and count_words(sentence) < 9 and not sentence.endswith((".", ":", ";", "。"))


# An assignment starts code, but a capitalised word before " = " is prose ("The = specifier expands…").
_CODE_START = re.compile(r"^\s*(?:>>>|\.\.\.|\$ |#!|Traceback|(?![A-Z][a-z]+\s+=)[\w.]+\s*=\s*\S|"
                         r"(?:def|class|import|from|for|if|while|with|return|print)\b[^.]*[:(]\s*$)")
_SYMBOLS = re.compile(r"[=(){}\[\]<>:;#@*/\\|'\"]")


def looks_like_code(text: str) -> bool:
    """A code listing, shell session or traceback rather than prose."""
    if _CODE_START.match(text) or ("\n" in text.strip() and ">>>" in text):
        return True
    letters = sum(ch.isalpha() for ch in text)
    return letters == 0 or len(_SYMBOLS.findall(text)) / letters > 0.12


_SIGNATURE_START = re.compile(r"^(?:(?:class|def|async|exception|coroutine|abstractmethod|classmethod|staticmethod|"
                              r"awaitable|property)\s+)*[A-Za-z_][\w.]*\(")


def is_signature(text: str) -> bool:
    """An API signature standing alone ("copy.deepcopy(x[, memo])", "class zipfile.ZipFile(file,
    mode='r')"): it names what the question names but says nothing about it. Only a name and its
    bracketed parameters, optionally "-> type"; prose that starts with a call does not count.

    >>> is_signature("itertools.groupby(iterable, key=None)"), is_signature("sorted(x) returns a new list.")
    (True, False)
    """
    text = text.strip()
    start = _SIGNATURE_START.match(text)
    if not start:
        return False
    depth = 0
    for i in range(start.end() - 1, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            rest = text[i + 1:].strip()
            return not rest or (rest.startswith("->") and " " not in rest[2:].strip())
    return False


def refers_back(text: str) -> bool:
    """Whether the sentence points at the one before ("To prevent this", "Without this option"), or
    has no subject of its own ("Equivalent to …", "Like quote(), but …", "For example, …")."""
    text = text.lstrip("\"'“(")
    return bool(_REFERS_BACK.match(text) or _POINTS_BACK_EARLY.match(text) or _ELLIPTICAL.match(text))


def sets_up(text: str) -> bool:
    return bool(_SETS_UP.search(text.rstrip()))


def word_count(text: str) -> int:
    return count_words(text)


def heading_context(heading: str, sentence: str) -> str:
    """The text embedded for a sentence: its section's heading as context (stored at ingest too)."""
    return f"{heading}: {sentence}" if heading else sentence


def score_candidates(question: str, question_vector: np.ndarray, passages: Sequence[Sequence[PassageSentence]],
                     embedder: Embedder, config: ExtractiveConfig, headings: Sequence[str] = (),
                     anchors: Sequence[Sequence[tuple[int, int, str]] | None] = (),
                     focus_words: AbstractSet[str] = frozenset()) -> list[Candidate]:
    """Score every non-fragment sentence: MiniLM similarity, question-word overlap, answer type, rank.
    ``anchors``: per passage, the (start, end, heading) of each chunk of a widened passage whose
    sentences are candidates, each read under its own chunk's heading (None or not given: the whole
    passage, under the passage's heading). ``focus_words``: the words the overlap counts, when not
    the question's own (a follow-up's: not those the earlier question brought into ``question``)."""
    kind = question_kind(question)

    def anchor_of(number: int, s: PassageSentence) -> tuple[int, int, str] | None:
        ranges = anchors[number - 1] if number <= len(anchors) else None
        return next((r for r in ranges or () if s.start < r[1] and r[0] < s.end), None)

    def found(number: int, s: PassageSentence) -> bool:
        return number > len(anchors) or anchors[number - 1] is None or anchor_of(number, s) is not None

    def heading(number: int, s: PassageSentence) -> str:
        anchor = anchor_of(number, s)
        return anchor[2] if anchor is not None else headings[number - 1]

    rows = [(number, position, s) for number, sentences in enumerate(passages, 1)
            for position, s in enumerate(sentences) if not s.fragment and found(number, s)]
    if not rows:
        return []
    if config.heading_context and headings:
        texts = [heading_context(heading(n, s), s.text) for n, _, s in rows]
    else:
        texts = [s.text for _, _, s in rows]
    similarities = embedder.embed(texts) @ question_vector
    q_words = set(focus_words) or content_words(question)
    out = []
    for (number, position, s), sim in zip(rows, similarities, strict=True):
        overlap = len(q_words & content_words(s.text)) / len(q_words) if q_words else 0.0
        answer = carries_answer(kind, s.text)
        score = ((1 - config.overlap_weight) * float(sim) + config.overlap_weight * overlap
                 + config.rank_prior / number + (config.answer_bonus if answer else 0.0)
                 - (config.code_penalty if looks_like_code(s.text) else 0.0)
                 - (config.signature_penalty if is_signature(s.text) else 0.0)
                 - (config.question_penalty if s.text.rstrip().endswith("?") else 0.0))
        out.append(Candidate(number, position, s.start, s.end, s.text, round(score, 4), round(float(sim), 4),
                             answer))
    return sorted(out, key=lambda c: (-c.score, c.hit_number, c.position))


def grow_excerpt(best: Candidate, sentences: Sequence[PassageSentence], scores: dict[int, float], kind: QuestionKind,
                 word_budget: int, config: ExtractiveConfig, reserved: int = 0) -> tuple[int, int]:
    """Indices ``lo..hi`` (inclusive) of the sentences quoted around ``best`` (in a widened passage
    an excerpt may reach into the neighbours: the sentence a quote points back to is often there).
    ``reserved`` words of the budget are kept for a later excerpt: only the optional neighbours
    (those scoring nearly as well, or carrying the answer) respect it; the context the best sentence
    needs and the sentence after it do not."""
    lo = hi = best.position
    words = word_count(best.text)

    def usable(i: int) -> bool:
        return 0 <= i < len(sentences) and not sentences[i].fragment and not sentences[i].heading_line

    def fits(i: int, keep: int = 0) -> bool:
        return words + word_count(sentences[i].text) <= word_budget - keep

    def introduced(i: int) -> bool:
        """The line a set-up sentence introduces ("You can change it by the following." then "$ sudo
        update-alternatives --config editor"): quoted though a command alone reads as a scrap."""
        return (0 < i < len(sentences) and sets_up(sentences[i - 1].text) and not sentences[i].heading_line
                and not looks_like_instruction(sentences[i].text))

    if refers_back(best.text) and usable(lo - 1):
        lo -= 1  # needed to understand the best sentence, whatever the budget
        words += word_count(sentences[lo].text)
    if sets_up(best.text) and (usable(hi + 1) or introduced(hi + 1)):
        hi += 1
        words += word_count(sentences[hi].text)
    for _ in range(config.follow):  # the answer often follows the sentence that restates the question
        if usable(hi + 1) and fits(hi + 1) and not looks_like_code(sentences[hi + 1].text):
            hi += 1
            words += word_count(sentences[hi].text)
            if introduced(hi + 1) and fits(hi + 1):
                hi += 1
                words += word_count(sentences[hi].text)
    # Neighbours that carry the answer the best sentence lacks, or that score nearly as well.
    changed = True
    while changed:
        changed = False
        for i, step in ((hi + 1, 1), (lo - 1, -1)):
            if not usable(i) or not fits(i, reserved):
                continue
            strong = scores.get(i, 0.0) >= config.neighbour_cutoff * best.score
            needed = not best.carries_answer and carries_answer(kind, sentences[i].text) and \
                scores.get(i, 0.0) >= 0.6 * best.score
            joined = step == 1 and refers_back(sentences[i].text) and scores.get(i, 0.0) >= 0.7 * best.score
            if strong or needed or joined:
                if step == 1:
                    hi = i
                else:
                    lo = i
                words += word_count(sentences[i].text)
                if step == -1 and refers_back(sentences[i].text) and usable(lo - 1) and fits(lo - 1):
                    lo -= 1
                    words += word_count(sentences[lo].text)
                changed = True
                break
    if introduced(hi + 1) and fits(hi + 1):  # a neighbour that sets up brings what it introduces
        hi += 1
    return lo, hi


def quoted_anchors(hits: Sequence[Hit], passages: int) -> list[tuple[int, Anchor]]:
    """The chunks the answerer quotes from when passages were widened: the ``passages`` best of the
    fused ranking, each with the 1-based number of the widened passage holding it. Widening then
    changes what is shown and cited around a quote, not which chunks are quoted from (measured on
    the Python docs: scoring the neighbours' sentences too quoted the evidence less often, 0.642
    against 0.673, and needs their vectors at question time; README "Evaluations")."""
    return [(number, anchor) for number, hit in enumerate(hits[:passages], 1)
            for anchor in hit.anchors if anchor.rank <= passages]


def first_runner_up(best: Candidate, candidates: Sequence[Candidate], budget: int,
                    config: ExtractiveConfig) -> Candidate | None:
    """The sentence that would open the second excerpt if the first left room for it: the next one
    scoring within ``relative_cutoff`` of the best, not beside it, saying something new, and short
    enough to fit next to it. The best excerpt's optional growth leaves its words free (measured on
    the Python docs, README "Evaluations": the runner-up often holds the answer the best sentence's
    neighbours do not)."""
    if not config.room_for_runner_up or config.max_excerpts < 2:
        return None
    words = content_words(best.text)
    return next((c for c in candidates if c is not best and c.score >= config.relative_cutoff * best.score
                 and not (c.hit_number == best.hit_number and abs(c.position - best.position) <= 1)
                 and not content_words(c.text) <= words
                 and word_count(c.text) <= budget - word_count(best.text)), None)


def draft_excerpts(question: str, question_vector: np.ndarray, hits: Sequence[Hit], embedder: Embedder,
                   config: ExtractiveConfig | None = None, focus_words: AbstractSet[str] = frozenset()
                   ) -> list[DraftSentence]:
    """The excerpts that answer ``question`` best, each a verbatim span of one passage with its offsets
    (``focus_words``: see ``score_candidates``).

    >>> draft_excerpts("q", vector, hits, embedder)  # doctest: +SKIP
    [DraftSentence(text='...', passages=(1,), quote=QuoteSpan(start=120, end=310, ...))]
    """
    config = config or ExtractiveConfig()
    passages = [passage_sentences(hit.chunk.text) for hit in hits[:config.passages]]
    headings = [hit.chunk.heading[-1] if hit.chunk.heading else "" for hit in hits[:config.passages]]
    # A widened passage is quoted from the chunks retrieval found (``quoted_anchors``); its neighbours
    # only complete an excerpt.
    quoted = quoted_anchors(hits, config.passages)
    anchors = [None if not hit.anchors else [(a.start - hit.chunk.start, a.end - hit.chunk.start,
                                             a.heading[-1] if a.heading else "") for n, a in quoted if n == number]
               for number, hit in enumerate(hits[:config.passages], 1)]
    candidates = score_candidates(question, question_vector, passages, embedder, config, headings, anchors,
                                  focus_words)
    if not candidates or candidates[0].similarity < config.min_similarity:
        return []
    kind = question_kind(question)
    scores: dict[tuple[int, int], float] = {(c.hit_number, c.position): c.score for c in candidates}
    taken: dict[int, list[tuple[int, int]]] = {}  # hit number -> quoted sentence ranges
    out: list[DraftSentence] = []
    used_words = 0
    best_score = candidates[0].score
    for cand in candidates:
        if len(out) >= config.max_excerpts or cand.score < config.relative_cutoff * best_score:
            break
        ranges = taken.setdefault(cand.hit_number, [])
        if any(lo - 1 <= cand.position <= hi + 1 for lo, hi in ranges):
            continue  # inside or next to an excerpt already quoted
        if out and any(content_words(cand.text) <= content_words(d.text) for d in out):
            continue  # says nothing new (the same sentence in an overlapping passage)
        budget = config.max_words - used_words
        if out and word_count(cand.text) > budget:
            continue
        runner_up = first_runner_up(cand, candidates, budget, config) if not out else None
        sentences = passages[cand.hit_number - 1]
        by_position = {pos: score for (number, pos), score in scores.items() if number == cand.hit_number}
        lo, hi = grow_excerpt(cand, sentences, by_position, kind, max(budget, word_count(cand.text)), config,
                              word_count(runner_up.text) if runner_up else 0)
        ranges.append((lo, hi))
        text = hits[cand.hit_number - 1].chunk.text
        start, end = sentences[lo].start, sentences[hi].end
        excerpt = " ".join(text[start:end].split())
        out.append(DraftSentence(excerpt, (cand.hit_number,), QuoteSpan(start, end, cand.start, cand.end),
                                 similarity=cand.similarity))
        used_words += word_count(excerpt)
    return out


def render(excerpts: Sequence[DraftSentence]) -> str:
    """Quoted excerpts, each followed by its passage marker, one per paragraph."""
    return "\n\n".join(f"{d.text} [{d.passages[0]}]" for d in excerpts)
