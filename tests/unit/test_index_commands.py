"""An index with no documents says so, instead of blaming the question's words; `rag remove` takes a folder."""

from __future__ import annotations

from pathlib import Path

import pytest

import rag.cli
from index.lock import WriterLock
from rag.assistant import Assistant
from rag.cli import main
from rag.retrieve.refusal_gate import EMPTY_INDEX_REASON, INGEST_RUNNING_REASON
from rag.settings import Settings
from tests.fakes import WordEmbedder


@pytest.fixture
def empty(tmp_path: Path) -> Assistant:
    return Assistant(tmp_path / "index", embedder=WordEmbedder(),
                     settings=Settings.load(env={}, config_file=tmp_path / "none.toml"))


def test_a_question_to_an_empty_index_is_refused_saying_it_is_empty(empty: Assistant) -> None:
    answer = empty.ask("how do I pretty print json?")
    assert answer.refused and answer.refusal_reason == EMPTY_INDEX_REASON  # was "your documents never mention 'json'"


def test_a_question_asked_while_a_first_ingest_runs_is_told_the_documents_are_coming(empty: Assistant,
                                                                                      tmp_path: Path) -> None:
    # The ingest's writer lock (another process's, as seen from here: flock is per open file).
    with WriterLock(tmp_path / "index"):
        answer = empty.ask("how do I pretty print json?")
    assert answer.refused and answer.refusal_reason == INGEST_RUNNING_REASON
    assert "ingest is writing" in str(answer.refusal_reason)
    assert empty.ask("how do I pretty print json?").refusal_reason == EMPTY_INDEX_REASON  # the ingest ended


def test_an_index_emptied_by_removing_its_files_says_so_too(empty: Assistant, tmp_path: Path) -> None:
    doc = tmp_path / "herons.txt"
    doc.write_text("Herons wait in the shallows at dawn.\n")
    empty.add(doc)
    assert empty.ask("when do herons wait?").refusal_reason != EMPTY_INDEX_REASON
    empty.remove(str(doc))
    assert empty.ask("when do herons wait?").refusal_reason == EMPTY_INDEX_REASON


def test_rag_sources_on_an_empty_index_says_how_to_fill_it(empty: Assistant, capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rag.cli, "open_assistant", lambda args, create=True: empty)
    assert main(["sources"]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "the index holds no files yet; add some with 'rag ingest PATH'\n"


def test_rag_remove_of_a_folder_removes_every_file_under_it_and_nothing_else(
        empty: Assistant, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    docs = tmp_path / "docs"
    (docs / "old").mkdir(parents=True)
    (docs / "old" / "herons.txt").write_text("Herons wait in the shallows at dawn.\n")
    (docs / "old" / "otters.txt").write_text("Otters hunt fish under the bank.\n")
    (docs / "old-notes.txt").write_text("Kingfishers dive from low branches.\n")  # shares the prefix, not the folder
    empty.add(docs)
    monkeypatch.setattr(rag.cli, "open_assistant", lambda args, create=True: empty)
    monkeypatch.chdir(tmp_path)
    assert main(["remove", "docs/old"]) == 0  # was: "docs/old is not in the index"
    assert capsys.readouterr().out == f"removed 2 chunks of 2 files under {docs / 'old'}\n"
    assert list(empty.sources()) == [str(docs / "old-notes.txt")]
    assert main(["remove", "docs/old"]) == 1
    assert "docs/old is not in the index, nor any file under it" in capsys.readouterr().err
