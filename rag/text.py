"""Text helpers shared by the answer stages (pure): sentences with exact offsets, content words,
numbers and names.

Sentence splitting is written by hand because we need offsets into the original text and must not
split on abbreviations, decimals or initials; nltk/spaCy would add a model download for little
gain on this job."""

from __future__ import annotations

import functools
import re

import regex

from rag.words import fold, surface_words, words

_ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "fig",
                  "no",
                  "u.s", "u.k", "e.u", "inc", "ltd", "co", "approx", "dept", "est", "jan", "feb", "mar", "apr",
                  "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "p", "pp", "vol", "cf", "al", "a.m", "p.m"}
# A sentence's citation markers after its full stop stay with it: "[1]", "[1, 2]", "[2-4]", "[1; 3]".
# CJK full stops (。！？, half-width ｡) end a sentence with no space after them; the Arabic question
# mark ؟, the Urdu full stop ۔ and the danda । are followed by a space like Latin ones.
_BOUNDARY = re.compile(r"[.!?؟۔।]+[\"'”’)\]]*(?:\s*\[\d+(?:\s*[,;\-–]\s*\d+)*\])*(?=\s+|$)"
                       r"|[。！？｡]+[」』）\"'”’)\]]*(?:\s*\[\d+(?:\s*[,;\-–]\s*\d+)*\])*"
                       r"|\n\s*\n|\n(?=\s*(?:[-*•]|\d+[.)])\s)"
                       r"|^#{1,6} [^\n]*$|(?P<line>\n)(?=[A-Z0-9])", re.MULTILINE)
# A short, unpunctuated, title-case line of its own before a capitalised one is a title (PDF text
# has no blank lines around headings): "Payback Period\nA 6 kW system costs..." is two sentences.
_TITLE_LINE = re.compile(r"[A-Z0-9][^\n]*[^\s.,;:!?]")
_TITLE_WORDS = 8
# "1.4.7 Setting …", "2.7 Emergency …", "2.3. The …": a dotted section number, then a capitalised word
# ("1.2 GB of" is not)
_SECTION_NUMBER = re.compile(r"\d+(?:\.\d+)+\.?\s+[A-Z][a-z]")
# "1 Introduction", "2. Unified system": one number, then at most three words, none a month ("14 March
# 2021 …" opens a wrapped line). Only a line that starts its own sentence can be one.
_ONE_NUMBER_TITLE = re.compile(r"\d+\.?\s+(?!(?:January|February|March|April|May|June|July|August|September|"
                               r"October|November|December)\b)[A-Z]\S*(?:\s+\S+){0,2}")
# A section number alone before its title on the same line ("2.3. The MEDIA/SUBTYPE.xml files"): no sentence end.
_NUMBER_MARKER = re.compile(r"\s*\d+(?:\.\d+)+\.?")
# Words a short sentence-case heading may hold besides its nouns ("Directory layout", "Security of the
# cache"); any other stopword ("said", "that", "must") makes the line a wrapped sentence.
_HEADING_LINKS = frozenset({"of", "and", "for", "the", "a", "an", "in", "to", "on", "with"})
_SHORT_HEADING_WORDS = 4
_SPACE = re.compile(r"\s*")
_CONTINUES = {"a", "an", "the", "and", "or", "but", "nor", "of", "to", "in", "on", "at", "by", "for", "with", "from",
              "as", "into", "than"}  # a line ending in one of these goes on in the next line


def split_sentences(text: str, offset: int = 0) -> list[tuple[int, int, str]]:
    """Split into (start, end, sentence) with ``text[start-offset:end-offset] == sentence``.

    >>> split_sentences("Dr. Smith came. He left at 3.5 p.m. today! Why?")
    [(0, 15, 'Dr. Smith came.'), (16, 42, 'He left at 3.5 p.m. today!'), (43, 47, 'Why?')]
    """
    return list(_split(text, offset))


@functools.lru_cache(maxsize=2048)
def _split(text: str, offset: int) -> tuple[tuple[int, int, str], ...]:
    # Cached: one question's passages are split by the answerer, the support judge and the
    # injection check; the same text is split once. Pure, so sharing across threads is safe.
    out: list[tuple[int, int, str]] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        end = match.end()
        if match.group("line"):
            line_start = text.rfind("\n", 0, match.start()) + 1
            line = text[line_start:match.start()].strip()
            alone = _SPACE.match(text, min(start, line_start)).end() >= max(start, line_start)  # type: ignore[union-attr]
            if alone and line.isdigit():
                pass  # a page number on its own line ends there
            elif (not alone or not _is_title(line, _next_word(text, end))) and not _section_title_at(text, end):
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
            marker = text[start:match.end()]
            if (_NUMBER_MARKER.fullmatch(marker) and "." in text[start:match.start()]
                    and (start == 0 or text[start - 1] == "\n" or "\n" in marker[:len(marker) - len(marker.lstrip())])):
                continue  # a section number opening a line, before its title: "2.3. The MEDIA/SUBTYPE.xml files"
        _append(text, start, end, offset, out)
        start = end
    _append(text, start, len(text), offset, out)
    return tuple(out)


def _section_title_at(text: str, start: int) -> bool:
    """Whether the line at ``start`` is a numbered section title followed by more text: it ends what
    comes before it even without a full stop (a manual's PDF puts one right after a code line:
    "…Unattended-Upgrade "0";\n2.7.9 Limiting …")."""
    end = text.find("\n", start)
    if end < 0:
        return False
    line = text[start:end].strip()
    return bool(_SECTION_NUMBER.match(line)) and _is_title(line)


def _next_word(text: str, start: int) -> str:
    """The next line's first two words."""
    return " ".join(text[start:start + 80].split()[:2])


# Capitalised function words a sentence opens with. Not "A" or "I" ("Blood group\nA is …", "Last
# summer\nI went …"), nor "May"/"Will" (names, months): those go on a wrapped line as often.
_SENTENCE_OPENERS = frozenset({"The", "There", "This", "These", "That", "Those", "Each", "Every", "In", "It", "If",
                               "When", "All", "Most", "Many", "Some", "You", "We", "Your", "Our", "For", "To", "On",
                               "At", "By", "As", "An", "Its", "Their", "With", "From", "After", "Before", "Once",
                               "Only", "Any", "No", "Both", "Such", "Where", "While"})


def _opens_sentence(next_words: str) -> bool:
    """The next line opens like a sentence: a capitalised function word, not "The" before a name
    ("The Hague", "The Hobbit")."""
    first, _, second = next_words.partition(" ")
    return first in _SENTENCE_OPENERS and not (first == "The" and second[:1].isupper())


def _is_title(line: str, next_word: str = "") -> bool:
    """Short, unpunctuated and in title case ("Payback Period", "Choosing an Inverter"), or opening
    with a section number in any case ("2.7.10 Emergency downgrading", "1 Introduction", as manuals'
    PDFs write them); also a very short line in sentence case ("Directory layout") when the next line
    opens like a sentence, with a capitalised function word ("There are …", "The …", "In …"): in a
    narrow column, "Heavy rain in northern\nEngland caused …" is one sentence. ``next_word``: the
    next line's first two words."""
    words = line.split()
    if not (len(words) <= _TITLE_WORDS and _TITLE_LINE.fullmatch(line) and words[-1].lower() not in _CONTINUES):
        return False
    if _SECTION_NUMBER.match(line) or all(w[0].isupper() or w[0].isdigit() for w in words if len(w) >= 4):
        return True
    # One number ("1 Introduction") or sentence case ("Directory layout"), as many PDFs set their headings:
    # only before a line that opens like a sentence (or another numbered title), since a wrapped step
    # ("3. Open the file\nREADME.md …") looks the same.
    opens_sentence = _opens_sentence(next_word)
    if _ONE_NUMBER_TITLE.fullmatch(line):
        return opens_sentence or next_word[:1].isdigit()
    return (opens_sentence and len(words) <= _SHORT_HEADING_WORDS and words[0][0].isupper()
            and words[0].lower() not in STOPWORDS - {"the", "a", "an"}
            and not any(w.lower() in STOPWORDS and w.lower() not in _HEADING_LINKS for w in words[1:]))


def _append(text: str, start: int, end: int, offset: int, out: list[tuple[int, int, str]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start < end:
        out.append((start + offset, end + offset, text[start:end]))


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
_LOWER = regex.compile(r"\p{Ll}[\p{Ll}\p{M}'’-]*")  # "[a-z][a-z'’-]*" in any cased script
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
NUMBER_WORDS = {"zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
                 "seven": "7", "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12",
                 "twenty": "20", "thirty": "30", "forty": "40", "fifty": "50", "hundred": "100"}
# Words that often open a sentence without being names.
_COMMON_INITIALS = {"most", "many", "some", "each", "every", "under", "after", "before", "during", "since", "while",
                    "although", "because", "however", "instead", "despite", "around", "about", "roughly", "only",
                    "in", "on", "at", "for", "with", "without", "if", "when", "once", "unlike", "like", "new", "old",
                    "typical", "typically", "usually", "often", "overall", "today", "yes", "no"}
# Articles, pronouns and question words of other Latin-script languages (German, French, Spanish,
# Italian, Portuguese, Dutch) that open a sentence: capitalised there, never names ("Wie lange …",
# "Quelle est …", "¿Cuánto …"). Folded forms; kept apart from STOPWORDS, which hold English words
# ("die", "war", "also") that would stop counting.
OPENING_WORDS = frozenset((
    "der", "die", "das", "den", "dem", "des", "ein", "eine", "einen", "wie", "was", "wer", "wo", "wann", "warum",
    "welche", "welcher", "welches", "wieviel", "wieviele", "gibt", "ist", "sind", "kann", "muss", "darf", "hat",
    "haben", "wird", "werden", "ich", "du", "er", "sie", "es", "wir", "ihr", "und", "oder", "aber", "im", "am",
    "le", "la", "les", "l'", "un", "une", "des", "du", "quel", "quelle", "quels", "quelles", "combien", "comment",
    "où", "qui", "que", "qu'est-ce", "quand", "pourquoi", "est-ce", "est", "sont", "il", "elle", "ils", "elles",
    "nous", "vous", "je", "et", "ou", "mais", "dans", "pour", "avec", "el", "los", "las", "una", "uno", "cuál",
    "cuáles", "cuánto", "cuánta", "cuántos", "cuántas", "qué", "dónde", "cuándo", "cómo", "por", "para", "quién",
    "quiénes", "hay", "es", "son", "lo", "gli", "il", "quanto", "quanta", "quale", "quali", "dove", "quando",
    "perché", "chi", "come", "o", "os", "as", "uma", "quantos", "quantas", "onde", "porque", "qual", "quais",
    "het", "een", "hoe", "wat", "waar", "wanneer", "waarom", "welk", "welke",
))
# Words that open questions and requests; never names, whatever their case.
QUESTION_WORDS = {"what", "which", "who", "whom", "whose", "where", "when", "why", "how", "is", "are", "was",
                   "were", "do", "does", "did", "can", "could", "should", "would", "will", "shall", "may", "might",
                   "must", "have", "has", "had", "i", "please", "tell", "show", "explain", "describe", "give", "list",
                   "let", "let's", "lets", "ok", "okay", "hi", "hello", "hey", "thanks", "don", "doesn", "isn",
                   "aren", "won", "can't", "cannot"}
_MONTHS = {"january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}


MONTHS = frozenset(m for m in _MONTHS if not m.endswith("day"))


def dates_in(text: str) -> set[tuple[str, str]]:
    """(day, month) and (month, year) pairs: "1 March 2025" and "March 1, 2025" both give
    ("1", "march") and ("march", "2025"); a lone "may" is a month only after a day number."""
    words = re.findall(r"[A-Za-z]+|\d+", text)
    out = set()
    for i, word in enumerate(words):
        month = word.lower()
        before = words[i - 1] if i and words[i - 1].isdigit() else ""
        if month not in MONTHS or (word == "may" and not before):
            continue
        after = words[i + 1:i + 2] if i + 1 < len(words) and words[i + 1].isdigit() else []
        if after and int(after[0]) <= 31 and i + 2 < len(words) and words[i + 2].isdigit():
            after.append(words[i + 2])  # "March 1, 2025"
        for number in [before, *after] if before else after:
            out.add((number, month) if int(number) <= 31 else (month, number))
    return out


@functools.lru_cache(maxsize=1 << 16)
def stem(word: str) -> str:
    # Cached: the checks of one answer stem ~8,000 words, most of them many times over.
    word = word.lower().replace("’", "'")
    if word.endswith("'s"):
        word = word[:-2]
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix) and not word.endswith("ss"):
            return word[: -len(suffix)]
    return word


# Irregular forms the light stemmer cannot relate to their verb ("paid" for "pays", "written" for "writes");
# none that is also a common noun ("left", "lead", "rose", "saw").
_IRREGULAR = {form: base for base, forms in {
    "pay": "paid", "write": "wrote written", "give": "gave given", "take": "took taken", "keep": "kept",
    "send": "sent", "make": "made", "hold": "held", "build": "built", "buy": "bought", "sell": "sold",
    "tell": "told", "bring": "brought", "begin": "began begun", "choose": "chose chosen",
    "see": "seen", "go": "went gone", "do": "did done", "get": "got gotten", "meet": "met", "run": "ran",
    "speak": "spoke spoken", "break": "broke broken", "drive": "drove driven", "fall": "fell fallen",
    "grow": "grew grown", "know": "knew known", "spend": "spent", "lose": "lost", "win": "won",
    "teach": "taught", "catch": "caught", "feed": "fed", "lay": "laid", "say": "said", "stand": "stood",
    "hear": "heard",
    }.items() for form in (base, *forms.split())}


def verb_base(word: str) -> str:
    """A verb form's base where the stemmer cannot see it: "paid", "pays" -> "pay", "written" -> "write"
    (the stemmer leaves a short word's "s": "pays" stays "pays").

    >>> verb_base("paid"), verb_base("pays"), verb_base("tides")
    ('pay', 'pay', 'tides')
    """
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    return _IRREGULAR.get(word[:-1], word) if word.endswith("s") else word


def content_words(text: str) -> set[str]:
    """Folded, lightly stemmed words that carry meaning (stopwords and markers dropped); any
    script, with Chinese, Japanese and Korean as character bigrams (``rag.words``).

    >>> sorted(content_words("The Bäckerei opens at 6 [1]."))
    ['bäckerei', 'open']
    >>> sorted(content_words("保証期間は五年です。"))
    ['です', 'は五', '五年', '保証', '年で', '期間', '証期', '間は']
    """
    text = re.sub(r"\[\d[\d,\s-]*\]", " ", text)
    return {stem(w) for w in words(text) if w not in STOPWORDS and not w[0].isdigit()}


def numbers_in(text: str) -> set[str]:
    """Numbers in canonical form ("1,200" -> "1200", "3.50" -> "3.5"; small number words too;
    full-width and Arabic-Indic digits as ASCII)."""
    text = re.sub(r"\[\d[\d,\s-]*\]", " ", fold(text))
    found = set()
    for raw in _NUMBER.findall(text):
        value = raw.replace(",", "")
        if "." in value:
            value = value.rstrip("0").rstrip(".")
        found.add(value)
    for word in re.findall(r"[a-z]+", text.lower()):
        if word in NUMBER_WORDS:
            found.add(NUMBER_WORDS[word])
    return found


def names_in(text: str) -> list[str]:
    """Capitalised words that are not sentence-initial, plus months and weekdays: likely names."""
    text = re.sub(r"\[\d[\d,\s-]*\]", " ", text)
    names: list[str] = []
    # Lower-case runs of any cased script (Chinese, Hebrew, Arabic have no case: never names).
    lowercase_words = {w for w in _LOWER.findall(text)} | _COMMON_INITIALS
    for _, _, sentence in split_sentences(text):
        for i, word in enumerate(surface_words(sentence)):
            lower = word.lower()
            # "What's", "I'm", "I've", "Don't": a contraction of a stopword is never a name.
            base = re.split(r"['’]", lower)[0]
            if (base in STOPWORDS or base in QUESTION_WORDS) and not (i > 0 and lower in _MONTHS):
                continue
            # The first word is capitalised anyway; it counts as a name only when it is not an
            # ordinary word elsewhere in the language we see (stopword or lower-case use in the text).
            initial_name = i == 0 and word[0].isupper() and lower not in lowercase_words \
                and fold(lower) not in OPENING_WORDS
            if lower in _MONTHS or initial_name or (i > 0 and word[0].isupper()):
                base_form = stem(fold(word))
                if base_form not in names:
                    names.append(base_form)
    return names


def initialisms(text: str) -> set[str]:
    """Initials of runs of capitalised words and dotted abbreviations: "United States" and "U.S."
    -> "us", so a question's "US" counts as present.

    >>> sorted(initialisms("The U.S. and the United Kingdom met in the E.U. capital."))
    ['eu', 'uk', 'us']
    """
    out = set()
    for run in re.findall(r"(?:\b[A-Z][a-z]+(?:\s+(?:of\s+)?|$)){2,}", text):
        out.add("".join(w[0] for w in run.split() if w[0].isupper()).lower())
    out.update(m.replace(".", "").lower() for m in re.findall(r"\b(?:[A-Z]\.){2,}", text))
    return out


def name_present(name: str, passage_words: set[str]) -> bool:
    """A name counts as present when a passage word equals it or shares its first five letters
    (Ukraine/Ukrainian, Europe/European)."""
    if name in passage_words:
        return True
    return len(name) >= 5 and any(w.startswith(name[:5]) for w in passage_words)


def has_negation(text: str) -> bool:
    lower = text.lower().replace("’", "'")
    return "n't" in lower or any(w in _NEGATIONS for w in re.findall(r"[a-z']+", lower))
