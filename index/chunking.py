"""Split a ``Document`` into ``Chunk``s that fit the embedding model's window.

Sections (headings) are kept apart once a chunk is at least half full; inside a section,
LangChain's ``RecursiveCharacterTextSplitter`` cuts at paragraphs, then sentences, then words,
measuring length with the embedding model's own tokenizer. Offsets are computed here, by
locating each piece in the document (the splitter's ``add_start_index`` is wrong with overlap).
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from index.records import Chunk, Document

TokenCounter = Callable[[str], int]
TokenOffsets = Callable[[str], tuple[Sequence[tuple[int, int]], Sequence[int | None]]]
"""text -> (character span of each word piece, pre-token (word) index of each word piece)."""

MODEL_WINDOW = 256  # all-MiniLM-L6-v2's max_seq_length, special tokens included
SPECIAL_TOKENS = 2  # [CLS] and [SEP]
_MAX_HEADING_TOKENS = 40
MAX_CHUNK_CHARS = 2000  # the longest chunk of both eval corpora is 1,098 characters
MAX_WORD_CHARS = 100  # BERT WordPiece's max_input_chars_per_word: a longer word is one [UNK]
_SEPARATORS = [r"\n\n+", r"\n", r"(?<=[.!?])\s+", r"(?<=[;:,])\s+", r"\s+", ""]
# A PDF's text comes as hard-wrapped lines, often with no blank line between paragraphs: a line that
# ends a sentence is where a paragraph most likely ends, so it is cut there before any other line end
# (cutting at any line end split sentences in two: the Debian Reference).
_PDF_SEPARATORS = [r"\n\n+", r"(?<=[.!?:])\n", *_SEPARATORS[1:]]


@dataclass(frozen=True)
class ChunkingConfig:
    """Sizes in word pieces of the embedding model (``target`` <= window minus heading)."""

    target_tokens: int = 220
    overlap_tokens: int = 24
    window: int = MODEL_WINDOW
    max_chars: int = MAX_CHUNK_CHARS
    """Also a bound in characters: a run without spaces is one word piece ([UNK]) however long."""


def chunk_id(source: str, start: int, end: int, text: str) -> str:
    """Content-derived id: re-ingesting the same file yields the same ids."""
    return hashlib.sha256(f"{source}\x00{start}\x00{end}\x00{text}".encode()).hexdigest()[:32]


def heading_prefix(heading: tuple[str, ...], count: TokenCounter) -> tuple[str, ...]:
    """Shorten a heading path until it fits its share of the window (deepest names kept)."""
    path = heading
    while path and count(" > ".join(path)) > _MAX_HEADING_TOKENS:
        if len(path) > 1:
            path = path[1:]
        else:
            words = path[0].split()
            path = (" ".join(words[: max(1, len(words) // 2)]),) if len(words) > 1 else ()
    return path


def _sections(doc: Document) -> list[tuple[int, int]]:
    """Character spans between heading starts (and page starts, so a chunk keeps one page)."""
    cuts = sorted({0, len(doc.text), *(s for s, _ in doc.headings), *doc.pages})
    return [(a, b) for a, b in itertools.pairwise(cuts) if doc.text[a:b].strip()]


class SpanCounter:
    """Exact word-piece counts of spans of one text, from a single tokenization of it.

    Chunking measures thousands of overlapping spans of a document (sections, merges, the
    splitter's pieces); counting tokens between offsets replaces a tokenizer call per span
    (chunking 3x faster in the bench, same chunks). It is exact because WordPiece tokenizes
    every pre-token (a word or a punctuation mark) on its own: a span that starts and ends on
    pre-token boundaries holds exactly the word pieces inside it. Spans that cut a word go to
    the tokenizer itself (``exact``).
    """

    def __init__(self, text: str, offsets: TokenOffsets, exact: TokenCounter) -> None:
        self.text = text
        self.exact = exact
        bounds, ids = _token_bounds(text, offsets)
        # Pre-token spans: the first token's start to the last token's end of each word index.
        new_word = np.ones(len(ids), dtype=bool)
        new_word[1:] = ids[1:] != ids[:-1]
        first = np.flatnonzero(new_word)
        last = np.append(first[1:], len(ids))[: len(first)] - 1
        # Sorted and disjoint, so "inside a pre-token" is one binary search (no array per character:
        # that was 0.5 GB for a 30 MB document). Searched as lists with ``bisect``: a span costs a
        # few scalar searches, and numpy's per-call overhead was most of chunking's own time.
        self.starts = bounds[:, 0].tolist()
        self.word_start, self.word_end = bounds[first, 0].tolist(), bounds[last, 1].tolist()
        # Words the tokenizer reads as one [UNK] (over MAX_WORD_CHARS): counted by what they hold.
        unknown = (bounds[:, 1] - bounds[:, 0]) > MAX_WORD_CHARS
        self.unknown_start, self.unknown_end = bounds[unknown, 0].tolist(), bounds[unknown, 1].tolist()

    def _inside(self, position: int) -> bool:
        """Some pre-token has characters on both sides of ``position``."""
        j = bisect.bisect_left(self.word_start, position) - 1
        return j >= 0 and self.word_end[j] > position

    def span(self, start: int, end: int) -> int:
        """Word pieces in ``text[start:end]``, an over-long word counted as the pieces it holds."""
        if self._inside(start) or self._inside(end):
            pieces = self.exact(self.text[start:end])
        else:
            pieces = bisect.bisect_left(self.starts, end) - bisect.bisect_left(self.starts, start)
        first = bisect.bisect_right(self.unknown_end, start)
        last = bisect.bisect_left(self.unknown_start, end)
        for a, b in zip(self.unknown_start[first:last], self.unknown_end[first:last], strict=True):
            a, b = max(a, start), min(b, end)
            if b - a > MAX_WORD_CHARS:  # shorter clips were tokenized for real above
                pieces += unknown_pieces(self.text[a:b], self.exact) - 1
        return pieces

    def within(self, start: int, end: int) -> TokenCounter:
        """A length function for pieces of ``text[start:end]`` (what the splitter measures)."""

        cursor = [start]  # the splitter measures its pieces mostly in order: look on from the last one found

        @functools.cache
        def length(piece: str) -> int:
            # Searching from ``start`` every time was quadratic in a long section: chunking a 6 MB
            # text without headings took 46 s. Any occurrence of ``piece`` counts the same.
            found = self.text.find(piece, cursor[0], end)
            if found < 0:
                found = self.text.find(piece, start, end)
            if found < 0:
                return self.exact(piece)
            cursor[0] = found
            return self.span(found, found + len(piece))

        return length


SLICE_CHARS = 100_000
"""The text is tokenized for ``SpanCounter`` in slices of about this many characters: the tokenizer's
offsets as Python lists cost ~600 bytes a word piece (960 MB for a 6 MB text), so a 50 MB upload
needed ~8 GB at once; slices keep that to one slice's worth (``_token_bounds``)."""


def _token_bounds(text: str, offsets: TokenOffsets) -> tuple[np.ndarray, np.ndarray]:
    """Each word piece's (start, end) in ``text`` and its pre-token number, from ``offsets`` run on
    slices of ``text`` cut where no pre-token is cut: at whitespace, else after punctuation (both
    end a pre-token for BERT's pre-tokenizer, so the pieces are those of the whole text); a run with
    neither is one over-long word, read as [UNK] whichever way it is cut."""
    bounds: list[np.ndarray] = [np.zeros((0, 2), dtype=np.int64)]
    ids: list[np.ndarray] = [np.zeros(0, dtype=np.int64)]
    start, next_word = 0, 0
    while start < len(text):
        end = _slice_end(text, start, SLICE_CHARS)
        spans, words = offsets(text[start:end])
        piece_ids = np.asarray([-1 if w is None else w for w in words], dtype=np.int64)
        known = piece_ids >= 0
        piece_ids[known] += next_word
        next_word = int(piece_ids.max()) + 1 if known.any() else next_word
        bounds.append(np.asarray(spans, dtype=np.int64).reshape(-1, 2) + start)
        ids.append(piece_ids)
        start = end
    return np.concatenate(bounds), np.concatenate(ids)


def _slice_end(text: str, start: int, size: int) -> int:
    """Where the slice from ``start`` ends: after the last whitespace (else punctuation) within its
    last tenth, else at ``start + size``."""
    end = start + size
    if end >= len(text):
        return len(text)
    window = text[end - size // 10:end]
    for pattern in (r"\s", r"[^\w\s]"):
        found = [m.end() for m in re.finditer(pattern, window)]
        if found:
            return end - size // 10 + found[-1]
    return end


def unknown_pieces(word: str, count: TokenCounter) -> int:
    """Honest word pieces of a word the tokenizer reads as one [UNK]: those of its 100-character
    slices (a 30 MB run without spaces was ``n_tokens=1``). Beyond ``MAX_CHUNK_CHARS`` (never a
    chunk, only a span being split) one piece per slice, a lower bound that is cheap to get."""
    if len(word) > MAX_CHUNK_CHARS:
        return -(-len(word) // MAX_WORD_CHARS)
    return sum(count(word[i:i + MAX_WORD_CHARS]) for i in range(0, len(word), MAX_WORD_CHARS))


def _long_runs(text: str, start: int, end: int, max_chars: int) -> list[tuple[int, int, bool]]:
    """``text[start:end]`` as segments, runs without whitespace longer than ``max_chars`` flagged
    True: they are cut by ``_cut_run`` and never reach the splitter, which would take a 30 MB run
    apart one character at a time."""
    out: list[tuple[int, int, bool]] = []
    cursor = start
    # The lookbehind makes the scan linear: a run is tried only from its first character.
    for match in re.compile(rf"(?<!\S)\S{{{max_chars + 1},}}").finditer(text, start, end):
        if match.start() > cursor:
            out.append((cursor, match.start(), False))
        out.append((match.start(), match.end(), True))
        cursor = match.end()
    if cursor < end:
        out.append((cursor, end, False))
    return out


def _cut_run(text: str, start: int, end: int, limit: int, max_chars: int,
             count: TokenCounter) -> list[tuple[int, int]]:
    """Cut an unbreakable run into pieces of at most ``max_chars`` characters and ``limit`` word
    pieces, in steps of ``MAX_WORD_CHARS`` from each piece's start: the same slices that
    ``unknown_pieces`` counts, so each slice is tokenized once (``count`` is cached)."""
    pieces: list[tuple[int, int]] = []
    while start < end:
        cut, used = start, 0
        while cut < end and cut - start + MAX_WORD_CHARS <= max_chars:
            step = min(cut + MAX_WORD_CHARS, end)
            used += count(text[cut:step])
            if used > limit and cut > start:
                break
            cut = step
        cut = max(cut, min(start + MAX_WORD_CHARS, end))
        pieces.append((start, cut))
        start = cut
    return pieces


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def chunk_document(doc: Document, count: TokenCounter, config: ChunkingConfig | None = None,
                   offsets: TokenOffsets | None = None) -> list[Chunk]:
    """Chunk ``doc``; every chunk's ``embed_text`` fits ``config.window`` word pieces.

    ``count`` is the embedding model's tokenizer (word pieces, no special tokens); ``offsets``,
    when given, is the same tokenizer with offsets: the document is then tokenized once and every
    span measured from it (``SpanCounter``: same counts, same chunks, 3x faster).
    """
    config = config or ChunkingConfig()
    # The splitter measures the same pieces many times; caching per document halved chunking time
    # in the bench with identical chunks.
    count = functools.lru_cache(maxsize=None)(count)
    text = doc.text
    counter = SpanCounter(text, offsets, count) if offsets else None

    def measure(start: int, end: int) -> int:
        return counter.span(start, end) if counter else count(text[start:end])
    spans: list[tuple[int, int]] = []
    budget_of: dict[tuple[int, int], int] = {}

    def budget(start: int) -> int:
        prefix = heading_prefix(doc.heading_at(start), count)
        used = count(" > ".join(prefix)) + 1 if prefix else 0
        return min(config.target_tokens, config.window - SPECIAL_TOKENS - used)

    # 1. Merge small neighbouring sections while the running chunk is under half full.
    merged: list[tuple[int, int]] = []
    for start, end in _sections(doc):
        if merged:
            m_start, m_end = merged[-1]
            same_page = doc.page_at(m_start) == doc.page_at(start)
            if same_page and measure(m_start, m_end) < budget(m_start) // 2 and \
                    measure(m_start, end) <= budget(m_start):
                merged[-1] = (m_start, end)
                continue
        merged.append((start, end))

    # 2. Split sections that are too long, then locate every piece in the document.
    for start, end, cut in (seg for s, e in merged for seg in _long_runs(text, s, e, config.max_chars)):
        start, end = _trim(text, start, end)
        if start >= end:
            continue
        limit = budget(start)
        if cut:  # an unbreakable run; the window check below halves a piece still too long
            for run_piece in _cut_run(text, start, end, limit, config.max_chars, count):
                spans.append(run_piece)
                budget_of[run_piece] = limit
            continue
        if measure(start, end) <= limit:
            spans.append((start, end))
            budget_of[(start, end)] = limit
            continue
        length = counter.within(start, end) if counter else count
        # Imported here: a process that only answers questions (``rag ask``) never chunks, and
        # LangChain's import took 0.3-0.5 s of a cold one.
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        splitter = RecursiveCharacterTextSplitter(
            chunk_size=limit, chunk_overlap=min(config.overlap_tokens, limit // 4), length_function=length,
            separators=_PDF_SEPARATORS if doc.pages else _SEPARATORS, is_separator_regex=True, keep_separator="end",
        )
        cursor, previous_end = start, start
        for piece in splitter.split_text(text[start:end]):
            found = _locate(text, piece, cursor, previous_end, end)
            if found < 0:  # cannot happen with keep_separator; fall back to a forward search
                found = text.find(piece, start, end)
            if found < 0:
                raise AssertionError(f"chunk not found in {doc.source} after offset {cursor}")
            spans.append((found, found + len(piece)))
            budget_of[(found, found + len(piece))] = limit
            cursor, previous_end = found + 1, max(previous_end, found + len(piece))

    chunks: list[Chunk] = []
    for start, end in spans:
        start, end = _trim(text, start, end)
        if start >= end:
            continue
        limit = budget_of.get((start, end), budget(start))
        for s, e in _enforce_window(text, start, end, limit, measure, config.max_chars):
            body = text[s:e]
            heading = heading_prefix(doc.heading_at(s), count)
            previous_end = chunks[-1].end if chunks else s
            chunks.append(Chunk(chunk_id=chunk_id(doc.source, s, e, body), doc_id=doc.doc_id,
                                source=doc.source, text=body, start=s, end=e, index=len(chunks),
                                page=doc.page_at(s), heading=heading, n_tokens=measure(s, e),
                                gap_before=text[previous_end:s] if previous_end < s else ""))
    return chunks


def _locate(text: str, piece: str, cursor: int, previous_end: int, end: int) -> int:
    """Where ``piece`` starts in ``text``.

    The splitter's pieces come in order and overlap or touch (only whitespace is dropped between
    them), so a piece starts at or before the first non-space character after the previous piece:
    take the last match up to there. The first match after ``cursor`` can be an earlier copy of
    repeated text, which would leave the rest of the document in no chunk.
    """
    limit = previous_end
    while limit < end and text[limit].isspace():
        limit += 1
    found = text.rfind(piece, cursor, min(end, limit + len(piece)))
    return found if found >= 0 else text.find(piece, cursor, end)


def _enforce_window(text: str, start: int, end: int, limit: int,
                    measure: Callable[[int, int], int], max_chars: int) -> list[tuple[int, int]]:
    """Last line of defence: halve any span still over the limit or ``max_chars`` (a giant 'word')."""
    if (end - start <= max_chars and measure(start, end) <= limit) or end - start < 2:
        return [(start, end)]
    middle = start + (end - start) // 2
    space = text.rfind(" ", start + 1, middle + 1)
    middle = space if space > start else middle
    left = _trim(text, start, middle)
    right = _trim(text, middle, end)
    out: list[tuple[int, int]] = []
    for s, e in (left, right):
        if s < e:
            out.extend(_enforce_window(text, s, e, limit, measure, max_chars))
    return out
