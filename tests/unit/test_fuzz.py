"""Property-based fuzzing of the loaders and the chunker (hypothesis). Marked slow; CI runs it."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from index.chunking import MODEL_WINDOW, SPECIAL_TOKENS, ChunkingConfig, chunk_document
from index.embedding import MiniLMEmbedder
from index.html_text import html_to_blocks
from index.loaders import _markdown_headings, decode_text, load_bytes
from index.records import Document, LoadError

pytestmark = pytest.mark.slow
COUNT = MiniLMEmbedder().count_tokens
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

html_pieces = st.sampled_from(["<div>", "</div>", "<p>", "</p>", "<h1>", "</h1>", "<h2>", "<script>", "</script>",
                               "<style>", "<pre>", "</pre>", "<table>", "<tr>", "<td>", "</td>", "</tr>", "<br>",
                               "<nav>", "</nav>", "&amp;", "&#x27;", "<!--", "-->", "<", ">", "\n", " ", "word",
                               "Zelenskyy", "é", "\u00ad"])


@FUZZ
@given(st.binary(max_size=4096))
def test_decode_text_returns_text_or_a_load_error(data: bytes) -> None:
    try:
        text = decode_text(data, "fuzz.txt")
    except LoadError as exc:
        assert exc.path == "fuzz.txt" and exc.reason
    else:
        assert isinstance(text, str) and text.strip()


@FUZZ
@given(st.lists(html_pieces, max_size=300))
def test_html_parser_never_crashes_and_drops_scripts(pieces: list[str]) -> None:
    html = "".join(pieces) + "<script>secret_tracker()</script>"
    _, blocks = html_to_blocks(html)
    assert all("secret_tracker" not in text for _, text in blocks)


@FUZZ
@given(st.binary(max_size=2048), st.sampled_from([".pdf", ".docx", ".html", ".md", ".txt"]))
def test_loaders_on_garbage_raise_only_load_errors(data: bytes, suffix: str) -> None:
    try:
        doc = load_bytes(Path("fuzz" + suffix), data)
    except LoadError:
        return
    assert isinstance(doc.text, str)


sentences = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=0, max_size=120)


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(["", "# ", "## ", "### "]), sentences,
                          st.sampled_from(["\n", "\n\n", " ", ". "])), max_size=60),
       st.integers(min_value=32, max_value=230))
def test_chunks_keep_exact_offsets_and_fit_the_window(parts: list[tuple[str, str, str]], target: int) -> None:
    text = "".join(prefix + body + sep for prefix, body, sep in parts)
    if not text.strip():
        return
    doc = Document("d", "/fuzz.md", "fuzz", text, "h", headings=_markdown_headings(text))
    chunks = chunk_document(doc, COUNT, ChunkingConfig(target_tokens=target, overlap_tokens=8))
    assert chunks, "non-blank text produced no chunk"
    for chunk in chunks:
        assert doc.text[chunk.start:chunk.end] == chunk.text
        assert COUNT(chunk.embed_text) + SPECIAL_TOKENS <= MODEL_WINDOW
    covered = set()
    for chunk in chunks:
        covered.update(range(chunk.start, chunk.end))
    lost = [i for i, ch in enumerate(text) if not ch.isspace() and i not in covered]
    assert not lost, f"characters lost between chunks at {lost[:5]}"
