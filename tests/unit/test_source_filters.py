"""A folder names the indexed files under it wherever sources are given (Python, HTTP, CLI's
``--source``), so "only the Python docs" needs no list of files."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

import rag.cli
from rag.assistant import Assistant
from rag.cli import main
from rag.errors import UsageError
from rag.settings import Settings
from tests.fakes import WordEmbedder

QUESTION = "which port does the server listen on?"


@pytest.fixture
def assistant(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Assistant:
    docs = tmp_path / "docs"
    for folder, text in (("wiki", "The wiki server listens on port 8443."),
                         ("mail", "The mail server listens on port 993."),
                         ("wiki-old", "The old wiki server listens on port 8080.")):  # shares a prefix only
        (docs / folder).mkdir(parents=True)
        (docs / folder / "notes.txt").write_text(text + "\n")
    settings = Settings.load(env={"RAG_REFUSAL_THRESHOLD": "0.0"}, config_file=tmp_path / "none.toml")
    helper = Assistant(tmp_path / "index", embedder=WordEmbedder(), settings=settings)
    helper.add(docs)
    monkeypatch.chdir(tmp_path)
    return helper


def test_a_folder_as_sources_keeps_the_files_under_it_and_no_other(assistant: Assistant) -> None:
    for folder in ("docs/wiki", "docs/wiki/"):
        hits = assistant.retrieve(QUESTION, k=3, sources=folder)  # was: "'docs/wiki' is not an indexed file"
        assert {Path(h.chunk.source).parent.name for h in hits} == {"wiki"}
    answer = assistant.ask(QUESTION, sources=["docs/mail", "docs/wiki/notes.txt"])
    assert {Path(c.source).parent.name for c in answer.citations} <= {"mail", "wiki"}
    with pytest.raises(UsageError, match=r"'docs/web' is not an indexed file, nor a folder holding one"):
        assistant.ask(QUESTION, sources="docs/web")


def test_rag_ask_source_answers_from_that_folder_only(assistant: Assistant, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rag.cli, "open_assistant", lambda args, create=True: assistant)
    out = io.StringIO()
    assert main(["ask", QUESTION, "--source", "docs/mail", "--json"], out=out) == 0
    # "port …": a bare number can also occur inside a chunk id's hex digits (it did: "8b7844386…")
    assert "port 993" in out.getvalue() and "port 8443" not in out.getvalue() and "port 8080" not in out.getvalue()
    assert main(["ask", QUESTION, "--source", "docs/web"], out=io.StringIO()) == 2  # one sentence, exit 2
