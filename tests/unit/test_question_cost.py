"""What one question costs the store and the sentence splitter: one metadata read (is the keyword
index current?), one dense query, a second metadata read (has the store stayed as the keyword
snapshot saw it? then the hits' neighbours come from the snapshot, with no read), one query of the
stored sentence vectors and one read of the top passages' sentence vectors (instead of embedding
~20 sentences), and each passage split into sentences once."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import rag.text
from rag.assistant import Assistant
from rag.settings import Settings
from tests.fakes import WordEmbedder


class CountingCollection:
    """Chroma's collection, counting the calls that reach the store."""

    def __init__(self, inner: Any, calls: Counter[str]) -> None:
        self._inner, self._calls = inner, calls

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not callable(attr):
            return attr

        def counted(*args: Any, **kwargs: Any) -> Any:
            self._calls[name] += 1
            return attr(*args, **kwargs)

        return counted


@pytest.fixture
def assistant(tmp_path: Path) -> Assistant:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "reefs.txt").write_text("Coral reefs bleach when the sea is too warm. Bleached corals can recover. "
                                    "Reefs shelter a quarter of all sea species.\n\nReef fish eat algae.")
    (docs / "solar.txt").write_text("Solar panels turn sunlight into electricity. An inverter changes the current.")
    settings = Settings.load(env={"RAG_REFUSAL_THRESHOLD": "0.0"}, config_file=tmp_path / "none.toml")
    helper = Assistant(tmp_path / "index", embedder=WordEmbedder(), settings=settings)
    helper.add(docs)
    helper.warm_up()
    return helper


def test_a_question_makes_one_metadata_read_one_dense_query_and_two_sentence_calls(
        assistant: Assistant, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: Counter[str] = Counter()
    sentence_calls: Counter[str] = Counter()
    monkeypatch.setattr(assistant.store, "collection", CountingCollection(assistant.store.collection, calls))
    monkeypatch.setattr(assistant.store, "client", CountingCollection(assistant.store.client, calls))
    ready = assistant.sentences.ready
    monkeypatch.setattr(assistant.sentences, "ready", lambda: CountingCollection(ready(), sentence_calls))
    answer = assistant.ask("why do coral reefs bleach?")
    assert not answer.refused
    # Widened passages (RAG_WIDEN=1, the default): the neighbours come from the keyword snapshot once
    # a second metadata read shows no write since it was taken (a filtered read of the store took
    # ~20 ms a question at 10,000 chunks).
    assert calls == Counter({"get_collection": 2, "query": 1})
    # Deliberately two more round trips since sentence vectors are stored (README "Sentence vectors"):
    # the nearest sentences (a third retrieval list) and the top passages' sentence vectors for the
    # answerer, which then embeds nothing. A chunk found only by its sentence would add one read.
    assert sentence_calls == Counter({"query": 1, "get": 1})


def test_each_passage_is_split_into_sentences_once(assistant: Assistant, monkeypatch: pytest.MonkeyPatch) -> None:
    rag.text._split.cache_clear()
    answer = assistant.ask("why do coral reefs bleach?")
    assert not answer.refused
    info = rag.text._split.cache_info()
    texts = {h.chunk.text for h in answer.hits}
    assert info.misses <= len(texts) + len(answer.sentences) + 1  # passages, answer sentences, the question
    assert info.hits > 0  # the judge and the injection check reused the answerer's split


def test_warm_up_queries_both_vector_indexes_so_the_first_question_does_not_load_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Chroma loads a collection's vector index on its first query: 3.6 s of the first question on
    # Debian's /usr/share/doc (1.0 M sentence rows) before warm_up made that query itself.
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "solar.txt").write_text("Solar panels turn sunlight into electricity. An inverter changes the current.")
    settings = Settings.load(env={}, config_file=tmp_path / "none.toml")
    helper = Assistant(tmp_path / "index", embedder=WordEmbedder(), settings=settings)
    helper.add(docs)
    calls: Counter[str] = Counter()
    sentence_calls: Counter[str] = Counter()
    monkeypatch.setattr(helper.store, "collection", CountingCollection(helper.store.collection, calls))
    ready = helper.sentences.ready
    monkeypatch.setattr(helper.sentences, "ready", lambda: CountingCollection(ready(), sentence_calls))
    helper.warm_up()
    assert calls["query"] == 1 and sentence_calls["query"] == 1


def test_warm_up_on_an_empty_index_starts_without_error(tmp_path: Path) -> None:
    settings = Settings.load(env={}, config_file=tmp_path / "none.toml")
    helper = Assistant(tmp_path / "index", embedder=WordEmbedder(), settings=settings).warm_up()
    assert helper.ask("anything?").refusal_reason.startswith("the index holds no documents yet")
