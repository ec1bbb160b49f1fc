"""The citation viewer: the quoted span in its surrounding document text, and a PDF's page as an image.

Everything shown comes from the index: the passages of the cited file (``Assistant.document_chunks``)
and, for a PDF, the file the index read, rendered with pypdfium2. A request names only an answer and
a marker number; the file is looked up among the indexed sources, never taken from the request.

>>> from rag.documents import PDFIUM_LOCK, Chunk
>>> parts = [Chunk("a", "d", "f.md", "Tides rise.", 0, 11, 0), Chunk("b", "d", "f.md", "They fall.", 12, 22, 1)]
>>> document_window(parts, 12, 22, chars=5)
('ise. They fall.', 7)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.documents import PDFIUM_LOCK, Chunk
from ui import render

CONTEXT_CHARS = 1200  # document text shown on each side of the quote
PDF_SCALE = 1.6  # 72 dpi × 1.6 ≈ 115 dpi: readable on a laptop, ~300 KB per page


@dataclass(frozen=True)
class Cited:
    """What the viewer needs of one citation (kept with the conversation)."""

    n: int
    source: str
    page: int | None
    quote: str
    start: int
    end: int
    support: str

    @classmethod
    def from_json(cls, value: Any) -> Cited | None:
        try:
            return cls(int(value["n"]), str(value["source"]), int(value["page"]) if value.get("page") else None,
                       str(value["quote"]), int(value["start"]), int(value["end"]), str(value["support"]))
        except (KeyError, TypeError, ValueError, AttributeError):
            return None


def document_window(chunks: Sequence[Chunk], start: int, end: int, chars: int = CONTEXT_CHARS) -> tuple[str, int]:
    """The document text from ``start - chars`` to ``end + chars`` rebuilt from its chunks (placed at
    their offsets, the gaps between them kept), and the offset where that text starts."""
    lo, hi = max(0, start - chars), end + chars
    near = [c for c in chunks if c.end > lo and c.start < hi]
    if not near:
        return "", lo
    first = max(lo, near[0].start)
    out: list[str] = []
    pos = first
    for c in near:
        if c.start > pos:  # between chunks: the recorded gap (padded to its length, so offsets hold)
            gap = c.start - pos
            out.append((c.gap_before[-gap:] if c.gap_before else "").rjust(gap))
            pos = c.start
        if c.end > pos:
            out.append(c.text[pos - c.start: min(c.end, hi) - c.start])
            pos = min(c.end, hi)
    return "".join(out), first


def render_context(cited: Cited, chunks: Sequence[Chunk], others: Sequence[Cited] = ()) -> str:
    """The viewer's text panel: file, page, verdict, and the quote highlighted in its surroundings,
    with ``others`` (more quotes under the same marker, which its source card marks too) highlighted
    where they fall in that text."""
    head = (f'<div class="rag-viewer-head"><span class="rag-num">[{cited.n}]</span>'
            f'<span class="rag-file" title="{render.escape_text(cited.source)}">'
            f'{render.escape_text(render.display_name(cited.source))}</span>'
            + (f'<span class="rag-page">p. {cited.page}</span>' if cited.page else "")
            + render.badge(cited.support) + "</div>")
    text, offset = document_window(chunks, cited.start, cited.end)
    where = render.locate(text, offset, cited.quote, cited.start, cited.end)
    if where is None:
        body = (f'<div class="rag-passage rag-quote-only"><mark class="rag-quote v-{cited.support}">'
                f'{render.escape_text(cited.quote)}</mark></div>')
    else:
        spans = [render.Span(*where, cited.support)]
        spans += [render.Span(*found, other.support) for other in others
                  if (found := render.locate(text, offset, other.quote, other.start, other.end)) is not None]
        body = (f'<div class="rag-passage rag-context">{"… " if offset > 0 else ""}'
                f'{render.highlight(text, spans)} …</div>')
    return f'<div class="rag-viewer">{head}{body}</div>'


def render_pdf_page(path: Path, page: int, quote: str) -> Any:
    """Page ``page`` (1-based) of the PDF at ``path`` as a PIL image with the quote's lines boxed,
    or None when the file is not a readable PDF any more."""
    with PDFIUM_LOCK:  # PDFium is not thread-safe: one call at a time in this process
        return _render_pdf_page(path, page, quote)


def _render_pdf_page(path: Path, page: int, quote: str) -> Any:
    import pypdfium2 as pdfium
    from PIL import ImageDraw

    try:
        pdf = pdfium.PdfDocument(str(path))
    except (pdfium.PdfiumError, OSError):
        return None
    try:
        if not 1 <= page <= len(pdf):
            return None
        pdf_page = pdf[page - 1]
        image = pdf_page.render(scale=PDF_SCALE).to_pil().convert("RGB")
        height = pdf_page.get_height()
        draw = ImageDraw.Draw(image, "RGBA")
        for left, bottom, right, top in _quote_rects(pdf_page.get_textpage(), quote):
            box = (left * PDF_SCALE - 2, (height - top) * PDF_SCALE - 2, right * PDF_SCALE + 2,
                   (height - bottom) * PDF_SCALE + 2)
            draw.rectangle(box, fill=(250, 204, 21, 90), outline=(202, 138, 4, 255), width=2)
        return image
    finally:
        pdf.close()


def _quote_rects(textpage: Any, quote: str) -> list[tuple[float, float, float, float]]:
    """Rectangles of the quote on the page: the whole quote, else its first words (line breaks and
    hyphenation in the PDF can differ from the extracted text)."""
    words = quote.split()
    for size in (len(words), 12, 6):
        needle = " ".join(words[:size])
        if not needle:
            break
        found = textpage.search(needle, match_case=False).get_next()
        if found:
            index, count = found
            return [textpage.get_rect(i) for i in range(textpage.count_rects(index, count))]
    return []
