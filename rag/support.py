"""Does a cited passage support a sentence? The offline judge.

No NLI or reranker model ships on PyPI, so the default judge combines what we have:
lexical coverage of the sentence's content words, hard checks on numbers and names (a number
or a name absent from the passage means unsupported), negation and role-order checks against
the best-matching passage sentence, and MiniLM similarity. Pure apart from the optional
``similarity`` callable, so it is cheap to test on hand-made pairs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from rag.llm_injection import injection_problems
from rag.records import Support, Verdict
from rag.sentences import split_sentences

Similarity = Callable[[Sequence[tuple[str, str]]], list[float]]
"""Cosine similarity for each (sentence, passage sentence) pair."""

STOPWORDS = frozenset((
    "a", "about", "above", "after", "again", "against", "all", "also", "am", "an", "and", "any", "are", "as",
    "at", "be", "because", "been", "before", "being", "below", "between", "both", "but", "by", "can", "could",
    "did", "do", "does", "doing", "down", "during", "each", "few", "for", "from", "further", "had", "has",
    "have", "having", "he", "her", "here", "hers", "herself", "him", "himself", "his", "how", "i", "if", "in",
    "into", "is", "it", "its", "itself", "just", "me", "more", "most", "my", "myself", "nor", "of", "off",
    "on", "once", "only", "or", "other", "our", "ours", "ourselves", "out", "over", "own", "same", "she",
    "should", "so", "some", "such", "than", "that", "the", "their", "theirs", "them", "themselves", "then",
    "there", "these", "they", "this", "those", "through", "to", "too", "under", "until", "up", "very", "was",
    "we", "were", "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with", "would",
    "you", "your", "yours", "yourself", "yourselves", "said", "says", "say", "according", "one", "may", "might",
    "must", "shall",
))
_NEGATIONS = frozenset({"not", "no", "never", "without", "neither", "nor", "none", "nothing", "cannot", "n't"})
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*|\d+(?:[.,]\d+)*%?")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_NUMBER_WORDS = {"zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
                 "seven": "7", "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12",
                 "twenty": "20", "thirty": "30", "forty": "40", "fifty": "50", "hundred": "100"}
# Words that often open a sentence without being names.
_COMMON_INITIALS = {"most", "many", "some", "each", "every", "under", "after", "before", "during", "since", "while",
                    "although", "because", "however", "instead", "despite", "around", "about", "roughly", "only",
                    "in", "on", "at", "for", "with", "without", "if", "when", "once", "unlike", "like", "new", "old",
                    "typical", "typically", "usually", "often", "overall", "today", "yes", "no"}
# Words that open questions and requests; never names, whatever their case.
_QUESTION_WORDS = {"what", "which", "who", "whom", "whose", "where", "when", "why", "how", "is", "are", "was",
                   "were", "do", "does", "did", "can", "could", "should", "would", "will", "shall", "may", "might",
                   "must", "have", "has", "had", "i", "please", "tell", "show", "explain", "describe", "give", "list",
                   "let", "let's", "lets", "ok", "okay", "hi", "hello", "hey", "thanks", "don", "doesn", "isn",
                   "aren", "won", "can't", "cannot"}
_MONTHS = {"january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}


def _stem(word: str) -> str:
    word = word.lower().replace("’", "'")
    if word.endswith("'s"):
        word = word[:-2]
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix) and not word.endswith("ss"):
            return word[: -len(suffix)]
    return word


def content_words(text: str) -> set[str]:
    """Lower-cased, lightly stemmed words that carry meaning (stopwords and markers dropped)."""
    text = re.sub(r"\[\d[\d,\s-]*\]", " ", text)
    return {_stem(w) for w in _WORD.findall(text) if w.lower() not in STOPWORDS and not w[0].isdigit()}


def numbers_in(text: str) -> set[str]:
    """Numbers in canonical form ("1,200" -> "1200", "3.50" -> "3.5"; small number words too)."""
    text = re.sub(r"\[\d[\d,\s-]*\]", " ", text)
    found = set()
    for raw in _NUMBER.findall(text):
        value = raw.replace(",", "")
        if "." in value:
            value = value.rstrip("0").rstrip(".")
        found.add(value)
    for word in re.findall(r"[a-z]+", text.lower()):
        if word in _NUMBER_WORDS:
            found.add(_NUMBER_WORDS[word])
    return found


def names_in(text: str) -> list[str]:
    """Capitalised words that are not sentence-initial, plus months and weekdays: likely names."""
    text = re.sub(r"\[\d[\d,\s-]*\]", " ", text)
    names: list[str] = []
    lowercase_words = {w for w in re.findall(r"[a-z][a-z'’-]*", text)} | _COMMON_INITIALS
    for _, _, sentence in split_sentences(text):
        words = re.findall(r"[A-Za-z][A-Za-z'’-]*", sentence)
        for i, word in enumerate(words):
            lower = word.lower()
            # "What's", "I'm", "I've", "Don't": a contraction of a stopword is never a name.
            base = re.split(r"['’]", lower)[0]
            if (base in STOPWORDS or base in _QUESTION_WORDS) and not (i > 0 and lower in _MONTHS):
                continue
            # The first word is capitalised anyway; it counts as a name only when it is not an
            # ordinary word elsewhere in the language we see (stopword or lower-case use in the text).
            initial_name = i == 0 and word[0].isupper() and lower not in lowercase_words
            if lower in _MONTHS or initial_name or (i > 0 and word[0].isupper()):
                stem = _stem(word)
                if stem not in names:
                    names.append(stem)
    return names


_MAX_NEW_WORDS = 3


def _initialisms(text: str) -> set[str]:
    """Initials of runs of capitalised words: "United States" -> "us", so "US" counts as present."""
    out = set()
    for run in re.findall(r"(?:\b[A-Z][a-z]+(?:\s+(?:of\s+)?|$)){2,}", text):
        out.add("".join(w[0] for w in run.split() if w[0].isupper()).lower())
    return out


def _name_present(name: str, passage_words: set[str]) -> bool:
    """A name counts as present when a passage word equals it or shares its first five letters
    (Ukraine/Ukrainian, Europe/European)."""
    if name in passage_words:
        return True
    return len(name) >= 5 and any(w.startswith(name[:5]) for w in passage_words)


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


def unmatched_terms(question: str, passages: Sequence[str]) -> list[str]:
    """Names and numbers of the question that no passage contains (the words as the question wrote them).

    A question about "Crimea" or a "20 kW system" cannot be answered from passages that never
    mention them, however close the topic: quoting them would answer another question. Numbers
    count from two significant digits on: "the last 3 items" or "0.5 seconds" are the user's own
    example values, "the 1998 World Cup" is a fact the passages must hold.

    >>> unmatched_terms("what did Zelenskyy say about Crimea?", ["Zelenskyy refused to cede Donetsk."])
    ['crimea']
    """
    joined = " ".join(passages)
    words = {_stem(w) for w in re.findall(r"[A-Za-z][A-Za-z'’-]*", joined)} | _initialisms(joined)
    missing_stems = {n for n in names_in(question) if len(n) > 1 and not _name_present(n, words)}
    surface = list(dict.fromkeys(w.lower() for w in re.findall(r"[A-Za-z][A-Za-z'’-]*", question)
                                 if _stem(w) in missing_stems))
    numbers = [n for n in sorted(numbers_in(question) - numbers_in(joined))
               if len(n.replace(".", "").lstrip("0")) >= 2 and _standalone_number(n, question)]
    return surface + numbers


def _standalone_number(number: str, text: str) -> bool:
    """Not part of a word or an escape ("\\u00e9", "x86", "sha256")."""
    return any(not re.match(r"[\w\\]", text[m.start() - 1:m.start()] or " ")
               for m in re.finditer(re.escape(number), text.replace(",", "")))


def unknown_terms(question: str, corpus_knows: Callable[[str], bool], is_common: Callable[[str], bool]) -> list[str]:
    """Technical or proper terms of the question that no indexed document contains.

    "bcrypt", "inotify" or "matplotlib" in a question about documents that never mention them:
    no passage can answer it. A word counts when the documents lack it and it is not an
    ordinary word (``is_common``: the embedding model's whole-word vocabulary), so casual
    phrasing ("bother", "folder") never triggers a refusal.

    >>> unknown_terms("how do I hash passwords with bcrypt?", {"hash", "passwords"}.__contains__,
    ...               {"how", "do", "hash", "passwords", "with"}.__contains__)
    ['bcrypt']
    """
    out: list[str] = []
    for token in re.findall(r"\w+", question):
        word = token.strip("_").lower()
        ordinary = word in STOPWORDS or word in _QUESTION_WORDS
        if len(word) < 4 or not word.replace("_", "").isalpha() or ordinary or word in out:
            continue
        if corpus_knows(token.lower()) or any(is_common(b) or corpus_knows(b) for b in _word_bases(word)):
            continue
        out.append(word)
    return out


def absent_words(question: str, corpus_knows: Callable[[str], bool]) -> list[str]:
    """The question's content words (four letters or more) that no indexed document holds, in any
    form ("sortable" counts as present where "sort" is).

    >>> absent_words("How much does a home wind turbine cost?", {"home", "cost"}.__contains__)
    ['wind', 'turbine']
    """
    words = dict.fromkeys(w.lower() for w in re.findall(r"[A-Za-z]+", question))
    return [w for w in words if len(w) >= 4 and w not in STOPWORDS and w not in _QUESTION_WORDS
            and w not in _QUANTITY_WORDS and not any(corpus_knows(b) for b in _word_bases(w))]


_QUANTITY_WORDS = {"many", "much", "long", "often", "best", "good", "exactly", "really", "actually"}
_SUFFIXES = ("ability", "able", "ible", "ers", "ing", "ed", "es", "s", "ly")
_PREFIXES = ("sub", "non", "un", "re", "pre", "multi", "super")


def _word_bases(word: str) -> list[str]:
    """The word and what it is built on: "sortable" -> sort, "subfolder" -> folder, "ints" -> int."""
    bases = [word]
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            bases += [word[: -len(suffix)], word[: -len(suffix)] + "e"]
    for prefix in _PREFIXES:
        if word.startswith(prefix) and len(word) - len(prefix) >= 4:
            bases.append(word[len(prefix):])
    return bases


def has_negation(text: str) -> bool:
    lower = text.lower().replace("’", "'")
    return "n't" in lower or any(w in _NEGATIONS for w in re.findall(r"[a-z']+", lower))


class Judge(Protocol):
    """Anything that scores (sentence, cited passage) pairs: the heuristic here or an LLM judge."""

    name: str

    def check_many(self, pairs: Sequence[tuple[str, str]]) -> list[Support]: ...


@dataclass(frozen=True)
class JudgeThresholds:
    """Score cut-offs, calibrated on ``evals/datasets/judge.jsonl`` (see ``rag eval-judge``)."""

    supported: float = 0.6
    weak: float = 0.45


def best_passage_sentence(sentence: str, passage: str) -> tuple[int, int, str]:
    """The passage sentence (with offsets into ``passage``) sharing most content words."""
    words = content_words(sentence)
    best = (0, len(passage), passage)
    best_score = -1.0
    for start, end, text in split_sentences(passage):
        overlap = len(words & content_words(text)) / (len(words) or 1)
        if overlap > best_score:
            best, best_score = (start, end, text), overlap
    return best


def is_verbatim(sentence: str, passage: str) -> bool:
    """``sentence`` is a quote of ``passage`` (whitespace aside): its own best match, however many
    passage sentences it spans."""
    return " ".join(sentence.split()) in " ".join(passage.split())


class HeuristicJudge:
    """Lexical coverage + numbers/names/negation checks + embedding similarity.

    >>> judge = HeuristicJudge()
    >>> judge.check("Sales rose 5% in May.", "Sales rose 7% in May.").verdict
    'unsupported'
    """

    def __init__(self, similarity: Similarity | None = None, thresholds: JudgeThresholds | None = None) -> None:
        self.similarity = similarity
        self.thresholds = thresholds or JudgeThresholds()
        self.name = "heuristic:lexical+minilm" if similarity else "heuristic:lexical"

    def check(self, sentence: str, passage: str) -> Support:
        return self.check_many([(sentence, passage)])[0]

    def check_many(self, pairs: Sequence[tuple[str, str]]) -> list[Support]:
        """Judge many (sentence, cited passage text) pairs with one batched similarity call."""
        verbatim = [is_verbatim(s, p) for s, p in pairs]
        focus = [s if quote else best_passage_sentence(s, p)[2] for (s, p), quote in zip(pairs, verbatim, strict=True)]
        sims: list[float | None] = [None] * len(pairs)
        if self.similarity and pairs:
            # A quote is its own best match: similarity 1 without embedding it again.
            todo = [i for i, quote in enumerate(verbatim) if not quote]
            measured = self.similarity([(pairs[i][0], focus[i]) for i in todo]) if todo else []
            sims = [1.0 if quote else None for quote in verbatim]
            for i, value in zip(todo, measured, strict=True):
                sims[i] = value
        return [self._score(s, p, f, sim) for (s, p), f, sim in zip(pairs, focus, sims, strict=True)]

    def _score(self, sentence: str, passage: str, focus: str, similarity: float | None) -> Support:
        reasons: list[str] = []
        hard_fail = False
        words = content_words(sentence)
        passage_words = content_words(passage)
        coverage = len(words & passage_words) / len(words) if words else 0.0
        missing_numbers = sorted(numbers_in(sentence) - numbers_in(passage))
        if missing_numbers:
            hard_fail = True
            reasons.append("number not in the cited passage: " + ", ".join(missing_numbers))
        passage_lower = {_stem(w) for w in re.findall(r"[A-Za-z][A-Za-z'’-]*", passage)} | _initialisms(passage)
        sentence_names = names_in(sentence)
        missing_names = [n for n in sentence_names if len(n) > 1 and not _name_present(n, passage_lower)]
        if missing_names:
            hard_fail = True
            reasons.append("name not in the cited passage: " + ", ".join(missing_names))
        if _negation_flipped(sentence, focus):
            hard_fail = True
            reasons.append("negation differs from the cited passage")
        injected = injection_problems(sentence, passage, focus)
        if injected:  # a link or an order copied from an instruction inside a document is not evidence
            hard_fail = True
            reasons.extend(injected)
        missing_words = sorted(words - passage_words)
        if missing_words:
            reasons.append("words not in the passage: " + ", ".join(missing_words[:6]))
        # Three or more new content words is a claim of its own (an invented clause, another
        # team, other materials): at most weak, however similar the rest of the sentence is.
        too_new = len(missing_words) >= _MAX_NEW_WORDS
        score = coverage if similarity is None else 0.6 * coverage + 0.4 * max(0.0, min(1.0, similarity))
        if hard_fail:
            score = min(score, self.thresholds.weak - 0.01)
        elif too_new:
            score = min(score, self.thresholds.supported - 0.01)
        verdict: Verdict
        if score >= self.thresholds.supported:
            verdict = "supported"
        elif score >= self.thresholds.weak:
            verdict = "weak"
        else:
            verdict = "unsupported"
        return Support(verdict, round(score, 4), self.name, tuple(reasons))
