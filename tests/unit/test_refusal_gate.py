"""The refusal gate: names, numbers and terms that rule an answer out, and the keyword-led second pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.assistant import Assistant
from rag.retrieve.refusal_gate import absent_words, gate, unknown_terms, unmatched_terms
from rag.settings import Settings
from rag.text import names_in
from tests.fakes import WordEmbedder


@pytest.mark.parametrize("question", ["What's the default port?", "I'm stuck: how do I resize?",
                                      "I've lost my key, what now?", "Don't the backups rotate?"])
def test_contractions_and_question_words_are_never_names(question: str) -> None:
    assert names_in(question) == []


def test_names_the_passages_lack_are_unmatched_by_their_surface_form() -> None:
    assert unmatched_terms("How do I set up TLS on Windows?", ["Certificates for TLS live in /etc/ssl."]) == \
        ["windows"]


def test_the_users_own_example_numbers_do_not_refuse_but_facts_do() -> None:
    passages = ["islice returns selected items from an iterable."]
    assert unmatched_terms("can islice give me the last 3 items?", passages) == []
    assert unmatched_terms("can I pass 0.5 to sleep?", passages) == []
    assert unmatched_terms("what happened in 1998?", passages) == ["1998"]
    assert unmatched_terms("why do I get \\u00e9 escapes?", passages) == []


def test_unknown_terms_are_rare_words_no_document_holds() -> None:
    corpus = {"hash", "passwords", "folder", "sort", "files"}.__contains__
    common = {"hash", "passwords", "folder", "bother", "sort", "files", "watch", "thing"}.__contains__
    assert unknown_terms("how do I hash passwords with bcrypt?", corpus, common) == ["bcrypt"]
    assert unknown_terms("why bother with a folder?", corpus, common) == []
    assert unknown_terms("are sortable files a thing?", corpus, common) == []  # "sortable" is built on "sort"


def test_absent_words_count_every_form() -> None:
    corpus = {"home", "cost", "costs", "sort"}.__contains__
    assert absent_words("How much does a home wind turbine cost?", corpus) == ["wind", "turbine"]
    assert absent_words("how many sorted things?", corpus) == ["things"]


@pytest.fixture
def assistant(tmp_path: Path) -> Assistant:
    docs = tmp_path / "docs"
    docs.mkdir()
    # Many passages about backups; only one mentions TLS, in words unlike the question's.
    for i in range(8):
        (docs / f"backup{i}.txt").write_text(
            f"Backup guide part {i}. Nightly backups copy the home folders to the backup disk and rotate "
            f"old backups every week so the backup disk never fills up.")
    (docs / "mail.txt").write_text("The mail relay only accepts TLS connections on port 465 from the office.")
    settings = Settings.load(env={"RAG_REFUSAL_THRESHOLD": "0.0"}, config_file=tmp_path / "none.toml")
    helper = Assistant(tmp_path / "index", embedder=WordEmbedder(), settings=settings)
    helper.add(docs)
    return helper


def test_a_name_some_document_holds_gets_a_second_keyword_led_pass(assistant: Assistant) -> None:
    question = "do the nightly backups of the backup disk use TLS?"
    first = assistant.retriever.search(question, k=3)
    assert all("TLS" not in h.chunk.text for h in first.hits)  # the first pass misses it
    gated = gate(assistant.retriever, question, 3, threshold=0.0)
    assert not gated.refused
    assert any("TLS" in h.chunk.text for h in gated.retrieval.hits)
    assert not assistant.ask(question, k=3).refused


def test_a_name_no_document_holds_is_refused(assistant: Assistant) -> None:
    answer = assistant.ask("do the nightly backups go to Dropbox?", k=3)
    assert answer.refused and answer.sentences == ()
    assert answer.refusal_reason == "your documents never mention 'dropbox'"
    assert answer.to_dict()["refusal_reason"] == answer.refusal_reason
