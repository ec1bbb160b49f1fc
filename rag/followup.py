"""Follow-up questions without a model: resolve them against the previous question (heuristic).

"and what did he offer instead?" after "what did Zelenskyy reject?" becomes "and what did
Zelenskyy offer instead?"; "and how do I write it to a file?" after "how do I serialize a dict to
JSON?" becomes "and how do I write a dict to a file?"; "what about a deep copy?" after "how do I
make a shallow copy of a list?" becomes "how do I make a deep copy?". A follow-up that cannot be
rewritten ("why?") carries the previous question. With an LLM backend the condense prompt does
this. Written by hand: no library on PyPI resolves a question's ellipsis without a model.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.text import content_words

_PRONOUNS = {"he", "she", "him", "her", "his", "hers", "they", "them", "their", "it", "its", "this", "that",
             "these", "those", "there"}
_LEADING = re.compile(r"^\s*(and|also|what about|how about|so|then)\b", re.IGNORECASE)
# Openers that only make sense after something was asked: "what if the command fails?", "what's the
# default level?", "what happens when it's full?", "why not?".
_LEANS_BACK = re.compile(r"^\s*(?:what if|what happens|why not|how so|is that|does that|"
                         r"what(?:'s|’s| is| are) the defaults?\b|is there a default)", re.IGNORECASE)
_NAME = re.compile(r"\b[A-Z][a-zA-Z'’-]+(?:\s+[A-Z][a-zA-Z'’-]+)*")
_QUESTION_WORDS = {"What", "Who", "When", "Where", "Why", "How", "Which", "Did", "Does", "Do", "Is", "Are",
                   "Was", "Were", "Can", "Could", "Should", "Would", "Will", "And", "The", "A", "An", "I", "In"}


# Words that carry no topic: a short question made only of these ("why?", "tell me more") leans
# on the previous turn, while "what is bleaching?" or "who is Kushner?" stands on its own.
_NO_TOPIC = {"what", "why", "how", "when", "where", "who", "which", "is", "was", "are", "were", "do", "does", "did",
             "else", "so", "then", "more", "really", "and", "or", "but", "about", "instead", "exactly", "again",
             "now", "ok", "okay", "tell", "me", "explain", "elaborate", "details", "example", "examples", "for",
             "go", "on", "the", "a", "an", "of", "yes", "no", "sure", "continue", "further", "why's", "what's",
             "how's", "not",
             # "from whom?", "since when?", "how long?", "how much?": a preposition or a measure asked
             # of the earlier answer ("from whom?" after "what guarantees does Ukraine want?")
             "whom", "whose", "from", "by", "since", "until", "till", "with", "to", "long", "much", "many",
             "often"}


def _words(question: str) -> list[str]:
    """Lower-cased words, contractions split ("it's" -> "it", "'s"), curly apostrophes as straight."""
    return re.findall(r"[a-z]+|'[a-z]+", question.lower().replace("’", "'"))


def is_follow_up(question: str) -> bool:
    """A question that needs the earlier turns: leading "and"/"what about", a pronoun ("it's"
    included), an opener such as "what if"/"what's the default", or a short question with no topic
    word of its own."""
    words = _words(question)
    if _LEADING.match(question) or _LEANS_BACK.match(question) or any(w in _PRONOUNS for w in words):
        return True
    plain = [w for w in words if not w.startswith("'")]
    if len(plain) <= 4 and _PREPOSITION_WH.match(question):
        return True  # "at what temperature?", "in which file?": short, it asks about the earlier answer
    if _THEN_AT_END.search(question):
        return True  # "how fast must I answer messages then?"
    return len(plain) <= 3 and all(w in _NO_TOPIC for w in plain)


_THEN_AT_END = re.compile(r"\bthen\s*[?.!]*\s*$", re.IGNORECASE)
_PREPOSITION_WH = re.compile(r"^\s*(?:at|in|on|for|with|from|by|to|under|after|before|since|until|into)\s+"
                             r"(?:what|which|whom|whose|how)\b", re.IGNORECASE)


def last_name(history: Sequence[str]) -> str | None:
    """The last capitalised name in the latest question (question words and possessive 's excluded).

    Only the latest turn counts: it is already standalone, and a name from an older turn may
    belong to another topic ("how do they form?" after a question about coral reefs).
    """
    names = _names(history[-1]) if history else []
    return names[-1] if names else None


def _names(question: str, outside: str | None = None) -> list[str]:
    """The capitalised names of ``question`` in order (see ``last_name``), skipping one that only
    modifies the phrase ``outside`` ("NATO" in "NATO allies")."""
    names = [n for n in _NAME.findall(question) if n.split()[0] not in _QUESTION_WORDS
             and not (outside and n in outside.split())]
    return [re.sub(r"['’]s?$", "", n) for n in names]


# "how do I <verb> <topic> <preposition …>": the shape of most how-to questions.
_HOW_TO = re.compile(r"^\s*(?:and\s+)?(?P<frame>(?:how|where|when|why)\s+(?:do|does|can|could|should|would|shall|"
                     r"will|might|must)\s+(?:i|you|we|one)\s+)(?P<verb>[\w-]+)\s+(?P<rest>.+?)\s*\??\s*$",
                     re.IGNORECASE)
_WHAT_IS = re.compile(r"^\s*(?P<frame>(?:what|who)(?:'s|’s|\s+is|\s+are|\s+was|\s+were)\s+)(?P<rest>.+?)\s*\??\s*$",
                      re.IGNORECASE)
# Words that end a topic phrase: "a dict | to JSON", "a text file | with pathlib", "a directory | and …".
_BOUNDARY = {"to", "into", "in", "with", "from", "for", "on", "by", "as", "out", "without", "like", "using", "via",
             "at", "when", "while", "so", "and", "or", "but", "that", "which", "if", "after", "before", "through",
             "over", "under", "onto", "inside", "between", "per", "instead"}
_CLAUSE = {"where", "how", "what", "whether", "if", "which", "who", "when", "why"}
_OBJECT_PRONOUN = re.compile(r"\b(it|them|this|that|one)\b(?!['’])", re.IGNORECASE)
_POSSESSIVE = re.compile(r"\b(its|their)\b", re.IGNORECASE)
_SUBJECT_CONTRACTION = re.compile(r"\b(it|that)['’]s\b", re.IGNORECASE)
# Where "one"/"that" is not a pronoun: "one of", "one after another", "that is", "so that".
_NOT_A_PRONOUN = re.compile(r"^(?:one\s+(?:of|after|by|another|more|way)|that\s+(?:is|the|a|an|i|you|we|it))\b",
                            re.IGNORECASE)
# "is it safe to …", "it is better to …": an "it" that stands for nothing.
_DUMMY_IT = re.compile(r"\b(?:is|was|isn't)\s+it\s+(?:not\s+)?\w+\s+to\b|\bit\s+(?:is|was)\s+(?:not\s+)?\w+\s+to\b",
                       re.IGNORECASE)
# "one" is a pronoun before a pause or a preposition ("how do I write one?", "one with a header?").
_ONE_ENDS = re.compile(r"\s*(?:$|[?,.;]|(?:" + "|".join(sorted(_BOUNDARY)) + r")\b)", re.IGNORECASE)


@dataclass(frozen=True)
class Topic:
    """The parts of an earlier how-to or what-is question: "how do I " + "serialize" + "a dict" + " to JSON"."""

    frame: str  # "how do I " (question word, auxiliary, subject) or "what is "
    verb: str  # "serialize" ("" after "what is")
    phrase: str  # "a dict": what the question is about
    tail: str  # " to JSON": the rest


def topic_of(question: str) -> Topic | None:
    """The topic phrase of a how-to or what-is question, or None when it has neither shape.

    >>> topic_of("how do I serialize a dict to JSON?")
    Topic(frame='how do I ', verb='serialize', phrase='a dict', tail=' to JSON')
    """
    match = _HOW_TO.match(question)
    verb = ""
    if match:
        verb = match["verb"]
    else:
        match = _WHAT_IS.match(question)
        if not match:
            return None
    rest = match["rest"].split()
    if rest and rest[0].lower() in _CLAUSE:  # "find where an item would go": a clause, not a thing
        return None
    if verb.lower() in {"make", "be"} and rest and rest[0].lower() in {"sure", "certain"}:
        return None  # "make sure my script runs at startup": a clause too
    if rest and rest[0].lower() in _BOUNDARY:  # a phrasal verb: "loop over several lists"
        verb, rest = f"{verb} {rest[0]}".strip(), rest[1:]
    end = next((i for i, w in enumerate(rest) if i > 0 and w.lower() in _BOUNDARY), len(rest))
    while end > 1 and _is_adverb(rest[end - 1]):
        end -= 1  # "shuffle a list randomly": the adverb says how, the list is the topic
    if not rest[:end]:
        return None
    tail = " ".join(rest[end:])
    return Topic(match["frame"], verb, " ".join(rest[:end]), f" {tail}" if tail else "")


_LY_NOUNS = {"family", "supply", "assembly", "reply", "anomaly", "rally", "monopoly", "jelly"}  # longer than 4


def _is_adverb(word: str) -> bool:
    return len(word) > 4 and word.islower() and word.endswith("ly") and word not in _LY_NOUNS  # not "Italy"


def _is_gerund(word: str) -> bool:
    return len(word) > 5 and word.lower().endswith("ing") and word.lower() not in {"string", "something", "anything",
                                                                                   "nothing", "everything", "thing"}


_WHAT_ABOUT = re.compile(r"^\s*(?:and what about|and how about|what about|how about|same for|and|also)\s+"
                         r"(?P<x>[^?]+?)\s*\??\s*$", re.IGNORECASE)


def _substitute(question: str, topic: Topic) -> str | None:
    """"what about X?" / "and X?" / "how about X?" with X a noun phrase or a prepositional phrase:
    the earlier question with X in place of its topic phrase (or of its phrase with the same
    preposition). None when X is something else (a verb, a clause, a gerund)."""
    match = _WHAT_ABOUT.match(question)
    if not match:
        return None
    x = re.sub(r"(?<=\w)['’]s$", "", match["x"])  # "and Kushner's?" is about Kushner
    if all(w in _NO_TOPIC for w in _words(x)):
        return None  # "and then?", "and why?": no new topic to put in place
    verb = f"{topic.verb} " if topic.verb else ""
    if _is_adverb(x):  # "and safely?" after "how do I copy files quickly?": how, not what
        tail = re.sub(r"^(?:\s+[a-z]+ly\b)*", "", topic.tail)
        return f"{topic.frame}{verb}{topic.phrase} {x}{tail}?"
    head = _head(topic.phrase)
    ones = re.compile(r"\b((?:the|those)\s+(?:[\w-]+\s+)?)ones\b")  # "the hidden ones", "those ones"
    if _looks_plural(head) and ones.search(x):
        # "and only the ones ending in .txt?" after "… list the files …": the files ending in .txt
        x = ones.sub(lambda m: m[1] + head, x)
    elif x.split()[0].lower() in _PRONOUNS:
        return None
    first = x.split()[0].lower()
    if first in {"how", "what", "why", "when", "where", "who", "which", "is", "are", "does", "do", "did", "can",
                 "could", "should", "would", "will"} or _is_gerund(first):
        return None
    if first in _BOUNDARY:
        tail_words = topic.tail.split()
        if first in (w.lower() for w in tail_words):  # "and as a queue?" after "… a list as a stack?"
            at = [w.lower() for w in tail_words].index(first)
            after = next((i for i, w in enumerate(tail_words) if i > at and w.lower() in _BOUNDARY), len(tail_words))
            tail = " ".join([*tail_words[:at], x, *tail_words[after:]])
            return f"{topic.frame}{verb}{topic.phrase} {tail}?"
        return f"{topic.frame}{verb}{topic.phrase}{topic.tail} {x}?"
    owned = _OWNED.match(topic.phrase)
    if owned and _NAME.fullmatch(x):  # "and Kushner?" after "what is Steve Witkoff's role?": Kushner's role
        return f"{topic.frame}{verb}{x}'s {owned['thing']}{topic.tail}?"
    of_name = re.match(r"^(?P<thing>.+\s+of\s+)(?:[A-Z][\w-]*\s+)*[A-Z][\w-]*$", topic.phrase)
    if of_name and _NAME.fullmatch(x):  # "what about France?" after "what is the capital of Italy?"
        return f"{topic.frame}{verb}{of_name['thing']}{x}{topic.tail}?"
    return f"{topic.frame}{verb}{x}{topic.tail}?"


# A topic phrase that is a name's thing: "Steve Witkoff's role", "NATO’s position".
_OWNED = re.compile(r"^(?:[A-Z][\w-]*\s+)*[A-Z][\w-]*['’]s\s+(?P<thing>.+)$")


def _replace_pronoun(question: str, topic: Topic) -> str:
    """The first pronoun standing for the earlier question's topic replaced by its phrase. "it"
    agrees in number: after "how do I keep the last 5 items in a deque?", "what happens when it is
    full?" asks about the deque (the singular phrase of the tail), not the items; with none there,
    the question is left as it is (and joined to the earlier one)."""
    typed = question
    question = _SUBJECT_CONTRACTION.sub(lambda m: f"{m[1]} is", question, count=1)
    dummy = [m.span() for m in _DUMMY_IT.finditer(question)]

    def agreeing(word: str) -> str | None:
        if word not in {"it", "its"} or not _looks_plural(_head(topic.phrase)) or " of " in topic.phrase:
            return topic.phrase  # "the keys of a dict" names the singular thing too
        # A plural topic, and "it": the thing of the tail, when it is asked about as a container
        # ("when it is full", "if it doesn't exist"); else "it" may be the action ("does it keep the
        # order?" after "… remove duplicates from a list?"): not rewritten, joined.
        return _singular_in(topic.tail) if _STATE_OF_IT.search(question) else None

    for match in _OBJECT_PRONOUN.finditer(question):
        word = match[1].lower()
        if _NOT_A_PRONOUN.match(question[match.start():]) or any(a <= match.start() < b for a, b in dummy):
            continue
        if word == "one" and not _ONE_ENDS.match(question[match.end():]):
            continue
        if word == "that" and not re.match(r"\s*(?:$|[?,.;])", question[match.end():]):
            continue  # "for that?" is a pronoun; "that option" a determiner
        phrase = agreeing(word)
        return typed if phrase is None else question[:match.start()] + phrase + question[match.end():]
    possessive = _POSSESSIVE.search(question)
    if possessive:
        owner = agreeing(possessive[1].lower())
        if owner is None:
            return typed
        return question[:possessive.start()] + f"{owner}'s" + question[possessive.end():]
    return typed


def _head(phrase: str) -> str:
    """The noun a phrase is about: its last word, or the last before "of" ("a hash of some bytes")."""
    return re.split(r"\s+of\s+", phrase, maxsplit=1)[0].split()[-1]


# "it" asked about as a container or a service: full, empty, down, missing.
_STATE_OF_IT = re.compile(r"\bit\s+(?:is|was|gets|becomes)\s+(?:not\s+)?(?:full|empty|down|missing|closed|locked|"
                          r"unavailable|offline|huge|too\s+(?:big|large|small))\b|\bit\s+(?:does(?:n['’]t|\s+not)\s+)?"
                          r"exists?\b", re.IGNORECASE)
_DETERMINERS = {"a", "an", "the", "my", "your", "this", "our"}


def _singular_in(tail: str) -> str | None:
    """The singular noun phrase after a preposition of ``tail`` ("… in a deque": "a deque"), its
    words up to the next preposition or adverb; None when there is none."""
    words = tail.rstrip(" ?.").split()
    for i, word in enumerate(words[:-1]):
        if word.lower() in {"in", "into", "from", "of", "on", "to", "with", "inside"} and \
                words[i + 1].lower() in _DETERMINERS:
            phrase = [words[i + 1]]
            for w in words[i + 2:i + 4]:
                if w.lower() in _BOUNDARY or _is_adverb(w):
                    break
                phrase.append(w)
            if len(phrase) > 1 and not _looks_plural(phrase[-1]):
                return " ".join(phrase)
    return None


@dataclass(frozen=True)
class FollowUp:
    """A follow-up question resolved against the question before it.

    ``standalone`` is what is answered: pronouns and ellipsis resolved where the heuristics can
    (``rewritten``), else the earlier question and the follow-up joined ("…; why not?").
    ``search`` is what retrieval searches: the standalone question followed by the earlier
    question's words it lacks, so the passages stay on the conversation's topic.
    """

    question: str
    standalone: str
    search: str
    earlier: str
    rewritten: bool  # the standalone form was rewritten, not just joined to the earlier question


def resolve(question: str, history: Sequence[str]) -> FollowUp | None:
    """The follow-up resolved against the latest earlier question, or None for a question that
    stands on its own (or has no history).

    >>> resolve("and how do I write it to a file?", ["how do I serialize a dict to JSON?"]).standalone
    'and how do I write a dict to a file?'
    >>> resolve("what about a deep copy?", ["how do I make a shallow copy of a list?"]).standalone
    'how do I make a deep copy?'
    """
    if not history or not is_follow_up(question):
        return None
    earlier = history[-1].strip()
    plural = plural_phrase(earlier)
    names = _names(earlier, outside=plural)
    replaced = _replace_personal_pronouns(question, names[-1] if names else None, plural,
                                          names[0] if names else None)
    if replaced != question:
        return FollowUp(question, replaced, _with_missing_words(replaced, earlier), earlier, True)
    topic = topic_of(earlier)
    if topic is not None:
        rewritten = _substitute(question, topic) or _replace_pronoun(question, topic)
        if rewritten != question:
            return FollowUp(question, rewritten, _with_missing_words(rewritten, earlier), earlier, True)
    joined = _joined(earlier, question)
    return FollowUp(question, joined, joined, earlier, False)


_PERSONAL = re.compile(r"\b(he|she|they|him|her|them)\b", re.IGNORECASE)
_PERSONAL_POSSESSIVE = re.compile(r"\b(his|her|their)\b", re.IGNORECASE)
_SINGULAR = {"he", "she", "him", "her", "his"}


def _replace_personal_pronouns(question: str, name: str | None, plural: str | None, subject: str | None) -> str:
    """he/she/him/his for the earlier question's last name; they/them/their for its plural noun
    phrase, else its first name, the subject ("when did they promise it?" after "what did NATO
    promise Ukraine?" asks about NATO).

    A plural phrase wins over a name for "they": after "what are sets in Python?", "are they
    ordered?" asks about sets, not Python. "who are they?" asks about people, which a plural phrase
    rarely names ("the meetings"): only a name stands for it then. When "they" and "them" both
    appear ("did they accept them?"), they stand for different things: only the first is replaced.
    Possessives are replaced only when no subject or object pronoun was ("what about his
    offer?"), since "her" is both.
    """
    if re.match(r"^\s*(?:and\s+)?who\s+(?:are|were)\s+they\b", question, re.IGNORECASE):
        plural = None
    group = plural or subject
    forms = {m[1].lower() for m in _PERSONAL.finditer(question)} | \
        {m[1].lower() for m in _PERSONAL_POSSESSIVE.finditer(question)}
    one_plural_only = len(forms - _SINGULAR) > 1
    replaced_plural = False

    def target(pronoun: str) -> str | None:
        nonlocal replaced_plural
        if pronoun.lower() in _SINGULAR:
            return name
        if one_plural_only and replaced_plural:
            return None
        replaced_plural = group is not None
        return group

    def subject_or_object(match: re.Match[str]) -> str:
        return target(match[1]) or match[0]

    replaced = _PERSONAL.sub(subject_or_object, question)
    if replaced != question:
        return replaced

    def possessive(match: re.Match[str]) -> str:
        owner = target(match[1])
        if not owner:
            return match[0]
        return f"{owner}'" if owner.endswith("s") else f"{owner}'s"  # "the laptops' keys"

    return _PERSONAL_POSSESSIVE.sub(possessive, question)


# Plural noun phrases, written by hand: the plural test a POS tagger would do needs model data,
# which nothing installable here ships. A word in -s is a plural noun only where a verb in -s
# cannot stand:
# - after a determiner: "the laptops", "the temporary files";
# - after "what"/"which" and a modifier, when an auxiliary, a preposition or the end comes next:
#   "what security guarantees does …" (not "what command lists files", a noun and its verb);
# - as the subject after a wh-word and an auxiliary: "why do corals bleach?", "what must remote
#   employees do?";
# - right after a name, when no article follows: "Python generators", "NATO allies" (not
#   "Python uses a GIL").
_DETERMINED_PLURAL = re.compile(r"\b(?:the|these|those|my|our|your|all|both|many|some|several|other|two|three)\s+"
                                r"(?:[a-z][\w-]*\s+)?[a-z][\w-]*[^\Wsu]s\b")
_AUXILIARY = r"(?:do|does|did|can|could|should|would|will|must|may|might|shall|are|is|were|was|have|has|had)"
_ASKED_PLURAL = re.compile(rf"\b(?i:what|which|how many)\s+(?!(?i:{_AUXILIARY})\b)"
                           r"(?P<phrase>[a-z][\w-]*[^\Ws]\s+[a-z][\w-]*[^\Wsu]s)\b"
                           rf"(?=\s*(?:$|[?,.;:]|(?i:{_AUXILIARY}|{'|'.join(sorted(_BOUNDARY))})\b))")
_SUBJECT_PLURAL = re.compile(rf"^\s*(?i:why|how|when|where|what)\s+(?i:{_AUXILIARY})\s+"
                             r"(?P<phrase>(?:[a-z][\w-]*[^\Ws]\s+)?[a-z][\w-]*[^\Wsu]s)\b")
_NAMED_PLURAL = re.compile(r"\b(?P<name>[A-Z][\w-]*)\s+[a-z][\w-]*[^\Wsu]s\b(?!\s+(?i:a|an|the|my|your|its|their)\b)")
_SUBORDINATE = _CLAUSE | {"if", "after", "before", "until", "while", "once", "because", "unless", "since"}
_NOT_PLURAL = {"does", "has", "was", "is", "this", "its", "always", "sometimes", "perhaps", "news", "series",
               "analysis", "basis", "process", "access", "class", "less", "unless", "whereas", "across"}


def _looks_plural(word: str) -> bool:
    return (len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is", "'s"))
            and word.lower() not in _NOT_PLURAL)


def plural_phrase(question: str) -> str | None:
    """The earlier question's plural noun phrase, the likely antecedent of "they"/"them", or None.

    >>> plural_phrase("what are sets in Python?")
    'sets'
    >>> plural_phrase("how do Python generators work?")
    'Python generators'
    >>> plural_phrase("what are lists and tuples?")
    'lists and tuples'
    >>> plural_phrase("what did Zelenskyy reject?") is None
    True
    """
    topic = topic_of(question)
    if topic is not None and _looks_plural(topic.phrase.split()[-1]):
        both = re.match(r"^\s+(and|or)\s+([\w-]+)", topic.tail)  # "lists and tuples"
        return f"{topic.phrase} {both[1]} {both[2]}" if both and _looks_plural(both[2]) else topic.phrase
    for pattern in (_DETERMINED_PLURAL, _ASKED_PLURAL, _SUBJECT_PLURAL, _NAMED_PLURAL):
        for match in pattern.finditer(question):
            before = question[:match.start()].split()
            if "name" in match.groupdict() and match["name"] in _QUESTION_WORDS:
                continue  # "Which tools …": a question word, capitalised
            # "when Python exits", "if the user presses": a verb in a clause, not a plural noun
            if _looks_plural(match[0].split()[-1]) and not (before and before[-1].lower() in _SUBORDINATE):
                return match.groupdict().get("phrase") or match[0]
    return None


def _with_missing_words(question: str, earlier: str) -> str:
    """``question`` followed by the words of ``earlier`` it lacks ("and how do I write a dict to a
    file?" + "serialize JSON"): retrieval stays on the conversation's topic, led by the follow-up."""
    have = content_words(question)
    missing = [w for w in re.findall(r"[\w.-]*\w", earlier) if content_words(w) and not content_words(w) <= have]
    return f"{question} {' '.join(dict.fromkeys(missing))}" if missing else question


def _joined(earlier: str, question: str) -> str:
    """``earlier`` and ``question`` as one question. An ``earlier`` that was itself joined keeps its
    first part (the conversation's topic) and its last (what was just asked): a chat of short
    follow-ups ("why?", "and then?", "how long?") grew one part a turn, all of them searched."""
    parts = earlier.rstrip(" ?").split("; ")
    kept = parts if len(parts) <= 2 else [parts[0], parts[-1]]
    return f"{'; '.join(kept)}; {question}"


def condense(question: str, history: Sequence[str]) -> str:
    """A standalone version of ``question`` given the earlier user questions (newest last).

    >>> condense("and what did he offer instead?", ["what did Zelenskyy reject?"])
    'and what did Zelenskyy offer instead?'
    """
    resolved = resolve(question, history)
    return question if resolved is None else resolved.standalone
