"""Follow-up questions without a model: resolve pronouns from the earlier turns (heuristic).

"and what did he offer instead?" after "what did Zelenskyy reject?" becomes
"and what did Zelenskyy offer instead?". With an LLM backend the condense prompt does this.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_PRONOUNS = {"he", "she", "him", "her", "his", "hers", "they", "them", "their", "it", "its", "this", "that",
             "these", "those", "there"}
_LEADING = re.compile(r"^\s*(and|also|what about|how about|so|then)\b", re.IGNORECASE)
_NAME = re.compile(r"\b[A-Z][a-zA-Z'’-]+(?:\s+[A-Z][a-zA-Z'’-]+)*")
_QUESTION_WORDS = {"What", "Who", "When", "Where", "Why", "How", "Which", "Did", "Does", "Do", "Is", "Are",
                   "Was", "Were", "Can", "Could", "Should", "Would", "Will", "And", "The", "A", "An", "I", "In"}


# Words that carry no topic: a short question made only of these ("why?", "tell me more") leans
# on the previous turn, while "what is bleaching?" or "who is Kushner?" stands on its own.
_NO_TOPIC = {"what", "why", "how", "when", "where", "who", "which", "is", "was", "are", "were", "do", "does", "did",
             "else", "so", "then", "more", "really", "and", "or", "but", "about", "instead", "exactly", "again",
             "now", "ok", "okay", "tell", "me", "explain", "elaborate", "details", "example", "examples", "for",
             "go", "on", "the", "a", "an", "of", "yes", "no", "sure", "continue", "further", "why's", "what's",
             "how's"}


def is_follow_up(question: str) -> bool:
    """A question that needs the earlier turns: leading "and"/"what about", a pronoun, or a short
    question with no topic word of its own."""
    words = re.findall(r"[a-z']+", question.lower())
    if _LEADING.match(question) or any(w in _PRONOUNS for w in words):
        return True
    return len(words) <= 3 and all(w in _NO_TOPIC for w in words)


def last_name(history: Sequence[str]) -> str | None:
    """The last capitalised name in the latest question (question words and possessive 's excluded).

    Only the latest turn counts: it is already standalone, and a name from an older turn may
    belong to another topic ("how do they form?" after a question about coral reefs).
    """
    if not history:
        return None
    names = [n for n in _NAME.findall(history[-1]) if n.split()[0] not in _QUESTION_WORDS]
    return re.sub(r"['’]s?$", "", names[-1]) if names else None


def condense(question: str, history: Sequence[str]) -> str:
    """A standalone version of ``question`` given the earlier user questions (newest last).

    >>> condense("and what did he offer instead?", ["what did Zelenskyy reject?"])
    'and what did Zelenskyy offer instead?'
    """
    if not history or not is_follow_up(question):
        return question
    name = last_name(history)
    if name:
        replaced, count = re.subn(r"\b(he|she|they|him|her|them)\b", name, question, flags=re.IGNORECASE)
        replaced = re.sub(r"\b(his|her|their)\b", name + "'s", replaced, flags=re.IGNORECASE) \
            if count == 0 else replaced
        if replaced != question:
            return replaced
    return f"{history[-1].rstrip(' ?')}; {question}"
