"""Citation markers: parse ``[1]``, ``[1, 2]``, ``[1][3]``, ``[2-4]`` (pure functions)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_GROUP = re.compile(r"\[(\s*\d+\s*(?:(?:,|;|-|–)\s*\d+\s*)*)\]")
_ANY_BRACKET = re.compile(r"\[[^\[\]]{0,20}\]")
_MAX_RANGE = 20  # widest "[a-b]" range taken as a range


@dataclass(frozen=True)
class ParsedSentence:
    """A sentence with its markers taken out: the clean text, the cited numbers, and problems."""

    text: str
    clean: str
    numbers: tuple[int, ...]
    problems: tuple[str, ...] = ()


def parse_markers(sentence: str, n_sources: int | None = None) -> ParsedSentence:
    """Find the citation numbers in one sentence.

    >>> parse_markers("Kyiv refused [1][3].").numbers
    (1, 3)
    >>> parse_markers("It rose [1, 2].", n_sources=1).problems
    ('cites [2], but there are only 1 sources',)
    """
    numbers: list[int] = []
    problems: list[str] = []
    for match in _GROUP.finditer(sentence):
        body = match.group(1)
        for part in re.split(r"[,;]", body):
            bounds = [int(x) for x in re.split(r"[-–]", part) if x.strip()]
            if len(bounds) > 2 or (len(bounds) == 2 and not 0 <= bounds[1] - bounds[0] <= _MAX_RANGE):
                # A reversed, huge or chained range is a mistake: cite nothing rather than guess.
                problems.append(f"malformed citation range [{part.strip()}]")
                continue
            values = list(range(bounds[0], bounds[-1] + 1))
            for value in values:
                if value < 1:
                    problems.append(f"cites [{value}], but citations are numbered from 1")
                elif n_sources is not None and value > n_sources:
                    problems.append(f"cites [{value}], but there are only {n_sources} sources")
                elif value not in numbers:
                    numbers.append(value)
    for match in _ANY_BRACKET.finditer(_GROUP.sub("", sentence)):
        if re.fullmatch(r"\[\s*[\d,;\s-]*\]", match.group()):
            problems.append(f"malformed citation marker {match.group()!r}")
    clean = _GROUP.sub("", sentence)
    clean = re.sub(r"\s+([.,;:!?])", r"\1", clean)
    clean = re.sub(r"\s{2,}", " ", clean).strip()
    return ParsedSentence(sentence, clean, tuple(numbers), tuple(problems))


def strip_markers(text: str) -> str:
    """Text without any citation markers."""
    return parse_markers(text).clean
