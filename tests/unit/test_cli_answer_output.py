"""``rag ask``'s plain-text output: the answer, then one line per source, without printing an
extractive answer's quotes a second time."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest

import rag.cli
from rag.assistant import Assistant
from rag.cli import format_answer, main
from rag.settings import Settings
from tests.fakes import ScriptedGenerator, WordEmbedder

LIGHTHOUSE = ("The Varne lighthouse is kept by Oswin Tregarthen. He has lived on the rock since 1994 and "
              "lights the lamp every evening at dusk.")

def _assistant(tmp_path: Path, generator: ScriptedGenerator | None = None) -> Assistant:
    docs = tmp_path / "docs"
    docs.mkdir(parents=True)
    (docs / "varne.txt").write_text(LIGHTHOUSE + "\n")
    settings = Settings.load(env={"RAG_REFUSAL_THRESHOLD": "0.0"}, config_file=tmp_path / "none.toml")
    helper = Assistant(tmp_path / "index", embedder=WordEmbedder(), settings=settings,
                       generator=generator)  # type: ignore[arg-type]
    helper.add(docs)
    return helper

def test_extractive_quotes_are_not_printed_twice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # a cited file is shown relative to the current folder
    asked = _assistant(tmp_path).ask("who keeps the Varne lighthouse?")
    assert not asked.refused and "Oswin Tregarthen" in asked.text
    shown = format_answer(asked)
    assert shown.count("Oswin Tregarthen") == 1  # the answer; the source line points back at it
    assert "[1] docs/varne.txt — quoted above, word for word (supported, 1.00)" in shown.splitlines()

def test_a_reworded_sentence_shows_the_passage_span_that_supports_it(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    reworded = "Oswin Tregarthen keeps the Varne lighthouse [1]."
    asked = _assistant(tmp_path, ScriptedGenerator(reworded)).ask("who keeps the Varne lighthouse?")
    assert not asked.refused
    shown = format_answer(asked)
    source_lines = [line for line in shown.splitlines() if line.startswith("[1] docs/varne.txt — ")]
    assert len(source_lines) == 1 and "quoted above" not in source_lines[0]
    assert "Varne lighthouse is kept by Oswin Tregarthen" in source_lines[0]  # the passage's own words


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_an_extractive_answer_is_printed_once_on_a_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # It was streamed with the passages' numbers, then printed again checked, renumbered ([2] became [1]).
    helper = _assistant(tmp_path)
    monkeypatch.setattr(rag.cli, "open_assistant", lambda args, create=True: helper)
    out = _Terminal()
    assert main(["ask", "who keeps the Varne lighthouse?"], out=out) == 0
    assert out.getvalue().count("Oswin Tregarthen") == 1 and "--- checked ---" not in out.getvalue()


def test_an_llm_answer_still_streams_on_a_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    helper = _assistant(tmp_path, ScriptedGenerator("Oswin Tregarthen keeps the Varne lighthouse [1]."))
    helper.settings = helper.settings.replace(backend="openai")
    monkeypatch.setattr(rag.cli, "open_assistant", lambda args, create=True: helper)
    out = _Terminal()
    assert main(["ask", "who keeps the Varne lighthouse?"], out=out) == 0
    streamed, _, checked = out.getvalue().partition("--- checked ---")
    assert "Oswin Tregarthen keeps" in streamed and "Oswin Tregarthen keeps" in checked


def test_a_slow_keyword_index_before_the_first_question_is_announced(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # After an interrupted ingest of 190,103 passages the first 'rag ask' rebuilt the index in silence for 44.6 s.
    helper = _assistant(tmp_path)
    monkeypatch.setattr(rag.cli, "open_assistant", lambda args, create=True: helper)
    monkeypatch.setattr(rag.cli, "NOTICE_AFTER_S", 0.05)
    keyword = helper.retriever.keyword
    fast = keyword.snapshot

    def slow() -> object:
        time.sleep(0.5)
        return fast()

    monkeypatch.setattr(keyword, "snapshot", slow)
    assert main(["ask", "who keeps the Varne lighthouse?"], out=io.StringIO()) == 0
    assert "preparing the keyword index of 1 passage…" in capsys.readouterr().err
    monkeypatch.setattr(keyword, "snapshot", fast)
    monkeypatch.setattr(rag.cli, "NOTICE_AFTER_S", 5.0)  # a loaded machine must not make the quick case slow
    assert main(["ask", "who keeps the Varne lighthouse?"], out=io.StringIO()) == 0
    assert "keyword index" not in capsys.readouterr().err  # quick: nothing said
