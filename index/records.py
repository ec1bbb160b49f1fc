"""Typed records that flow from loading to storage. Defined once, frozen."""

from __future__ import annotations

from dataclasses import dataclass, field

from index.errors import RagError


@dataclass(frozen=True)
class Document:
    """One loaded file.

    ``pages`` holds the character offset where each page starts in ``text`` (PDFs only),
    ``headings`` the (offset, heading path) pairs where a new section starts (md/html/docx).
    """

    doc_id: str
    source: str
    title: str
    text: str
    content_hash: str
    pages: tuple[int, ...] = ()
    headings: tuple[tuple[int, tuple[str, ...]], ...] = ()

    def page_at(self, offset: int) -> int | None:
        """1-based page number that contains ``offset``, or None for unpaged documents."""
        if not self.pages:
            return None
        page = 1
        for i, start in enumerate(self.pages):
            if start <= offset:
                page = i + 1
            else:
                break
        return page

    def heading_at(self, offset: int) -> tuple[str, ...]:
        """The heading path in force at ``offset`` (empty when the document has none)."""
        path: tuple[str, ...] = ()
        for start, heading in self.headings:
            if start <= offset:
                path = heading
            else:
                break
        return path


@dataclass(frozen=True)
class Chunk:
    """A passage of a document; ``document.text[start:end] == text`` always holds."""

    chunk_id: str
    doc_id: str
    source: str
    text: str
    start: int
    end: int
    index: int
    page: int | None = None
    heading: tuple[str, ...] = field(default_factory=tuple)
    n_tokens: int = 0
    gap_before: str = ""  # the (whitespace) text between the previous chunk and this one, for exact merging
    # A passage merged from neighbouring chunks (``RAG_WIDEN``) that crosses PDF pages: where each
    # page begins in it, as (document offset, page); empty when ``page`` holds for all of it.
    page_starts: tuple[tuple[int, int], ...] = ()

    def page_at(self, offset: int) -> int | None:
        """The page of document offset ``offset`` inside this passage.

        >>> Chunk("c", "d", "a.pdf", "x" * 20, 100, 120, 0, page=2, page_starts=((100, 2), (110, 3))).page_at(112)
        3
        """
        page = self.page
        for start, number in self.page_starts:
            if start <= offset:
                page = number
        return page

    @property
    def embed_text(self) -> str:
        """Text given to the embedder and keyword index: heading path as context, then the passage."""
        if not self.heading:
            return self.text
        return " > ".join(self.heading) + "\n" + self.text


class LoadError(RagError):
    """A file that cannot be indexed, with the reason in words."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class TooLargeError(LoadError):
    """A file over the size limit (as read, or once inflated): the one failure a setting can lift."""
