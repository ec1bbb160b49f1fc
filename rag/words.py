"""Words of any script, for matching (pure): BM25 terms, the support judge and the refusal gate.

Matching text is folded first (``fold``): NFKC (full-width letters and digits, ligatures,
compatibility forms), case folding ("Straße" matches "STRASSE"), Hebrew points and Arabic
harakat and tatweel dropped, Arabic alef forms, alef maqsura and ta marbuta unified, and any
script's decimal digits written as ASCII. Displayed and cited text is never folded.

Scripts written without spaces between words (Chinese, Japanese, Korean, Thai, Lao, Khmer,
Myanmar) are matched by overlapping character bigrams, a lone character by itself, as Lucene's
CJK analyzer does. A dictionary segmenter was not chosen: jieba is Chinese only (and a 20 MB
dictionary), Japanese needs another (MeCab with a 50 MB dictionary), and bigrams need nothing,
cover every such script alike and work for BM25, where the question and the documents are split
the same way. Every other script (Latin with accents, Greek, Cyrillic, Hebrew, Arabic, ...) is
split into words of letters, as English always was.

Uses ``regex`` (already installed with tiktoken) for Unicode script classes, which ``re`` lacks.
"""

from __future__ import annotations

import re
import unicodedata

import regex

# Han (with 々), Hiragana, Katakana (with the prolonged sound mark ー, script "Common"), Hangul, and
# the Southeast Asian scripts written without spaces.
_UNSPACED = r"\p{Han}\p{Hiragana}\p{Katakana}\u30fc\uff70\p{Hangul}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}"
_UNSPACED_RUN = regex.compile(rf"[{_UNSPACED}]+")
# A word: a letter, then letters, marks, apostrophes and hyphens ("don't", "sixty-five",
# "aujourd'hui"), ending in a letter or mark (a closing quote or a possessive's apostrophe is not
# part of it: 'nofail' is "nofail"), never crossing into an unspaced script; or a run of an
# unspaced script; or a number.
_TOKEN = regex.compile(rf"(?V1)(?P<run>[{_UNSPACED}]+)"
                       rf"|[\p{{L}}--[{_UNSPACED}]](?:[[\p{{L}}\p{{M}}'’-]--[{_UNSPACED}]]*[[\p{{L}}\p{{M}}]--[{_UNSPACED}]])?"
                       r"|\d+(?:[.,]\d+)*%?")
# Hebrew points and cantillation marks (not maqaf U+05BE or sof pasuq), Arabic harakat, Quranic
# marks, superscript alef, and tatweel (a stretching stroke): none changes which word it is.
_IGNORED = regex.compile(r"[\u0591-\u05bd\u05bf\u05c1\u05c2\u05c4\u05c5\u05c7"
                         r"\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06dc\u06df-\u06e8\u06ea-\u06ed\u0640]")
_ARABIC_LETTERS = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه"})
_OTHER_DIGIT = regex.compile(r"(?![0-9])\d")
# Text with no letter or digit beyond ASCII (curly quotes and dashes allowed) takes ``re`` patterns
# that give the same words three times faster: most questions and passages are such text.
_BEYOND_ASCII = re.compile(r"[^\x00-\x7f\W]")
_ASCII_WORD = re.compile(r"[A-Za-z](?:[A-Za-z'’-]*[A-Za-z])?|\d+(?:[.,]\d+)*%?")
_ASCII_TERM = re.compile(r"\w\w+")


def fold(text: str) -> str:
    """``text`` as it is matched: NFKC, case-folded, Hebrew and Arabic vowel marks dropped,
    Arabic letter variants unified, digits of any script as ASCII.

    >>> fold("Straße ＡＢＣ ١٢٣ שָׁלוֹם أحمد")
    'strasse abc 123 שלום احمد'
    """
    text = unicodedata.normalize("NFKC", text)
    if not text.isascii():
        text = _IGNORED.sub("", text).casefold().translate(_ARABIC_LETTERS)
        text = _OTHER_DIGIT.sub(_ascii_digit, text)
        return text
    return text.lower()


def _ascii_digit(match: regex.Match[str]) -> str:
    char = match.group()
    value = unicodedata.decimal(char, None)
    return char if value is None else str(value)


def is_unspaced(text: str) -> bool:
    """Whether ``text`` is written in a script without spaces between words (CJK, Thai, ...)."""
    return bool(_UNSPACED_RUN.fullmatch(text))


def grams(run: str) -> list[str]:
    """Overlapping character bigrams of a run of an unspaced script; a lone character alone.

    >>> grams("保証期間")
    ['保証', '証期', '期間']
    """
    return [run] if len(run) == 1 else [run[i:i + 2] for i in range(len(run) - 1)]


def words(text: str) -> list[str]:
    """The folded words of ``text`` in order: words of letters (any script, with inner
    apostrophes and hyphens), numbers, and bigrams of unspaced scripts.

    >>> words("L'été à Zürich: 保証期間は5年 (שָׁלוֹם)")
    ["l'été", 'à', 'zürich', '保証', '証期', '期間', '間は', '5', '年', 'שלום']
    """
    folded = fold(text)
    if not _BEYOND_ASCII.search(folded):
        return _ASCII_WORD.findall(folded)
    out: list[str] = []
    for match in _TOKEN.finditer(folded):
        if match.group("run"):
            out.extend(grams(match.group("run")))
        else:
            out.append(match.group())
    return out


def surface_words(text: str) -> list[str]:
    """Words of letters as written (case and accents kept; no numbers), unspaced runs whole:
    for names, which need their capitals.

    >>> surface_words("Émile met Zoë in 2021 at 東京")
    ['Émile', 'met', 'Zoë', 'in', 'at', '東京']
    """
    text = unicodedata.normalize("NFKC", text)
    if not _BEYOND_ASCII.search(text):
        return [w for w in _ASCII_WORD.findall(text) if not w[0].isdigit()]
    return [m.group() for m in _TOKEN.finditer(text) if not m.group()[0].isdigit()]


_TERM = regex.compile(r"\w+")


def index_terms(text: str) -> list[str]:
    """Terms for the BM25 index and its queries: what bm25s's default (``\\b\\w\\w+\\b`` on
    lower-cased text) gives for English, identifiers and numbers included, on folded text, with
    runs of unspaced scripts as bigrams (a lone character kept).

    >>> index_terms("Set max_tokens to 256 in Köln; 東京の天気")
    ['set', 'max_tokens', 'to', '256', 'in', 'köln', '東京', '京の', 'の天', '天気']
    """
    folded = fold(text)
    if not _BEYOND_ASCII.search(folded):
        return _ASCII_TERM.findall(folded)
    out: list[str] = []
    for match in _TERM.finditer(folded):
        term = match.group()
        if term.isascii() or not _UNSPACED_RUN.search(term):
            if len(term) >= 2:
                out.append(term)
            continue
        at = 0
        for run in _UNSPACED_RUN.finditer(term):
            if run.start() - at >= 2:
                out.append(term[at:run.start()])
            out.extend(grams(run.group()))
            at = run.end()
        if len(term) - at >= 2:
            out.append(term[at:])
    return out


def word_count(text: str) -> int:
    """How many words ``text`` holds: ``\\w+`` runs, a run of an unspaced script counting one word
    per two characters (a Chinese word is one to three characters, most often two).

    >>> word_count("The warranty lasts 5 years."), word_count("保証期間は五年です。")
    (5, 5)
    """
    count = 0
    for match in _TERM.finditer(text):
        term = match.group()
        unspaced = sum(len(run) for run in _UNSPACED_RUN.findall(term)) if not term.isascii() else 0
        count += (unspaced + 1) // 2 + (1 if unspaced < len(term) else 0)
    return count


_HEBREW_PREFIXES = "ובהלמשכ"  # and, in, the, to, from, that, as: written joined to the next word
_ARABIC_PREFIXES = ("وال", "بال", "كال", "فال", "لل", "ال", "و", "ب", "ل", "ف", "ك")


def clitic_bases(word: str) -> list[str]:
    """A folded Hebrew or Arabic word without the particles written joined to it ("האחריות" ->
    "אחריות", "والضمان" -> "ضمان"), at least three letters left; empty for other scripts.

    >>> clitic_bases("האחריות"), clitic_bases("والضمان"), clitic_bases("warranty")
    (['אחריות'], ['ضمان', 'الضمان'], [])
    """
    out: list[str] = []
    if regex.match(r"\p{Hebrew}", word):
        rest = word
        while rest[:1] in _HEBREW_PREFIXES and len(rest) - 1 >= 3 and len(out) < 2:
            rest = rest[1:]
            out.append(rest)
    elif regex.match(r"\p{Arabic}", word):
        out = [word[len(p):] for p in _ARABIC_PREFIXES if word.startswith(p) and len(word) - len(p) >= 3]
    return out


_GRAMMAR_KANA = regex.compile(r"[\p{Hiragana}\u30fc]+")


def telling_grams(run: str) -> list[str]:
    """The bigrams of an unspaced run that can carry meaning: those of hiragana alone ("ます",
    "から") are Japanese grammar, found in any Japanese text.

    >>> telling_grams("駐車場はありますか")
    ['駐車', '車場', '場は']
    """
    return [g for g in grams(run) if not _GRAMMAR_KANA.fullmatch(g)]


_UNSPACED_SPLIT = regex.compile(rf"([{_UNSPACED}]+)")


def unspaced_apart(token: str) -> list[str]:
    """``token`` cut where an unspaced script starts or ends.

    >>> unspaced_apart("iphone的价格")
    ['iphone', '的价格']
    """
    return [piece for piece in _UNSPACED_SPLIT.split(token) if piece]
