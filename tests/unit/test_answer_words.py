"""``answer_words`` (RAG_ANSWER_WORDS, ``--answer-words``, default 120) caps how much an extractive answer quotes."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.answer.extractive import DEFAULT_ANSWER_WORDS
from rag.assistant import Assistant
from rag.cli import build_parser, settings_from
from rag.errors import SettingsError
from rag.settings import Settings
from rag.words import word_count
from tests.fakes import WordEmbedder

OTTERS = " ".join(f"Sea otters in bay {n} float on their backs in kelp beds and hold paws number {n} while they "
                  f"sleep at dusk." for n in range(12))


def _answer_words(tmp_path: Path, **settings: int) -> int:
    docs = tmp_path / "docs"
    docs.mkdir(parents=True)
    (docs / "otters.md").write_text(f"# Otters\n\n{OTTERS}\n")
    config = tmp_path / "none.toml"
    a = Assistant(tmp_path / "index", embedder=WordEmbedder(), settings=Settings.load(env={}, config_file=config,
                                                                                       **settings))
    a.add(docs)
    answer = a.ask("how do sea otters float in kelp beds and hold paws while they sleep?")
    assert not answer.refused
    return sum(word_count(s.text) for s in answer.sentences)


def test_the_answer_quotes_at_most_answer_words(tmp_path: Path) -> None:
    short = _answer_words(tmp_path / "a", answer_words=40)
    default = _answer_words(tmp_path / "b")
    long = _answer_words(tmp_path / "c", answer_words=200)
    assert short <= 40 < 80 < default <= DEFAULT_ANSWER_WORDS < long <= 200


def test_answer_words_out_of_range_is_one_sentence() -> None:
    with pytest.raises(SettingsError, match=r"answer_words \(RAG_ANSWER_WORDS\) must be at least 20, not 5"):
        Settings.load(env={"RAG_ANSWER_WORDS": "5"}, config_file=Path("/nonexistent/none.toml"))


def test_the_flag_sets_it() -> None:
    args = build_parser().parse_args(["ask", "q", "--answer-words", "120"])
    assert settings_from(args).answer_words == 120
