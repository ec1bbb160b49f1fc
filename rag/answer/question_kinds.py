"""What a question asks for, and whether a text carries it (pure, pattern-based).

"Which option…" wants a name (a command, option, file, function); "how many/how long/when"
wants a number or a duration; "why" wants a reason. The extractive answerer prefers sentences
that carry it, and the relevance check notices an answer that does not.

>>> question_kind("Which mount option stops boot hanging?")
'name'
>>> carries_answer("number", "Other daily backups are kept for 15 days.")
True
"""

from __future__ import annotations

import re
from typing import Literal

QuestionKind = Literal["name", "number", "reason", "other"]

_NAME_NOUNS = (r"commands?|options?|flags?|switch(?:es)?|functions?|methods?|modules?|packages?|files?|"
               r"folders?|directory|directories|paths?|arguments?|parameters?|keywords?|settings?|variables?|"
               r"classes|class|attributes?|exceptions?|errors?|tools?|programs?|directives?|librar(?:y|ies)|"
               r"formats?|types?|decorators?|operators?|statements?|fields?|keys?|properties|property|"
               r"environment variables?|protocols?|services?|utilit(?:y|ies)|daemons?|units?|encodings?")
_NAME = re.compile(
    rf"\b(?:which|what)(?:'s| is| are)?(?: \w+){{0,3}} (?:{_NAME_NOUNS})\b"
    r"|\bwhat(?:'s| is) the name\b|\bwhat (?:do|should|can) (?:i|you|we) (?:use|call|run|type|import)\b"
    r"|\bwhich (?:one|\w+ do i)\b",
    re.IGNORECASE)
_NUMBER = re.compile(
    r"\bhow (?:many|much|long|often|old|big|large|far|fast|small|high|low|deep)\b"
    r"|^\s*(?:\w+ )?when\b"
    r"|\bwhat (?:year|date|time|day|month|size|number|percentage|percent|port|version|age|length|limit|"
    r"maximum|minimum|default|value)\b|\bat what (?:age|time|point)\b|\bup to how\b|\bwhat is the (?:maximum|"
    r"minimum|default|limit|size|length|number|cost|price)\b",
    re.IGNORECASE)
_REASON = re.compile(r"^\s*why\b|\bwhat(?:'s| is) the (?:reason|point|purpose|benefit|advantage)\b|"
                     r"\bwhat for\b|\bwhy (?:do|does|is|are|should|would|can|did)\b", re.IGNORECASE)

_HAS_NUMBER = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|"
    r"thousand|million|billion|once|twice|dozen|half|single|double|daily|weekly|monthly|yearly|annually|hourly|"
    r"seconds?|minutes?|hours?|days?|weeks?|months?|years?|decades?|centur(?:y|ies)|first|last)\b",
    re.IGNORECASE)
_HAS_REASON = re.compile(
    r"\b(?:because|since|so that|in order to|to (?:prevent|avoid|ensure|make sure|protect|allow|stop|keep)|"
    r"otherwise|due to|as a result|reason|purpose|this (?:means|prevents|allows|ensures|avoids|way)|"
    r"which (?:means|prevents|allows|ensures)|so (?:as|it|that|you)|would (?:allow|let|be able)|could (?:allow|"
    r"let)|can (?:be used to|prevent|allow|lead)|helps?|useful|benefit|advantage|risk|danger|unless|"
    r"caused by|leads? to|results? in)\b", re.IGNORECASE)
# Names as they appear in technical text: f(), --flag, -x, a.b, snake_case, /paths, CamelCase, ALLCAPS, `code`.
_HAS_NAME = re.compile(
    r"\w\(|(?<![\w-])--?[A-Za-z][\w-]*|\b[a-z_]\w*\.[a-z_]\w*|\b\w+_\w+\b|(?:^|\s)[/~][\w./-]+"
    r"|\b[a-z]+[A-Z]\w*|\b[A-Z][a-z]+[A-Z]\w*|\b[A-Z]{2,}\w*\b|[`'\"“‘][^`'\"”’\s]{2,40}[`'\"”’]"
    r"|(?i:\b(?:use|run|call|set|pass|type|import|install|enable|add)\s+(?:the\s+)?)[A-Za-z_][\w.-]*",
)


def question_kind(question: str) -> QuestionKind:
    """``name``, ``number``, ``reason`` or ``other``.

    >>> question_kind("How long are daily backups kept?"), question_kind("Why protect the bootloader?")
    ('number', 'reason')
    """
    if _REASON.search(question):
        return "reason"
    if _NUMBER.search(question):
        return "number"
    if _NAME.search(question):
        return "name"
    return "other"


def carries_answer(kind: QuestionKind, text: str) -> bool:
    """Whether ``text`` holds the kind of thing the question asks for (always true for ``other``).

    >>> carries_answer("name", "Add the nofail option to the fstab line."), carries_answer("reason", "It is big.")
    (True, False)
    """
    if kind == "number":
        return bool(_HAS_NUMBER.search(text))
    if kind == "reason":
        return bool(_HAS_REASON.search(text))
    if kind == "name":
        return bool(_HAS_NAME.search(text))
    return True
