"""A write slice waits for the questions that were reading before it, never for later ones, and
never longer than its timeout (``index.questions_first``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from index.questions_first import QuestionsInFlight
from rag.assistant import Assistant
from rag.settings import Settings
from tests.fakes import WordEmbedder


class Writer(threading.Thread):
    """One ``wait_for_earlier`` in a thread; ``result`` is what it returned."""

    def __init__(self, questions: QuestionsInFlight, timeout: float = 30.0) -> None:
        super().__init__(daemon=True)
        self.questions, self.timeout = questions, timeout
        self.result: bool | None = None

    def run(self) -> None:
        self.result = self.questions.wait_for_earlier(timeout=self.timeout)


def until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the condition never came true"
        time.sleep(0.005)


def test_a_writer_waits_for_a_question_that_was_reading_and_goes_when_it_ends() -> None:
    questions = QuestionsInFlight()
    with questions.reading():
        writer = Writer(questions)
        writer.start()
        until(lambda: questions.writers_waiting == 1)
        writer.join(timeout=0.2)
        assert writer.is_alive(), "the writer went while the question was still reading"
    writer.join(timeout=10)
    assert writer.result is True


def test_questions_that_begin_after_the_writer_asked_do_not_hold_it_back() -> None:
    questions = QuestionsInFlight()
    first = questions.reading()
    first.__enter__()
    writer = Writer(questions)
    writer.start()
    until(lambda: questions.writers_waiting == 1)
    with questions.reading():  # began after the writer asked
        first.__exit__(None, None, None)
        writer.join(timeout=10)
        assert writer.result is True, "a question that began later held the writer back"


def test_a_question_that_never_ends_holds_a_writer_no_longer_than_its_timeout() -> None:
    questions = QuestionsInFlight()
    with questions.reading():
        writer = Writer(questions, timeout=0.05)
        writer.start()
        writer.join(timeout=10)
        assert writer.result is False
    assert questions.writers_waiting == 0


def test_a_question_that_fails_stops_counting() -> None:
    questions = QuestionsInFlight()
    with pytest.raises(RuntimeError), questions.reading():
        raise RuntimeError("the store went away")
    assert questions.wait_for_earlier(timeout=0.0) is True


def test_many_questions_of_one_turn_are_all_waited_for() -> None:
    questions = QuestionsInFlight()
    one, two = questions.reading(), questions.reading()
    one.__enter__()
    two.__enter__()
    writer = Writer(questions)
    writer.start()
    until(lambda: questions.writers_waiting == 1)
    one.__exit__(None, None, None)
    writer.join(timeout=0.2)
    assert writer.is_alive(), "the writer went while one of two questions was still reading"
    two.__exit__(None, None, None)
    writer.join(timeout=10)
    assert writer.result is True


class _Client:
    """What ``write_slices`` asks of a Chroma client."""

    def __init__(self, persistent: bool) -> None:
        self.persistent = persistent

    def get_settings(self) -> SimpleNamespace:
        return SimpleNamespace(is_persistent=self.persistent)

    def get_max_batch_size(self) -> int:
        return 4


EMBEDDED_SLICES = [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
SERVER_SLICES = [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]  # as large as the client takes (4 here)


@pytest.mark.parametrize(("persistent", "wait", "slices", "waits"), [
    (True, True, EMBEDDED_SLICES, 4), (True, False, EMBEDDED_SLICES, 0), (False, True, SERVER_SLICES, 0)])
def test_write_slices_of_the_embedded_client_let_questions_go_first_a_servers_need_not(
        persistent: bool, wait: bool, slices: list[list[int]], waits: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The embedded client holds the GIL while it writes; a server's client waits on the network."""
    import index.store

    calls: list[float] = []
    given_back: list[float] = []
    monkeypatch.setattr(index.store.QUESTIONS, "wait_for_earlier", lambda timeout=0.5: calls.append(timeout) or True)
    monkeypatch.setattr(index.store.QUESTIONS, "give_back", lambda held: given_back.append(held) or 0.0)
    got = []
    for piece in index.store.write_slices(_Client(persistent), list(range(10)), 3, wait=wait):
        time.sleep(0.02)  # the write call
        got.append(list(piece))
    assert got == slices
    assert len(calls) == waits
    # a pause after each slice that waited but the last, sized by the write it follows
    assert len(given_back) == max(waits - 1, 0)
    assert all(held >= 0.02 for held in given_back)


def test_a_writer_pauses_after_a_slice_only_while_people_are_asking() -> None:
    """``rag ingest`` (nobody asking) writes straight on; after a question the web server's thread
    gets a share of each slice's time back."""
    import index.questions_first as qf

    questions = QuestionsInFlight()
    assert questions.give_back(0.05) == 0.0
    with questions.reading():
        pass
    started = time.monotonic()
    assert questions.give_back(0.05) == pytest.approx(qf.GIVE_BACK * 0.05)
    assert time.monotonic() - started >= qf.GIVE_BACK * 0.05 * 0.9


def test_writes_stop_pausing_a_while_after_the_last_question_unless_an_answer_still_streams(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """An LLM's answer streams long after its retrieval (the only part that counts as reading)."""
    import index.questions_first as qf

    questions = QuestionsInFlight()
    with questions.reading():
        pass
    later = time.monotonic() + qf.RECENT_S + 1
    monkeypatch.setattr(qf.time, "monotonic", lambda: later)
    assert questions.give_back(0.01) == 0.0  # nobody has asked for a while
    with questions.answering():
        assert questions.give_back(0.01) == pytest.approx(qf.GIVE_BACK * 0.01)  # still streaming
    monkeypatch.setattr(qf.time, "monotonic", lambda: later + qf.RECENT_S + 1)
    assert questions.give_back(0.01) == 0.0


def test_a_question_begins_and_ends_while_a_writer_pauses() -> None:
    """The pause holds no lock: it is there for other threads."""
    questions = QuestionsInFlight()
    with questions.reading():
        pass
    asked: list[float] = []

    def ask() -> None:
        with questions.reading():
            asked.append(time.monotonic())

    pausing = threading.Thread(target=questions.give_back, args=(3.0,), daemon=True)  # 0.9 s
    pausing.start()
    time.sleep(0.05)
    question = threading.Thread(target=ask, daemon=True)
    question.start()
    question.join(timeout=10)
    assert asked and pausing.is_alive()  # answered during the pause, not after it
    pausing.join(timeout=10)


def test_a_question_that_held_a_writer_for_its_whole_timeout_is_not_waited_for_again() -> None:
    """A stream its caller keeps open (a slow browser) holds writes back once, not at every slice."""
    questions = QuestionsInFlight()
    with questions.reading():
        assert questions.wait_for_earlier(timeout=0.05) is False
        assert questions.wait_for_earlier(timeout=30) is True
        with questions.reading():  # a question that began after: waited for as any other
            writer = Writer(questions)
            writer.start()
            until(lambda: questions.writers_waiting == 1)
            writer.join(timeout=0.2)
            assert writer.is_alive()
        writer.join(timeout=10)
        assert writer.result is True


@pytest.fixture
def assistant(tmp_path: Path) -> Assistant:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "reef.txt").write_text("Coral reefs bleach when the sea stays too warm. Reef fish eat algae.")
    settings = Settings.load(env={"RAG_REFUSAL_THRESHOLD": "0.0"}, config_file=tmp_path / "none.toml")
    helper = Assistant(tmp_path / "index", embedder=WordEmbedder(), settings=settings)
    helper.add(docs)
    return helper


@pytest.mark.parametrize("step", ["gate", "check_draft"])
def test_a_question_being_answered_holds_the_next_write_slice_back(
        step: str, assistant: Assistant, monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole extractive answer counts as reading, its retrieval and its checking alike."""
    import rag.assistant

    inside, release = threading.Event(), threading.Event()
    original = getattr(rag.assistant, step)

    def held(*args: Any, **kwargs: Any) -> Any:
        inside.set()
        release.wait(30)
        return original(*args, **kwargs)

    monkeypatch.setattr(rag.assistant, step, held)
    asker = threading.Thread(target=assistant.ask, args=("Why do coral reefs bleach?",))
    asker.start()
    assert inside.wait(30)
    writer = Writer(rag.assistant.QUESTIONS)
    writer.start()
    until(lambda: rag.assistant.QUESTIONS.writers_waiting == 1)
    writer.join(timeout=0.2)
    still_waiting = writer.is_alive()
    release.set()
    writer.join(timeout=30)
    asker.join(timeout=30)
    assert still_waiting, f"a write slice went while the question was in {step}"
    assert writer.result is True


def test_an_answer_counts_as_being_given_until_its_stream_ends(assistant: Assistant,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """However long it streams (an LLM's answer), writes pause for the thread forwarding it."""
    import index.questions_first as qf
    import rag.assistant

    stream = assistant.ask_stream("Why do coral reefs bleach?")
    next(stream)  # the first text: the stream is open, its retrieval long done
    later = time.monotonic() + qf.RECENT_S + 1
    monkeypatch.setattr(qf.time, "monotonic", lambda: later)
    assert rag.assistant.QUESTIONS.give_back(0.001) > 0
    stream.close()
    monkeypatch.setattr(qf.time, "monotonic", lambda: later + qf.RECENT_S + 1)
    assert rag.assistant.QUESTIONS.give_back(0.001) == 0.0  # ended: no answer is being given any more
