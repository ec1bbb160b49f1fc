"""What a question's words are to the index: terms no document holds, and words absent in any form.

The refusal gate (``rag.retrieve.refusal_gate``) refuses a question that uses a technical term no
indexed document holds ("bcrypt" asked of the Python docs), or two ordinary words that appear in no
document in any form ("wind turbine" asked of solar guides). Deciding what counts is a matter of
words alone: a word's bases ("subfolders" -> folder), what users and documents write differently
("folder"/"directory"), and which of the user's words say what happens rather than what the
question is about ("gets wiped"). Pure functions of the question and of what the index knows.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

import regex

from rag.text import OPENING_WORDS, QUESTION_WORDS, STOPWORDS
from rag.words import clitic_bases, fold, is_unspaced, telling_grams, unspaced_apart


def unknown_terms(question: str, corpus_knows: Callable[[str], bool], is_common: Callable[[str], bool]) -> list[str]:
    """Technical or proper terms of the question that no indexed document contains.

    "bcrypt", "inotify" or "matplotlib" in a question about documents that never mention them:
    no passage can answer it. A word counts when the documents lack it and it is not an
    ordinary word (``is_common``: the embedding model's whole-word vocabulary), so casual
    phrasing ("bother", "folder") never triggers a refusal.

    >>> unknown_terms("how do I hash passwords with bcrypt?", {"hash", "passwords"}.__contains__,
    ...               {"how", "do", "hash", "passwords", "with"}.__contains__)
    ['bcrypt']

    A run of Chinese or Japanese counts when none of its bigrams that can carry meaning is in any
    document (without a dictionary its words are unknown; "火车站在哪里" asked of a tea garden's page).
    """
    out: list[str] = []
    for shown, token in _pieces(r"\w+", question):
        if is_unspaced(token):
            telling = telling_grams(token)
            if telling and not any(corpus_knows(g) for g in telling) and shown not in out:
                out.append(shown)
            continue
        word = token.strip("_")
        ordinary = word in STOPWORDS or word in QUESTION_WORDS or word in OPENING_WORDS
        if len(word) < 4 or not word.replace("_", "").isalpha() or ordinary or shown.strip("_") in out:
            continue
        if corpus_knows(token) or any(is_common(b) or corpus_knows(b) for b in _word_bases(word)):
            continue
        out.append(shown.strip("_"))
    return out


# Endings that make a word of a word ("passwordless", "usefulness"), not a second word run into the first.
_DERIVATIONS = frozenset({"less", "ness", "ment", "ments", "able", "ible", "ship", "wise", "ward", "like", "tion",
                          "tions", "ally", "ings"})


def knows_as_a_term(knows: Callable[[str], bool], holds: Callable[[str], bool], is_common: Callable[[str], bool]
                    ) -> Callable[[str], bool]:
    """``knows`` (a word the documents hold, or one sharing its first five letters with one of
    theirs: "configured" for "configuration"), except for a word the documents hold run together
    with another whole word of four letters or more: "mysqldump" is a tool of its own, not "mysql",
    and counts only when the documents write it (``holds``: written as is).

    >>> corpus = {"mysql", "configuration", "password", "files"}
    >>> knows = knows_as_a_term(lambda w: w in corpus or w[:5] in {c[:5] for c in corpus}, corpus.__contains__,
    ...                         {"dump", "less", "system"}.__contains__)
    >>> knows("mysqldump"), knows("configured"), knows("passwordless"), knows("filesystem")
    (False, True, True, True)
    """
    def known(word: str) -> bool:
        folded = fold(word)
        if holds(folded) or not knows(word):
            return holds(folded)
        return not any(holds(folded[:cut]) and folded[cut:] not in _DERIVATIONS and is_common(folded[cut:])
                       for cut in range(5, len(folded) - 3) if folded.isalpha())
    return known


def absent_words(question: str, corpus_knows: Callable[[str], bool]) -> list[str]:
    """The question's content words (four letters or more) that no indexed document holds, in any
    form ("sortable" counts as present where "sort" is); not the user's verbs (``_says_what_happens``).

    >>> absent_words("How much does a home wind turbine cost?", {"home", "cost"}.__contains__)
    ['wind', 'turbine']
    >>> absent_words("how do I make sure key material gets wiped?", {"make", "material"}.__contains__)
    ['gets']
    >>> absent_words("Can dogs eat grapes?", set().__contains__)
    ['dogs', 'grapes']
    """
    found: dict[str, str] = {}
    pieces = _pieces(r"[\p{L}\p{M}]+", question)
    folded = [word for _, word in pieces]
    for i, (shown, word) in enumerate(pieces):
        if not is_unspaced(word) and not _says_what_happens(folded, i, question):
            found.setdefault(word, shown)
    ordinary = STOPWORDS | QUESTION_WORDS | OPENING_WORDS | _QUANTITY_WORDS | _CONNECTIVES | _NEGATED
    return [shown for w, shown in found.items()
            if len(w) >= 4 and w not in ordinary and not any(corpus_knows(b) for b in _word_bases(w))]


# Not "that": a relative pronoun as often ("one that relaxes this").
_DETERMINERS = frozenset({"a", "an", "the", "my", "your", "his", "her", "its", "our", "their", "this", "these",
                          "those", "each", "every", "some", "any", "no"})
_MODALS = frozenset({"can", "could", "will", "would", "should", "must", "may", "might", "shall"})
# A modal or a negation ("don" + "t") says a verb follows only after its subject: "so I can poke", "I don't
# want"; after a question word or at the start the subject follows ("When should tomatoes be harvested?").
_SUBJECT_PRONOUNS = frozenset({"i", "we", "you", "they", "he", "she", "it"})
_NEGATED = frozenset({"don", "doesn", "didn", "can", "won", "isn", "aren", "wasn", "weren", "couldn", "wouldn",
                      "shouldn", "hasn", "haven", "hadn", "mustn", "needn"})
# "how to poke", "want to land": "to" before a verb; "feed it to chickens" is "to" before a noun.
_BEFORE_TO_A_VERB = frozenset({"how", "want", "wants", "need", "needs", "able", "have", "has", "had", "try", "trying",
                               "going", "way", "supposed", "used", "ought", "where", "what", "when", "whether"})


def _says_what_happens(words: list[str], i: int, question: str) -> bool:
    """``words[i]`` is a verb or a participle ("gets wiped", "so I can poke", "then land"): what the
    user says happens to the topic, in their words, not the topic itself; only
    absent nouns ("wind turbine") show a question about something the documents do not cover. Crude
    without a tagger: a lower-case word in -ed before a stopword or at the end ("speed", "a boiled
    egg", "smoked mackerel" aside), or one right after a modal or a negation that follows a subject
    pronoun ("so I can poke"; not "Will snowfall reduce …", "Why don't cats like …"), after "then", or
    after "how/want/need … to"."""
    word = words[i]
    if not regex.search(rf"(?<![\p{{L}}\p{{M}}]){regex.escape(word)}(?![\p{{L}}\p{{M}}])", question):
        return False  # written capitalised (folded here): a name, always a topic
    previous, before = (words[i - 1] if i >= 1 else ""), (words[i - 2] if i >= 2 else "")
    after = words[i + 1] if i + 1 < len(words) else ""
    if previous in _DETERMINERS:
        return False
    if len(word) >= 5 and word.endswith("ed") and not word.endswith("eed") and (not after or after in STOPWORDS):
        return True  # "gets wiped when …", "signed?"; not "smoked mackerel"
    if previous == "t" and before in _NEGATED:
        return i >= 3 and words[i - 3] in _SUBJECT_PRONOUNS
    return ((previous in _MODALS and before in _SUBJECT_PRONOUNS) or previous == "then"
            or (previous == "to" and before in _BEFORE_TO_A_VERB))


_QUANTITY_WORDS = {"many", "much", "long", "often", "best", "good", "exactly", "really", "actually"}
# Words that link a question to what came before and name no topic: "and what did he offer
# instead?" was refused because the article never writes "offer" nor "instead".
_CONNECTIVES = {"instead", "else", "already", "even", "still", "rather", "anyway", "otherwise", "though", "either",
                "sure"}  # "make sure": no topic
_SUFFIXES = ("ability", "able", "ible", "ers", "ing", "ed", "es", "s", "ly")
_PREFIXES = ("sub", "non", "un", "re", "pre", "multi", "super")


def _pieces(pattern: str, question: str) -> list[tuple[str, str]]:
    """Runs of ``pattern`` in the question, a run of an unspaced script (Chinese, Japanese, ...)
    apart from the letters written against it: each as the user wrote it (lower-cased, for
    messages) and folded (for matching)."""
    runs = regex.findall(pattern, unicodedata.normalize("NFKC", question))
    return [(piece.lower(), fold(piece)) for run in runs for piece in unspaced_apart(run)]


def _word_bases(word: str) -> list[str]:
    """The word and what it is built on: "sortable" -> sort, "subfolders" -> folder, "ints" -> int,
    "האחריות" -> "אחריות" (particles written joined to a Hebrew or Arabic word)."""
    bases = [word, *clitic_bases(word)]
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            bases += [word[: -len(suffix)], word[: -len(suffix)] + "e"]
    for prefix in _PREFIXES:  # "rerun" -> run, "subfolder" -> folder, "subfolders" -> folder
        bases += [base[len(prefix):] for base in list(bases)
                  if base.startswith(prefix) and len(base) - len(prefix) >= 3]
    return bases + [other for base in bases for other in _SAME_THING.get(base, ())]


# Words users and technical documents write differently for one thing: "how do I delete a folder
# and all its subfolders?" asked of the Python docs, which say "directory", was refused ("never
# mention 'folder', 'subfolders'"). A short list by hand: no thesaurus ships with what we install.
_SAME_THING: dict[str, tuple[str, ...]] = {
    "folder": ("directory", "dir"), "directory": ("folder",), "app": ("application",), "application": ("app",),
    "config": ("configuration",), "configuration": ("config",), "repo": ("repository",),
    "repository": ("repo",), "dict": ("dictionary",), "dictionary": ("dict",), "args": ("arguments",),
    "params": ("parameters",), "func": ("function",), "docs": ("documentation",),
}
