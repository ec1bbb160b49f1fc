"""HTML to text blocks with heading paths.

Written on the standard library's streaming ``HTMLParser`` rather than a tree builder: it
never recurses, so a hostile, deeply nested page costs linear time and memory, and it lets us
keep block boundaries, code line breaks and table rows that a flat ``get_text()`` loses.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_SKIP = {"script", "style", "noscript", "template", "svg", "nav", "aside", "footer", "iframe",
         "object", "canvas", "select", "button", "form", "head"}
_SKIP_ROLES = {"navigation", "banner", "contentinfo", "search", "toc"}
# Generated-site chrome marked only by class or id: permalink anchors ("¶"), page footers (Sphinx
# and MkDocs write <div class="footer">, not <footer>), and the previous/next links of DocBook
# (navheader, navfooter; Publican's docnav and banner: the Debian Administrator's Handbook) and
# Texinfo (<div class="header">: "Next: Simple Example, Up: Using libffi [Index]"), which every page
# of such a manual repeats and which led the first chunk of each page.
_SKIP_CLASSES = {"headerlink", "footer", "navheader", "navfooter", "docnav", "nav-panel", "header"}
_SKIP_IDS = {"banner"}
_API_SIGNATURE = "sig"  # Sphinx: <dl class="py function"><dt class="sig sig-object py" id="...">
_API_LEVEL = 6  # API entries nest below h6 in the heading path
_BLOCK = {"p", "div", "section", "article", "main", "header", "blockquote", "li", "ul", "ol",
          "dl", "dt", "dd", "table", "thead", "tbody", "tfoot", "figure", "figcaption", "hr",
          "address", "details", "summary", "body", "html"}
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
         "track", "wbr"}
_SPACES = re.compile(r"\s+")
# What may sit in <head>; any other start tag there opens the (implied) body, as in browsers.
_HEAD_CONTENT = {"head", "title", "meta", "link", "style", "script", "base", "noscript", "template"}


class _BlockParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[tuple[tuple[str, ...], str]] = []
        self.title = ""
        self._in_title = False
        self._skip: list[str] = []  # open skipped elements
        self._pre = 0
        self._buffer: list[str] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        # For each open <table>: where it sits in the enclosing table (None: outside any row,
        # False: in a row between cells, True: inside a cell), to resume that row when it ends.
        self._tables: list[bool | None] = []
        self._heading_level = 0
        self._heading_text: list[str] = []
        self._path: list[tuple[int, str]] = []
        self._dl_levels: list[int] = []  # for each open <dl>: the API heading level its <dt>s get (0: none)

    def updatepos(self, i: int, j: int) -> int:
        """Skip the base class's line and column bookkeeping (``getpos``, never read here): it
        counted the newlines of every piece of the page, a tenth of parsing."""
        return j

    # -- helpers
    def _flush(self) -> None:
        raw = "".join(self._buffer)
        self._buffer = []
        text = raw.strip("\n") if self._pre else _SPACES.sub(" ", raw).strip()
        if text.strip():
            self.blocks.append((tuple(name for _, name in self._path), text))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # A stray "<" before a tag hides it in this tag's name ("<word<script>") or in an attribute
        # name ("<word\n<script>"); obey the last tag so hidden scripts and navigation stay dropped.
        if "<" in tag or any(name.startswith("<") for name, _ in attrs):  # rare: look only then
            hidden = [*tag.split("<")[1:], *(name.lstrip("<") for name, _ in attrs if name.startswith("<"))]
            if hidden and hidden[-1].isalnum():
                tag = hidden[-1].lower()
        if tag == "title" and not self._skip_depth_excluding_head():
            self._in_title = True
        if self._skip == ["head"] and tag not in _HEAD_CONTENT:
            self._skip.clear()  # "</head>" is optional in HTML: the body started
        if self._skip:
            if tag not in _VOID:
                self._skip.append(tag)
            return
        attributes = dict(attrs)
        role = attributes.get("role") or ""
        classes = set((attributes.get("class") or "").split())
        footnotes = tag == "aside" and any(c.startswith("footnote") for c in classes)  # Sphinx's footnotes
        if ((tag in _SKIP and not footnotes) or role.lower() in _SKIP_ROLES or classes & _SKIP_CLASSES
                or attributes.get("id") in _SKIP_IDS):
            if tag not in _VOID:
                self._skip.append(tag)
            return
        if tag == "dl":
            api = any(c in {"py", "c", "cpp", "js", "function", "class", "method"} for c in classes)
            self._dl_levels.append(_API_LEVEL + len([x for x in self._dl_levels if x]) + 1 if api else 0)
        if tag == "dt" and _API_SIGNATURE in classes and self._dl_levels and self._dl_levels[-1]:
            # A function's or class's signature heads its description: make it a heading, so
            # chunks about it carry its name ("shutil > shutil.copy2(src, dst)").
            self._flush()
            self._heading_level = self._dl_levels[-1]
            self._heading_text = []
            return
        sink = self._inline_sink()
        if sink is not None and (tag == "br" or tag in _BLOCK):
            sink.append(" ")  # a break inside a heading or table cell must not join words
        if tag in _HEADINGS:
            self._flush()
            self._heading_level = _HEADINGS[tag]
            self._heading_text = []
        elif tag == "pre":
            self._flush()
            self._pre += 1
        elif tag == "table":
            self._flush()
            # A table inside a cell: the outer row's text so far becomes its own line, the inner
            # rows follow, and the outer row resumes after it, so every cell keeps its place.
            self._tables.append(None if self._row is None else self._cell is not None)
            self._end_row()
        elif tag == "tr":
            self._flush()
            self._end_row()  # "</tr>" is optional: a new row ends the previous one
            self._row = []
        elif tag in {"td", "th"} and (self._row is not None or self._tables):
            self._end_cell()  # "</td>" is optional too
            if self._row is None:
                self._row = []
            self._cell = []
        elif tag == "br":
            self._buffer.append("\n" if self._pre else " ")
        elif tag in _BLOCK:
            self._flush()

    def _end_cell(self) -> None:
        if self._cell is not None and self._row is not None:
            self._row.append(_SPACES.sub(" ", "".join(self._cell)).strip())
        self._cell = None

    def _end_row(self) -> None:
        self._end_cell()
        if self._row is not None:
            line = " | ".join(cell for cell in self._row if cell)
            if line:
                self.blocks.append((tuple(name for _, name in self._path), line))
        self._row = None

    def _inline_sink(self) -> list[str] | None:
        """The heading or table cell being collected, whose text must not run words together."""
        if self._heading_level:
            return self._heading_text
        return self._cell

    def _skip_depth_excluding_head(self) -> int:
        return sum(1 for t in self._skip if t != "head")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if self._skip:
            # Close the innermost matching skipped element (tolerates unclosed children).
            for i in range(len(self._skip) - 1, -1, -1):
                if self._skip[i] == tag:
                    del self._skip[i:]
                    break
            return
        if (tag in _HEADINGS or tag == "dt") and self._heading_level:
            text = _SPACES.sub(" ", "".join(self._heading_text)).strip().rstrip("¶").strip()
            level = self._heading_level
            self._heading_level = 0
            if text:
                self._path = [p for p in self._path if p[0] < level] + [(level, text)]
                self.blocks.append((tuple(name for _, name in self._path), text))
        elif tag == "pre":
            self._flush()
            self._pre = max(0, self._pre - 1)
        elif tag in {"td", "th"}:
            self._end_cell()
        elif tag == "tr":
            self._end_row()
        elif tag == "table":
            self._end_row()
            if self._tables:
                place = self._tables.pop()
                if place is not None:
                    self._row = []
                    self._cell = [] if place else None
            self._flush()
        elif tag in _BLOCK:
            sink = self._inline_sink()
            if sink is not None:
                sink.append(" ")
            self._flush()
            if tag == "dl" and self._dl_levels:
                level = self._dl_levels.pop()
                if level:  # the API entry ends: text after it is no longer about it
                    self._path = [p for p in self._path if p[0] < level]

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
            return
        if self._skip:
            return
        if self._heading_level:
            self._heading_text.append(data)
        elif self._cell is not None:
            self._cell.append(data)
        elif self._row is not None:
            if data.strip():  # text in a row outside any cell (browsers show it): a cell of its own
                self._cell = [data]
        else:
            self._buffer.append(data)

    def close(self) -> None:
        # An unterminated comment or declaration runs to the end of the page in a browser; the
        # stdlib parser would hand it to us as text instead.
        if self.rawdata.lstrip().startswith("<!"):
            self.rawdata = ""
        super().close()
        self._flush()


def html_to_blocks(html: str) -> tuple[str, list[tuple[tuple[str, ...], str]]]:
    """Return the page title and its visible text blocks, each with its heading path.

    >>> html_to_blocks("<h1>A</h1><p>x <b>y</b></p><script>z()</script>")
    ('', [(('A',), 'A'), (('A',), 'x y')])
    """
    parser = _BlockParser()
    parser.feed(html)
    parser.close()
    return _SPACES.sub(" ", parser.title).strip(), parser.blocks
