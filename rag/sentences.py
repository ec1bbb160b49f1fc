"""Sentence splitting with exact offsets (pure). Written by hand because we need offsets into
the original text and must not split on abbreviations, decimals or initials; nltk/spaCy would
add a model download for little gain on this job."""

from __future__ import annotations

import re

_ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "fig",
                  "no",
                  "u.s", "u.k", "e.u", "inc", "ltd", "co", "approx", "dept", "est", "jan", "feb", "mar", "apr",
                  "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "p", "pp", "vol", "cf", "al", "a.m", "p.m"}
# A sentence's citation markers after its full stop stay with it: "[1]", "[1, 2]", "[2-4]", "[1; 3]".
_BOUNDARY = re.compile(r"[.!?]+[\"'”’)\]]*(?:\s*\[\d+(?:\s*[,;\-–]\s*\d+)*\])*(?=\s+|$)"
                       r"|\n\s*\n|\n(?=\s*(?:[-*•]|\d+[.)])\s)"
                       r"|^#{1,6} [^\n]*$|(?P<line>\n)(?=[A-Z0-9])", re.MULTILINE)
# A short, unpunctuated, title-case line of its own before a capitalised one is a title (PDF text
# has no blank lines around headings): "Payback Period\nA 6 kW system costs..." is two sentences.
_TITLE_LINE = re.compile(r"[A-Z0-9][^\n]*[^\s.,;:!?]")
_TITLE_WORDS = 8
_SPACE = re.compile(r"\s*")
_CONTINUES = {"a", "an", "the", "and", "or", "but", "nor", "of", "to", "in", "on", "at", "by", "for", "with", "from",
              "as", "into", "than"}  # a line ending in one of these goes on in the next line


def split_sentences(text: str, offset: int = 0) -> list[tuple[int, int, str]]:
    """Split into (start, end, sentence) with ``text[start-offset:end-offset] == sentence``.

    >>> split_sentences("Dr. Smith came. He left at 3.5 p.m. today! Why?")
    [(0, 15, 'Dr. Smith came.'), (16, 42, 'He left at 3.5 p.m. today!'), (43, 47, 'Why?')]
    """
    out: list[tuple[int, int, str]] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        end = match.end()
        if match.group("line"):
            line_start = text.rfind("\n", 0, match.start()) + 1
            line = text[line_start:match.start()].strip()
            alone = _SPACE.match(text, min(start, line_start)).end() >= max(start, line_start)  # type: ignore[union-attr]
            if not alone or not _is_title(line):
                continue  # a line wrapped inside a sentence, not a title on a line of its own
        elif match.group().startswith("."):
            word = re.search(r"([\w.]+)\.?$", text[start:match.start() + 1])
            token = word.group(1).lower().rstrip(".") if word else ""
            if token in _ABBREVIATIONS:
                continue
            if len(token) == 1 and text[match.start() - 1:match.start()].isupper():
                continue  # an initial: "J. Kushner"
            if text[start:match.start()].strip().isdigit():
                continue  # a numbered list item's marker: "2. Add water."
        _append(text, start, end, offset, out)
        start = end
    _append(text, start, len(text), offset, out)
    return out


def _is_title(line: str) -> bool:
    """Short, unpunctuated and in title case ("Payback Period", "Choosing an Inverter")."""
    words = line.split()
    return len(words) <= _TITLE_WORDS and bool(_TITLE_LINE.fullmatch(line)) and \
        words[-1].lower() not in _CONTINUES and all(w[0].isupper() or w[0].isdigit() for w in words if len(w) >= 4)


def _append(text: str, start: int, end: int, offset: int, out: list[tuple[int, int, str]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start < end:
        out.append((start + offset, end + offset, text[start:end]))
