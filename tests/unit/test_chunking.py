"""Chunking: exact offsets in every format, the model's 256-piece window, heading paths, pages.

Token counts come from MiniLM's own tokenizer (tokenizer.json only; the torch model is not loaded).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import docx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from reportlab.pdfgen import canvas

from index.chunking import MODEL_WINDOW, ChunkingConfig, SpanCounter, chunk_document, heading_prefix
from index.embedding import MiniLMEmbedder
from index.loaders import _markdown_headings, load_file
from index.records import Chunk, Document

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
WORDS = ["river", "stone", "cloud", "meadow", "lantern", "harbour", "copper", "violet", "orchard", "signal",
         "falcon", "ember", "glacier", "thistle", "quarry", "beacon"]


@pytest.fixture(scope="module")
def count() -> Callable[[str], int]:
    return MiniLMEmbedder().count_tokens


def prose(seed: int, sentences: int) -> str:
    """Distinct, deterministic sentences (~12 word pieces each)."""
    out = []
    for i in range(sentences):
        words = [f"{WORDS[(seed * 7 + i * 3 + j) % len(WORDS)]}" for j in range(8)]
        out.append(f"Item {seed}.{i} says the {' '.join(words)} moved.")
    return " ".join(out)


def check_chunks(doc: Document, chunks: list[Chunk], count: Callable[[str], int]) -> None:
    """Invariants every chunk of every document must hold."""
    assert chunks, "a document with text gives at least one chunk"
    for i, chunk in enumerate(chunks):
        assert doc.text[chunk.start:chunk.end] == chunk.text
        assert chunk.text == chunk.text.strip() and chunk.text
        assert count(chunk.embed_text) + 2 <= MODEL_WINDOW, (chunk.heading, count(chunk.embed_text))
        assert chunk.n_tokens == count(chunk.text)
        assert chunk.index == i
        assert chunk.source == doc.source and chunk.doc_id == doc.doc_id
        assert chunk.page == doc.page_at(chunk.start)
    # Nothing is lost: every non-space character lies in some chunk.
    covered = bytearray(len(doc.text))
    for chunk in chunks:
        covered[chunk.start:chunk.end] = b"\x01" * (chunk.end - chunk.start)
    lost = [i for i, ch in enumerate(doc.text) if not covered[i] and not ch.isspace()]
    assert not lost, f"text not in any chunk: {doc.text[lost[0]:lost[0] + 40]!r}"


# ---- every format ------------------------------------------------------------------------------

def _pdf(path: Path, pages: list[str]) -> Path:
    pdf = canvas.Canvas(str(path))
    for page in pages:
        y = 800
        words = page.split()
        for start in range(0, len(words), 12):
            pdf.drawString(40, y, " ".join(words[start:start + 12]))
            y -= 14
        pdf.showPage()
    pdf.save()
    return path


def _docx(path: Path, sections: list[tuple[int, str, str]]) -> Path:
    document = docx.Document()
    for level, heading, body in sections:
        document.add_heading(heading, level=level)
        for paragraph in body.split(" | "):
            document.add_paragraph(paragraph)
    document.save(str(path))
    return path


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Document]:
    folder = tmp_path_factory.mktemp("formats")
    (folder / "plain.txt").write_text("\n\n".join(prose(s, 9) for s in range(8)))
    (folder / "guide.md").write_text(
        f"# Guide\n\n{prose(1, 14)}\n\n## Install\n\n{prose(2, 14)}\n\n### Linux\n\n{prose(3, 30)}\n\n"
        f"## Use\n\n{prose(4, 14)}\n")
    (folder / "page.html").write_text(
        f"<html><head><title>Page</title></head><body><nav>menu</nav><h1>Bread</h1><p>{prose(5, 14)}</p>"
        f"<h2>Starter</h2><p>{prose(6, 14)}</p><p>{prose(7, 14)}</p><h1>Rye</h1><p>{prose(8, 14)}</p></body></html>")
    _pdf(folder / "paged.pdf", [f"Page{p} begins. {prose(10 + p, 24)}" for p in range(1, 5)])
    _docx(folder / "policy.docx", [(1, "Remote Work", f"{prose(20, 8)} | {prose(21, 8)}"),
                                   (2, "Equipment", f"{prose(22, 14)}"), (1, "Travel", prose(23, 14))])
    return {path.suffix: load_file(path) for path in sorted(folder.iterdir())}


@pytest.mark.parametrize("suffix", [".txt", ".md", ".html", ".pdf", ".docx"])
def test_offsets_tokens_and_coverage_in_every_format(documents: dict[str, Document], count: Callable[[str], int],
                                                     suffix: str) -> None:
    doc = documents[suffix]
    chunks = chunk_document(doc, count)
    assert len(chunks) >= 3
    check_chunks(doc, chunks, count)


def test_markdown_heading_paths(documents: dict[str, Document], count: Callable[[str], int]) -> None:
    doc = documents[".md"]
    by_item: dict[tuple[str, ...], str] = {}
    for chunk in chunk_document(doc, count):
        by_item[chunk.heading] = by_item.get(chunk.heading, "") + chunk.text
    assert ("Guide", "Install", "Linux") in by_item and ("Guide", "Use") in by_item
    for chunk in chunk_document(doc, count):
        assert chunk.heading == doc.heading_at(chunk.start)
        assert chunk.embed_text == " > ".join(chunk.heading) + "\n" + chunk.text
    assert "Item 3.0 " in by_item[("Guide", "Install", "Linux")]
    assert "Item 4.0 " in by_item[("Guide", "Use")]


def test_html_heading_paths(documents: dict[str, Document], count: Callable[[str], int]) -> None:
    chunks = chunk_document(documents[".html"], count)
    headings = {c.heading for c in chunks}
    assert headings == {("Bread",), ("Bread", "Starter"), ("Rye",)}
    rye = " ".join(c.text for c in chunks if c.heading == ("Rye",))
    assert "Item 8.0 " in rye and "Item 8.13 " in rye and "Item 7." not in rye
    assert all("menu" not in c.text for c in chunks)


def test_docx_heading_paths(documents: dict[str, Document], count: Callable[[str], int]) -> None:
    chunks = chunk_document(documents[".docx"], count)

    def heading_of(item: str) -> tuple[str, ...]:
        return next(c.heading for c in chunks if f"Item {item} says" in c.text)

    assert heading_of("20.0") == ("Remote Work",)
    assert heading_of("22.3") == ("Remote Work", "Equipment")
    assert heading_of("23.13") == ("Travel",)


def test_pdf_chunks_carry_their_page(documents: dict[str, Document], count: Callable[[str], int]) -> None:
    chunks = chunk_document(documents[".pdf"], count)
    for chunk in chunks:
        # Every chunk stays on one page: the "Item 1p." sentences of page p only.
        assert chunk.page is not None
        seeds = {int(part.split(".")[0]) for part in chunk.text.split("Item ")[1:]}
        assert seeds == {10 + chunk.page}, (chunk.page, seeds)
    assert {c.page for c in chunks} == {1, 2, 3, 4}
    first_of_page = {c.page: c for c in reversed(chunks)}
    for page, chunk in first_of_page.items():
        assert chunk.text.startswith(f"Page{page} begins.")


# ---- the window, on pathological input ------------------------------------------------------

def test_pathological_document_fits_the_window(count: Callable[[str], int]) -> None:
    long_heading = " ".join(f"Chapter{i} heading words" for i in range(60))
    table = "\n".join(f"| row {i} | {WORDS[i % 16]} | {i * 37} | notes about {WORDS[(i + 3) % 16]} |"
                      for i in range(400))
    text = (f"# {long_heading}\n\n## {long_heading} again\n\n" + "x" * 5000 + "\n\n"
            + "Supercalifragilistic" * 250 + "\n\n" + table + "\n\n" + "日本語のテキスト" * 300 + "\n\n"
            + "😀" * 600 + "\n\n### short\n\n" + prose(1, 3))
    doc = Document("d", "/patho.md", "patho", text, "h", headings=_markdown_headings(text))
    chunks = chunk_document(doc, count)
    check_chunks(doc, chunks, count)
    assert max(count(c.embed_text) for c in chunks) + 2 <= MODEL_WINDOW
    assert all(count(" > ".join(c.heading)) <= 40 for c in chunks)
    assert chunks[-1].heading[-1] == "short"


def test_heading_prefix_keeps_the_deepest_names(count: Callable[[str], int]) -> None:
    long = "word " * 100
    assert heading_prefix(("A", "B", "C"), count) == ("A", "B", "C")
    assert heading_prefix((long, "Deep"), count) == ("Deep",)
    shortened = heading_prefix((long.strip(),), count)
    assert len(shortened) == 1 and count(shortened[0]) <= 40 and shortened[0].startswith("word")


def test_small_window_config_is_respected(documents: dict[str, Document], count: Callable[[str], int]) -> None:
    config = ChunkingConfig(target_tokens=60, overlap_tokens=10, window=128)
    for doc in documents.values():
        chunks = chunk_document(doc, count, config)
        for chunk in chunks:
            assert count(chunk.embed_text) + 2 <= 128
            assert doc.text[chunk.start:chunk.end] == chunk.text


def test_repeated_text_in_the_overlap_is_located_correctly(count: Callable[[str], int]) -> None:
    """Regression: the last piece "Yes." was found at its earlier copy inside the previous chunk,
    so the real end of the document was in no chunk."""
    text = " ".join(f"w{i}" for i in range(39)) + " Yes.\n\nYes."
    doc = Document("d", "/r.txt", "r", text, "h")
    chunks = chunk_document(doc, count, ChunkingConfig(target_tokens=50, overlap_tokens=10))
    check_chunks(doc, chunks, count)
    assert chunks[-1].end == len(text)


def test_chunk_ids_are_stable_and_distinct(documents: dict[str, Document], count: Callable[[str], int]) -> None:
    doc = documents[".md"]
    first = chunk_document(doc, count)
    assert [c.chunk_id for c in first] == [c.chunk_id for c in chunk_document(doc, count)]
    assert len({c.chunk_id for c in first}) == len(first)
    moved = Document(doc.doc_id, "/elsewhere/guide.md", doc.title, doc.text, doc.content_hash, headings=doc.headings)
    assert not {c.chunk_id for c in first} & {c.chunk_id for c in chunk_document(moved, count)}


def test_short_document_is_one_chunk(count: Callable[[str], int]) -> None:
    doc = Document("d", "/s.txt", "s", "\n\n  Just one line.  \n", "h")
    [chunk] = chunk_document(doc, count)
    assert (chunk.text, chunk.start, chunk.end) == ("Just one line.", 4, 18)


@pytest.mark.parametrize("name", ["coral-reefs.txt", "home-solar-guide.pdf", "remote-work-policy.docx",
                                  "sourdough-baking.html", "ukraine-security-talks.md"])
def test_examples_chunk_within_the_window(count: Callable[[str], int], name: str) -> None:
    doc = load_file(EXAMPLES / name)
    check_chunks(doc, chunk_document(doc, count), count)


# ---- property: any text, any headings and pages ------------------------------------------------

_PIECES = st.sampled_from(["alpha", "beta.", "Gamma,", "delta;", "zeta!", "eta?", "kappa-lambda", "μῦ", "日本語",
                           "😀", "x" * 400, "1,234.5", "e.g.", "Dr.", "\n", "\n\n", "\t", "  ", "| a | b |", "Yes."])


@st.composite
def documents_strategy(draw: st.DrawFn) -> Document:
    parts = draw(st.lists(st.one_of(_PIECES, st.builds(
        lambda level, n: "\n" + "#" * level + " " + " ".join(["long", "heading"] * n) + "\n",
        st.integers(1, 3), st.integers(1, 40))), min_size=1, max_size=700))
    text = draw(st.sampled_from([" ", ""])).join(parts)
    if not text.strip():
        text += "word"
    pages: tuple[int, ...] = ()
    if draw(st.booleans()):
        pages = tuple(sorted({0, *draw(st.lists(st.integers(0, len(text)), max_size=4))}))
    return Document("d", "/p.md", "p", text, "h", pages=pages, headings=_markdown_headings(text))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(doc=documents_strategy(), small=st.booleans())
def test_property_offsets_window_coverage(doc: Document, small: bool) -> None:
    count = MiniLMEmbedder().count_tokens
    config = ChunkingConfig(target_tokens=100, overlap_tokens=10) if small else ChunkingConfig()
    chunks = chunk_document(doc, count, config)
    check_chunks(doc, chunks, count)


# ---- counting spans from one tokenization -----------------------------------------------------

@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=80),
       cuts=st.lists(st.integers(min_value=0, max_value=80), min_size=2, max_size=2))
def test_span_counts_equal_the_tokenizer_on_any_text_and_cut(embedder: MiniLMEmbedder, text: str,
                                                             cuts: list[int]) -> None:
    """Exact even when a cut lands inside a word, on accents, CJK, emoji or control characters."""
    start, end = sorted(min(c, len(text)) for c in cuts)
    counter = SpanCounter(text, embedder.token_offsets, embedder.count_tokens)
    assert counter.span(start, end) == embedder.count_tokens(text[start:end])


def test_cutting_inside_a_word_asks_the_tokenizer(embedder: MiniLMEmbedder) -> None:
    asked: list[str] = []

    def exact(text: str) -> int:
        asked.append(text)
        return embedder.count_tokens(text)

    counter = SpanCounter("unbelievably long words", embedder.token_offsets, exact)
    assert counter.span(0, 12) == embedder.count_tokens("unbelievably") and asked == []
    assert counter.span(2, 12) == embedder.count_tokens("believably") and asked == ["believably"]
    assert counter.within(0, 23)("long") == 1 and counter.within(0, 23)("missing") == 1


@pytest.mark.parametrize("name", ["coral-reefs.txt", "sourdough-baking.html", "home-solar-guide.pdf",
                                  "remote-work-policy.docx", "ukraine-security-talks.md", "README.md"])
def test_chunks_are_the_same_with_or_without_offsets(embedder: MiniLMEmbedder, name: str) -> None:
    doc = load_file(EXAMPLES / name)
    small = ChunkingConfig(target_tokens=60, overlap_tokens=8)  # many splits, so the splitter is exercised
    for config in (None, small):
        plain = chunk_document(doc, embedder.count_tokens, config)
        fast = chunk_document(doc, embedder.count_tokens, config, offsets=embedder.token_offsets)
        assert [(c.chunk_id, c.n_tokens, c.heading) for c in fast] == [(c.chunk_id, c.n_tokens, c.heading)
                                                                      for c in plain]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=3000),
       cuts=st.lists(st.integers(min_value=0, max_value=3000), min_size=2, max_size=2))
@example(text="0" * 41, cuts=[0, 41])  # found by hypothesis with 40-character slices
def test_a_text_tokenized_in_slices_counts_as_tokenized_whole(embedder: MiniLMEmbedder, text: str,
                                                              cuts: list[int]) -> None:
    """A 6 MB text's offsets as Python lists took ~1 GB; slices cut where no word piece is cut
    (whitespace, else punctuation) give the same counts: here slices of 1,000 characters. The last
    tenth of a slice, where its end is looked for, must be longer than the longest word WordPiece
    reads (100 characters; a longer one is [UNK] however it is cut): with 40-character slices a run of
    41 digits was cut in two and counted one piece too many, a fault of the test's size alone."""
    import index.chunking

    start, end = sorted(min(c, len(text)) for c in cuts)
    saved = index.chunking.SLICE_CHARS
    index.chunking.SLICE_CHARS = 1000  # not monkeypatch: hypothesis reruns the test body
    try:
        counter = SpanCounter(text, embedder.token_offsets, embedder.count_tokens)
    finally:
        index.chunking.SLICE_CHARS = saved
    assert counter.span(start, end) == embedder.count_tokens(text[start:end])


@pytest.mark.parametrize("name", ["coral-reefs.txt", "sourdough-baking.html", "home-solar-guide.pdf"])
def test_chunks_are_the_same_when_the_text_is_tokenized_in_slices(embedder: MiniLMEmbedder, name: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    doc = load_file(EXAMPLES / name)
    small = ChunkingConfig(target_tokens=60, overlap_tokens=8)
    whole = chunk_document(doc, embedder.count_tokens, small, offsets=embedder.token_offsets)
    monkeypatch.setattr("index.chunking.SLICE_CHARS", 200)
    sliced = chunk_document(doc, embedder.count_tokens, small, offsets=embedder.token_offsets)
    assert [(c.chunk_id, c.n_tokens) for c in sliced] == [(c.chunk_id, c.n_tokens) for c in whole]


# ---- giant lines (issue 18 item 4) ----------------------------------------------------------------

def test_a_run_without_spaces_is_cut_and_its_word_pieces_counted_honestly(count: Callable[[str], int]) -> None:
    from index.chunking import MAX_CHUNK_CHARS, MAX_WORD_CHARS, unknown_pieces

    embedder = MiniLMEmbedder()
    run = ("deadbeef0123456789" * 3000)[:50_000]  # MiniLM reads it as one [UNK]
    assert count(run) == 1
    text = f"The warranty lasts seven years. {run} Spare parts cost 120 euros.\n\nA last paragraph."
    doc = Document("d", "giant.txt", "giant", text, "h")
    chunks = chunk_document(doc, count, offsets=embedder.token_offsets)
    assert chunks[0].text == "The warranty lasts seven years."
    assert "".join(c.text for c in chunks if c.text in run) == run  # cut, nothing lost, in order
    for chunk in chunks:
        assert text[chunk.start:chunk.end] == chunk.text
        assert len(chunk.text) <= MAX_CHUNK_CHARS
        assert chunk.n_tokens + 2 <= MODEL_WINDOW
        if chunk.text in run and len(chunk.text) > MAX_WORD_CHARS:
            assert chunk.n_tokens == unknown_pieces(chunk.text, count) > 1
    assert sum(c.n_tokens for c in chunks) > len(run) // 10


def test_a_long_hex_digest_counts_its_pieces_not_one_unknown(count: Callable[[str], int]) -> None:
    digest = "6ff843ba685842aa82031d3f53c48b66326df7639a63d128974c5c14f31a0f33343a8c65551134ed1ae0f2b0dd2bb495dc"
    text = f"The digest is {digest}{digest[:40]} for the message."
    doc = Document("d", "hash.txt", "hash", text, "h")
    [chunk] = chunk_document(doc, count, offsets=MiniLMEmbedder().token_offsets)
    assert count(text) < 10  # the tokenizer alone: one [UNK] for the 140-character word
    assert chunk.n_tokens > 50


def test_chunks_are_bounded_in_characters_too(count: Callable[[str], int]) -> None:
    # Words of 101-300 characters are one [UNK] each: 250 of them used to fit one chunk.
    words = [("ab" * 150)[: 101 + i] for i in range(200)]
    text = " ".join(words)
    doc = Document("d", "long-words.txt", "w", text, "h")
    chunks = chunk_document(doc, count, ChunkingConfig(max_chars=1000), offsets=MiniLMEmbedder().token_offsets)
    assert all(len(c.text) <= 1000 and text[c.start:c.end] == c.text for c in chunks)
    assert " ".join(c.text for c in chunks) == text


def test_a_hard_wrapped_pdf_page_is_cut_at_lines_that_end_a_sentence(tmp_path: Path,
                                                                      count: Callable[[str], int]) -> None:
    """A PDF page's lines are hard-wrapped with no blank line between paragraphs: cutting at any
    line end split sentences in two (the Debian Reference: 588 of 966 chunks ended mid-sentence,
    321 of 1,048 now, most of those table rows and code)."""
    pdf = canvas.Canvas(str(tmp_path / "wrapped.pdf"))
    y = 800
    for paragraph in range(12):  # paragraphs of 3 sentences, 13 words each, wrapped at 10 words a line
        words = prose(paragraph, 3).split()
        for start in range(0, len(words), 10):
            pdf.drawString(40, y, " ".join(words[start:start + 10]))
            y -= 14
    pdf.showPage()
    pdf.save()
    doc = load_file(tmp_path / "wrapped.pdf")
    assert doc.text.count("\n") > 40 and "\n\n" not in doc.text
    chunks = chunk_document(doc, count, ChunkingConfig(target_tokens=120, overlap_tokens=0))
    check_chunks(doc, chunks, count)
    assert len(chunks) >= 3
    assert all(c.text.endswith(".") for c in chunks[:-1]), [c.text[-30:] for c in chunks]
