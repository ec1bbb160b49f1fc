"""Answers over the examples with the real model: cited, checked, refused when out of scope,
follow-ups resolved, removal respected by every retriever, and the same through CLI and LangChain."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from index.loaders import load_file
from rag.assistant import Assistant
from rag.check.checker import REFUSAL_TEXT
from rag.records import Answer

RagCli = Callable[..., subprocess.CompletedProcess[str]]
TALKS = "ukraine-security-talks.md"


def test_what_did_zelenskyy_reject(examples_assistant: Assistant) -> None:
    answer = examples_assistant.ask("what did Zelenskyy reject?")
    assert not answer.refused
    assert "Donetsk" in answer.text or any(w in answer.text for w in ("territory", "land"))
    first = answer.citations[0]
    assert Path(first.source).name == TALKS
    assert first.support == "supported"
    assert answer.sentences[0].support == "supported" and answer.sentences[0].citations[0] == first.n
    # The sentence that answers is quoted; with pooled sentence vectors it is the second excerpt here
    # ("presented it as a compromise" scores 0.697 vs 0.679), while on both eval sets the first
    # excerpt holds the evidence more often than before (README "Sentence vectors").
    assert any("refused to give up any Ukrainian land" in c.quote for c in answer.citations if c.source == first.source)
    document = load_file(first.source).text
    for citation in answer.citations:
        text = document if citation.source == first.source else load_file(citation.source).text
        assert text[citation.start:citation.end] == citation.quote
        assert text[citation.passage_start:citation.passage_start + len(citation.passage)] == citation.passage
        rel = citation.start - citation.passage_start
        assert citation.passage[rel:rel + len(citation.quote)] == citation.quote
    assert answer.backend == "extractive" and answer.judge == "heuristic:lexical+minilm"
    assert answer.hits and Path(answer.hits[0].chunk.source).name == TALKS


def test_unanswerable_question_is_refused_with_related_passages(examples_assistant: Assistant) -> None:
    answer = examples_assistant.ask("what is the boiling point of mercury?")
    assert answer.refused
    assert answer.text == REFUSAL_TEXT
    assert answer.sentences == () and answer.citations == ()
    assert 1 <= len(answer.related) <= 3
    assert all(hit.chunk.text for hit in answer.related)


def test_follow_up_is_resolved_through_history(examples_assistant: Assistant) -> None:
    chat = examples_assistant.chat()
    first = chat.ask("what did Zelenskyy reject?")
    assert not first.refused
    follow = chat.ask("and what did he offer instead?")
    assert "Zelenskyy" in follow.standalone_question
    assert not follow.refused
    assert "NATO" in follow.text or "security guarantees" in follow.text
    assert any(Path(c.source).name == TALKS and c.support == "supported" for c in follow.citations)
    assert chat.history == ["what did Zelenskyy reject?", follow.standalone_question]
    chat.reset()
    assert chat.history == []


def test_short_follow_ups_and_they_stay_on_the_conversations_topic(examples_assistant: Assistant) -> None:
    """Regression: "from whom?" was asked alone and refused, and "are they legally binding?" after it
    was joined to "from whom" and refused too."""
    chat = examples_assistant.chat()
    chat.ask("what security guarantees does Ukraine want?")
    who = chat.ask("from whom?")
    assert not who.refused, who.refusal_reason
    assert "security guarantees" in who.standalone_question
    binding = chat.ask("are they legally binding?")
    assert binding.standalone_question == "are security guarantees legally binding?"
    assert not binding.refused and "legally binding security guarantees" in binding.text
    assert any(Path(c.source).name == TALKS and c.support == "supported" for c in binding.citations)


def test_a_new_topic_in_a_chat_is_not_mixed_with_the_previous_question(examples_assistant: Assistant) -> None:
    chat = examples_assistant.chat()
    chat.ask("what did Zelenskyy reject?")
    answer = chat.ask("what is bleaching?")
    assert answer.standalone_question == "what is bleaching?"
    assert not answer.refused
    assert {Path(c.source).name for c in answer.citations} == {"coral-reefs.txt"}


def test_streaming_yields_text_then_the_same_answer(examples_assistant: Assistant) -> None:
    items = list(examples_assistant.ask_stream("how long do home batteries last?"))
    *pieces, answer = items
    assert isinstance(answer, Answer) and all(isinstance(p, str) for p in pieces)
    assert pieces, "the extractive generator streams its text"
    assert not answer.refused
    assert any(c.source.endswith(".pdf") and c.page for c in answer.citations)


def test_removed_document_is_never_retrieved_or_cited_again(index_copy: Path,
                                                            open_assistant: Callable[..., Assistant]) -> None:
    writer = open_assistant(index_copy)
    reader = open_assistant(index_copy)  # another Assistant on the same index, e.g. the web UI
    question = "what did Zelenskyy reject?"
    talks = next(s for s in writer.sources() if s.endswith(TALKS))
    assert any(h.chunk.source == talks for h in reader.retrieve(question))
    assert any(c.source == talks for c, _ in reader.retriever.keyword.search("Zelenskyy Donetsk", 10))

    removed = writer.remove(talks)
    assert removed > 0
    assert talks not in writer.sources() and talks not in reader.sources()
    for helper in (writer, reader):
        hits = helper.retrieve(question, k=10)
        assert hits and all(h.chunk.source != talks for h in hits)
        assert all(c.source != talks for c, _ in helper.retriever.keyword.search("Zelenskyy Donetsk", 50))
        assert all(c.source != talks for c, _ in helper.store.query(helper.embedder.embed([question])[0], 50))
        answer = helper.ask(question)
        assert all(c.source != talks for c in answer.citations)
        assert all(h.chunk.source != talks for h in (*answer.hits, *answer.related))
    assert writer.remove(talks) == 0


def test_langchain_retriever_returns_documents_with_sources(examples_assistant: Assistant) -> None:
    from langchain_core.documents import Document

    retriever = examples_assistant.as_langchain_retriever(k=3)
    documents = retriever.invoke("how many panels does a 6 kW system need?")
    assert len(documents) == 3
    assert all(isinstance(d, Document) for d in documents)
    top = documents[0]
    assert Path(top.metadata["source"]).name == "home-solar-guide.pdf"
    assert top.metadata["page"] == 1 and top.metadata["rank"] == 1
    text = load_file(top.metadata["source"]).text
    assert text[top.metadata["start"]:top.metadata["end"]] == top.page_content
    assert top.id


def test_cli_ask_json(examples_index: Path, rag_cli: RagCli) -> None:
    done = rag_cli(["ask", "--json", "--index", str(examples_index), "what did Zelenskyy reject?"],
                   cwd=examples_index.parent)
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["refused"] is False
    assert payload["citations"], payload
    first = payload["citations"][0]
    assert Path(first["source"]).name == TALKS and first["support"] == "supported"
    assert payload["sentences"][0]["support"] == "supported"


def test_answer_to_dict_is_json(examples_assistant: Assistant) -> None:
    for question in ("what did Zelenskyy reject?", "what is the boiling point of mercury?"):
        answer = examples_assistant.ask(question)
        data = json.loads(json.dumps(answer.to_dict()))
        assert data["question"] == question and data["refused"] is answer.refused
        assert len(data["citations"]) == len(answer.citations)
        assert len(data["hits"]) == len(answer.hits)
        assert data["hits"][0]["chunk"]["source"] == answer.hits[0].chunk.source
        assert set(data) >= {"text", "sentences", "citations", "hits", "related", "timings", "backend", "judge",
                             "standalone_question", "removed_sentences"}


@pytest.mark.parametrize(("question", "file_name"), [
    ("how much does a 6 kW solar system cost?", "home-solar-guide.pdf"),
    ("what hydration do bakers keep their starter at?", "sourdough-baking.html"),
    ("what are the core hours for remote work?", "remote-work-policy.docx"),
    ("what causes coral bleaching?", "coral-reefs.txt"),
])
def test_each_format_answers_with_a_supported_citation(examples_assistant: Assistant, question: str,
                                                       file_name: str) -> None:
    answer = examples_assistant.ask(question)
    assert not answer.refused
    assert Path(answer.citations[0].source).name == file_name
    assert answer.citations[0].support == "supported"


def test_strict_mode_keeps_only_supported_sentences(examples_assistant: Assistant) -> None:
    answer = examples_assistant.ask("what did Zelenskyy reject?", strict=True)
    assert not answer.refused and answer.sentences
    assert all(s.support == "supported" for s in answer.sentences)
    assert answer.supported


def test_sources_filter_limits_retrieval(examples_assistant: Assistant) -> None:
    reefs = next(s for s in examples_assistant.sources() if s.endswith("coral-reefs.txt"))
    answer = examples_assistant.ask("what did Zelenskyy reject?", sources=[reefs])
    assert {h.chunk.source for h in answer.hits} == {reefs}
    assert answer.refused  # the reef document does not say


def test_widened_passages_are_verbatim(examples_index: Path, open_assistant: Callable[..., Assistant]) -> None:
    helper = open_assistant(examples_index, widen=1)
    texts: dict[str, str] = {}
    for question in ("what did Zelenskyy reject?", "how long do home batteries last?", "what causes bleaching?"):
        for hit in helper.retrieve(question):
            chunk = hit.chunk
            text = texts.setdefault(chunk.source, load_file(chunk.source).text)
            assert text[chunk.start:chunk.end] == chunk.text


def test_question_about_an_absent_name_or_number_is_refused(examples_assistant: Assistant) -> None:
    assert examples_assistant.ask("what did Zelenskyy say about Crimea?").refused
    assert examples_assistant.ask("how many panels does a 17 kW system need?").refused
    assert not examples_assistant.ask("what did Zelenskyy offer in exchange for security guarantees?").refused


# A club newsletter (written for this test) that names places and services the examples never do.
NEWSLETTER = """Riverside Chess Club: autumn newsletter

Three juniors from the club played an open tournament in Poland in October, and one of them
came fourth in the under-16 section. In spring the club hopes to send a bus to an open event in
Canada. On the night of the football World Cup final the hall was nearly empty, so blitz moved
to Thursday that week. Old newsletters are kept in a shared Dropbox folder.
"""


@pytest.mark.parametrize("question", ["Which countries did Zelenskyy visit in Poland?",
                                      "Does the remote work policy let me keep files on Dropbox?",
                                      "How much does a solar panel cost in Canada?"])
def test_an_unrelated_document_naming_the_thing_asked_about_does_not_turn_a_refusal_into_an_answer(
        question: str, examples_copy: Path, tmp_path: Path, open_assistant: Callable[..., Assistant]) -> None:
    alone = open_assistant(tmp_path / "alone")
    alone.add(examples_copy)
    assert alone.ask(question).refusal_reason.startswith("your documents never mention")
    (examples_copy / "chess-club-news.txt").write_text(NEWSLETTER, encoding="utf-8")
    mixed = open_assistant(tmp_path / "mixed")
    mixed.add(examples_copy)
    answer = mixed.ask(question)
    assert answer.refused, answer.text  # before: answered from the examples, flagged "may not answer"
    assert answer.refusal_reason.startswith("the answer found quotes passages that never mention")
    # The newsletter answers what it does say.
    club = mixed.ask("Where did the chess club juniors play in October?")
    assert not club.refused and "Poland" in club.text


def test_a_short_question_naming_someone_the_documents_hold_is_answered(examples_assistant: Assistant) -> None:
    answer = examples_assistant.ask("Who is Jared Kushner?")
    assert max(h.dense_score or 0 for h in answer.hits) < examples_assistant.refusal_threshold  # MiniLM is unsure
    assert not answer.refused and "Kushner" in answer.text


def test_questions_the_documents_cannot_answer_say_why(examples_assistant: Assistant) -> None:
    turbine = examples_assistant.ask("How much does a home wind turbine cost?")
    assert turbine.refused and "'wind'" in turbine.refusal_reason and "'turbine'" in turbine.refusal_reason
    assert examples_assistant.ask("What is the boiling point of mercury?").refused
