"""Evaluation metrics as pure functions: retrieval ranking, faithfulness, ALCE citations, F1.

Everything here works on plain values (strings, booleans, verdict names), so each metric can be
checked on a hand-computed case without a model or an index.

>>> relevance(["The cat sat.", "Dogs bark — loudly."], ["dogs bark - LOUDLY"])
[False, True]
>>> passage = ["Load it with ( $ModLoad imudp ) first."]
>>> relevance(passage, ["($ModLoad imudp)"]), relevance(passage, ["($ModLoad imudp)"], strict=True)
([True], [False])
>>> hit_at([False, True], 1), hit_at([False, True], 5), reciprocal_rank([False, True], 5)
(0.0, 1.0, 0.5)
"""

from __future__ import annotations

import math
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rag.check.citations import strip_markers

# Typographic variants that differ between a dataset written by hand and text pulled from PDF,
# DOCX or HTML; comparing them literally would count a correct span as missing.
_QUOTES = {ord(c): "'" for c in "‘’‚‛′´"} | {ord(c): '"' for c in "“”„‟″«»"}
_DASHES = {ord(c): "-" for c in "‐‑‒–—―−⁃"}
_INVISIBLE = {ord(c): None for c in "\u00ad\u200b\u200c\u200d\u2060\ufeff"}
_TRANSLATE = _QUOTES | _DASHES | _INVISIBLE
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans({c: " " for c in string.punctuation})

SUPPORTED = "supported"


def normalise(text: str) -> str:
    """Case-folded text with one kind of quote, one kind of dash and single spaces.

    >>> normalise("Kyiv’s  “red line” — Donetsk")
    'kyiv\\'s "red line" - donetsk'
    """
    text = unicodedata.normalize("NFKC", text).translate(_TRANSLATE)
    return " ".join(text.casefold().split())


def letters_and_digits(text: str) -> str:
    """Only the letters and digits of ``text``, case-folded, after NFKC (ligatures "ﬁ" -> "fi", full-width
    forms) and with soft hyphens and zero-width characters dropped: the form evidence is matched in.

    Whitespace, punctuation, quotes and dashes differ between a span copied from a rendered page and
    the text a loader extracts ("( $ModLoad imudp )" vs "($ModLoad imudp)", "host )", a soft hyphen
    inside a word); ignoring them all keeps a correct span from being counted as missing.

    >>> letters_and_digits("Kyiv’s  “red line” — Don\u00adetsk, ﬁnal")
    'kyivsredlinedonetskfinal'
    """
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE).casefold()
    return "".join(ch for ch in text if ch.isalnum())


def contains_span(text: str, spans: Iterable[str], strict: bool = False) -> bool:
    """True when any non-empty span occurs in ``text``: compared on ``letters_and_digits`` by
    default; ``strict`` compares on ``normalise`` (spaces and punctuation kept)."""
    form = normalise if strict else letters_and_digits
    haystack = form(text)
    return any(needle and needle in haystack for needle in (form(s) for s in spans))


EVIDENCE_ANSWERED = 0.6
"""An answer holds the evidence when it has at least this share of the span's content words."""


def evidence_word_share(answer: str, spans: Iterable[str]) -> float:
    """The largest share, over the evidence spans, of a span's content words found in ``answer``.

    Content words as the support judge counts them (stopwords dropped, light stemming), so an
    answer that quotes the evidence with a different neighbour or a paraphrase still counts.

    >>> evidence_word_share("Hard links to the previous backup save space. [1]",
    ...                     ["nightly backups are hard links to the previous backup"])
    0.8
    """
    from rag.text import content_words

    found = content_words(answer)
    shares = [len(words & found) / len(words) for words in (content_words(s) for s in spans) if words]
    return max(shares, default=0.0)


def relevance(passages: Sequence[str], spans: Sequence[str], strict: bool = False) -> list[bool]:
    """For each retrieved passage (best first): does it contain an evidence span (``contains_span``)?"""
    return [contains_span(p, spans, strict) for p in passages]


def hit_at(relevant: Sequence[bool], k: int) -> float:
    """1.0 when a relevant passage is among the first ``k``."""
    return 1.0 if any(relevant[:k]) else 0.0


def reciprocal_rank(relevant: Sequence[bool], k: int) -> float:
    """1 / rank of the first relevant passage within the first ``k`` (0 when none).

    >>> reciprocal_rank([False, False, True], 5)
    0.3333333333333333
    """
    for i, rel in enumerate(relevant[:k]):
        if rel:
            return 1.0 / (i + 1)
    return 0.0


def ndcg(relevant: Sequence[bool], k: int, n_relevant: int | None = None) -> float:
    """Binary-relevance nDCG@k.

    ``n_relevant`` is how many relevant passages exist in the whole index (the ideal ranking puts
    them all first); without it, only the relevant passages that were retrieved count.

    >>> round(ndcg([False, True], 5), 4)
    0.6309
    >>> round(ndcg([False, True], 5, n_relevant=2), 4)
    0.3869
    """
    gains = [1.0 / math.log2(i + 2) for i, rel in enumerate(relevant[:k]) if rel]
    ideal_count = min(k, max(n_relevant or 0, len(gains)))
    if ideal_count == 0:
        return 0.0
    ideal = sum(1.0 / math.log2(i + 2) for i in range(ideal_count))
    return sum(gains) / ideal


def _answer_tokens(text: str) -> list[str]:
    """SQuAD-style tokens: normalised, no punctuation, no articles."""
    text = normalise(strip_markers(text)).translate(_PUNCTUATION)
    return _ARTICLES.sub(" ", text).split()


def token_f1(prediction: str, reference: str) -> float:
    """Token-overlap F1 between an answer and the reference answer (SQuAD style).

    >>> round(token_f1("The guarantees come from the US.", "from the US"), 4)
    0.6667
    """
    pred, ref = _answer_tokens(prediction), _answer_tokens(reference)
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


@dataclass(frozen=True)
class JudgedSentence:
    """One answer sentence as ALCE judges its citations (Gao et al., 2023, "Enabling Large Language
    Models to Generate Text with Citations", section 3; ``eval.py`` of princeton-nlp/ALCE).

    ``support``: the sentence's own verdict (for faithfulness). ``joint``: the verdict of all its
    cited passages together (concatenated). ``citation_verdicts``: each cited passage alone.
    ``without_verdicts``: for each citation, the verdict of the *other* citations together (only
    needed when the sentence has several citations; None where not judged).
    """

    support: str
    citation_verdicts: tuple[str, ...] = ()
    joint: str | None = None  # None: the same as the single citation's verdict, or no citation
    without_verdicts: tuple[str | None, ...] = ()

    @property
    def jointly_supported(self) -> bool:
        if not self.citation_verdicts:
            return False
        joint = self.joint if self.joint is not None else self.citation_verdicts[0]
        return joint == SUPPORTED


def faithfulness(sentences: Sequence[JudgedSentence]) -> float | None:
    """Share of sentences supported by the passages they cite (None for an answer without any)."""
    if not sentences:
        return None
    return sum(s.support == SUPPORTED for s in sentences) / len(sentences)


def citation_recall(sentences: Sequence[JudgedSentence]) -> float | None:
    """ALCE citation recall: the share of sentences that cite something and whose cited passages,
    concatenated, support them (an uncited sentence counts 0). None for an answer without sentences.

    >>> two_facts = JudgedSentence("supported", ("unsupported", "unsupported"), "supported")
    >>> citation_recall([two_facts, JudgedSentence("unsupported", ())])
    0.5
    """
    if not sentences:
        return None
    return sum(s.jointly_supported for s in sentences) / len(sentences)


def citation_precision(sentences: Sequence[JudgedSentence]) -> float | None:
    """ALCE citation precision: the share of citations that are relevant.

    A citation is irrelevant when it alone does not support its sentence *and* the sentence's
    other citations together still do. A sentence its citations do not support jointly gives its
    citations no credit (ALCE's ``entail_prec += joint_entail``). An answer with sentences but no
    citation at all scores 0; None for an answer without sentences.

    >>> two_facts = ("unsupported", "unsupported", "unsupported")
    >>> citation_precision([JudgedSentence("supported", two_facts, "supported", ("unsupported", "unsupported",
    ...                                                                          "supported"))])
    0.6666666666666666
    """
    if not sentences:
        return None
    total = relevant = 0
    for s in sentences:
        total += len(s.citation_verdicts)
        if not s.jointly_supported:
            continue
        if len(s.citation_verdicts) == 1:
            relevant += 1
            continue
        for alone, others in zip(s.citation_verdicts, s.without_verdicts or (None,) * len(s.citation_verdicts),
                                 strict=True):
            relevant += not (alone != SUPPORTED and others == SUPPORTED)
    return relevant / total if total else 0.0


def mean(values: Iterable[float | None]) -> float | None:
    """Mean of the values that are not None (None when there are none)."""
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) with linear interpolation, as numpy's default.

    >>> percentile([1.0, 2.0, 3.0, 4.0], 50)
    2.5
    """
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
