"""A follow-up in a chat is answered as the follow-up, not as the question before it (README "What an
answer is", follow-up questions): it searches with the earlier question's words too, but its own
words lead the choice of the sentence quoted."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.answer.extractive import ExtractiveConfig, draft_excerpts
from rag.assistant import Assistant
from rag.settings import Settings
from rag.text import content_words
from tests.fakes import WordEmbedder
from tests.unit.test_extractive import hit

JSON_DOC = ("To serialize a dict to JSON, call json.dumps on the dict; it returns a str of JSON for the dict. "
            "The separators argument changes the separators used between items and keys. "
            "Indentation is controlled by the indent argument, which defaults to None. "
            "A file is written with json.dump.")
FIRST = "how do I serialize a dict to JSON?"
FOLLOW_UP = "and how do I write it to a file?"


@pytest.fixture
def assistant(tmp_path: Path) -> Assistant:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "json.txt").write_text(JSON_DOC)
    (docs / "coral.txt").write_text("Coral bleaching happens when the water is too warm for the algae.")
    settings = Settings.load(env={"RAG_REFUSAL_THRESHOLD": "0.0"}, config_file=tmp_path / "none.toml")
    helper = Assistant(tmp_path / "index", embedder=WordEmbedder(), settings=settings)
    helper.add(str(docs))
    return helper


def test_a_follow_up_quotes_the_sentence_about_its_own_words(assistant: Assistant) -> None:
    chat = assistant.chat()
    first = chat.ask(FIRST)
    follow_up = chat.ask(FOLLOW_UP)
    assert not first.refused and not follow_up.refused
    best = follow_up.citations[0]
    assert best.focus_start is not None and best.focus_end is not None
    text = Path(best.source).read_text()
    assert text[best.focus_start:best.focus_end].startswith("A file is written with json.dump")
    # The first question is still answered by the serializing sentence.
    first_best = first.citations[0]
    assert text[first_best.focus_start:first_best.focus_end].startswith("To serialize a dict to JSON")


def test_the_follow_up_is_answered_as_its_standalone_form(assistant: Assistant) -> None:
    answer = assistant.ask(FOLLOW_UP, history=[FIRST])
    assert answer.standalone_question == "and how do I write a dict to a file?"


def test_focus_words_lead_the_sentence_overlap() -> None:
    """Scored with the joined question, the sentence the earlier question asked about wins; with
    the follow-up's own words leading the overlap, the sentence about writing to a file does."""
    embedder = WordEmbedder()
    joined = "how do I serialize a dict to JSON; and how do I write it to a file?"
    vector = embedder.embed([joined])[0]
    config = ExtractiveConfig(follow=0, max_excerpts=1)
    before = draft_excerpts(joined, vector, [hit(JSON_DOC)], embedder, config)
    after = draft_excerpts(joined, vector, [hit(JSON_DOC)], embedder, config, frozenset(content_words(FOLLOW_UP)))
    assert before[0].text.startswith("To serialize a dict to JSON")
    assert after[0].text.startswith("A file is written with json.dump")
