"""`rag chat`: Ctrl-C stops one answer and the conversation goes on; /new says what it did."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import rag.cli
from rag.assistant import Assistant
from rag.cli import main
from rag.settings import Settings
from tests.fakes import WordEmbedder


def test_ctrl_c_during_an_answer_stops_it_and_the_chat_goes_on(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "herons.txt").write_text("Herons wait in the shallows at dawn to catch fish.\n")
    settings = Settings.load(env={"RAG_REFUSAL_THRESHOLD": "0.0"}, config_file=tmp_path / "none.toml")
    a = Assistant(tmp_path / "index", embedder=WordEmbedder(), settings=settings)
    a.add(tmp_path / "herons.txt")
    real_ask_stream = a.ask_stream
    calls = []

    def ask_stream(question: str, **kwargs: Any) -> Iterator[Any]:
        calls.append(kwargs.get("history"))
        if question.startswith("slow"):
            raise KeyboardInterrupt  # the user pressed Ctrl-C while it was being answered
        return real_ask_stream(question, **kwargs)

    monkeypatch.setattr(a, "ask_stream", ask_stream)
    monkeypatch.setattr(rag.cli, "open_assistant", lambda args, create=True: a)
    typed = iter(["slow question about herons", "when do herons wait?", "and where?", "/new", "and why?"])

    def typing(prompt: str = "") -> str:
        try:
            return next(typed)
        except StopIteration:
            raise EOFError from None

    monkeypatch.setattr("builtins.input", typing)
    out = io.StringIO()
    assert main(["chat"], out=out) == 0  # was: "interrupted", exit 130, the conversation gone
    shown = out.getvalue()
    assert "(answer stopped; it is not part of the conversation)" in shown
    assert "herons.txt" in shown  # the next question was answered
    assert "(a new conversation: follow-ups no longer use the earlier questions)" in shown
    assert "(understood as: when do herons wait; and where?)" in shown  # the follow-up, as it was asked
    assert shown.count("(understood as:") == 1  # not for a question asked as typed
    # the stopped answer never joined the history; the next follow-up had the answered one; /new emptied it
    assert calls == [[], [], ["when do herons wait?"], []]
