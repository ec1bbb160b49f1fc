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
    r"caused by|leads? to|results? in|aims? to|seeks? to|intends? to|"
    r"in exchange for|as a (?:compromise|way|means|safeguard|precaution) to)\b", re.IGNORECASE)
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


# A question that asks for one typed value (a date, a duration, a size, a price, a port, a count) is
# answered only by a text that gives a value of that type: "on what date…" by a year or a month, not
# by "5 years". Stricter than ``carries_answer("number", …)``, which any figure or time word satisfies.
ValueKind = Literal["date", "duration", "size", "money", "port", "count"]

_TIME_UNITS = r"(?:milliseconds?|ms|seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?|decades?)"
_SIZE_UNITS = r"(?:bytes?|[kKMGTP]i?B|[kKMGT]b|kilobytes?|megabytes?|gigabytes?|terabytes?|octets?|blocks?|pages?)"
_CARDINALS = (r"(?:zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
              r"sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|"
              r"thousand|million|billion|dozen|a couple|a few|several|a single|no)")
_MONTHS = (r"(?:January|February|March|April|May|June|July|August|September|October|November|December|"
           r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\.?")
_ASKS = (
    # "How much does the US spend on aid?" asks for money as much as "how much does it cost?"; "how
    # much aid" may be counted in tonnes, so it is left to the answer.
    ("money", re.compile(r"\bhow much (?:\w+ ){0,6}(?:cost|costs|charge|pay|paid|spend|spends|spent|earn|earns|"
                         r"earned|owe|owes|owed|invest|invested|donate|donated|worth)\b|\bhow much (?:money|"
                         r"funding)\b|\bhow expensive\b"
                         r"|\bwhat(?:'s| is| are|"
                         r" does)? (?:the |it )?(?:price|cost)\b|\bcost of\b", re.IGNORECASE)),
    ("date", re.compile(r"\b(?:on |in )?(?:what|which) (?:exact |precise )?(?:date|year|day of the month)\b"
                        r"|^\s*(?:\w+ )?when (?:was|were|did|will) \w+(?: \w+){0,6} (?:released|signed|founded|born|"
                        r"published|introduced|launched|first|agreed|announced)\b", re.IGNORECASE)),
    ("port", re.compile(r"\b(?:what|which) (?:\w+ )?port\b|\bport number\b", re.IGNORECASE)),
    ("size", re.compile(r"\bin (?:KB|MB|GB|KiB|MiB|GiB|bytes|kilobytes|megabytes|gigabytes)\b|\bhow much (?:memory|"
                        r"ram|disk space|space|storage)\b|\b(?:cache|disk|file|message|buffer|memory|partition|"
                        r"heap|stack|page|block|swap) size\b|\bsize of (?:the |a |an )?(?:cache|disk|file|message|"
                        r"buffer|partition|swap)\b", re.IGNORECASE)),
    # "how long" opening the question or a clause: "…to measure how long code takes" asks for a clock
    # function, and "how long should the salt be" for a length.
    ("duration", re.compile(rf"(?:^|[,;:]|\b(?:roughly|about|approximately|so|and|but))\s*how long\b"
                            r"(?!\s+(?:should|must|can|will|would|needs?|has to|have to|is|are)\s+(?:\w+\s+){1,4}be\b)"
                            rf"|\bhow many {_TIME_UNITS}\b|\bhow often\b", re.IGNORECASE)),
    ("count", re.compile(r"\bhow many\b", re.IGNORECASE)),
)
_NUMERAL = rf"(?:\d[\d,.]*|{_CARDINALS}|an?)"
_OPENS_WITH_NAME = re.compile(
    rf"\s*(?:\w+\s+){{0,2}}?(?:which|what)(?:'s| is| are)?(?: [\w-]+){{0,3}} (?:{_NAME_NOUNS})\b", re.IGNORECASE)
_GIVES: dict[str, re.Pattern[str]] = {
    # "$9,000", "9,000 euros", "2 billion dollars", "two million pounds", "USD 40 million".
    "money": re.compile(rf"[$€£¥]\s?\d|(?:\d|\b{_CARDINALS})[\d,.]*\s?(?:(?:thousand|million|billion|trillion|"
                        r"k|m|bn)\s)?(?:dollars?|euros?|pounds?|cents?|yen|francs?|USD|EUR|GBP)\b"
                        r"|\b(?:USD|EUR|GBP|US\$)\s?\d", re.IGNORECASE),
    "date": re.compile(rf"\b(?:1[5-9]|20)\d\d\b|\b{_MONTHS}\s+\d|\d\s+{_MONTHS}|\d{{4}}-\d\d-\d\d"),
    "port": re.compile(r"\bports?\s+\d{2,5}\b|:\d{2,5}\b|\b\d{2,5}/(?:tcp|udp)\b", re.IGNORECASE),
    "size": re.compile(rf"\d\s?{_SIZE_UNITS}\b|\d\s?%|\b{_CARDINALS}\s+{_SIZE_UNITS}\b|\bunlimited\b|\bno limit\b",
                       re.IGNORECASE),
    # A setting named for a time, with its number: "default-lease-time 600;", "Timeout=30".
    "duration": re.compile(rf"\b{_NUMERAL}\s*-?\s*{_TIME_UNITS}\b|\b\d+\s?[smhd]\b|[\w.-]*(?:time|timeout|delay|"
                           r"interval|expir\w*|ttl|lease|age|period|wait)\w*\s*[=:]?\s*[\"']?\d+|\b(?:daily|weekly|hourly|"
                           r"monthly|yearly|annually|nightly|every|once|twice|forever|indefinitely|until|"
                           r"immediately)\b", re.IGNORECASE),
    "count": re.compile(rf"\d|\b{_CARDINALS}\b|\b(?:once|twice|unlimited|none|all)\b", re.IGNORECASE),
}


def asked_value(question: str) -> ValueKind | None:
    """The typed value a question asks for, or None (also for a question that opens by asking for a
    name: "which function tells me how much disk space is free?").

    >>> asked_value("On what date was Python 3.11.0 released?"), asked_value("How long are backups kept?")
    ('date', 'duration')
    >>> asked_value("How do I keep backups?") is None
    True
    """
    if _OPENS_WITH_NAME.match(question):
        return None
    for kind, pattern in _ASKS:
        if pattern.search(question):
            return kind  # type: ignore[return-value]
    return None


def gives_value(kind: ValueKind, text: str) -> bool:
    """Whether ``text`` gives a value of ``kind``.

    >>> gives_value("date", "Support lasts at least 5 years."), gives_value("date", "It ended on 14 August 2024.")
    (False, True)
    >>> gives_value("duration", "Other daily backups are kept for 15 days."), gives_value("size", "It is quick.")
    (True, False)
    """
    return bool(_GIVES[kind].search(text))
