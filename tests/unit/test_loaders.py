"""Loaders: each format on files made here, and every bad input with its own LoadError reason."""

from __future__ import annotations

import os
from pathlib import Path

import docx
import pytest
from reportlab.pdfgen import canvas

from index import loaders
from index.loaders import decode_text, discover, load_file
from index.records import LoadError

PARAGRAPH = "The harbour master logged {n} ships before the storm arrived."


def make_pdf(path: Path, pages: list[list[str]], **kwargs: object) -> Path:
    """One PDF page per list of lines (reportlab draws text pdfium can extract)."""
    pdf = canvas.Canvas(str(path), **kwargs)
    for lines in pages:
        y = 780
        for line in lines:
            pdf.drawString(72, y, line)
            y -= 18
        pdf.showPage()
    pdf.save()
    return path


def make_docx(path: Path, items: list[tuple[str, str]], table: list[list[str]] | None = None) -> Path:
    """``items`` are (style, text): "h1"/"h2" for headings, "p" for paragraphs."""
    document = docx.Document()
    for style, text in items:
        if style.startswith("h"):
            document.add_heading(text, level=int(style[1:]))
        else:
            document.add_paragraph(text)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
    document.save(str(path))
    return path


def reason(path: Path, **kwargs: object) -> str:
    with pytest.raises(LoadError) as info:
        load_file(path, **kwargs)  # type: ignore[arg-type]
    assert info.value.path == str(path)
    return info.value.reason


# ---- each format -----------------------------------------------------------------------------

def test_txt_keeps_text_and_uses_file_name_as_title(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("Line one.\r\nLine two.\n")
    doc = load_file(path)
    assert doc.text == "Line one.\nLine two.\n"  # newlines normalised
    assert doc.title == "notes"
    assert doc.source == str(path)
    assert doc.headings == () and doc.pages == ()
    assert len(doc.content_hash) == 64


def test_markdown_heading_paths_nest_and_skip_code_fences(tmp_path: Path) -> None:
    text = ("# Guide\n\nIntro.\n\n## Install\n\nSteps.\n\n```\n# not a heading\n```\n\n### Linux\n\nApt.\n\n"
            "## Use\n\nRun.\n")
    path = tmp_path / "guide.md"
    path.write_text(text)
    doc = load_file(path)
    assert doc.title == "Guide"
    assert [h for _, h in doc.headings] == [("Guide",), ("Guide", "Install"), ("Guide", "Install", "Linux"),
                                           ("Guide", "Use")]
    for offset, heading in doc.headings:
        assert doc.text[offset:].startswith("#" * len(heading) + " " + heading[-1])
    assert doc.heading_at(text.index("Apt.")) == ("Guide", "Install", "Linux")
    assert doc.heading_at(text.index("# not a heading")) == ("Guide", "Install")


def test_markdown_heading_text_keeps_a_final_hash() -> None:
    """Regression: "# Learn C#" lost its "#" (only a closing run after a space is decoration)."""
    headings = loaders._markdown_headings("# Learn C#\n\n## Setup ##\n\n#hashtag\n\n###   Spaced   \n")
    assert [h for _, h in headings] == [("Learn C#",), ("Learn C#", "Setup"), ("Learn C#", "Setup", "Spaced")]


def test_html_headings_title_and_hidden_parts(tmp_path: Path) -> None:
    html = """<html><head><title>Bread</title><style>p { color: red }</style>
    <script>var tracking = "SCRIPTTEXT";</script></head><body>
    <nav><a href="/">NAVTEXT home</a></nav>
    <h1>Sourdough</h1><p>Flour and <b>water</b>.</p>
    <h2>Starter</h2><p>Feed it daily.</p>
    <h1>Rye</h1><p>Denser loaves.</p>
    <footer>FOOTERTEXT</footer></body></html>"""
    path = tmp_path / "bread.html"
    path.write_text(html)
    doc = load_file(path)
    assert doc.title == "Bread"
    for hidden in ("SCRIPTTEXT", "NAVTEXT", "FOOTERTEXT", "color: red", "tracking"):
        assert hidden not in doc.text
    assert "Flour and water." in doc.text
    assert doc.heading_at(doc.text.index("Feed it daily.")) == ("Sourdough", "Starter")
    assert doc.heading_at(doc.text.index("Denser loaves.")) == ("Rye",)
    for offset, heading in doc.headings:
        assert doc.text[offset:].startswith(heading[-1])


def test_pdf_pages_start_where_each_page_text_starts(tmp_path: Path) -> None:
    pages = [[f"Page{p} opening line about {word}.", f"The {word} line closes page {p}."]
             for p, word in enumerate(["apples", "boats", "cliffs"], 1)]
    doc = load_file(make_pdf(tmp_path / "three.pdf", pages))
    assert len(doc.pages) == 3 and doc.pages[0] == 0
    for number, start in enumerate(doc.pages, 1):
        assert doc.text[start:].startswith(f"Page{number} opening line")
        assert doc.page_at(start) == number
        assert doc.page_at(doc.text.index("line closes page " + str(number))) == number
    assert doc.title == "three"


def test_pdf_running_header_and_footer_are_dropped(tmp_path: Path) -> None:
    pages = [["ACME Annual Report", f"Body of page {p}: {word} grew.", f"Page {p} of 4"]
             for p, word in enumerate(["wheat", "barley", "oats", "rye"], 1)]
    doc = load_file(make_pdf(tmp_path / "report.pdf", pages))
    assert "ACME Annual Report" not in doc.text
    assert "of 4" not in doc.text
    assert "Body of page 3: oats grew." in doc.text


def test_pdf_lines_that_differ_only_in_numbers_are_content(tmp_path: Path) -> None:
    """Regression: every line matched the running-header pattern, so whole pages were dropped."""
    pages = [[f"Row {p * 100 + i}: total {i * 7} units" for i in range(20)] for p in range(1, 5)]
    doc = load_file(make_pdf(tmp_path / "table.pdf", pages))
    for p in range(1, 5):
        for i in (0, 1, 10, 19):
            assert f"Row {p * 100 + i}: total {i * 7} units" in doc.text


def test_docx_headings_paragraphs_and_tables(tmp_path: Path) -> None:
    path = make_docx(tmp_path / "policy.docx", [
        ("h1", "Remote Work"), ("p", "Staff may work from home."),
        ("h2", "Equipment"), ("p", "Laptops are provided."),
        ("h1", "Travel"), ("p", "Book through the portal."),
    ], table=[["Item", "Budget"], ["Chair", "200"]])
    doc = load_file(path)
    assert doc.title == "Remote Work"
    assert doc.heading_at(doc.text.index("Laptops")) == ("Remote Work", "Equipment")
    assert doc.heading_at(doc.text.index("Book through")) == ("Travel",)
    assert "Item | Budget" in doc.text and "Chair | 200" in doc.text
    for offset, heading in doc.headings:
        assert doc.text[offset:].startswith(heading[-1])


def test_docx_table_stays_under_its_heading(tmp_path: Path) -> None:
    """Regression: tables were appended after the last paragraph, under the wrong heading."""
    document = docx.Document()
    document.add_heading("Budget", level=1)
    document.add_paragraph("Costs below.")
    table = document.add_table(rows=3, cols=3)
    for r, row in enumerate([["Item", "Cost", "Note"], ["Chair", "200", "ergonomic"]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    table.cell(2, 0).merge(table.cell(2, 1)).text = "Merged total"
    table.cell(2, 2).text = "950"
    document.add_heading("Travel", level=1)
    document.add_paragraph("Book trips through the portal.")
    document.save(str(tmp_path / "budget.docx"))
    doc = load_file(tmp_path / "budget.docx")
    assert doc.text == ("Budget\n\nCosts below.\n\nItem | Cost | Note\n\nChair | 200 | ergonomic\n\n"
                        "Merged total | 950\n\nTravel\n\nBook trips through the portal.")
    assert doc.heading_at(doc.text.index("Chair")) == ("Budget",)
    assert doc.heading_at(doc.text.index("Book trips")) == ("Travel",)



def test_docx_table_inside_a_cell_keeps_every_cell_in_order(tmp_path: Path) -> None:
    """issue 18 item 5: ``cell.text`` skips tables nested in the cell."""
    document = docx.Document()
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "The warranty lasts seven years."
    cell = table.cell(0, 1)
    inner = cell.add_table(rows=1, cols=2)
    inner.cell(0, 0).text = "Model A"
    inner.cell(0, 1).add_table(rows=1, cols=1).cell(0, 0).text = "120 euros"
    cell.add_paragraph("Spare parts extra.")
    table.cell(1, 0).text = "Model B"
    table.cell(1, 1).text = "90 euros"
    document.save(str(tmp_path / "nested.docx"))
    doc = load_file(tmp_path / "nested.docx")
    assert doc.text == ("The warranty lasts seven years.\n\nModel A\n\n120 euros\n\nSpare parts extra.\n\n"
                        "Model B | 90 euros")


# ---- text decoding ---------------------------------------------------------------------------

@pytest.mark.parametrize("encoding", ["latin-1", "utf-16", "utf-16-le", "utf-16-be", "utf-8-sig"])
def test_legacy_and_utf16_text_decoded(tmp_path: Path, encoding: str) -> None:
    text = "Café crème, naïve façade: résumé of the jalapeño harvest.\n"
    path = tmp_path / f"{encoding}.txt"
    path.write_bytes(text.encode(encoding))
    assert load_file(path).text == text


@pytest.mark.parametrize("bom", [b"\xff\xfe", b"\xfe\xff"])
def test_utf16_bom_is_not_part_of_text(bom: bytes) -> None:
    body = "Hello there".encode("utf-16-le" if bom == b"\xff\xfe" else "utf-16-be")
    assert decode_text(bom + body) == "Hello there"


def test_utf8_with_a_few_bad_bytes_keeps_its_accents() -> None:
    """Regression: one stray byte sent a UTF-8 file down the Latin-1 path ("cafÃ©")."""
    data = "Le café est prêt à l'heure. ".encode() * 20 + b"\xff stray byte."
    text = decode_text(data)
    assert "café est prêt" in text and "Ã" not in text
    assert "\ufffd stray byte." in text


def test_invalid_utf8_is_refused_with_reason(tmp_path: Path) -> None:
    path = tmp_path / "mixed.txt"
    path.write_bytes(("Ünïcödé façade " * 40).encode() + b"\xff\xfe\xfa\xfb bad " * 10)
    assert reason(path).startswith("invalid UTF-8")


def test_zero_byte_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    assert reason(path) == "file is empty"


def test_whitespace_only_file(tmp_path: Path) -> None:
    path = tmp_path / "blank.md"
    path.write_text("  \n\n\t \n")
    assert "only whitespace" in reason(path)


def test_binary_named_txt(tmp_path: Path) -> None:
    path = tmp_path / "photo.txt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    assert reason(path).startswith("binary data, not text")


def test_control_characters_without_nul_are_binary(tmp_path: Path) -> None:
    path = tmp_path / "ctrl.txt"
    path.write_bytes(bytes([1, 2, 3, 4, 5, 6, 7, 65]) * 100)
    assert "too many control characters" in reason(path)


def test_file_over_size_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_text("word " * 300)
    assert reason(path, max_bytes=1000) == "file is 1,500 bytes, over the 1,000-byte limit"
    assert load_file(path, max_bytes=1500).text.startswith("word")


def test_unsupported_extension(tmp_path: Path) -> None:
    path = tmp_path / "sheet.xlsx"
    path.write_bytes(b"PK\x03\x04")
    assert "unsupported file type '.xlsx'" in reason(path)


def test_missing_file(tmp_path: Path) -> None:
    assert reason(tmp_path / "gone.txt").startswith("cannot read")


# ---- damaged formats -------------------------------------------------------------------------

def test_corrupt_pdf(tmp_path: Path) -> None:
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage without xref\n")
    assert reason(path).startswith("not a readable PDF")


def test_truncated_pdf(tmp_path: Path) -> None:
    good = make_pdf(tmp_path / "good.pdf", [["Some text that will be cut off."]])
    cut = tmp_path / "cut.pdf"
    cut.write_bytes(good.read_bytes()[:200])
    assert reason(cut).startswith(("not a readable PDF", "PDF has no extractable text"))


def test_encrypted_pdf(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "locked.pdf", [["Top secret plans."]], encrypt="secret")
    assert reason(path) == "PDF is encrypted (password required)"


def test_pdf_without_text(tmp_path: Path) -> None:
    pdf = canvas.Canvas(str(tmp_path / "blank.pdf"))
    pdf.rect(100, 100, 200, 200, fill=1)
    pdf.showPage()
    pdf.save()
    assert "no extractable text" in reason(tmp_path / "blank.pdf")


def test_docx_that_is_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "fake.docx"
    path.write_text("I am plain text wearing a .docx name")
    assert reason(path) == "not a valid .docx (not a zip archive)"


def test_zip_that_is_not_a_word_document(tmp_path: Path) -> None:
    import zipfile

    path = tmp_path / "archive.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")
    assert "no word/document.xml" in reason(path)


def test_docx_without_text(tmp_path: Path) -> None:
    path = make_docx(tmp_path / "empty.docx", [])
    assert reason(path) == "the .docx has no text"


def test_html_without_visible_text(tmp_path: Path) -> None:
    path = tmp_path / "scripts.html"
    path.write_text("<html><head><script>alert(1)</script></head><body><nav>menu</nav></body></html>")
    assert "no visible content" in reason(path)


@pytest.mark.timeout(120)  # a hang guard, not a speed test: linear parsing takes about a second
def test_deeply_nested_html_is_parsed_in_bounded_time(tmp_path: Path) -> None:
    path = tmp_path / "deep.html"
    path.write_text("<div>" * 100_000 + "<p>the treasure is here</p>" + "</div>" * 100_000)
    doc = load_file(path)  # a recursive (tree-building) parser would raise RecursionError
    assert doc.text == "the treasure is here"


def test_unclosed_deep_nesting(tmp_path: Path) -> None:
    path = tmp_path / "unclosed.html"
    path.write_text("<span><b><i>" * 30_000 + "deep words")
    assert load_file(path).text == "deep words"


# ---- discover --------------------------------------------------------------------------------

def test_discover_walks_folders_once_and_reports_problems(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "one.txt").write_text("one")
    (root / "a" / "b" / "two.md").write_text("two")
    (root / "a" / "image.png").write_bytes(b"\x89PNG")
    (root / ".hidden.txt").write_text("hidden")
    (root / "a" / "b" / "loop").symlink_to(root / "a")  # a symlink loop
    (root / "dangling.txt").symlink_to(tmp_path / "nowhere.txt")  # a broken symlink
    (root / "alias.txt").symlink_to(root / "a" / "one.txt")  # same file twice
    files, errors = discover([root])
    assert sorted(f.name for f in files) == ["one.txt", "two.md"]
    assert [(Path(e.path).name, e.reason) for e in errors] == [("dangling.txt", "broken symbolic link")]


def test_discover_explicit_paths(tmp_path: Path) -> None:
    (tmp_path / "x.html").write_text("<p>x</p>")
    (tmp_path / "y.csv").write_text("a,b")
    files, errors = discover([tmp_path / "x.html", tmp_path / "y.csv", tmp_path / "missing"])
    assert files == [(tmp_path / "x.html").resolve()]
    assert [e.reason for e in errors][1] == "no such file or folder"
    assert "unsupported file type '.csv'" in errors[0].reason


@pytest.mark.parametrize("empty", ["", "  "])
def test_an_empty_path_is_an_error_not_the_current_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          empty: str) -> None:
    # Path("") is "."; a script's unset variable (a.add(os.environ.get("DOCS", ""))) indexed the folder it ran in.
    (tmp_path / "x.html").write_text("<p>x</p>")
    monkeypatch.chdir(tmp_path)
    files, errors = discover([empty])
    assert files == [] and [e.reason for e in errors] == ["the path is empty; give a file or folder ('.' for this one)"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read a chmod 000 folder")
def test_discover_unreadable_folder(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "secret.txt").write_text("x")
    (tmp_path / "open.txt").write_text("y")
    locked.chmod(0)
    try:
        files, errors = discover([tmp_path])
    finally:
        locked.chmod(0o755)
    assert [f.name for f in files] == ["open.txt"]
    assert errors[0].path == str(locked) and errors[0].reason.startswith("cannot list folder")


def test_discover_folder_that_cannot_be_listed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same path as above, forced for root (who reads every folder) by failing scandir."""
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "secret.txt").write_text("x")
    (tmp_path / "open.txt").write_text("y")
    real_scandir = os.scandir

    def scandir(path: str | Path) -> object:
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(loaders.os, "scandir", scandir)
    files, errors = discover([tmp_path])
    assert [f.name for f in files] == ["open.txt"]
    assert [(e.path, e.reason) for e in errors] == [(str(locked), "cannot list folder: Permission denied")]
