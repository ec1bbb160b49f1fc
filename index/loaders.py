"""Turn files into ``Document`` records: text, page starts and heading paths.

Each loader raises ``LoadError`` with a specific reason; callers index the other files.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import threading
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index.records import Document, LoadError, TooLargeError

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
SUPPORTED_SUFFIXES = frozenset({".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx"})
# Read as plain text whatever their extension: the names documentation goes by without one
# (README, README.Debian, NEWS, changelog …), as /usr/share/doc and source trees hold them. Licence and
# credit files (LICENSE, COPYING, copyright, AUTHORS, THANKS) are left out: every project folder has one,
# and their boilerplate would be quoted for questions about the documents themselves.
PLAIN_TEXT_NAMES = frozenset({"README", "NEWS", "CHANGELOG", "CHANGES", "HISTORY", "INSTALL", "TODO", "HACKING",
                              "BUGS", "FAQ", "CONTRIBUTING"})
# Also read: any of the above gzipped (``guide.html.gz``, ``changelog.Debian.gz``), inflated to at most
# the file size limit.
ALSO_READ = "gzipped files of those types, and README, NEWS, changelog … files as text"
# A .docx whose parts would inflate beyond this is refused (zip bomb); real documents are far smaller.
MAX_DOCX_UNCOMPRESSED = 200 * 1024 * 1024
# Same idea for PDFs: more extracted text than this is not a document we can use.
MAX_PDF_CHARS = 50_000_000
# Compressed PDF streams may inflate to at most this much in total (decompression bombs).
MAX_PDF_INFLATED = 512 * 1024 * 1024
_PDF_STREAM = re.compile(rb"stream\r?\n")

_SOFT_HYPHEN = "\u00ad"
# pdfium reports a word hyphenated at the end of a line ("distri-" / "bution") as U+FFFE and joins
# the two lines: dropping it gives back the word ("distribution"), for keyword search and quotes.
_LINE_END_HYPHEN = "\ufffe"
# What a format's parser extracts, or how its text is chunked, changed: files of that format whose
# bytes did not change are read again by the next ingest (the stored hash carries the revision).
# Revision 1 adds nothing, so the hashes of formats never revised stay as they were.
# PDF 2: line-end hyphens joined (U+FFFE); chunks cut first at lines that end a sentence.
# HTML 2: the previous/next navigation of DocBook and Texinfo manuals dropped (``index.html_text``).
PARSER_REVISIONS = {".pdf": 2, ".html": 2, ".htm": 2}
_MAX_RUNNING_LINES = 2  # running header/footer lines dropped at each end of a PDF page


@dataclass(frozen=True)
class Discovery:
    """What a walk found: the files to read, the paths that failed, and how many files of each kind
    it passed over because no loader reads them (".gz", "no extension", "special file"), so an
    ingest can say so instead of indexing a fraction of a folder without a word."""

    files: list[Path]
    errors: list[LoadError]
    skipped: Counter[str]


def discover(paths: Iterable[str | Path]) -> tuple[list[Path], list[LoadError]]:
    """Expand files and folders (recursively) into the supported files under them (see ``discover_all``)."""
    found = discover_all(paths)
    return found.files, found.errors


def discover_all(paths: Iterable[str | Path]) -> Discovery:
    """Expand files and folders (recursively) into the supported files under them.

    Hidden entries are skipped, each real folder is visited once (symlink loops end), and a
    folder that cannot be listed becomes a ``LoadError`` instead of stopping the walk. Inside a
    folder, files of other types and special files (named pipes, sockets, devices) are counted in
    ``skipped``; named on their own, they are errors.
    """
    found: list[Path] = []
    errors: list[LoadError] = []
    skipped: Counter[str] = Counter()
    seen_dirs: set[str] = set()
    seen_files: set[Path] = set()

    def add_file(path: Path, explicit: bool) -> None:
        if reader_kind(path) is None:
            if explicit:
                errors.append(LoadError(str(path), f"unsupported file type {path.suffix or '(none)'!r}; "
                                        f"supported: {', '.join(sorted(SUPPORTED_SUFFIXES))}, {ALSO_READ}"))
            else:
                skipped[path.suffix.lower() or "no extension"] += 1
            return
        resolved = path.resolve()
        if resolved not in seen_files:
            seen_files.add(resolved)
            found.append(resolved)

    def walk(folder: Path) -> None:
        real = os.path.realpath(folder)
        if real in seen_dirs:
            return
        seen_dirs.add(real)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            errors.append(LoadError(str(folder), f"cannot list folder: {exc.strerror or exc}"))
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            try:
                if entry.is_dir():
                    walk(path)
                elif entry.is_file():
                    add_file(path, explicit=False)
                elif entry.is_symlink() and not path.exists():
                    errors.append(LoadError(str(path), "broken symbolic link"))
                else:  # a named pipe would block the reader forever; sockets and devices are no documents
                    skipped["special file"] += 1
            except OSError as exc:
                errors.append(LoadError(str(path), f"cannot inspect: {exc.strerror or exc}"))

    for raw in paths:
        if isinstance(raw, str) and not raw.strip():  # Path("") is ".": never index a folder nobody named
            errors.append(LoadError(raw, "the path is empty; give a file or folder ('.' for this one)"))
            continue
        path = Path(raw).expanduser()
        if path.is_dir():
            walk(Path(os.path.abspath(path)))  # what it finds is named as the files read are: absolute
        elif path.is_file():
            add_file(path, explicit=True)
        elif path.is_symlink() and not path.exists():
            errors.append(LoadError(str(path), "broken symbolic link"))
        elif path.exists():
            errors.append(LoadError(str(path), f"not a regular file ({_special_kind(path)}); give a file or folder"))
        else:
            errors.append(LoadError(str(path), "no such file or folder"))
    return Discovery(found, errors, skipped)


def _special_kind(path: Path) -> str:
    """What a path that is neither file nor folder is, in words."""
    if path.is_fifo():
        return "a named pipe"
    if path.is_socket():
        return "a socket"
    if path.is_block_device() or path.is_char_device():
        return "a device"
    return "a special file"


def read_bytes(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """Read a file, refusing empty and over-limit files with a specific reason."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise TooLargeError(str(path), f"file is {size:,} bytes, over the {max_bytes:,}-byte limit")
        if size == 0:
            raise LoadError(str(path), "file is empty")
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except PermissionError:
        raise LoadError(str(path), "permission denied") from None
    except OSError as exc:
        raise LoadError(str(path), f"cannot read: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise TooLargeError(str(path), f"file grew over the {max_bytes:,}-byte limit while reading")
    return data


def decode_text(data: bytes, path: str = "<bytes>") -> str:
    """Decode text: BOMs first, then UTF-8, UTF-16 without BOM, else Latin-1 for legacy files.

    Binary data is refused rather than indexed as mojibake.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        return _checked(data[3:].decode("utf-8", errors="replace"), path)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _checked(data.decode("utf-16", errors="replace"), path)
    utf16 = _guess_utf16_without_bom(data)  # first: ASCII-range UTF-16 is also valid UTF-8 (with NULs)
    if utf16:
        return _checked(data.decode(utf16, errors="replace"), path)
    try:
        return _checked(data.decode("utf-8"), path)
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    if b"\x00" in data:
        raise LoadError(path, "binary data, not text (contains NUL bytes)")
    damaged = _damaged_utf8(data, path, first_bad)
    return _checked(damaged if damaged is not None else data.decode("latin-1"), path)


def _damaged_utf8(data: bytes, path: str, first_bad: int) -> str | None:
    """UTF-8 text with some invalid bytes, or None for a legacy single-byte (Latin-1) file.

    Decoding real UTF-8 as Latin-1 would turn every accented letter into mojibake, so text with
    more valid multi-byte characters than bad bytes is UTF-8: a few bad bytes become U+FFFD,
    many make the file unusable.
    """
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    multibyte = sum(1 for ch in text if ord(ch) > 127) - bad
    if multibyte <= bad:
        return None
    if bad > max(1, len(text) // 100):
        raise LoadError(path, f"invalid UTF-8: {bad} byte sequences cannot be decoded (the first at byte "
                              f"{first_bad}); save the file as UTF-8 again")
    return text


def _guess_utf16_without_bom(data: bytes) -> str | None:
    """Mostly-ASCII UTF-16 has NUL in every other byte; which half tells the byte order."""
    sample = data[:4096]
    if len(sample) < 4 or len(sample) % 2:
        return None
    even_nuls = sample[0::2].count(0) / (len(sample) / 2)
    odd_nuls = sample[1::2].count(0) / (len(sample) / 2)
    if odd_nuls > 0.3 and even_nuls < 0.05:
        return "utf-16-le"
    if even_nuls > 0.3 and odd_nuls < 0.05:
        return "utf-16-be"
    return None


def _checked(text: str, path: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    sample = text[:8192]
    if sample:
        control = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\n\t\f")
        if "\x00" in sample or control / len(sample) > 0.1:
            raise LoadError(path, "binary data, not text (too many control characters)")
    if not text.strip():
        raise LoadError(path, "no text: the file holds only whitespace")
    return text


def content_hash(data: bytes, suffix: str = "") -> str:
    """The file's fingerprint as ingest compares it: its bytes' SHA-256, plus the revision of the
    parser for ``suffix`` when that parser has changed since the first (``PARSER_REVISIONS``).

    >>> content_hash(b"x", ".txt") == content_hash(b"x"), content_hash(b"x", ".PDF").endswith("+parser2")
    (True, True)
    """
    digest = hashlib.sha256(data).hexdigest()
    revision = PARSER_REVISIONS.get(suffix.lower(), 1)
    return digest if revision == 1 else f"{digest}+parser{revision}"


def _doc_id(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()[:16]


# ---- formats -------------------------------------------------------------------------------

# A closing run of "#" must follow a space (CommonMark): "# Learn C#" is the heading "Learn C#".
_MD_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$", re.MULTILINE)


def _markdown_headings(text: str) -> tuple[tuple[int, tuple[str, ...]], ...]:
    """Heading path at each ATX heading; fenced code blocks are not headings."""
    fences = [(m.start(), m.end()) for m in re.finditer(r"^```.*?^```", text, re.MULTILINE | re.DOTALL)]
    path: list[tuple[int, str]] = []
    out: list[tuple[int, tuple[str, ...]]] = []
    for match in _MD_HEADING.finditer(text):
        if any(a <= match.start() < b for a, b in fences):
            continue
        level = len(match.group(1))
        path = [p for p in path if p[0] < level] + [(level, match.group(2).strip())]
        out.append((match.start(), tuple(name for _, name in path)))
    return tuple(out)


def load_text(path: Path, data: bytes) -> Document:
    text = decode_text(data, str(path))
    headings = _markdown_headings(text) if path.suffix.lower() in {".md", ".markdown"} else ()
    title = headings[0][1][-1] if headings else path.stem
    return Document(_doc_id(str(path)), str(path), title, text, content_hash(data, path.suffix), headings=headings)


def load_html(path: Path, data: bytes) -> Document:
    from index.html_text import html_to_blocks

    title, blocks = html_to_blocks(decode_text(data, str(path)))
    parts: list[str] = []
    headings: list[tuple[int, tuple[str, ...]]] = []
    offset = 0
    for heading, block in blocks:
        if heading != (headings[-1][1] if headings else ()):
            headings.append((offset, heading))
        parts.append(block)
        offset += len(block) + 2
    text = "\n\n".join(parts)
    if not text.strip():
        raise LoadError(str(path), "no text: the page has no visible content")
    return Document(_doc_id(str(path)), str(path), title or path.stem, text, content_hash(data, path.suffix),
                    headings=tuple(headings))


def pdf_inflated_size(data: bytes, limit: int = MAX_PDF_INFLATED) -> int:
    """Total size of the PDF's zlib streams once inflated, counted without keeping the output.

    pdfium inflates a page's streams whole; a 2 MB file can expand to gigabytes. We measure first,
    in bounded memory, and stop counting as soon as ``limit`` is passed.
    """
    import zlib

    total = 0
    for match in _PDF_STREAM.finditer(data):
        inflater = zlib.decompressobj()
        position = match.end()
        try:
            while position < len(data) and total <= limit:
                piece = data[position:position + 65536]
                position += len(piece)
                total += len(inflater.decompress(piece, 1 << 20))
                while inflater.unconsumed_tail and total <= limit:
                    total += len(inflater.decompress(inflater.unconsumed_tail, 1 << 20))
                if inflater.eof:
                    break
        except zlib.error:
            continue  # not a zlib stream (images, plain streams): pdfium reads those as they are
        if total > limit:
            break
    return total


PDFIUM_LOCK = threading.RLock()
"""Held around every pdfium call in this process: PDFium is not thread-safe, not even across
documents (pypdfium2's docs: concurrent calls may crash the process), and uploads, the UI's page
viewer and `rag serve` can all reach it at once."""


def load_pdf(path: Path, data: bytes) -> Document:
    with PDFIUM_LOCK:
        pages = _pdf_pages(path, data)
    pages = _drop_running_lines(pages)
    starts: list[int] = []
    offset = 0
    for page_text in pages:
        starts.append(offset)
        offset += len(page_text) + 2
    text = "\n\n".join(pages)
    if not text.strip():
        raise LoadError(str(path), "PDF has no extractable text (scanned images need OCR first)")
    return Document(_doc_id(str(path)), str(path), path.stem, text, content_hash(data, path.suffix),
                    pages=tuple(starts))


def _pdf_pages(path: Path, data: bytes) -> list[str]:
    """Each page's text (call with ``PDFIUM_LOCK`` held)."""
    import pypdfium2 as pdfium

    inflated = pdf_inflated_size(data)
    if inflated > MAX_PDF_INFLATED:
        raise LoadError(str(path), f"PDF streams inflate to over {MAX_PDF_INFLATED // (1024 * 1024)} MB "
                        "(decompression bomb?)")

    # pypdfium2 keeps word spacing where pypdf glues words on LaTeX-made PDFs, and is faster.
    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        reason = str(exc)
        if "password" in reason.lower():
            raise LoadError(str(path), "PDF is encrypted (password required)") from None
        raise LoadError(str(path), f"not a readable PDF ({reason})") from None
    try:
        pages: list[str] = []
        total = 0
        for index in range(len(pdf)):
            page = pdf[index]
            textpage = page.get_textpage()
            page_text = textpage.get_text_range().replace("\r\n", "\n").replace("\r", "\n")
            for mark in (_SOFT_HYPHEN, _LINE_END_HYPHEN, "\x02", "\x00"):
                page_text = page_text.replace(mark, "")
            textpage.close()
            page.close()
            total += len(page_text)
            if total > MAX_PDF_CHARS:
                raise LoadError(str(path), f"PDF text exceeds {MAX_PDF_CHARS:,} characters")
            pages.append(page_text.strip("\n"))
    except pdfium.PdfiumError as exc:
        raise LoadError(str(path), f"damaged PDF page ({exc})") from None
    finally:
        pdf.close()
    return pages


def _drop_running_lines(pages: list[str]) -> list[str]:
    """Remove running headers/footers: first or last lines repeated on most pages (digits ignored)."""
    if len(pages) < 3:
        return pages

    def key(line: str) -> str:
        return re.sub(r"\d+", "#", line.strip())

    counts: dict[str, int] = {}
    for page in pages:
        lines = [ln for ln in page.split("\n") if ln.strip()]
        for line in {key(x) for x in lines[:1] + lines[-1:]}:
            counts[line] = counts.get(line, 0) + 1
    # A pattern that also fills the pages' bodies (table rows differing only in numbers) is content.
    everywhere: dict[str, int] = {}
    for page in pages:
        for line in page.split("\n"):
            everywhere[key(line)] = everywhere.get(key(line), 0) + 1
    running = {k for k, n in counts.items()
               if k and n >= max(3, int(0.6 * len(pages))) and everywhere[k] <= 2 * len(pages)}
    if not running:
        return pages
    cleaned = []
    for page in pages:
        lines = page.split("\n")
        for end in (0, -1):  # at most a header and a page-number line at each end
            dropped = 0
            while lines and (not lines[end].strip() or (dropped < _MAX_RUNNING_LINES and key(lines[end]) in running)):
                dropped += bool(lines[end].strip())
                lines.pop(end)
        cleaned.append("\n".join(lines))
    return cleaned


def load_docx(path: Path, data: bytes) -> Document:
    import io

    import docx
    from docx.table import Table

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            inflated = sum(info.file_size for info in archive.infolist())
            if inflated > MAX_DOCX_UNCOMPRESSED:
                raise LoadError(str(path), f"DOCX would inflate to {inflated:,} bytes (zip bomb?)")
            if "word/document.xml" not in archive.namelist():
                raise LoadError(str(path), "not a Word document (no word/document.xml inside)")
    except zipfile.BadZipFile:
        raise LoadError(str(path), "not a valid .docx (not a zip archive)") from None
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises many types for damaged parts
        raise LoadError(str(path), f"damaged .docx ({type(exc).__name__}: {exc})") from None
    parts: list[str] = []
    headings: list[tuple[int, tuple[str, ...]]] = []
    stack: list[tuple[int, str]] = []
    offset = 0
    # Paragraphs and tables in document order, so a table keeps the heading it sits under.
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            for line in _table_lines(block):
                parts.append(line)
                offset += len(line) + 2
            continue
        text = block.text.strip()
        if not text:
            continue
        style = (block.style.name if block.style is not None else "") or ""
        match = re.match(r"Heading (\d)", style)
        if match or style == "Title":
            level = int(match.group(1)) if match else 0
            stack = [s for s in stack if s[0] < level] + [(level, text)]
            headings.append((offset, tuple(name for _, name in stack)))
        parts.append(text)
        offset += len(text) + 2
    text = "\n\n".join(parts)
    if not text.strip():
        raise LoadError(str(path), "the .docx has no text")
    title = headings[0][1][-1] if headings else path.stem
    return Document(_doc_id(str(path)), str(path), title, text, content_hash(data, path.suffix),
                    headings=tuple(headings))


def _table_lines(table: Any) -> Iterator[str]:
    """A docx table's rows as "a | b" lines; a table inside a cell gets its own lines there (the
    outer row's cells before it form one line, those after it another), so no cell text is lost
    (``cell.text`` alone skips nested tables)."""
    from docx.table import Table

    for row in table.rows:
        line: list[str] = []
        for i, cell in enumerate(row.cells):
            if i and cell._tc is row.cells[i - 1]._tc:
                continue  # a merged cell repeats
            text: list[str] = []
            nested = False
            for item in cell.iter_inner_content():
                if isinstance(item, Table):
                    before = "\n".join(text).strip()
                    yield from _joined([*line, before] if before else line)
                    text, line, nested = [], [], True
                    yield from _table_lines(item)
                else:
                    text.append(item.text)
            rest = "\n".join(text).strip()  # as ``cell.text``
            if rest or not nested:
                line.append(rest)
        yield from _joined(line)


def _joined(cells: list[str]) -> Iterator[str]:
    line = " | ".join(cells)
    if line.replace("|", "").strip():
        yield line


_LOADERS: dict[str, Callable[[Path, bytes], Document]] = {
    ".txt": load_text,
    ".md": load_text,
    ".markdown": load_text,
    ".html": load_html,
    ".htm": load_html,
    ".pdf": load_pdf,
    ".docx": load_docx,
}


def load_file(path: str | Path, max_bytes: int = DEFAULT_MAX_BYTES) -> Document:
    """Load one file into a ``Document``; raises ``LoadError`` naming the file and the reason.

    >>> doc = load_file("examples/coral-reefs.txt")  # doctest: +SKIP
    >>> doc.text[:20]  # doctest: +SKIP
    """
    return load_bytes(Path(path), read_bytes(Path(path), max_bytes), max_bytes)


def reader_kind(path: Path) -> str | None:
    """The extension whose loader reads ``path`` (``.txt`` for a README-like name, the inner one of a
    ``.gz``), or None when no loader does.

    >>> [reader_kind(Path(n)) for n in ("a.PDF", "guide.html.gz", "README.Debian", "changelog.Debian.gz", "x.tar.gz")]
    ['.pdf', '.html', '.txt', '.txt', None]
    """
    name = path.name[:-3] if path.name.lower().endswith(".gz") else path.name
    suffix = Path(name).suffix.lower()
    if suffix in _LOADERS:
        return suffix
    if name.split(".", 1)[0].upper() in PLAIN_TEXT_NAMES:
        return ".txt"
    return None


def gunzip(path: Path, data: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """A gzipped file's content, refused past ``max_bytes`` (inflated a step at a time: a gzip bomb never
    fills memory)."""
    inflater = zlib.decompressobj(wbits=47)  # 32 + 15: gzip (or zlib) header, the largest window
    parts: list[bytes] = []
    size = 0
    pending = data
    try:
        while pending and not inflater.eof:
            part = inflater.decompress(pending, 1 << 20)
            pending = inflater.unconsumed_tail
            size += len(part)
            if size > max_bytes:
                raise TooLargeError(str(path), f"inflates to over the {max_bytes:,}-byte limit")
            parts.append(part)
    except zlib.error:
        raise LoadError(str(path), "not a readable gzip file (damaged or cut short)") from None
    if not inflater.eof:
        raise LoadError(str(path), "not a readable gzip file (cut short)")
    return b"".join(parts)


def load_bytes(path: Path, data: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> Document:
    """Parse already-read bytes by the file's extension (used to hash before parsing). A ``.gz`` is
    inflated and parsed by its inner extension; the Document keeps the file's path and the hash of
    its bytes as read, which is what ingest compares."""
    kind = reader_kind(path)
    if kind is None:
        raise LoadError(str(path), f"unsupported file type {path.suffix or '(none)'!r}")
    loader = _LOADERS[kind]
    try:
        if not path.name.lower().endswith(".gz"):
            return loader(path, data)
        doc = loader(path.with_name(path.name[:-3]), gunzip(path, data, max_bytes))
        return dataclasses.replace(doc, doc_id=_doc_id(str(path)), source=str(path),
                                   content_hash=content_hash(data, kind))
    except LoadError as exc:
        if exc.path != str(path):  # the inner name of a .gz: the user knows the file by its own
            raise type(exc)(str(path), exc.reason) from None
        raise
    except RecursionError:
        raise LoadError(str(path), "structure nested too deeply to parse") from None
    except MemoryError:
        raise LoadError(str(path), "too large to parse in memory") from None
