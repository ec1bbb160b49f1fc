"""A parser that extracts differently re-reads its format's files on the next ingest, even when their
bytes did not change; files of other formats stay untouched. First use: PDF words hyphenated at a
line end, which pdfium reports as U+FFFE and used to reach chunks as "distri\ufffebution"."""

from __future__ import annotations

from pathlib import Path

import pytest

import index.loaders
from index.loaders import content_hash, load_file
from rag.assistant import Assistant
from rag.settings import Settings
from tests.fakes import WordEmbedder
from tests.unit.test_loaders import make_pdf


def test_words_hyphenated_at_a_pdf_line_end_are_joined(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "guide.pdf", [["The adminis-", "tration of the system is distri-", "buted widely."]])
    text = load_file(pdf).text
    assert "administration" in text and "distributed" in text
    assert "\ufffe" not in text


def test_a_revised_parser_rereads_its_files_once_and_leaves_other_formats_alone(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    make_pdf(docs / "guide.pdf", [["Solar panels are cleaned twice a year by the crew."]])
    (docs / "notes.md").write_text("# Notes\n\nSea otters float in kelp beds at dusk.\n")
    settings = Settings.load(env={}, config_file=tmp_path / "none")
    monkeypatch.setattr(index.loaders, "PARSER_REVISIONS", {})  # as the index was built before the revision
    first = Assistant(tmp_path / "index", embedder=WordEmbedder(), settings=settings).add([docs])
    assert first.files_added == 2

    monkeypatch.setattr(index.loaders, "PARSER_REVISIONS", {".pdf": 7})
    assistant = Assistant(tmp_path / "index", embedder=WordEmbedder(), settings=settings)
    again = assistant.add([docs])
    assert (again.files_updated, again.files_unchanged) == (1, 1)
    assert assistant.add([docs]).files_unchanged == 2  # once only
    assert sorted(assistant.sources()) == sorted(str(p) for p in docs.iterdir())


def test_the_fingerprint_of_a_format_never_revised_is_its_bytes_sha256() -> None:
    import hashlib

    assert content_hash(b"kelp", ".md") == hashlib.sha256(b"kelp").hexdigest()
    assert content_hash(b"kelp", ".PDF") != content_hash(b"kelp", ".md")
    # HTML 2: the navigation of DocBook and Texinfo manuals is no longer text (index.html_text).
    assert content_hash(b"kelp", ".html").endswith("+parser2") and content_hash(b"kelp", ".HTM").endswith("+parser2")
